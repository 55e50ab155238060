"""One log for every `tinhso` process: JSON lines through structlog over stdlib logging.

``tinhso serve``, ``tinhso gateway`` (the supervisor and its forked workers) and
``tinhso worker`` call :func:`configure_logging` once at start. structlog loggers and the
stdlib ones (uvicorn, SQLAlchemy, ``logging.getLogger(__name__)`` in our modules) go through
the same formatter, so every line carries:

``event``, ``level``, ``time`` (ISO 8601, UTC), ``logger``, ``pid``, and ``request_id`` or
``job_id`` when one is bound (:func:`bound`, contextvars: per asyncio task).

Secrets are never written: values under secret-looking keys (password, secret, token,
authorization, client_secret, cookie, ...) are replaced, and within any text (messages,
exception traces) bearer tokens, JWTs, ``key=value`` pairs of such keys and the password of
a URL are replaced too.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

import structlog

if TYPE_CHECKING:
    from structlog.types import EventDict, Processor, WrappedLogger

REDACTED = "[redacted]"
# A key holding one of these (in any case) has its value replaced.
SECRET_KEYS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "private_key",
)
# Keys that contain a secret word but hold none (counts, ids, settings of lifetimes).
_NOT_SECRET_KEYS = frozenset({"token_url", "token_seconds", "token_cache_entries"})

_KEY_WORDS = "|".join(re.escape(word) for word in SECRET_KEYS)
_SECRETS_IN_TEXT = (
    # Authorization: Bearer abc / Basic abc
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}"), rf"\1 {REDACTED}"),
    # a JWT (three base64url parts, the first two JSON objects)
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    # password=..., "client_secret": "...", token: ...
    (
        re.compile(rf"(?i)([\w-]*(?:{_KEY_WORDS})[\w-]*[\"']?\s*[=:]\s*[\"']?)([^\s\"',;&}}]+)"),
        rf"\1{REDACTED}",
    ),
    # scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+@"), rf"\1{REDACTED}@"),
)


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered not in _NOT_SECRET_KEYS and any(word in lowered for word in SECRET_KEYS)


def redact_text(text: str) -> str:
    """``text`` with the secrets it shows replaced."""
    for pattern, replacement in _SECRETS_IN_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value: object) -> object:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_secret_key(str(key)) else _redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """structlog processor: the last before rendering, after exceptions became text."""
    for key, value in event.items():
        event[key] = REDACTED if is_secret_key(key) else _redacted(value)
    return event


def _add_pid(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    event["pid"] = os.getpid()  # read per line: the gateway's workers are forked
    return event


def _stringify_event(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    if not isinstance(event.get("event"), str):
        event["event"] = str(event.get("event"))
    # uvicorn adds a copy of its message with terminal colour codes: not for a JSON log.
    event.pop("color_message", None)
    return event


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    _add_pid,
]


def configure_logging(
    level: str = "INFO", *, json: bool = True, stream: TextIO | None = None
) -> None:
    """Route structlog and stdlib logging to one handler on ``stream`` (stderr)."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False, default=str)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _stringify_event,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for previous in root.handlers[:]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn configures its own loggers only with a log_config; ours is None: they propagate.
    # (and anything that configured them before: their level and handlers are the root's).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.setLevel(logging.NOTSET)
        server_logger.propagate, server_logger.disabled = True, False
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


@contextmanager
def bound(**context: Any) -> Iterator[None]:
    """``request_id=...`` or ``job_id=...`` on every line logged inside (this task only)."""
    tokens = structlog.contextvars.bind_contextvars(**context)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
