"""Prometheus metrics of the gateway, per service and consumer.

Under ``tinhso gateway`` (several worker processes) the values live in per-process files in one
directory (prometheus_client's multiprocess mode) and ``/metrics`` reports their sum whichever
worker answers; otherwise each process reports its own.
"""

from __future__ import annotations

import os
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

    def exposition(self) -> bytes:
        """This process's metrics, or every worker's when served by ``serve`` (multiprocess)."""
        directory = multiprocess_dir[0] or os.environ.get(MULTIPROCESS_ENV)
        if not directory:
            return bytes(generate_latest(self.registry))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(registry))

    def quota(self, service: str, consumer: str) -> Any:
        key = (service, consumer)
        child = self._quota.get(key)
        if child is None:
            child = self._quota[key] = self.quota_used.labels(service, consumer)
        return child

    def observe(self, service: str, consumer: str, status: int, seconds: float) -> None:
        key = (service, consumer, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(service, consumer, str(status))
        child.inc()
        hist = self._latency.get(service)
        if hist is None:
            hist = self._latency[service] = self.latency.labels(service)
        hist.observe(seconds)
