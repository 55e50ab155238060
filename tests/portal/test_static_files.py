"""Static files: fingerprinted URLs in pages, a year's cache only for the current fingerprint,
gzip for clients that accept it."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import pytest

from tinhso.portal.static_files import STATIC_DIR, YEAR_SECONDS, fingerprint, static_url

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def test_pages_name_their_assets_by_content_fingerprint(client: TestClient) -> None:
    page = client.get("/login")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert "/static/css/portal.css" in {a.split("?")[0] for a in assets}
    for asset in assets:
        path, _, query = asset.removeprefix("/static/").partition("?")
        digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]
        assert query == f"v={digest}", asset


def test_the_current_fingerprint_is_cached_for_a_year_any_other_revalidated(
    client: TestClient,
) -> None:
    current = client.get(static_url("css/portal.css"))
    assert current.status_code == 200
    assert current.headers["cache-control"] == f"public, max-age={YEAR_SECONDS}, immutable"
    for stale in ("/static/css/portal.css?v=0123456789ab", "/static/css/portal.css"):
        response = client.get(stale)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["etag"]
    again = client.get("/static/css/portal.css", headers={"If-None-Match": current.headers["etag"]})
    assert again.status_code == 304


def test_text_assets_are_sent_compressed_to_clients_that_accept_gzip(
    client: TestClient,
) -> None:
    original = (STATIC_DIR / "css" / "portal.css").read_bytes()
    response = client.get(static_url("css/portal.css"), headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert int(response.headers["content-length"]) < len(original) / 2
    assert response.content == original  # httpx decodes; the bytes are the file's
    plain = client.get(static_url("css/portal.css"), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == original


def test_a_missing_or_escaping_asset_name_is_refused_at_render_time() -> None:
    with pytest.raises(FileNotFoundError):
        fingerprint("css/no-such-file.css")
    with pytest.raises(FileNotFoundError):
        fingerprint("../rendering.py")


def test_unknown_static_files_are_404(client: TestClient) -> None:
    assert client.get("/static/css/no-such-file.css").status_code == 404
    assert client.get("/static/../rendering.py").status_code == 404
