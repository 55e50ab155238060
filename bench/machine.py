"""The machine a benchmark ran on, written beside its figures."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def describe_machine() -> dict[str, Any]:
    """CPU model, cores, memory, kernel, Python and the 1-minute load when the run started."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kb = int(next(line.split()[1] for line in meminfo if line.startswith("MemTotal")))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(total_kb / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
    }
