"""The API documentation (/api/docs) in a real browser with every request to another host
refused, as on a provincial network without Internet access: Swagger UI still draws every
operation of the OpenAPI document.

Screenshots: ``test-output/screenshots/api-docs-{390,1920}.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations

if TYPE_CHECKING:
    from tests.e2e.conftest import BrowserThread

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [390, 1920])
def test_the_api_documentation_works_offline(
    browser: BrowserThread, live_server: str, width: int
) -> None:
    own_host = urlsplit(live_server).netloc
    elsewhere: list[str] = []
    violations: list[str] = []

    def offline(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own_host:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    def journey(page: Page) -> None:
        page.route("**/*", offline)
        page.goto("/api/docs")
        document = page.request.get("/api/openapi.json").json()
        operations = sum(
            method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
            for item in document["paths"].values()
            for method in item
        )
        assert operations > 50
        # Swagger UI read every operation of the document (it draws them as they scroll in).
        expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
        read = page.evaluate("window.tinhsoApiDocs.specSelectors.operations().size")
        assert read == operations
        expect(page.get_by_text("/api/v1/units").first).to_be_visible()
        violations.extend(serious_accessibility_violations(page))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"api-docs-{width}.png"))

    browser.run(journey, live_server, width=width, height=1000)
    assert elsewhere == []
    assert violations == [], "\n".join(violations)
