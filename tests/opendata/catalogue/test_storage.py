"""One contract for both stores of resource files (tinhso.opendata.catalogue.storage): the
data directory's disk, and an S3-compatible server (moto's, over HTTP on loopback, started by
the suite: tests/support/s3.py) through boto3."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.s3 import store_for
from tinhso.core.storage import CHUNK, FileStore, S3Store, StorageUnavailable
from tinhso.core.storage import store_of as store_in
from tinhso.opendata.catalogue.storage import AREA, resource_key, store

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.s3 import S3Server

RESOURCE = "0b9a3c8e-5d1f-4c52-9a57-6f0e2b7d1c44"


@pytest.fixture(params=["disk", "s3"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    return store_for(request, tmp_path, AREA)


def test_a_file_put_is_read_whole_and_by_range_with_its_size_and_sha256(
    files: FileStore,
) -> None:
    content = "ma,ten\r\n1,Quảng trường 3/2\r\n".encode()
    key = resource_key(RESOURCE, "Điểm wifi.csv", hashlib.sha256(content).hexdigest())
    stored = files.put(key, content)
    assert stored.key == key
    assert key.startswith(f"opendata/resources/{RESOURCE}/")
    assert stored.filename == "diem-wifi.csv"
    assert stored.size == len(content)
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert files.exists(key)
    assert files.size(key) == len(content)
    assert files.read(key) == content
    assert b"".join(files.iterate(key)) == content
    assert b"".join(files.iterate(key, 2, 5)) == content[2:6]
    assert b"".join(files.iterate(key, 7)) == content[7:]


def test_a_stream_is_stored_in_chunks_and_hashed_as_written(files: FileStore) -> None:
    content = bytes(range(256)) * (3 * CHUNK // 256 + 17)  # more than three chunks
    key = resource_key(RESOURCE, "lon.bin", hashlib.sha256(content).hexdigest())
    stored = files.put(key, io.BytesIO(content))
    assert (stored.size, stored.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert b"".join(files.iterate(key)) == content
    assert b"".join(files.iterate(key, CHUNK - 3, CHUNK + 3)) == content[CHUNK - 3 : CHUNK + 4]


def test_each_version_has_a_key_of_its_own_and_the_previous_one_stays(files: FileStore) -> None:
    first = store(files, RESOURCE, "so-lieu.csv", b"a\r\n1\r\n")
    second = store(files, RESOURCE, "so-lieu.csv", b"a\r\n2\r\n")
    assert first.key != second.key
    assert files.read(first.key) == b"a\r\n1\r\n"
    assert files.read(second.key) == b"a\r\n2\r\n"
    again = store(files, RESOURCE, "so-lieu.csv", b"a\r\n1\r\n")  # same content: same key
    assert again.key == first.key
    assert files.read(first.key) == b"a\r\n1\r\n"
    listed = {item.key: item.size for item in files.list()}
    assert listed == {first.key: 6, second.key: 6}
    files.delete(first.key)
    assert not files.exists(first.key)
    assert files.read(second.key) == b"a\r\n2\r\n"
    assert [item.key for item in files.list()] == [second.key]


def test_a_missing_or_foreign_key_is_no_file(files: FileStore) -> None:
    missing = f"opendata/resources/{RESOURCE}/0123456789abcdef/khong-co.csv"
    assert files.size(missing) is None
    assert not files.exists(missing)
    with pytest.raises(FileNotFoundError):
        b"".join(files.iterate(missing))
    with pytest.raises(FileNotFoundError):
        files.read(missing)
    for foreign in (
        "opendata/resources/../../tinhso.sqlite3",
        "../opendata/resources/x/y/z.csv",
        "/etc/passwd",
        "reports/photos/1/a.jpg",
        "opendata/resources//x.csv",
    ):
        assert files.size(foreign) is None
        assert not files.exists(foreign)
        with pytest.raises(ValueError, match="not a key of opendata/resources/"):
            files.put(foreign, b"x")


def test_the_store_answers_its_start_check(files: FileStore) -> None:
    files.check()
    key = store(files, RESOURCE, "a.csv", b"a\r\n").key
    # Downloads stream through the platform unless presigned URLs were asked for.
    assert files.download_url(key, "a.csv", "text/csv; charset=utf-8") is None


def test_a_missing_bucket_or_a_wrong_secret_fails_the_start_check(
    s3: S3Server, tmp_path: Path
) -> None:
    absent = store_in(s3.section("tinhso-khong-co-bucket-nay"), tmp_path, AREA)
    with pytest.raises(StorageUnavailable) as raised:
        absent.check()
    assert "tinhso-khong-co-bucket-nay" in raised.value.message.en
    assert "TINHSO_STORAGE_S3_" in raised.value.message.vi
    unreachable = S3Store(
        "tinhso-test",
        AREA,
        endpoint_url="http://127.0.0.1:9",
        path_style=True,
        access_key_id="a",
        secret_access_key="b",
        region="us-east-1",
        timeout_seconds=1,
    )
    with pytest.raises(StorageUnavailable):
        unreachable.check()
    with pytest.raises(StorageUnavailable):
        unreachable.put(resource_key(RESOURCE, "a.csv", "0" * 64), b"a")


def test_presigned_downloads_are_a_choice_of_the_s3_store(s3: S3Server, tmp_path: Path) -> None:
    files = store_in(s3.section(s3.new_bucket(), s3_presigned_downloads=True), tmp_path, AREA)
    key = store(files, RESOURCE, "Số liệu.csv", b"a\r\n1\r\n").key
    url = files.download_url(key, "so-lieu.csv", "text/csv; charset=utf-8")
    assert url is not None
    assert "X-Amz-Signature=" in url or "Signature=" in url
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.content == b"a\r\n1\r\n"
    assert 'filename="so-lieu.csv"' in answer.headers["content-disposition"]


def test_a_key_prefix_keeps_platforms_apart_in_one_bucket(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    one = store_in(s3.section(bucket, s3_prefix="tinh-a/"), tmp_path, AREA)
    two = store_in(s3.section(bucket, s3_prefix="tinh-b"), tmp_path, AREA)
    key = store(one, RESOURCE, "a.csv", b"a\r\n").key
    assert one.exists(key)
    assert not two.exists(key)
    assert [item.key for item in one.list()] == [key]
    assert list(two.list()) == []
    names = [item["Key"] for item in s3.client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert names == [f"tinh-a/{key}"]
