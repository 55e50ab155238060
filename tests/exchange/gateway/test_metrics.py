"""The gateway's metrics: counted in dictionaries on the hot path, flushed to Prometheus values."""

from __future__ import annotations

import math
import random

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tinhso.exchange.gateway.metrics import Metrics


def test_flushed_counts_expose_exactly_what_direct_observations_would() -> None:
    """The same exchanges observed directly on the Prometheus metrics and through the batched
    counts give the same exposition: buckets (bound edges included), sums, counts, quota."""
    batched, direct = Metrics(), Metrics()
    rng = random.Random(7)
    edges = [0.002, 0.005, 0.01, 0.025, 30.0, 31.0]  # on a bound, and past the last one
    samples = [
        (
            rng.choice(["a/b/c/v1", "d/e/f/v2"]),
            rng.choice(["x/y", "z/w"]),
            rng.choice([200, 429]),
            s,
        )
        for s in [rng.uniform(0, 0.2) for _ in range(500)] + edges
    ]
    for index, (service, consumer, status, seconds) in enumerate(samples):
        batched.observe(service, consumer, status, seconds)
        direct.requests.labels(service, consumer, str(status)).inc()
        direct.latency.labels(service).observe(seconds)
        if index == 250:
            batched.flush()  # flushing twice adds, never resets
    batched.set_quota("a/b/c/v1", "x/y", 3)
    batched.set_quota("a/b/c/v1", "x/y", 41)  # the last value counts
    direct.quota_used.labels("a/b/c/v1", "x/y").set(41)
    got, want = _samples(batched), _samples(direct)
    assert got.keys() == want.keys()
    for key, value in want.items():  # sums were added in another order: float rounding
        assert math.isclose(got[key], value, rel_tol=1e-12), key
    assert got["tinhso_gateway_request_seconds_bucket", (("le", "0.002"), ("service", "a/b/c/v1"))]


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition but the creation times (which differ by construction)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_nothing_is_exposed_before_a_flush_and_all_of_it_after() -> None:
    metrics = Metrics()
    metrics.observe("a/b/c/v1", "x/y", 200, 0.001)
    assert b"tinhso_gateway_requests_total{" not in generate_latest(metrics.registry)
    metrics.flush()
    assert (
        b'tinhso_gateway_requests_total{consumer="x/y",service="a/b/c/v1",status="200"} 1.0'
        in generate_latest(metrics.registry)
    )
