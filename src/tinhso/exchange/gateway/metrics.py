"""Prometheus metrics of the gateway, per service and consumer.

Under ``tinhso gateway`` (several worker processes) the values live in per-process files in one
directory (prometheus_client's multiprocess mode) and ``/metrics`` reports their sum whichever
worker answers; otherwise each process reports its own.

The hot path only counts in plain dictionaries (:meth:`Metrics.observe`,
:meth:`Metrics.set_quota`); :meth:`Metrics.flush` adds the counts to the Prometheus values once
a second (the gateway's timer) and before every exposition. A multiprocess value update takes a
lock, a ``getpid`` and an mmap write: four of them per request were a measurable share of a
request's cost. A scrape therefore sees another worker's exchanges at most a second late.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
multiprocess_dir: list[str | None] = [None]  # set by gateway.serve() before workers fork


class Metrics:
    """Requests, latency, errors and quota use, labelled by service and consumer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tinhso_gateway_requests",
            "Exchanges by service, consumer and status",
            ["service", "consumer", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tinhso_gateway_request_seconds",
            "Exchange latency (gateway in to answer sent)",
            ["service"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.errors = Counter(
            "tinhso_gateway_errors",
            "Refused or failed exchanges by problem code",
            ["service", "consumer", "code"],
            registry=self.registry,
        )
        self.quota_used = Gauge(
            "tinhso_gateway_quota_used",
            "Requests counted against today's quota (this node's view)",
            ["service", "consumer"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.audit = Gauge(
            "tinhso_gateway_audit_records",
            "Audit records of the gateway's processes by fate",
            ["fate"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._children: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[str, Any] = {}
        self._quota: dict[tuple[str, str], Any] = {}
        # Not yet flushed: requests per (service, consumer, status); per service, observations
        # per latency bucket (the histogram's own upper bounds, +Inf last) and their sum;
        # the last quota use per (service, consumer).
        self._bounds = self.latency._upper_bounds
        self._counts: dict[tuple[str, str, int], int] = {}
        self._buckets: dict[str, list[int]] = {}
        self._seconds: dict[str, float] = {}
        self._quota_used: dict[tuple[str, str], int] = {}

    def exposition(self) -> bytes:
        """This process's metrics, or every worker's when served by ``serve`` (multiprocess)."""
        self.flush()
        directory = multiprocess_dir[0] or os.environ.get(MULTIPROCESS_ENV)
        if not directory:
            return bytes(generate_latest(self.registry))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(registry))

    def observe(self, service: str, consumer: str, status: int, seconds: float) -> None:
        """Count one exchange and its latency (added to the Prometheus values by flush)."""
        key = (service, consumer, status)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        buckets = self._buckets.get(service)
        if buckets is None:
            buckets = self._buckets[service] = [0] * len(self._bounds)
            self._seconds[service] = 0.0
        buckets[bisect_left(self._bounds, seconds)] += 1
        self._seconds[service] += seconds

    def set_quota(self, service: str, consumer: str, used: int) -> None:
        self._quota_used[service, consumer] = used

    def flush(self) -> None:
        """Add what was counted since the last flush to the Prometheus values."""
        for key, count in self._counts.items():
            child = self._children.get(key)
            if child is None:
                service, consumer, status = key
                child = self._children[key] = self.requests.labels(service, consumer, str(status))
            child.inc(count)
        self._counts.clear()
        for service, buckets in self._buckets.items():
            hist = self._latency.get(service)
            if hist is None:
                hist = self._latency[service] = self.latency.labels(service)
            # Histogram.observe() adds to one bucket (the first bound >= the value; the
            # exposition accumulates them) and to the sum: the same, n at a time.
            for index, count in enumerate(buckets):
                if count:
                    hist._buckets[index].inc(count)
                    buckets[index] = 0
            hist._sum.inc(self._seconds[service])
            self._seconds[service] = 0.0
        for pair, used in self._quota_used.items():
            gauge = self._quota.get(pair)
            if gauge is None:
                gauge = self._quota[pair] = self.quota_used.labels(*pair)
            gauge.set(used)
        self._quota_used.clear()
