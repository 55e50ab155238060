"""The consumer's request body as the gateway reads it: whole (to validate it) or streamed.

Both readers refuse a body past the service's limit (:class:`BodyTooLarge`) and a body the
consumer abandoned (:class:`ConsumerGone`): it is never forwarded short, and a streamed one is
cut off so the provider sees it incomplete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, Protocol

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class BodyTooLarge(Exception):
    """The body is over the service's ``max_request_bytes``."""


class ConsumerGone(Exception):
    """The consumer went away before its request body was complete: nothing is forwarded
    (a streamed body is cut off, so the provider sees it incomplete, never a shorter one)."""


class Counted(Protocol):
    bytes_in: int


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body (at most ``limit`` bytes).

    Its own loop rather than a collection of :func:`stream_body`: this is the path of every
    validated request, and an async generator per request costs more than the lines it saves.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConsumerGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def stream_body(
    receive: Receive, exchange: Counted, digest: Any, limit: int
) -> AsyncIterator[bytes]:
    """The body chunk by chunk as it arrives, counted on ``exchange`` and hashed."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConsumerGone
        chunk = message.get("body", b"")
        if chunk:
            exchange.bytes_in += len(chunk)
            if exchange.bytes_in > limit:
                raise BodyTooLarge
            digest.update(chunk)
            yield chunk
        if not message.get("more_body", False):
            return
