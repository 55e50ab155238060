"""wrk as the benchmarks' load generator: unpaced or paced runs, with CPU accounting.

:func:`run_wrk` drives one run with a generated Lua script: unpaced (the maximum throughput) or
paced at a fixed rate through wrk's ``delay()`` hook (LuaJIT ffi clock; every request of a wrk
thread gets a send slot on a fixed schedule, latency measured from the actual send). It
reports the CPU the target's process tree used per request, and the machine's CPU stolen by
the hypervisor or used by processes outside the benchmark during the run. Before a measured
run it can wait, bounded, for other processes to leave the CPUs mostly idle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import resource
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclasses.dataclass
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    errors: dict[str, int]
    rate_target: float | None = None
    cpu_us_per_request: float | None = None  # CPU of the target's process tree per request
    steal_pct: float | None = None  # machine CPU the hypervisor reported as stolen
    foreign_cpu_pct: float | None = None  # machine CPU used by processes not of this benchmark


def _tree_cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and all its descendants (Linux /proc)."""
    total, stack, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while stack:
        current = stack.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
    return total


_WRK_LUA = """
%(request)s
local rate = %(rate).3f  -- requests/s per wrk thread; 0 = unpaced
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } tinhso_ts;
int clock_gettime(int clk, tinhso_ts *tp);
]]
local ts = ffi.new("tinhso_ts")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local start, slot = nil, 0
if rate > 0 then
  function delay()
    local t = now_ms()
    if start == nil then start = t end
    local due = start + slot * 1000 / rate
    slot = slot + 1
    if due <= t then return 0 end
    return math.floor(due - t + 0.5)
  end
end
function done(s, lat, req)
  local e = s.errors
  io.write(string.format(
    '\\nWRKJSON {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50":%%d,"p90":%%d,"p99":%%d,"p999":%%d,"max":%%d}\\n',
    s.requests, s.duration, e.connect, e.read, e.write, e.status, e.timeout,
    lat:percentile(50), lat:percentile(90), lat:percentile(99), lat:percentile(99.9), lat.max))
end
"""


@dataclasses.dataclass(frozen=True)
class Load:
    duration: int
    connections: int
    threads: int
    warmup: int
    rounds: int
    workdir: Path
    quiet_below: float = 0.0  # wait for other processes' CPU share to fall below this (%)
    quiet_wait: float = 0.0  # ... for at most this many seconds before each measured run
    body: str | None = None  # JSON body of every request (POST), or None (GET)


def _cpu_snapshot() -> tuple[float, float, float, float]:
    """(wall, machine busy, stolen, ours) seconds; ours = this harness and all its children."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished wrk runs
    ours = _tree_cpu_seconds(os.getpid()) + children.ru_utime + children.ru_stime
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
    return time.monotonic(), busy / tick, fields[7] / tick, ours


def _settle(load: Load) -> None:
    """On a shared machine, wait (bounded) until other processes leave the CPUs mostly idle."""
    deadline = time.monotonic() + load.quiet_wait
    while load.quiet_below > 0 and time.monotonic() < deadline:
        before = _cpu_snapshot()
        time.sleep(1.0)
        after = _cpu_snapshot()
        foreign = (after[1] - before[1]) - (after[3] - before[3]) + (after[2] - before[2])
        if 100 * foreign / ((after[0] - before[0]) * (os.cpu_count() or 1)) < load.quiet_below:
            return


def run_wrk(
    load: Load,
    url: str,
    headers: Mapping[str, str],
    duration: int,
    rate: float | None = None,
    cpu_pid: int | None = None,
) -> WrkResult:
    script = load.workdir / f"wrk-{time.monotonic_ns()}.lua"
    request = (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{load.body}]==]"
        if load.body
        else ""
    )
    script.write_text(_WRK_LUA % {"rate": (rate or 0.0) / load.threads, "request": request})
    cmd = ["wrk", "-t", str(load.threads), "-c", str(load.connections), "-d", f"{duration}s"]
    cmd += ["--timeout", "5s", "-s", str(script)]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    if duration > load.warmup:
        _settle(load)
    cpu_before = _tree_cpu_seconds(cpu_pid) if cpu_pid else 0.0
    before = _cpu_snapshot()
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, check=True, timeout=duration + 30
    ).stdout
    after = _cpu_snapshot()
    capacity = (after[0] - before[0]) * (os.cpu_count() or 1) / 100
    foreign = (after[1] - before[1]) - (after[3] - before[3])
    cpu = _tree_cpu_seconds(cpu_pid) - cpu_before if cpu_pid else None
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    seconds = raw["duration_us"] / 1e6
    return WrkResult(
        requests=raw["requests"],
        duration_s=round(seconds, 3),
        rps=round(raw["requests"] / seconds, 1),
        p50_ms=raw["p50"] / 1000,
        p90_ms=raw["p90"] / 1000,
        p99_ms=raw["p99"] / 1000,
        p999_ms=raw["p999"] / 1000,
        max_ms=raw["max"] / 1000,
        errors={k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]},
        rate_target=rate,
        cpu_us_per_request=round(cpu / raw["requests"] * 1e6, 1)
        if cpu is not None and raw["requests"]
        else None,
        steal_pct=round((after[2] - before[2]) / capacity, 1),
        foreign_cpu_pct=round(max(foreign, 0.0) / capacity, 1),
    )
