"""Throwaway PostgreSQL and Redis servers for the test suite.

Each server runs from the system's binaries (installed by
scripts/install-system.sh), on a free loopback port, with all its files in a
directory the caller gives (typically from ``tmp_path_factory``)::

    pg = PostgresServer()
    url = pg.start(tmp_path_factory.mktemp("pg"))  # postgresql+psycopg://...
    ...
    pg.pause(); pg.resume()   # fault tests: stop / start the same cluster
    pg.stop()

Servers never outlive the test process: ``stop()`` kills them, an ``atexit``
hook stops any that are still running, and each server process gets a
parent-death signal so it goes away even if the test process is SIGKILLed.

PostgreSQL refuses to run as root: when ``os.geteuid() == 0`` its programs run
as the ``postgres`` system user (created by Debian's postgresql package).
"""

from __future__ import annotations

import atexit
import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["PostgresServer", "RedisServer", "ServiceError", "free_port"]

_PR_SET_PDEATHSIG = 1
_PRCTL: Any
try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux/glibc
    _PRCTL = None
_LIVE: set[_Server] = set()
_LIVE_LOCK = threading.Lock()


class ServiceError(RuntimeError):
    """A throwaway server could not be set up, started or stopped."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent(sig: int) -> None:
    """preexec_fn: deliver ``sig`` to the child when the parent thread dies.

    Runs after the uid switch in subprocess, so it survives dropping root.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        try:
            server.stop()
        except Exception:
            pass


class _Server:
    """Common process handling: start, wait until ready, stop, pause/resume."""

    name = "server"
    stop_signal = signal.SIGTERM
    crash_signal = signal.SIGKILL
    # The kernel sends stop_signal to the server when the thread that started
    # it exits: start servers from the main thread (pytest fixtures do), or
    # set this to False and rely on stop()/atexit.
    die_with_parent = True
    kill_after = 10.0
    start_timeout = 15.0

    def __init__(self) -> None:
        self.port: int | None = None
        self.base_dir: Path | None = None
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: pwd.struct_passwd | None = None
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }

    # -- subclass hooks -------------------------------------------------
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        raise NotImplementedError

    # -- process handling -----------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self.running else None

    def _popen_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"env": self._env}
        if self._user is not None:
            kwargs.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
        return kwargs

    def _run(self, argv: list[str], what: str) -> None:
        """Run a setup command to completion (as the service user if any)."""
        res = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, **self._popen_kwargs()
        )
        if res.returncode != 0:
            out = (res.stdout + res.stderr).decode(errors="replace")
            raise ServiceError(f"{self.name}: {what} failed ({res.returncode}):\n{out}")

    def _spawn(self) -> None:
        assert self.log_path is not None
        sig = self.stop_signal
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal must not hit it
                preexec_fn=(lambda: _die_with_parent(sig)) if self.die_with_parent else None,
                **self._popen_kwargs(),
            )
        with _LIVE_LOCK:
            _LIVE.add(self)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                self._proc = None
                raise ServiceError(
                    f"{self.name} exited while starting; log {self.log_path}:\n"
                    + _tail(self.log_path)
                )
            if self._is_ready():
                return
            if time.monotonic() > deadline:
                self._terminate()
                raise ServiceError(
                    f"{self.name} not ready after {self.start_timeout}s; "
                    f"log {self.log_path}:\n" + _tail(self.log_path)
                )
            time.sleep(0.02)

    def _terminate(self, sig: int | None = None) -> None:
        proc, self._proc = self._proc, None
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.send_signal(sig if sig is not None else self.stop_signal)
            proc.wait(self.kill_after)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        except ProcessLookupError:
            pass

    def _spawn_on_free_port(self) -> None:
        """Start on a fresh free port, retrying if another process grabbed it."""
        for attempt in range(3):
            self.port = free_port()
            try:
                self._spawn()
                return
            except ServiceError:
                if attempt == 2:
                    raise

    # -- public API -----------------------------------------------------
    def pause(self, *, crash: bool = False) -> None:
        """Stop the server but keep its files, port and URL (see resume()).

        ``crash=True`` stops it abruptly (postgres: immediate shutdown, so the
        next start does crash recovery; redis: SIGKILL) instead of cleanly.
        """
        self._terminate(self.crash_signal if crash else None)

    def resume(self) -> None:
        """Start the paused server again on the same port and files."""
        if self.running:
            return
        if self.port is None:
            raise ServiceError(f"{self.name}: resume() before start()")
        self._spawn()

    def restart(self) -> None:
        self.pause()
        self.resume()

    def stop(self) -> None:
        """Stop the server (its files stay in base_dir for inspection)."""
        self._terminate()


class PostgresServer(_Server):
    """A private PostgreSQL cluster on 127.0.0.1 with trust auth, tuned for speed."""

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown
    crash_signal = signal.SIGQUIT  # "immediate" shutdown: kills backends, no checkpoint

    def __init__(
        self,
        dbname: str = "tinhso_test",
        user: str = "tinhso",
        bindir: str | os.PathLike[str] | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.dbname = dbname
        self.user = user
        self.bindir = Path(bindir) if bindir else self.find_bindir()
        self.settings = {
            "fsync": "off",
            "full_page_writes": "off",
            "synchronous_commit": "off",
            "timezone": "UTC",
            "max_connections": "100",
            "logging_collector": "off",
            **(settings or {}),
        }
        self.data_dir: Path | None = None
        self.socket_dir: Path | None = None
        self._owned_tmp: Path | None = None
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceError(
                    "running as root needs the 'postgres' system user "
                    "(run scripts/install-system.sh)"
                ) from None
            self._env["HOME"] = "/tmp"

    @staticmethod
    def find_bindir() -> Path:
        """PostgreSQL server binaries: $TINHSO_PG_BINDIR, pg_config, Debian's dirs, PATH."""
        candidates: list[Path] = []
        if env := os.environ.get("TINHSO_PG_BINDIR"):
            candidates.append(Path(env))
        if shutil.which("pg_config"):
            try:
                out = subprocess.run(
                    ["pg_config", "--bindir"], capture_output=True, text=True, check=True
                ).stdout.strip()
                candidates.append(Path(out))
            except (OSError, subprocess.CalledProcessError):
                pass
        debian = glob.glob("/usr/lib/postgresql/*/bin")
        debian.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
        candidates.extend(Path(p) for p in reversed(debian))
        if initdb := shutil.which("initdb"):
            candidates.append(Path(initdb).parent)
        for cand in candidates:
            if (cand / "initdb").is_file() and (cand / "postgres").is_file():
                return cand
        raise ServiceError(
            "PostgreSQL server binaries not found (run scripts/install-system.sh "
            "or set TINHSO_PG_BINDIR)"
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.dbname}"

    def _prepare_dir(self, base_dir: Path) -> Path:
        """Directory for the cluster, usable by the user postgres runs as."""
        if self._user is None:
            root = base_dir / "postgres"
            root.mkdir(mode=0o700)
            return root
        # As root: the postgres user must be able to reach the directory;
        # pytest's /tmp/pytest-of-root is 0700, so fall back to a private
        # temp dir (removed on stop) and leave a symlink to it in base_dir.
        reachable = (
            subprocess.run(
                ["test", "-x", str(base_dir)], stdin=subprocess.DEVNULL, **self._popen_kwargs()
            ).returncode
            == 0
        )
        if reachable:
            root = base_dir / "postgres"
            root.mkdir(mode=0o700)
        else:
            root = Path(tempfile.mkdtemp(prefix="tinhso-pg-"))
            self._owned_tmp = root
            (base_dir / "postgres").symlink_to(root)
        os.chown(root, self._user.pw_uid, self._user.pw_gid)
        return root

    def start(self, base_dir: Path) -> str:
        """initdb + start a new cluster in base_dir; return its SQLAlchemy URL."""
        if self.running:
            raise ServiceError("postgres: already started")
        self.base_dir = Path(base_dir).resolve()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        root = self._prepare_dir(self.base_dir)
        self.data_dir = root / "data"
        self.socket_dir = root / "sock"
        self.log_path = root / "postgres.log"
        self.socket_dir.mkdir(mode=0o700)
        if self._user is not None:
            os.chown(self.socket_dir, self._user.pw_uid, self._user.pw_gid)
        self._run(
            [
                str(self.bindir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                self.user,
                "--auth",
                "trust",  # local socket + 127.0.0.1/::1
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
        )
        try:
            self._spawn_on_free_port()
            self._run(
                [
                    str(self.bindir / "createdb"),
                    "--host",
                    str(self.socket_dir),
                    "--port",
                    str(self.port),
                    "--username",
                    self.user,
                    self.dbname,
                ],
                "createdb",
            )
        except BaseException:
            self.stop()
            raise
        return self.url

    def _command(self) -> list[str]:
        cmd = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.socket_dir}",
        ]
        for key, value in self.settings.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd

    def _is_ready(self) -> bool:
        # Line 8 of postmaster.pid is the postmaster status; "ready" once it
        # accepts connections (PostgreSQL >= 10). Only trust a file that
        # belongs to the process we started.
        assert self.data_dir is not None and self._proc is not None
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return False
        return (
            len(lines) >= 8
            and lines[0].strip() == str(self._proc.pid)
            and lines[7].strip() == "ready"
        )

    def stop(self) -> None:
        super().stop()
        if self._owned_tmp is not None:
            shutil.rmtree(self._owned_tmp, ignore_errors=True)
            self._owned_tmp = None


class RedisServer(_Server):
    """A private redis-server on 127.0.0.1 with no persistence."""

    name = "redis"

    def __init__(self, executable: str | None = None) -> None:
        super().__init__()
        exe = executable or shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(exe).is_file():
            raise ServiceError("redis-server not found (run scripts/install-system.sh)")
        self.executable = exe
        self.dir: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, base_dir: Path) -> str:
        if self.running:
            raise ServiceError("redis: already started")
        self.base_dir = Path(base_dir).resolve()
        self.dir = self.base_dir / "redis"
        self.dir.mkdir(parents=True)
        self.log_path = self.dir / "redis.log"
        self._spawn_on_free_port()
        return self.url

    def _command(self) -> list[str]:
        return [
            self.executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--databases",
            "16",
            "--loglevel",
            "warning",
        ]

    def _is_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False
