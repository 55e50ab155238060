"""Gateway throughput/latency benchmark against nginx, measured in the same run.

Starts, on loopback only:

* the upstream: nginx, 1 worker, ``return 200`` with a small JSON body (port 18081);
* nginx as a reverse proxy to it: 2 workers, keep-alive upstream pool (port 18080);
* each gateway scenario: an ASGI app with N workers (18090), served by the gateway's own
  server (``tinhso gateway`` for the real gateway, :mod:`tinhso.exchange.gateway.processes`
  for the bare forwarders), or by granian or uvicorn for comparison (``--matrix``).

Scenarios by default: ``passthrough`` (the lean forwarder, no policy: the ceiling),
``full-policy-1w`` and ``full-policy`` (the real gateway with every check, 1 and 2 processes).
``--ceiling`` adds the passthrough plus 25 and 50 us of Python work per request, and the full
policy without its audit write (``bench/gateway_no_audit.py``, a diagnostic: not a configuration
the platform offers). ``--calibration`` adds nginx with a bare ``proxy_pass`` and its access
log on, and granian's own hello, to place this machine against the issue's calibration figures.
Every request of a run, to every target, is the same: a POST of a small JSON document that the
full-policy service's request schema validates (``--get``: bodiless GETs).

Each target is driven with wrk (same threads/connections/duration): first a warm-up, then an
unpaced run for the maximum throughput, then a paced run at half of that maximum, followed by
the upstream hit directly at the same rate; the latency *added* by the target is the difference.
Pacing uses wrk's Lua ``delay()`` hook (``bench/wrk.py``, LuaJIT ffi clock): every request of
a wrk thread is given a send slot on a fixed schedule. Latency is measured from the actual
send, so it is not corrected for coordinated omission; at half load queuing is small.

Writes ``bench/results/gateway-<date>.json`` and ``.txt``; the last line printed is
``full-policy/nginx throughput ratio: R``. Run ``python -m bench.gateway --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.wrk import Load, WrkResult, run_wrk

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

REPO = Path(__file__).resolve().parents[1]
SERVER_ENV = "TINHSO_BENCH_POSTGRES_URL"  # read by bench.gateway_policy
RESULTS = REPO / "bench" / "results"
HOST = "127.0.0.1"
UPSTREAM_PORT, NGINX_PORT, GATEWAY_PORT = 18081, 18080, 18090
UPSTREAM_BODY = '{"ok":true,"service":"bench-upstream","items":[1,2,3]}'
# What every request of a run carries (all targets alike): a small JSON document that the
# full-policy service's request schema (bench/gateway_policy.py) validates. ``--get`` sends
# bodiless GETs instead (no schema validation then).
REQUEST_BODY = (
    '{"ma_ho_so":"000.00.12.H03-250101-0001","so_cccd":"024090001234",'
    '"ngay_nop":"2025-01-01","so_trang":12}'
)


@dataclasses.dataclass(frozen=True)
class BenchContext:
    """What a scenario's setup callable may need to prepare its gateway."""

    upstream: str  # host:port of the upstream, also exported as TINHSO_BENCH_UPSTREAM
    workdir: Path  # temporary directory removed after the run
    path: str  # request path wrk sends
    body: str | None = None  # JSON body of every request (POST), or None (GET)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A gateway under test; ``setup`` runs before the server starts and returns headers
    (e.g. ``Authorization: Bearer ...``) that every benchmark request carries."""

    name: str
    app: str  # ASGI import string, "module:attr"
    workers: int = 2
    setup: Callable[[BenchContext], Mapping[str, str]] | None = None
    # "tinhso" (the gateway's own server), "granian", "uvicorn" (uvloop + httptools), or
    # "nginx-plain" (no app)
    server: str = "tinhso"


PASSTHROUGH = Scenario("passthrough", "bench.passthrough_app:app", 2)


def _full_policy_setup(context: BenchContext) -> Mapping[str, str]:
    from bench.gateway_policy import setup  # noqa: PLC0415 - imports the whole platform

    return setup(context)


# The real gateway, every check on every request (see bench/gateway_policy.py): one gateway
# process, then two (the ratio on the last line is the two-process one: nginx has 2 workers).
GATEWAY_APP = "tinhso.exchange.gateway.app:app"
FULL_POLICY_1W = Scenario("full-policy-1w", GATEWAY_APP, 1, _full_policy_setup)
FULL_POLICY = Scenario("full-policy", GATEWAY_APP, 2, _full_policy_setup)


def ceiling_scenarios() -> list[Scenario]:
    """What policy code may cost: the lean forwarder plus fixed Python work per request, and
    the full policy without its audit write (a diagnostic, bench/gateway_no_audit.py)."""
    return [
        *(
            Scenario(f"passthrough+{us}us", f"bench.passthrough_app:busy_{us}us_app", 2)
            for us in (25, 50)
        ),
        Scenario("full-policy-no-audit", "bench.gateway_no_audit:app", 2, _full_policy_setup),
    ]


def calibration_scenarios() -> list[Scenario]:
    """Where this machine stands against the issue's calibration (nginx proxy 38-45k req/s,
    granian raw ASGI hello 37k): nginx with a bare ``proxy_pass`` and the access log on, and
    granian answering by itself."""
    return [
        Scenario("nginx-plain-2w", "-", 2, server="nginx-plain"),
        Scenario("granian-hello-2w", "bench.passthrough_app:hello_app", 2, server="granian"),
    ]


def matrix_scenarios() -> list[Scenario]:
    """Server x client x workers comparison of bare forwarders (no policy)."""
    return [
        Scenario(
            f"{server}-{client}-{workers}w", f"bench.passthrough_app:{attr}", workers, server=server
        )
        for server in ("tinhso", "granian", "uvicorn")
        for client, attr in (("hello", "hello_app"), ("lean", "app"), ("aiohttp", "aiohttp_app"))
        for workers in (1, 2)
        if client != "hello" or workers == 2
    ]


# --- processes -----------------------------------------------------------------------------


def _nginx_conf(
    prefix: Path, port: int, workers: int, location: str, access_log: str = "off"
) -> Path:
    temp = " ".join(
        f"{k}_temp_path {prefix};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = prefix / f"nginx-{port}.conf"
    conf.write_text(f"""
user root; worker_processes {workers}; daemon off; master_process on;
pid {prefix}/nginx-{port}.pid; error_log {prefix}/nginx-{port}-error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log {access_log}; {temp}
  keepalive_requests 1000000; keepalive_timeout 75s;
  upstream bench_upstream {{
    server {HOST}:{UPSTREAM_PORT}; keepalive 128; keepalive_requests 1000000;
  }}
  server {{ listen {HOST}:{port} backlog=4096; location / {{ {location} }} }}
}}
""")
    return conf


def _start(cmd: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        env=dict(env) if env is not None else None,
        cwd=REPO,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@contextlib.contextmanager
def running(
    cmd: list[str],
    port: int,
    path: str,
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    body: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    with socket.socket() as probe:
        if probe.connect_ex((HOST, port)) == 0:
            raise RuntimeError(f"port {port} already in use")
    proc = _start(cmd, env)
    try:
        _wait_ready(proc, port, path, headers or {}, body)
        yield proc
    finally:
        _stop(proc)


def _wait_ready(
    proc: subprocess.Popen[bytes],
    port: int,
    path: str,
    headers: Mapping[str, str],
    body: str | None = None,
    timeout: float = 30.0,
) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        headers={**headers, "Content-Type": "application/json"} if body else dict(headers),
        data=body.encode() if body else None,
    )
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(request, timeout=2) as response,  # noqa: S310
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"port {port} not ready after {timeout}s")


def _server_cmd(scenario: Scenario, workdir: Path) -> list[str]:
    if scenario.server == "nginx-plain":
        # nginx as most deployments first write it: a bare proxy_pass (HTTP/1.0 to the
        # upstream, a new connection per request) and the access log on.
        location = f"proxy_pass http://{HOST}:{UPSTREAM_PORT};"
        access_log = str(workdir / "plain-access.log")
        conf = _nginx_conf(workdir, GATEWAY_PORT, scenario.workers, location, access_log)
        return [_tool("nginx"), "-p", str(workdir), "-c", str(conf), "-e", str(conf) + ".err"]
    if scenario.server == "tinhso":
        if scenario.app == GATEWAY_APP:  # the real command, as operators run it
            command = [sys.executable, "-m", "tinhso.cli", "gateway", "--host", HOST]
            return [*command, "--port", str(GATEWAY_PORT), "--workers", str(scenario.workers)]
        run = (
            "import sys; from tinhso.exchange.gateway.processes import run;"
            f" sys.exit(run({scenario.app!r}, {HOST!r}, {GATEWAY_PORT}, {scenario.workers}))"
        )
        return [sys.executable, "-c", run]
    if scenario.server == "granian":
        return [
            _tool("granian"),
            "--interface",
            "asgi",
            "--host",
            HOST,
            "--port",
            str(GATEWAY_PORT),
            "--workers",
            str(scenario.workers),
            "--loop",
            "uvloop",
            "--http",
            "1",
            "--no-ws",
            "--log-level",
            "warning",
            "--backlog",
            "4096",
            scenario.app,
        ]
    if scenario.server == "uvicorn":
        return [
            sys.executable,
            "-m",
            "uvicorn",
            scenario.app,
            "--host",
            HOST,
            "--port",
            str(GATEWAY_PORT),
            "--workers",
            str(scenario.workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--backlog",
            "4096",
            "--lifespan",
            "on",
        ]
    raise ValueError(f"unknown server {scenario.server!r}")


@contextlib.contextmanager
def _postgres(workdir: Path) -> Iterator[str]:
    """A private PostgreSQL server with production durability (the test suite's runs fast)."""
    from tests.support.services import PostgresServer  # noqa: PLC0415 - dev tooling

    server = PostgresServer(
        settings={"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    )
    try:
        yield server.start(workdir / "postgres")
    finally:
        server.stop()


def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found")
    return found


def _median_run(runs: list[WrkResult], key: Callable[[WrkResult], float]) -> WrkResult:
    return sorted(runs, key=key)[len(runs) // 2]


def measure(
    load: Load,
    name: str,
    port: int,
    path: str,
    headers: Mapping[str, str],
    pid: int,
    reference_port: int | None = None,
) -> dict[str, Any]:
    """Peak and half-load figures over ``load.rounds`` rounds.

    Each peak run is paired with a run of the reference (nginx) right before it, and each
    half-load run with the upstream hit directly at the same rate right after it; ratios and
    added latencies are medians of the per-round figures, which cancels slow drifts of the
    machine's speed (other tenants) better than one long run would.
    """
    url = f"http://{HOST}:{port}{path}"
    direct = f"http://{HOST}:{UPSTREAM_PORT}{path}"
    reference = f"http://{HOST}:{reference_port}{path}" if reference_port else None
    run_wrk(load, url, headers, load.warmup)
    peaks, ratios = [], []
    for _ in range(load.rounds):
        ref = run_wrk(load, reference, {}, load.duration) if reference else None
        peaks.append(run_wrk(load, url, headers, load.duration, cpu_pid=pid))
        ratios.append(peaks[-1].rps / ref.rps if ref else 1.0)
    peak = _median_run(peaks, lambda r: r.rps)
    rate = round(peak.rps / 2)
    halves, added = [], []
    for _ in range(load.rounds):
        halves.append(run_wrk(load, url, headers, load.duration, rate=rate, cpu_pid=pid))
        base = run_wrk(load, direct, headers, load.duration, rate=rate)
        added.append((halves[-1].p50_ms - base.p50_ms, halves[-1].p99_ms - base.p99_ms))
    half = _median_run(halves, lambda r: r.p99_ms)
    ratio = statistics.median(ratios)
    added_p50 = statistics.median(a[0] for a in added)
    added_p99 = statistics.median(a[1] for a in added)
    print(
        f"  {name}: {peak.rps:,.0f} req/s (x{ratio:.2f} nginx, rounds "
        f"{', '.join(f'{r:.2f}' for r in ratios)}) p50 {peak.p50_ms:.2f} p99 {peak.p99_ms:.2f} ms"
        f" | @{rate}/s p50 {half.p50_ms:.2f} p99 {half.p99_ms:.2f}, added p50 {added_p50:.2f}"
        f" p99 {added_p99:.2f} ms | cpu {peak.cpu_us_per_request} us/req",
        flush=True,
    )
    return {
        "name": name,
        "max": dataclasses.asdict(peak),
        "max_runs": [dataclasses.asdict(r) for r in peaks],
        "ratio_vs_nginx": round(ratio, 3),
        "ratio_rounds": [round(r, 3) for r in ratios],
        "half": dataclasses.asdict(half),
        "added_half_p50_ms": round(added_p50, 3),
        "added_half_p99_ms": round(added_p99, 3),
        "added_rounds_ms": [[round(a, 3), round(b, 3)] for a, b in added],
    }


# --- reporting -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions: dict[str, str | None] = {}
    for dist in ("granian", "uvicorn", "uvloop", "httptools", "aiohttp"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    for tool, flag in (("nginx", "-v"), ("wrk", "--version")):
        proc = subprocess.run([tool, flag], capture_output=True, text=True, check=False)
        versions[tool] = (proc.stdout + proc.stderr).splitlines()[0].strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    nginx_rps = report["nginx"]["max"]["rps"]
    header = (
        f"{'target':<24}{'req/s':>9}{'x nginx':>9}{'p50':>8}{'p99':>8}"
        f"{'half@':>8}{'+p50':>8}{'+p99':>8}{'cpu us/req':>11}{'noise%':>7}"
    )
    lines = [header]
    rows = [report["direct"], report["nginx"], *report["scenarios"]]
    for row in rows:
        peak = row["max"]
        half = f"{row['half']['rate_target']:>8.0f}" if "half" in row else f"{'-':>8}"
        added = (
            f"{row['added_half_p50_ms']:>8.2f}{row['added_half_p99_ms']:>8.2f}"
            if "half" in row
            else f"{'-':>8}{'-':>8}"
        )
        cpu = peak["cpu_us_per_request"]
        ratio = row.get("ratio_vs_nginx", peak["rps"] / nginx_rps)
        noise = max(
            (r["steal_pct"] or 0.0) + (r["foreign_cpu_pct"] or 0.0)
            for r in row.get("max_runs", [peak])
        )
        lines.append(
            f"{row['name']:<24}{peak['rps']:>9.0f}{ratio:>9.2f}"
            f"{peak['p50_ms']:>8.2f}{peak['p99_ms']:>8.2f}{half}{added}"
            f"{cpu if cpu is not None else '-':>11}{noise:>7.1f}"
        )
        if peak["errors"]:
            lines.append(f"    errors: {peak['errors']}")
    lines.append(
        "median of paired rounds; x nginx = gateway/nginx req/s in back-to-back runs; latencies"
        " in ms at max load; +p50/+p99 = added vs the upstream hit directly at the half-load"
        " rate (wrk Lua-paced); cpu = CPU of the target's processes per request; noise = worst"
        " share of the machine's CPU stolen or used by processes outside the benchmark during"
        " the peak runs (over ~5% makes the figures unreliable)"
    )
    return lines


def _load_setup(spec: str) -> Callable[[BenchContext], Mapping[str, str]] | None:
    if spec in ("", "-"):
        return None
    module, _, attr = spec.partition(":")
    fn: Callable[[BenchContext], Mapping[str, str]] = getattr(importlib.import_module(module), attr)
    return fn


def parse_scenario(spec: str) -> Scenario:
    """``NAME,IMPORT,WORKERS[,SETUP[,SERVER]]`` with SETUP ``module:callable`` or ``-``."""
    parts = spec.split(",")
    if not 3 <= len(parts) <= 5:
        raise argparse.ArgumentTypeError(f"bad scenario {spec!r}")
    setup = _load_setup(parts[3]) if len(parts) > 3 else None
    server = parts[4] if len(parts) > 4 else "tinhso"
    return Scenario(parts[0], parts[1], int(parts[2]), setup, server)


def run(
    scenarios: list[Scenario], load: Load, path: str, full_policy: str, tag: str = ""
) -> dict[str, Any]:
    prefix = load.workdir
    env = {
        **os.environ,
        "TINHSO_BENCH_UPSTREAM": f"{HOST}:{UPSTREAM_PORT}",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH")])
        ),
    }
    upstream_loc = f"default_type application/json; return 200 '{UPSTREAM_BODY}';"
    proxy_loc = (
        'proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection "";'
    )
    nginx = _tool("nginx")
    up_conf = _nginx_conf(prefix, UPSTREAM_PORT, 1, upstream_loc)
    px_conf = _nginx_conf(prefix, NGINX_PORT, 2, proxy_loc)
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load": {
            "tool": "wrk",
            "duration_s": load.duration,
            "connections": load.connections,
            "threads": load.threads,
            "warmup_s": load.warmup,
            "rounds": load.rounds,
            "quiet_below_pct": load.quiet_below,
            "quiet_wait_s": load.quiet_wait,
            "path": path,
            "database": "postgresql" if os.environ.get(SERVER_ENV) else "sqlite",
            "request": f"POST {load.body}" if load.body else "GET (no body)",
            "half_load": "wrk Lua delay() pacing, per-thread fixed schedule, 1 ms timers",
        },
        "upstream": "nginx 1 worker, return 200 (small JSON), keep-alive",
    }
    with running(
        [nginx, "-p", str(prefix), "-c", str(up_conf), "-e", str(prefix / "up-error.log")],
        UPSTREAM_PORT,
        path,
        body=load.body,
    ) as upstream:
        print("measuring upstream direct", flush=True)
        run_wrk(load, f"http://{HOST}:{UPSTREAM_PORT}{path}", {}, load.warmup)
        direct = run_wrk(
            load, f"http://{HOST}:{UPSTREAM_PORT}{path}", {}, load.duration, cpu_pid=upstream.pid
        )
        report["direct"] = {"name": "upstream-direct", "max": dataclasses.asdict(direct)}
        with running(
            [nginx, "-p", str(prefix), "-c", str(px_conf), "-e", str(prefix / "px-error.log")],
            NGINX_PORT,
            path,
            body=load.body,
        ) as proxy:
            report["nginx"] = measure(load, "nginx-2w", NGINX_PORT, path, {}, proxy.pid)
            report["scenarios"] = []
            for scenario in scenarios:
                context = BenchContext(f"{HOST}:{UPSTREAM_PORT}", prefix, path, load.body)
                headers = dict(scenario.setup(context)) if scenario.setup else {}
                # A setup may export settings (TINHSO_*) for the server it prepares.
                env = {**env, **{k: v for k, v in os.environ.items() if k.startswith("TINHSO_")}}
                command = _server_cmd(scenario, prefix)
                with running(command, GATEWAY_PORT, path, headers, env, load.body) as gw:
                    row = measure(
                        load, scenario.name, GATEWAY_PORT, path, headers, gw.pid, NGINX_PORT
                    )
                row.update(server=scenario.server, app=scenario.app, workers=scenario.workers)
                report["scenarios"].append(row)
    chosen = next((r for r in report["scenarios"] if r["name"] == full_policy), None)
    stand_in = chosen is None
    if chosen is None:
        # A gateway stands in, never a calibration target (nginx itself, granian's hello).
        calibration = {scenario.name for scenario in calibration_scenarios()}
        gateways = [r for r in report["scenarios"] if r["name"] not in calibration]
        if not gateways:
            raise SystemExit("no gateway scenario in this run: nothing to compare with nginx")
        chosen = next((r for r in gateways if r["name"] == "passthrough"), gateways[0])
    report["full_policy"] = {
        "scenario": chosen["name"],
        "stand_in": stand_in,
        "ratio": chosen["ratio_vs_nginx"],
    }
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"gateway-{stamp}{'-' + tag if tag else ''}"
    lines = summary_lines(report)
    mach = report["machine"]
    lines.insert(
        0,
        f"{report['date']}  {mach['cpu']} x{mach['cores']}  kernel {mach['kernel']}"
        f"  python {mach['python']}  {mach['versions']}",
    )
    lines.insert(
        1,
        f"wrk -t{load.threads} -c{load.connections}, {load.duration} s x {load.rounds} rounds;"
        f" request: {report['load']['request']}; registry + audit store:"
        f" {report['load']['database']}",
    )
    if stand_in:
        lines.append(
            f"note: no '{full_policy}' scenario in this run; "
            f"'{chosen['name']}' stands in (an upper bound)"
        )
    lines.append(f"full-policy/nginx throughput ratio: {chosen['ratio_vs_nginx']:.2f}")
    report["summary"] = lines
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--rounds", type=int, default=3, help="paired runs per target; medians are reported"
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    # /{org}/{system}/{service}/{version}/...: the gateway's route form (nginx ignores it).
    parser.add_argument("--path", default="/so-tttt/lgsp-bench/bench/v1/items?x=1")
    parser.add_argument(
        "--get",
        action="store_true",
        help="send bodiless GETs (default: POST a small JSON document the schema validates)",
    )
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.0,
        help="before each measured run, wait until other processes use less than this %% of"
        " the machine's CPU (0 = do not wait)",
    )
    parser.add_argument("--quiet-wait", type=float, default=120.0, help="longest such wait (s)")
    parser.add_argument(
        "--scenario",
        action="append",
        type=parse_scenario,
        default=[],
        help="NAME,IMPORT,WORKERS[,SETUP[,SERVER]] (repeatable)",
    )
    parser.add_argument("--no-passthrough", action="store_true")
    parser.add_argument("--no-full-policy", action="store_true")
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="also compare granian/uvicorn x lean/aiohttp x 1/2 workers",
    )
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="also measure the passthrough plus 25 and 50 us of Python work per request, and"
        " the full policy without its audit write (diagnostic)",
    )
    parser.add_argument(
        "--calibration",
        action="store_true",
        help="also measure nginx with a bare proxy_pass and access log, and granian's hello",
    )
    parser.add_argument(
        "--full-policy",
        default="full-policy",
        help="scenario whose ratio is printed on the last line",
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the full-policy gateway's registry and audit store: a SQLite file, or a durable"
        " PostgreSQL server (fsync, synchronous_commit on) that the benchmark starts",
    )
    parser.add_argument("--tag", default="", help="suffix for the result file names")
    args = parser.parse_args(argv)
    scenarios = ([] if args.no_passthrough else [PASSTHROUGH]) + args.scenario
    if not args.no_full_policy:
        scenarios += [FULL_POLICY_1W, FULL_POLICY]
    if args.ceiling:
        scenarios += ceiling_scenarios()
    if args.matrix:
        scenarios += matrix_scenarios()
    if args.calibration:
        scenarios += calibration_scenarios()
    calibration = {scenario.name for scenario in calibration_scenarios()}
    if not [scenario for scenario in scenarios if scenario.name not in calibration]:
        parser.error("no gateway scenario to run (calibration targets alone compare nothing)")
    with (
        tempfile.TemporaryDirectory(prefix="tinhso-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        if args.database == "postgresql":
            os.environ[SERVER_ENV] = stack.enter_context(_postgres(Path(tmp)))
        load = Load(
            args.duration,
            args.connections,
            args.threads,
            args.warmup,
            args.rounds,
            Path(tmp),
            args.quiet_below,
            args.quiet_wait,
            None if args.get else REQUEST_BODY,
        )
        report = run(scenarios, load, args.path, args.full_policy, args.tag)
    print("\n".join(report["summary"][1:]))


if __name__ == "__main__":
    main()
