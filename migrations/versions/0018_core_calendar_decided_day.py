"""core: decided days off and make-up working days of the working-day calendar

The table is seeded with the decisions shipped in ``src/tinhso/core/data/calendar_decisions.csv``
as they are when this revision runs (read as plain CSV: revisions import no app code). Later
shipped rows are added with ``tinhso calendar load``; operators add a year's notice with
``tinhso calendar add``.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 16:10:00
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLE = "calendar_decided_day"
_ROOT = Path(__file__).resolve().parents[2]
# The source tree (migrations/ beside src/) or a wheel (tinhso/migrations beside tinhso/core).
SEEDS = [
    _ROOT / "src" / "tinhso" / "core" / "data" / "calendar_decisions.csv",
    _ROOT / "core" / "data" / "calendar_decisions.csv",
]


def upgrade() -> None:
    table = op.create_table(
        TABLE,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('off', 'working')", name=op.f("ck_calendar_decided_day_kind")),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_decided_day")),
    )
    seed = next((path for path in SEEDS if path.exists()), None)
    if seed is None:  # not found: `tinhso calendar load` adds the shipped rows
        return
    now = datetime.now(UTC)
    with seed.open(encoding="utf-8", newline="") as lines:
        rows = [
            {
                "day": date.fromisoformat(row["day"]),
                "kind": row["kind"],
                "reason": row["reason"],
                "source": row["source"],
                "issuer": row["issuer"],
                "issued_on": date.fromisoformat(row["issued_on"]) if row["issued_on"] else None,
                "url": row["url"] or "",
                "created_at": now,
            }
            for row in csv.DictReader(lines)
        ]
    op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table(TABLE)
