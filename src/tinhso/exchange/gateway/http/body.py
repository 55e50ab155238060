"""The consumer's request body as the gateway reads it: whole (to validate it) or streamed.

Both readers refuse a body past the service's limit (:class:`BodyTooLarge`) and a body the
consumer abandoned (:class:`ConsumerGone`): it is never forwarded short, and a streamed one is
cut off so the provider sees it incomplete.

A body that does not arrive with its request head is an upload in progress, and
:class:`Uploads` bounds them: each has ``seconds`` in all from the start of its request, not
only an idle time per part (:class:`BodyTimeout`, a 408: a body trickled byte by byte is cut),
and one consumer may have at most ``per_consumer`` of them at once in a worker
(:class:`TooManyUploads`, a 429), so slow bodies cannot hold a worker's connections or memory
for the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, Protocol

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class BodyTooLarge(Exception):
    """The body is over the service's ``max_request_bytes``."""


class ConsumerGone(Exception):
    """The consumer went away before its request body was complete: nothing is forwarded
    (a streamed body is cut off, so the provider sees it incomplete, never a shorter one)."""


class BodyTimeout(Exception):
    """The body did not arrive whole within its deadline (:attr:`Uploads.seconds`)."""


class TooManyUploads(Exception):
    """The consumer already has :attr:`Uploads.per_consumer` bodies in progress here."""


class Counted(Protocol):
    bytes_in: int


class Uploads:
    """Request bodies in progress in this worker, per consumer, and their time limit."""

    __slots__ = ("_in_progress", "per_consumer", "seconds")

    def __init__(self, per_consumer: int, seconds: float) -> None:
        self.per_consumer, self.seconds = per_consumer, seconds
        self._in_progress: dict[str, int] = {}

    def begin(self, consumer: str) -> None:
        count = self._in_progress.get(consumer, 0)
        if count >= self.per_consumer:
            raise TooManyUploads
        self._in_progress[consumer] = count + 1

    def end(self, consumer: str) -> None:
        count = self._in_progress[consumer] - 1
        if count:
            self._in_progress[consumer] = count
        else:
            del self._in_progress[consumer]

    def in_progress(self, consumer: str) -> int:
        return self._in_progress.get(consumer, 0)

    def left(self, started: float) -> float:
        """Seconds left for a body whose request started at ``started`` (``perf_counter``)."""
        return self.seconds - (time.perf_counter() - started)


async def first_part(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The first part of the body and whether more follows (no timer: the head's part is
    usually the whole body; the server's idle limit bounds this wait)."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ConsumerGone
    chunk: bytes = message.get("body", b"")
    if len(chunk) > limit:
        raise BodyTooLarge
    return chunk, message.get("more_body", False)


async def read_body(receive: Receive, limit: int, uploads: Uploads, started: float) -> bytes:
    """The whole body (at most ``limit`` bytes), whole within ``uploads.seconds`` of
    ``started``. The caller counts it in ``uploads`` (:meth:`Uploads.begin`) while it reads.

    Its own loop rather than a collection of :func:`stream_body`: this is the path of every
    validated request, and an async generator per request costs more than the lines it saves.
    """
    message = await receive()  # not first_part(): one coroutine less on the hot path
    if message["type"] == "http.disconnect":
        raise ConsumerGone
    chunk: bytes = message.get("body", b"")
    if len(chunk) > limit:
        raise BodyTooLarge
    more = message.get("more_body", False)
    if not more:
        return chunk
    chunks = [chunk]
    size = len(chunk)
    try:
        async with asyncio.timeout(uploads.left(started)):  # one timer, for bodies in parts
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ConsumerGone
                chunk = message.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if size > limit:
                        raise BodyTooLarge
                    chunks.append(chunk)
                more = message.get("more_body", False)
    except TimeoutError:
        raise BodyTimeout from None
    return b"".join(chunks)


async def stream_body(
    receive: Receive,
    exchange: Counted,
    digest: Any,
    limit: int,
    first: bytes,
    deadline: float,
) -> AsyncIterator[bytes]:
    """The body chunk by chunk as it arrives, from its ``first`` part (already received, see
    :func:`first_part`), counted on ``exchange`` and hashed, whole by ``deadline``
    (``time.monotonic``)."""
    exchange.bytes_in = len(first)
    digest.update(first)
    yield first
    while True:
        try:
            # A timer per wait, never across a yield (the consumer of this generator, writing
            # to the provider, runs in the same task).
            async with asyncio.timeout(deadline - time.monotonic()):
                message = await receive()
        except TimeoutError:
            raise BodyTimeout from None
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
