"""Run the whole test suite: lint, type-check, then pytest on SQLite and on PostgreSQL.

Called by `make test` (the README's test command) and so by CI. Prints how many
tests ran on each database and ends with one line `total: N passed, M failed`.
"""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
BIN = Path(sys.executable).parent


def run(argv: list[str]) -> int:
    print(f"$ {' '.join(argv)}", flush=True)
    return subprocess.call(argv, cwd=ROOT)  # noqa: S603 - fixed argument lists


def pytest_run(database: str, extra: list[str]) -> tuple[int, dict[str, int]]:
    report = OUTPUT / f"junit-{database}.xml"
    code = run(
        [
            str(BIN / "pytest"),
            f"--db={database}",
            f"--junitxml={report}",
            "-p",
            "no:cacheprovider",
            *extra,
        ]
    )
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if report.exists():
        suite = ET.parse(report).getroot()  # noqa: S314 - our own pytest's report
        for testsuite in suite.iter("testsuite"):
            for key in counts:
                counts[key] += int(testsuite.get(key, "0"))
    return code, counts


def main() -> int:
    OUTPUT.mkdir(exist_ok=True)
    started = time.monotonic()
    failed_steps = []
    if run([str(BIN / "ruff"), "check", "src", "tests", "bench", "migrations", "scripts"]):
        failed_steps.append("ruff")
    if run([str(BIN / "mypy")]):
        failed_steps.append("mypy")
    results = {}
    for database, extra in (("sqlite", []), ("postgresql", ["-m", "not e2e"])):
        results[database] = pytest_run(database, [*extra, *sys.argv[1:]])
    passed_total = failed_total = 0
    print()
    for database, (code, counts) in results.items():
        failed = counts["failures"] + counts["errors"]
        passed = counts["tests"] - failed - counts["skipped"]
        passed_total += passed
        failed_total += failed
        label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[database]
        print(
            f"{label}: {passed} passed, {failed} failed, {counts['skipped']} skipped (exit {code})"
        )
        if code != 0:
            failed_steps.append(f"pytest on {label}")
    print(f"time: {time.monotonic() - started:.0f} s")
    if failed_steps:
        print(f"FAILED: {', '.join(failed_steps)}")
    print(f"total: {passed_total} passed, {failed_total} failed")
    return 1 if failed_steps or passed_total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
