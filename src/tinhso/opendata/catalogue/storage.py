"""Resource files stored under the data directory:
``opendata/resources/<resource id>/<first 16 hex digits of its SHA-256>/<file>``.

Each version of a resource's file has a directory of its own, so storing a new upload never
overwrites the file the committed resource still points to (if the new version is refused or
its transaction fails, the previous one is intact).

A file is written to a temporary name and renamed into place, so a reader never sees half a
file; its size and SHA-256 are computed as it is written. Only names this module made are
ever opened (the resource's stored path, checked to stay inside the storage directory).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tinhso.core.text import fold

STORAGE_DIR = Path("opendata") / "resources"
_NOT_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StoredFile:
    relative_path: str  # relative to the data directory
    filename: str
    size: int
    sha256: str


def safe_filename(name: str) -> str:
    """A file name safe on every file system and in a URL: "Xã phường.csv" → "xa-phuong.csv"."""
    cleaned = _NOT_FILENAME.sub("-", fold(Path(name).name)).strip(".-")
    return cleaned[:100] or "tep"


def store(data_dir: Path, resource_id: str, filename: str, content: bytes) -> StoredFile:
    name = safe_filename(filename)
    digest = hashlib.sha256(content).hexdigest()
    relative = STORAGE_DIR / resource_id / digest[:16] / name
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    with os.fdopen(handle, "wb") as output:
        output.write(content)
    Path(temporary).replace(target)
    return StoredFile(relative.as_posix(), name, len(content), digest)


def stored_path(data_dir: Path, relative_path: str) -> Path | None:
    """The stored file's path, if it exists inside the storage directory."""
    root = (data_dir / STORAGE_DIR).resolve()
    path = (data_dir / relative_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path
