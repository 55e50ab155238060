"""Shared fixtures of the browser journeys: Debian's chromium driven by Playwright on a
thread of its own, and the real control plane served by uvicorn on a loopback port."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.exchange.conftest import exchange_world  # noqa: F401 - a fixture, used by name
from tests.reports.conftest import reports_world  # noqa: F401 - a fixture, used by name
from tinhso.app import create_app

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class BrowserThread:
    """Chromium driven by Playwright's sync API on a thread of its own.

    The sync API runs an event loop in the thread that starts it; keeping it off the
    main thread leaves the main thread free for the suite's asyncio tests.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright")
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def start(self) -> None:
        def launch() -> None:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )

        self._executor.submit(launch).result(timeout=60)

    def run(
        self, journey: Callable[[Page], None], base_url: str, width: int = 1366, height: int = 900
    ) -> None:
        """Run ``journey`` in a fresh browser context (cookies, storage) on the browser's thread,
        in a window ``width`` × ``height`` CSS pixels."""

        def in_context() -> None:
            assert self._browser is not None
            context = self._browser.new_context(
                base_url=base_url, viewport={"width": width, "height": height}, locale="vi-VN"
            )
            try:
                page = context.new_page()
                page.set_default_timeout(10_000)
                journey(page)
            finally:
                context.close()

        self._executor.submit(in_context).result(timeout=300)

    def stop(self) -> None:
        def close() -> None:
            if self._browser is not None:
                self._browser.close()
            if self._playwright is not None:
                self._playwright.stop()

        self._executor.submit(close).result(timeout=60)
        self._executor.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[BrowserThread]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing: run `make install-system` (scripts/install-system.sh)"
        )
    thread = BrowserThread()
    thread.start()
    yield thread
    thread.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def stoppable_server(
    settings: Settings, engine: Engine
) -> Iterator[tuple[str, Callable[[], None]]]:
    """The real control plane served by uvicorn on loopback: its base URL, and a way to stop
    it in the middle of a test (the wall screen's stale notice)."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app(settings.model_copy(update={"base_url": base_url}), engine)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="uvicorn-e2e", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "uvicorn did not stop"

    yield base_url, stop
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def live_server(stoppable_server: tuple[str, Callable[[], None]]) -> str:
    """The real control plane served by uvicorn on loopback; its base URL."""
    return stoppable_server[0]


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def serious_accessibility_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (none is the goal).

    axe is evaluated through the DevTools protocol, so the portal's Content-Security-Policy
    (no inline script) stays on while it runs.
    """
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make assets` (scripts/vendor-assets.sh)")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v.get("impact") in {"serious", "critical"}
    ]
