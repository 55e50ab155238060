"""The gateway's processes: a supervisor that holds the listening socket and N worker processes.

The supervisor binds the socket, forks the workers (before it has an event loop or a thread)
and restarts a worker that dies, unless workers keep dying (``_RESTARTS_ALLOWED`` within
``_RESTART_WINDOW`` seconds: then it stops them all and exits non-zero) or one fails its
start-up (the app's lifespan start-up: settings, database, keys), which no restart mends.
Each worker runs one uvloop event loop with :class:`tinhso.exchange.gateway.http.server.Server` on
the shared socket and the app's ASGI lifespan around it.

SIGTERM or SIGINT to the supervisor (or to the whole process group) stops the workers
gracefully: no new connections, idle keep-alive connections closed, answers in progress
finished within ``grace_seconds``, then the app's lifespan shut-down (the gateway flushes
its audit log) and exit.

Workers die with their supervisor: a supervisor killed outright (SIGKILL, OOM killer) cannot
stop them, so each worker asks the kernel for a SIGTERM when its parent dies
(``PR_SET_PDEATHSIG`` on Linux) and also checks its parent every second (elsewhere, and in
case the parent died before the request took effect). Orphaned workers would otherwise keep
the listening socket and the next start would fail with "address already in use".
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import importlib
import logging
import os
import signal
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from tinhso.exchange.gateway.http.server import Limits, Server

if TYPE_CHECKING:
    from tinhso.exchange.gateway.http.server import ASGIApp, Message

log = logging.getLogger(__name__)

STARTUP_FAILED = 3
_PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal this process gets when its parent dies
_PARENT_CHECK_SECONDS = 1.0
# The young generation collects after this many more allocations than deallocations
# of container objects (CPython's default is 700).
_YOUNG_THRESHOLD = 10_000
_RESTARTS_ALLOWED = 5
_RESTART_WINDOW = 30.0


def load_app(reference: str) -> ASGIApp:
    """``module:attribute`` -> the ASGI callable."""
    module, _, attribute = reference.partition(":")
    app: ASGIApp = getattr(importlib.import_module(module), attribute)
    return app


def listening_socket(host: str, port: int, backlog: int = 4096) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)  # noqa: FBT003 - the socket API
    sock.set_inheritable(True)
    return sock


def run(
    app: str | ASGIApp,
    host: str,
    port: int,
    workers: int,
    limits: Limits | None = None,
    grace_seconds: float = 30.0,
) -> int:
    """Serve ``app`` with ``workers`` processes until SIGTERM/SIGINT; the exit status."""
    if threading.active_count() > 1:
        msg = "the gateway must fork its workers before any thread is started"
        raise RuntimeError(msg)
    sock = listening_socket(host, port)
    supervisor = _Supervisor(app, sock, limits or Limits(), grace_seconds)
    previous = {sig: signal.signal(sig, supervisor.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for number in range(workers):
            supervisor.spawn(number)
        log.info("gateway: %d worker(s) on %s:%d", workers, host, port)
        status = supervisor.watch()
        log.info("gateway stopped (exit status %d)", status)
        return status
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


class _Supervisor:
    """The workers of the gateway: started, restarted when they die, stopped on a signal."""

    def __init__(
        self, app: str | ASGIApp, sock: socket.socket, limits: Limits, grace: float
    ) -> None:
        self.app, self.sock, self.limits, self.grace = app, sock, limits, grace
        self.children: dict[int, int] = {}  # pid -> worker number
        self.stopping = False
        self.status = 0
        self._restarts: list[float] = []

    def spawn(self, number: int) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                _die_with(parent)
                status = _worker(self.app, self.sock, self.limits, self.grace, parent)
            except BaseException:
                log.exception("gateway worker %d failed", number)
            finally:
                os._exit(status)
        self.children[pid] = number

    def stop(self, _signum: int = signal.SIGTERM, _frame: Any = None) -> None:
        self.stopping = True
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def watch(self) -> int:
        """Wait for the workers; restart those that die while serving."""
        while self.children:
            try:
                pid, code = os.wait()
            except ChildProcessError:
                break
            number = self.children.pop(pid, -1)
            if self.stopping or number < 0:
                continue
            exit_code = os.waitstatus_to_exitcode(code)
            now = time.monotonic()
            self._restarts = [t for t in self._restarts if now - t < _RESTART_WINDOW]
            if exit_code == STARTUP_FAILED or len(self._restarts) >= _RESTARTS_ALLOWED:
                log.error("gateway: worker %d could not run (exit %d); stopping", number, exit_code)
                self.status = 1
                self.stop()
                continue
            log.warning("gateway: worker %d exited (%d); starting it again", number, exit_code)
            self._restarts.append(now)
            self.spawn(number)
        return self.status


def _die_with(parent: int) -> None:
    """In a freshly forked worker: have the kernel send SIGTERM when the supervisor dies."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is not None:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(libc_name, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before the request took effect
        os._exit(0)


def _worker(
    app: str | ASGIApp, sock: socket.socket, limits: Limits, grace: float, parent: int
) -> int:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    import uvloop  # noqa: PLC0415 - in the worker, after the fork

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve(app, sock, limits, grace, parent))
    finally:
        loop.close()


async def _serve(
    app_ref: str | ASGIApp, sock: socket.socket, limits: Limits, grace: float, parent: int
) -> int:
    loop = asyncio.get_running_loop()
    app = load_app(app_ref) if isinstance(app_ref, str) else app_ref
    lifespan = Lifespan(app)
    # Until the start-up is done, SIGTERM (from the supervisor, or from the kernel when the
    # supervisor dies) ends this worker at once: it has answered nothing yet.
    if not await lifespan.startup():
        return STARTUP_FAILED
    _settle_the_heap()
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    watch = loop.create_task(_watch_parent(parent, stopped), name="tinhso-parent")
    server = Server(app, loop, limits)
    listener = await loop.create_server(server.protocol, sock=sock, backlog=4096)
    server.start_sweeping()
    await stopped.wait()
    watch.cancel()
    listener.close()
    await server.shut_down(grace)
    await lifespan.shutdown()
    return 0


def _settle_the_heap() -> None:
    """Keep the collector's pauses out of the answers' tail latency.

    Everything built at start-up (modules, settings, the registry snapshot, compiled
    schemas) lives as long as the worker. ``gc.freeze`` moves it out of the collector's
    generations, so a full collection no longer walks it on some unlucky request; the
    young generation's threshold is raised so a request's short-lived objects are
    collected in fewer, still small, passes."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(_YOUNG_THRESHOLD, middle, old)


async def _watch_parent(parent: int, stopped: asyncio.Event) -> None:
    """Stop this worker when its supervisor is gone (the portable half of :func:`_die_with`)."""
    while not stopped.is_set():
        if os.getppid() != parent:
            log.warning("gateway: the supervisor %d is gone; this worker stops", parent)
            stopped.set()
            return
        await asyncio.sleep(_PARENT_CHECK_SECONDS)


class Lifespan:
    """Drives an ASGI app's ``lifespan`` protocol (start-up and shut-down)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._supported = True

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        try:
            await self.app(scope, self._inbox.get, self._outbox.put)
        except Exception:
            log.debug("gateway: the app does not run the lifespan protocol", exc_info=True)
            self._supported = False
        finally:
            await self._outbox.put({"type": "lifespan.ended"})

    async def _ask(self, message: str) -> Message:
        await self._inbox.put({"type": message})
        return await self._outbox.get()

    async def startup(self) -> bool:
        self._task = asyncio.get_running_loop().create_task(self._main())
        answer = await self._ask("lifespan.startup")
        if answer["type"] == "lifespan.startup.failed":
            log.error("gateway: start-up failed: %s", answer.get("message", ""))
            return False
        return answer["type"] == "lifespan.startup.complete" or not self._supported

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        answer = await self._ask("lifespan.shutdown")
        if answer["type"] == "lifespan.shutdown.failed":
            log.error("gateway: shut-down failed: %s", answer.get("message", ""))
        with contextlib.suppress(Exception):
            await self._task
