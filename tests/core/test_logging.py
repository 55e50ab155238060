"""The one log: JSON lines with their fields, secrets never written, the gateway's events."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import pytest
import structlog
from fastapi.testclient import TestClient

from tinhso.app import create_app
from tinhso.core.logging import bound, configure_logging, get_logger
from tinhso.exchange.gateway.breaker import Breaker
from tinhso.exchange.gateway.registry_cache import RegistryCache

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

SECRET = "s3cr3t-Value-9f8e7d"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    structlog.reset_defaults()


def _read(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_structlog_and_stdlib_lines_carry_the_same_fields(lines: io.StringIO) -> None:
    with bound(request_id="req-12345678"):
        get_logger("tinhso.test").info("from structlog", count=3)
        logging.getLogger("tinhso.exchange.somewhere").warning("from %s", "stdlib")
    logging.getLogger("uvicorn.error").info("outside any request")
    first, second, third = _read(lines)
    for line in (first, second, third):
        assert line["pid"] == os.getpid()
        stamp = datetime.fromisoformat(str(line["time"]))
        assert stamp.utcoffset() is not None
        assert stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert (first["event"], first["level"], first["logger"]) == (
        "from structlog",
        "info",
        "tinhso.test",
    )
    assert first["count"] == 3
    assert first["request_id"] == "req-12345678"
    assert (second["event"], second["level"]) == ("from stdlib", "warning")
    assert second["logger"] == "tinhso.exchange.somewhere"
    assert second["request_id"] == "req-12345678"
    assert third["logger"] == "uvicorn.error"
    assert "request_id" not in third  # unbound when the block ended


def test_no_terminal_colour_codes_reach_the_json_log(lines: io.StringIO) -> None:
    # uvicorn logs "Started server process [%d]" with a coloured copy in ``color_message``.
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "Started [\x1b[36m%d\x1b[0m]"}
    )
    (line,) = _read(lines)
    assert line["event"] == "Started server process [42]"
    assert "color_message" not in line
    assert "\x1b" not in lines.getvalue()


def test_the_level_filters_both_kinds(lines: io.StringIO) -> None:
    get_logger("tinhso.test").debug("hidden")
    logging.getLogger("tinhso.test").debug("hidden too")
    get_logger("tinhso.test").info("shown")
    assert [line["event"] for line in _read(lines)] == ["shown"]


def test_secrets_under_secret_keys_are_replaced(lines: io.StringIO) -> None:
    log = get_logger("tinhso.test")
    log.info(
        "login",
        password=SECRET,
        client_secret=SECRET,
        Authorization=f"Bearer {SECRET}",
        headers={"cookie": SECRET, "accept": "application/json"},
        user="an",
    )
    logging.getLogger("tinhso.test").info("stdlib extra", extra={"access_token": SECRET})
    output = lines.getvalue()
    assert SECRET not in output
    first, second = _read(lines)
    assert first["password"] == "[redacted]"
    assert first["headers"] == {"cookie": "[redacted]", "accept": "application/json"}
    assert first["user"] == "an"
    assert second["access_token"] == "[redacted]"


def test_secrets_within_text_and_exceptions_are_replaced(lines: io.StringIO) -> None:
    log = logging.getLogger("tinhso.test")
    log.info("upstream said Authorization: Bearer %s", SECRET)
    log.info("token %s in a message", JWT)
    log.warning("connecting to postgresql://tinhso:%s@db/tinhso", SECRET)
    try:
        msg = f"refused: client_secret={SECRET} password: {SECRET}"
        raise ValueError(msg)
    except ValueError:
        log.exception("the provider failed")
    try:
        raise RuntimeError(JWT)
    except RuntimeError:
        get_logger("tinhso.test").exception("structlog too")
    output = lines.getvalue()
    assert SECRET not in output
    assert JWT not in output
    assert JWT.split(".")[1] not in output
    records = _read(lines)
    assert records[2]["event"] == "connecting to postgresql://tinhso:[redacted]@db/tinhso"
    assert "ValueError" in str(records[3]["exception"])  # the trace is kept, not its secrets
    assert "client_secret=[redacted]" in str(records[3]["exception"])


def test_words_that_look_like_secret_keys_in_plain_prose_stay(lines: io.StringIO) -> None:
    logging.getLogger("tinhso.test").info("registry: snapshot version %d in use", 42)
    assert _read(lines)[0]["event"] == "registry: snapshot version 42 in use"


def test_a_breaker_logs_each_state_change_at_info(lines: io.StringIO) -> None:
    breaker = Breaker(threshold=2, cooldown=10.0, name="7 https://provider.example:443")
    breaker.failure(0.0)
    assert _read(lines) == []  # one failure changes nothing
    breaker.failure(1.0)
    assert breaker.allow(5.0) is False
    assert breaker.allow(12.0) is True  # the probe
    breaker.failure(12.5)  # the probe failed: open again
    breaker.failure(12.6)  # already open: no new event
    assert breaker.allow(30.0) is True
    breaker.success()
    breaker.success()  # already closed: no new event
    events = [(line["level"], line["breaker"]) for line in _read(lines)]
    assert events == [
        ("info", "open"),
        ("info", "half-open"),
        ("info", "open"),
        ("info", "half-open"),
        ("info", "closed"),
    ]
    assert all("provider.example" in str(line["event"]) for line in _read(lines))


async def test_a_registry_reload_logs_at_info(lines: io.StringIO, engine: Engine) -> None:
    cache = RegistryCache(engine, None, poll_seconds=3600, full_reload_seconds=3600)
    assert await cache.refresh(force=True)
    assert await cache.refresh(force=True)
    assert cache.snapshot is not None
    reloads = [
        line
        for line in _read(lines)
        if line["logger"] == "tinhso.exchange.gateway.registry_cache" and line["level"] == "info"
    ]
    assert len(reloads) == 2
    assert all(line["registry_version"] == cache.snapshot.version for line in reloads)


def test_the_request_log_is_a_line_of_the_same_log(
    settings: Settings, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings.model_copy(update={"log_level": "INFO"}), engine)
    with TestClient(app) as client:
        answer = client.get(
            "/api/v1/units?password=x",
            headers={"x-request-id": "trace-0001-abcd", "authorization": f"Bearer {SECRET}"},
        )
    requests = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("{") and '"logger": "tinhso.http"' in line
    ]
    assert answer.headers["x-request-id"] == "trace-0001-abcd"
    assert len(requests) == 1
    line = requests[0]
    assert (line["event"], line["level"], line["request_id"]) == (
        "request",
        "info",
        "trace-0001-abcd",
    )
    assert line["status"] == answer.status_code
    assert line["pid"] == os.getpid()
    assert "time" in line
    structlog.reset_defaults()
