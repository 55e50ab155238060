"""Field reports' photos and videos in the platform's file store (:mod:`tinhso.core.storage`,
on the data directory's disk or on the S3-compatible store ``TINHSO_STORAGE_BACKEND`` names, as
open data's resource files).

Keys: ``reports/photos/<report id>/<first 32 hex digits of the SHA-256>.jpg`` (and
``….public.jpg``, the copy with the areas staff covered), ``reports/videos/<report id>/<…>``
with its ``….poster.jpg``. On disk a key is the file's path under the data directory, as it
was before the store existed, so files stored then are found without any move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.storage import FileStore, store_of

if TYPE_CHECKING:
    from tinhso.core.config import Settings

AREA = "reports"
KINDS = ("photos", "videos")


def media_store(settings: Settings) -> FileStore:
    return store_of(settings.storage, settings.data_dir, AREA)


def discard_report_files(files: FileStore, report_id: int) -> None:
    """Remove every file stored for a report that was then not stored (its transaction rolled
    back), so no photo of an unsaved report stays behind."""
    for kind in KINDS:
        for found in list(files.list(f"{AREA}/{kind}/{report_id}/")):
            files.delete(found.key)
