"""An S3-compatible server for the tests: moto's S3 served over HTTP on loopback
(``ThreadedMotoServer``, a werkzeug server in a thread of the test process), so the S3 store
is exercised through boto3 and real HTTP requests exactly as against MinIO or AWS S3.

moto rather than MinIO: MinIO's server is a Go binary that neither PyPI nor Debian ship, and
the test machines and CI install only from those registries; moto's server installs from
PyPI (the ``dev`` extra and requirements.lock) and starts in a fraction of a second.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from tinhso.core.config import StorageSection
from tinhso.core.storage import DiskStore, FileStore, store_of

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

ACCESS_KEY = "tinhso-test"
SECRET_KEY = "tinhso-test-secret"  # the emulator accepts any
REGION = "ap-southeast-1"


class S3Server:
    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"tinhso-{uuid.uuid4().hex[:20]}"
        self.client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return name

    def section(self, bucket: str, **overrides: object) -> StorageSection:
        """The settings' storage section pointing at ``bucket`` on this server."""
        return StorageSection(
            backend="s3",
            s3_endpoint_url=self.endpoint_url,
            s3_bucket=bucket,
            s3_region=REGION,
            s3_access_key_id=ACCESS_KEY,
            s3_secret_access_key=SECRET_KEY,  # type: ignore[arg-type]
            s3_path_style=True,
            **overrides,  # type: ignore[arg-type]
        )

    def stop(self) -> None:
        self._server.stop()


def store_for(request: pytest.FixtureRequest, data_dir: Path, area: str) -> FileStore:
    """The area's store for a fixture parametrised with "disk" or "s3" (a new bucket of the
    suite's S3 server)."""
    if request.param == "disk":
        return DiskStore(data_dir, area)
    server: S3Server = request.getfixturevalue("s3")
    return store_of(server.section(server.new_bucket()), data_dir, area)
