"""Resource files in the platform's file store (:mod:`tinhso.core.storage`, on disk or S3).

A file's key is ``opendata/resources/<resource id>/<first 16 hex digits of its SHA-256>/<file>``
(on disk: its path under the data directory; on S3: its object key after
``TINHSO_STORAGE_S3_PREFIX``). The resource's ``stored_path`` column holds the key.

Each version of a resource's file has a key of its own, so storing a new upload never
overwrites the file the committed resource still points to: the file is written before the
transaction commits, and if the new version is refused or its transaction fails, the previous
one is intact. Such a failed transaction leaves an orphan (a key no resource version refers
to), which nothing reads; ``tinhso opendata storage gc`` lists (and, without ``--dry-run``,
deletes) the orphans older than a grace period. Nothing else ever deletes a file.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tinhso.core.storage import FileStore, StoredFile, StoredObject, safe_filename, store_of

if TYPE_CHECKING:
    from datetime import timedelta

    from sqlalchemy.orm import Session

    from tinhso.core.config import Settings

AREA = "opendata/resources"


def resource_key(resource_id: str, filename: str, sha256: str) -> str:
    return f"{AREA}/{resource_id}/{sha256[:16]}/{safe_filename(filename)}"


def store(files: FileStore, resource_id: str, filename: str, content: bytes) -> StoredFile:
    """Store a new version of a resource's file under its content-addressed key."""
    digest = hashlib.sha256(content).hexdigest()
    return files.put(resource_key(resource_id, filename, digest), content)


def resource_store(settings: Settings) -> FileStore:
    return store_of(settings.storage, settings.data_dir, AREA)


def unreferenced(
    session: Session, files: FileStore, *, older_than: timedelta, now: datetime | None = None
) -> list[StoredObject]:
    """Files no resource refers to (versions replaced, orphans of failed transactions, files of
    deleted resources), written more than ``older_than`` ago: an upload whose transaction is
    still open has written its file but not yet committed its key, and must not be taken."""
    from sqlalchemy import select  # noqa: PLC0415

    from tinhso.opendata.models import OpendataResource  # noqa: PLC0415

    referenced = set(
        session.scalars(
            select(OpendataResource.stored_path).where(OpendataResource.stored_path != "")
        )
    )
    before = (now or datetime.now(UTC)) - older_than
    return [
        found
        for found in files.list()
        if found.key not in referenced and found.modified.astimezone(UTC) < before
    ]
