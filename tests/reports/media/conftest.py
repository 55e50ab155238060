"""The file store a report's photos and videos go to: the data directory's disk, and an
S3-compatible server (moto's, on loopback: tests/support/s3.py) through boto3."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.s3 import store_for
from tinhso.core.storage import FileStore
from tinhso.reports.media.storage import AREA

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(params=["disk", "s3"])
def report_files(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    return store_for(request, tmp_path, AREA)


def stored_keys(files: FileStore) -> list[str]:
    return [found.key for found in files.list()]
