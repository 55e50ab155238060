"""Run the whole test suite: lint, type-check, import contracts, then pytest on SQLite and on
PostgreSQL with coverage.

Called by `make test` (the README's test command) and so by CI. Prints how many
tests ran on each database, the line coverage of both runs together (the full report is in
test-output/coverage.txt) and ends with one line `total: N passed, M failed`.
"""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
COVERAGE_DATA = OUTPUT / ".coverage"
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
            "--cov=tinhso",
            "--cov-append",
            "--cov-report=",
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


def coverage_total() -> str:
    """Line coverage of both database runs together; the per-file report goes to a file."""
    report = subprocess.run(  # noqa: S603 - fixed argument list
        [str(BIN / "coverage"), "report", "--skip-covered", "--sort=cover"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    (OUTPUT / "coverage.txt").write_text(report.stdout + report.stderr, encoding="utf-8")
    total = [line for line in report.stdout.splitlines() if line.startswith("TOTAL")]
    return (
        f"{total[0].split()[-1]} of lines (test-output/coverage.txt)" if total else "not measured"
    )


def main() -> int:
    OUTPUT.mkdir(exist_ok=True)
    started = time.monotonic()
    failed_steps = []
    if run([str(BIN / "ruff"), "check", "src", "tests", "bench", "migrations", "scripts"]):
        failed_steps.append("ruff")
    if run([str(BIN / "mypy")]):
        failed_steps.append("mypy")
    if run([str(BIN / "lint-imports")]):
        failed_steps.append("import contracts")
    COVERAGE_DATA.unlink(missing_ok=True)
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
    print(f"coverage: {coverage_total()}")
    print(f"time: {time.monotonic() - started:.0f} s")
    if failed_steps:
        print(f"FAILED: {', '.join(failed_steps)}")
    print(f"total: {passed_total} passed, {failed_total} failed")
    return 1 if failed_steps or passed_total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
