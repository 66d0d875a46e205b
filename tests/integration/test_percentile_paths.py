"""The verdict's percentiles are the same whether a stream was measured in one process or by many workers.

Identical latency samples go through (a) one Locust `RequestStats` (local runner path) and (b) three
"worker" `RequestStats` that report every few hundred samples with Locust's own `serialize_stats`,
travel as msgpack (the wire format), and are merged on a "master" exactly like Locust's
`worker_report` handler does. Both are read through erpload's snapshot -> SLA path.
"""

from __future__ import annotations

import random

import locust.stats
import msgpack
import pytest
from locust.stats import RequestStats as LocustStats
from locust.stats import StatsEntry

from erpload.core.histogram import exact_percentile, fine_bucket
from erpload.locust.recorder import snapshot_of
from erpload.sla.evaluation import evaluate
from erpload.sla.grammar import parse_rules

LOCUST_BUCKETS = locust.stats.bucket_response_time  # Locust's own 2-significant-digit buckets
PERCENTILES = (0.5, 0.75, 0.9, 0.95, 0.99, 0.999)


@pytest.fixture(autouse=True)
def _fine_buckets(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(locust.stats, "bucket_response_time", fine_bucket)


def stream(seed: int, n: int) -> list[float]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.6:
            out.append(rng.uniform(1, 50))
        elif r < 0.9:
            out.append(rng.lognormvariate(5, 0.5))  # ~150 ms body
        else:
            out.append(rng.choice([99.6, 100.4, 101.5, 999.5, 1001, 1049, 9990, 10049, 15_321]))
    return out


def local_path(samples: list[float]) -> LocustStats:
    stats = LocustStats()
    for rt in samples:
        stats.log_request("GET", "/ppic/manufacturing-orders", rt, 100)
    return stats


def distributed_path(samples: list[float], workers: int = 3, report_every: int = 337) -> LocustStats:
    master = LocustStats()
    nodes = [LocustStats(use_response_times_cache=False) for _ in range(workers)]

    def report(node: LocustStats) -> None:
        wire = msgpack.unpackb(
            msgpack.packb(
                {"stats": node.serialize_stats(), "stats_total": node.total.get_stripped_report()},
                use_bin_type=True,
            ),
            raw=False,
            strict_map_key=False,
        )
        for row in wire["stats"]:  # locust.stats.setup_distributed_stats_event_listeners
            entry = StatsEntry.unserialize(row, master)
            master.entries[(entry.name, entry.method)].extend(entry)
        master.total.extend(StatsEntry.unserialize(wire["stats_total"], master))

    for i, rt in enumerate(samples):
        node = nodes[i % workers]
        node.log_request("GET", "/ppic/manufacturing-orders", rt, 100)
        if i % report_every == 0:
            report(node)
    for node in nodes:
        report(node)
    return master


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_percentiles_one_process_or_many_workers(seed: int):
    samples = stream(seed, 20_000)
    empty = LocustStats()
    one = snapshot_of(local_path(samples), empty, 60.0).find_request("GET /ppic/manufacturing-orders")
    many = snapshot_of(distributed_path(samples), empty, 60.0).find_request("GET /ppic/manufacturing-orders")
    assert one is not None and many is not None
    assert one.count == many.count == len(samples)
    for p in PERCENTILES:
        a, b = one.percentile(p), many.percentile(p)
        assert a == b, f"p{p * 100:g}: single {a} != merged {b}"
        true = exact_percentile(samples, p)
        assert abs(a - true) <= max(1.0, 0.01 * true), f"p{p * 100:g}: {a} vs true {true}"


def test_verdict_identical_and_locust_default_buckets_would_be_wrong():
    samples = [1049.0] * 100  # LOCUST_FACTS C.7: Locust reports p95 = 1000
    rules, problems = parse_rules(['p95 of "GET /ppic/manufacturing-orders" < 1010ms'])
    assert not problems
    empty = LocustStats()
    for stats in (local_path(samples), distributed_path(samples)):
        (result,) = evaluate(rules, snapshot_of(stats, empty, 10.0))
        assert not result.passed and result.observed == pytest.approx(1049, abs=5)
    # Contrast: with Locust's default buckets the same stream reads p95 = 1000 ms and the rule would pass.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(locust.stats, "bucket_response_time", LOCUST_BUCKETS)
        default = local_path(samples).get("/ppic/manufacturing-orders", "GET")
    assert default.get_response_time_percentile(0.95) == 1000


def test_per_second_counters_are_pruned_but_totals_and_histograms_kept():
    """The master's per-second counters stay bounded over a long run; nothing the verdict reads is lost."""
    from erpload.locust.recorder import prune_per_second_counters

    stats = local_path(stream(7, 1000))
    entry = stats.get("/ppic/manufacturing-orders", "GET")
    now = 1_800_000_000
    for t in range(now - 8 * 3600, now + 1):  # an 8-hour history, one key per second
        entry.num_reqs_per_sec[t] = entry.num_fail_per_sec[t] = stats.total.num_reqs_per_sec[t] = 1
    before = (entry.num_requests, dict(entry.response_times), entry.get_response_time_percentile(0.95))
    dropped = prune_per_second_counters(stats, now)
    assert dropped > 3 * 8 * 3600 - 100
    assert all(t >= now - 20 for t in entry.num_reqs_per_sec) and len(entry.num_reqs_per_sec) <= 21
    assert (
        entry.num_requests,
        dict(entry.response_times),
        entry.get_response_time_percentile(0.95),
    ) == before
