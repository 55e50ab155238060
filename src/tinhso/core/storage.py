"""Stored files, on the data directory's disk or on an S3-compatible object store, behind one
interface (:class:`FileStore`), chosen by ``TINHSO_STORAGE_BACKEND`` (``disk`` or ``s3``).

A store serves one *area*, a folder of keys such as ``opendata/resources`` (open data's
resource files, :mod:`tinhso.opendata.catalogue.storage`) or ``reports`` (field reports' photos
and videos, :mod:`tinhso.reports.media.storage`). A key is a POSIX path under its area: on
disk the file's path under the data directory, on S3 the object key after
``TINHSO_STORAGE_S3_PREFIX``. Only keys of the store's own area are read or written: a key is
checked to be under the area without ``..`` (and on disk to stay inside the area's folder).

On disk a file is written to a temporary name and renamed into place; on S3 an object appears
whole when its PUT completes; either way a reader never sees half a file. Size and SHA-256 are
computed as the file is written. The domains give each version of a file a key of its own
(from its content), so a new version never overwrites the one committed rows point to.

Downloads go through the platform by default (its access control decides, Range requests are
answered from the store: :func:`tinhso.core.web.stored_file`); the S3 store can instead
answer with a short-lived presigned URL to redirect to
(``TINHSO_STORAGE_S3_PRESIGNED_DOWNLOADS``, off by default).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Protocol

from tinhso.core.errors import Unavailable
from tinhso.core.text import fold

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tinhso.core.config import StorageSection

CHUNK = 256 * 1024
_NOT_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StoredFile:
    key: str  # on disk: the path relative to the data directory
    filename: str
    size: int
    sha256: str


@dataclass(frozen=True)
class StoredObject:
    """A key in the store, as listed (for the clean-up of orphans)."""

    key: str
    size: int
    modified: datetime


class StorageUnavailable(Unavailable):
    """The configured store cannot be reached (checked at start and by ``config check``)."""

    code = "storage_unavailable"


class FileStore(Protocol):
    """Where one area's files live. Keys are POSIX paths under the area."""

    name: str
    area: str

    def put(self, key: str, content: bytes | IO[bytes]) -> StoredFile:
        """Write the whole file under ``key`` (replacing one already there: same key, same
        content), atomically for readers; its size and SHA-256 as written."""
        ...

    def size(self, key: str) -> int | None:
        """The stored file's size, or None when there is no such file."""
        ...

    def exists(self, key: str) -> bool: ...

    def iterate(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes from ``start`` to ``end`` (inclusive; None: the last) in chunks."""
        ...

    def read(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None:
        """Remove a file nothing refers to any more (a missing one is no error)."""
        ...

    def list(self, under: str = "") -> Iterator[StoredObject]:
        """Every file of the area, or under the key prefix ``under`` of it."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file on this machine's disk (served with the OS's sendfile), or None."""
        ...

    def download_url(self, key: str, filename: str, media_type: str | None) -> str | None:
        """A URL to redirect a download to, or None: stream it through the platform."""
        ...

    def check(self) -> None:
        """Raise :class:`StorageUnavailable` when the store cannot be used."""
        ...


def safe_filename(name: str) -> str:
    """A file name safe on every file system and in a URL: "Xã phường.csv" → "xa-phuong.csv"."""
    cleaned = _NOT_FILENAME.sub("-", fold(Path(name).name)).strip(".-")
    return cleaned[:100] or "tep"


def valid_key(key: str, area: str) -> bool:
    """A key of the area: under it, relative, without ``..``, naming a file in a folder."""
    parts = key.split("/")
    return (
        key.startswith(area + "/")
        and "\\" not in key
        and all(part not in {"", ".", ".."} for part in parts)
        and len(parts) > area.count("/") + 1
    )


def _chunks_of(content: bytes | IO[bytes]) -> Iterator[bytes]:
    if isinstance(content, bytes):
        yield content
        return
    while chunk := content.read(CHUNK):
        yield chunk


def _refuse_key(key: str, area: str) -> None:
    if not valid_key(key, area):
        msg = f"not a key of {area}/: {key!r}"
        raise ValueError(msg)


class DiskStore:
    """Files under the data directory (the default), in the area's folder."""

    name = "disk"

    def __init__(self, data_dir: Path, area: str) -> None:
        self.data_dir = data_dir
        self.area = area.strip("/")
        self.root = data_dir / self.area

    def _path(self, key: str) -> Path | None:
        if not valid_key(key, self.area):
            return None
        path = (self.data_dir / key).resolve()
        return path if path.is_relative_to(self.root.resolve()) else None

    def put(self, key: str, content: bytes | IO[bytes]) -> StoredFile:
        _refuse_key(key, self.area)
        target = self.data_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as output:
                for chunk in _chunks_of(content):
                    digest.update(chunk)
                    size += len(chunk)
                    output.write(chunk)
            Path(temporary).replace(target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return StoredFile(key, target.name, size, digest.hexdigest())

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path is not None and path.is_file() else None

    def size(self, key: str) -> int | None:
        path = self.local_path(key)
        return path.stat().st_size if path is not None else None

    def exists(self, key: str) -> bool:
        return self.local_path(key) is not None

    def iterate(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self.local_path(key)
        if path is None:
            raise FileNotFoundError(key)
        with path.open("rb") as source:
            source.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = source.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def read(self, key: str) -> bytes:
        path = self.local_path(key)
        if path is None:
            raise FileNotFoundError(key)
        return path.read_bytes()

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path is None:
            return
        path.unlink(missing_ok=True)
        for parent in path.parents:  # the file's folders, once empty
            if parent == self.root.resolve():
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def list(self, under: str = "") -> Iterator[StoredObject]:
        folder = self.root
        if under:  # walk only the prefix's deepest folder
            folder = self.data_dir / under[: under.rfind("/") + 1]
            if not folder.resolve().is_relative_to(self.root.resolve()):
                return
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob("*")):
            if under and not path.relative_to(self.data_dir).as_posix().startswith(under):
                continue
            if path.is_file() and not path.name.startswith(".upload-"):
                stat = path.stat()
                yield StoredObject(
                    path.relative_to(self.data_dir).as_posix(),
                    stat.st_size,
                    datetime.fromtimestamp(stat.st_mtime, UTC),
                )

    def download_url(self, key: str, filename: str, media_type: str | None) -> str | None:
        return None

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageUnavailable(
                f"Không tạo được thư mục lưu tệp {self.root}",
                f"Cannot create the file storage directory {self.root}",
            ) from error


class S3Store:
    """Objects in a bucket of an S3-compatible store (AWS S3, MinIO, Ceph RGW, ...), through
    boto3. ``prefix`` is put before every key (one bucket may serve several platforms)."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        area: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        path_style: bool = False,
        prefix: str = "",
        presigned_downloads: bool = False,
        presigned_seconds: int = 300,
        timeout_seconds: float = 10.0,
    ) -> None:
        import boto3  # noqa: PLC0415 - only a platform storing on S3 loads boto3
        from botocore.config import Config  # noqa: PLC0415

        self.bucket = bucket
        self.area = area.strip("/")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.presigned_downloads = presigned_downloads
        self.presigned_seconds = presigned_seconds
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(
                s3={"addressing_style": "path" if path_style else "auto"},
                connect_timeout=timeout_seconds,
                read_timeout=timeout_seconds,
                retries={"max_attempts": 3, "mode": "standard"},
                # Checksums only when the operation requires one: stores other than AWS S3
                # do not all accept the newer default trailing checksums.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def _object(self, key: str) -> str:
        _refuse_key(key, self.area)
        return self.prefix + key

    def _missing(self, error: Exception) -> bool:
        response = getattr(error, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        return code in {"404", "NoSuchKey", "NotFound"}

    @contextmanager
    def _answering(self, *, missing_ok: bool = False) -> Iterator[None]:
        """The store's failures as 503 (StorageUnavailable); a missing key passes through."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            yield
        except ClientError as error:
            if missing_ok and self._missing(error):
                raise
            raise _unavailable(self.bucket, error) from error
        except BotoCoreError as error:
            raise _unavailable(self.bucket, error) from error

    def put(self, key: str, content: bytes | IO[bytes]) -> StoredFile:
        name = self._object(key)
        digest, size = hashlib.sha256(), 0
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
            for chunk in _chunks_of(content):
                digest.update(chunk)
                size += len(chunk)
                spool.write(chunk)
            spool.seek(0)
            with self._answering():
                self.client.upload_fileobj(spool, self.bucket, name)
        return StoredFile(key, PurePosixPath(key).name, size, digest.hexdigest())

    def size(self, key: str) -> int | None:
        if not valid_key(key, self.area):
            return None
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            with self._answering(missing_ok=True):
                answer = self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError as error:
            if self._missing(error):
                return None
            raise
        return int(answer["ContentLength"])

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def iterate(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        extra = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            with self._answering(missing_ok=True):
                answer = self.client.get_object(Bucket=self.bucket, Key=self._object(key), **extra)
        except ClientError as error:
            if self._missing(error):
                raise FileNotFoundError(key) from error
            raise
        body = answer["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def read(self, key: str) -> bytes:
        return b"".join(self.iterate(key))

    def delete(self, key: str) -> None:
        with self._answering():
            self.client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def list(self, under: str = "") -> Iterator[StoredObject]:
        if under and not under.startswith(self.area + "/"):
            return
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + (under or self.area + "/")
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield StoredObject(
                    item["Key"][len(self.prefix) :], int(item["Size"]), item["LastModified"]
                )

    def local_path(self, key: str) -> Path | None:
        return None

    def download_url(self, key: str, filename: str, media_type: str | None) -> str | None:
        if not self.presigned_downloads:
            return None
        params = {
            "Bucket": self.bucket,
            "Key": self._object(key),
            "ResponseContentDisposition": f'attachment; filename="{safe_filename(filename)}"',
        }
        if media_type:
            params["ResponseContentType"] = media_type
        url: str = self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.presigned_seconds
        )
        return url

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as error:
            raise _unavailable(self.bucket, error) from error


def _unavailable(bucket: str, error: Exception) -> StorageUnavailable:
    return StorageUnavailable(
        f"Không truy cập được bucket S3 {bucket!r} "
        f"({type(error).__name__}: {_reason(error)}); kiểm tra TINHSO_STORAGE_S3_*",
        f"The S3 bucket {bucket!r} cannot be reached "
        f"({type(error).__name__}: {_reason(error)}); check TINHSO_STORAGE_S3_*",
    )


def _reason(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error", {})
        return str(details.get("Code") or details.get("Message") or error)
    return str(error)


def store_of(section: StorageSection, data_dir: Path, area: str) -> FileStore:
    """The area's store the settings choose (no network call: see :meth:`FileStore.check`)."""
    if section.backend == "disk":
        return DiskStore(data_dir, area)
    assert section.s3_bucket is not None  # noqa: S101 - the settings' validator requires it
    secret = section.s3_secret_access_key
    return S3Store(
        section.s3_bucket,
        area,
        endpoint_url=section.s3_endpoint_url,
        region=section.s3_region,
        access_key_id=section.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret is not None else None,
        path_style=section.s3_path_style,
        prefix=section.s3_prefix,
        presigned_downloads=section.s3_presigned_downloads,
        presigned_seconds=section.s3_presigned_seconds,
    )
