"""Autogenerate an Alembic revision against a scratch SQLite database at the current heads.

    .venv/bin/python scripts/new_migration.py "exchange: services and grants" 0002_exchange \
        --after 0001_registry

Review the result: keep only the tables of your own domain, and check it on PostgreSQL
(`pytest --db=postgresql`); the suite fails if models and migrations drift apart.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command

from tinhso.core.db import build_engine
from tinhso.core.migrations import alembic_config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("message")
    parser.add_argument("rev_id")
    parser.add_argument("--after", required=True, help="the revision this one follows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        engine = build_engine(f"sqlite:///{Path(scratch) / 'scratch.sqlite3'}")
        config = alembic_config(engine)
        command.upgrade(config, "heads")
        command.revision(
            config,
            message=args.message,
            autogenerate=True,
            rev_id=args.rev_id,
            head=args.after,
            splice=True,
        )


if __name__ == "__main__":
    main()
