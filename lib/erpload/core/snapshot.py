"""Pure snapshot of a run's stats, the input of SLA evaluation and of the run summary.

The plugin fills it on the master (or local runner) from Locust's merged stats::

    snap = Snapshot(duration_s=elapsed, extra={"target_cpu_max": 0.42})
    for entry in environment.stats.entries.values():
        snap.add(RequestStats.from_locust(entry.serialize()))
    snap.total = RequestStats.from_locust(environment.stats.total.serialize())
    snap.roles["CuttingOperator"] = role_stats   # recorded by the plugin's own request listener

Windows: keep cumulative snapshots at stage boundaries; a window is `later.minus(earlier)`, and
`stage_windows()` builds the "stage:NAME" / "steady" / "all" map that `sla.evaluate` takes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from erpload.core.histogram import Histogram

ExtraValue = float | bool


@dataclass
class RequestStats:
    """Counters and latency histogram of one request (method + name), one role, or the total."""

    method: str
    name: str
    count: int = 0  # requests, failed ones included (Locust's num_requests)
    failures: int = 0
    total_ms: float = 0.0  # sum of the response times that have one
    histogram: Histogram = field(default_factory=Histogram)
    first_ts: float | None = None  # unix time of the first / last request
    last_ts: float | None = None
    users: int | None = None  # for a role: users running at the end

    @property
    def label(self) -> str:
        """The SLA join key: 'GET /ppic/manufacturing-orders' (name alone when method is empty)."""
        return f"{self.method} {self.name}" if self.method else self.name

    @property
    def min_ms(self) -> float | None:
        """Exact minimum response time (None when unknown, e.g. for a window)."""
        return self.histogram.min

    @property
    def max_ms(self) -> float | None:
        """Exact maximum response time (None when unknown)."""
        return self.histogram.max

    @property
    def avg_ms(self) -> float | None:
        """Exact mean response time; None without samples."""
        n = self.histogram.count
        return self.total_ms / n if n else None

    @property
    def error_rate(self) -> float | None:
        """failures / count; None without requests."""
        return self.failures / self.count if self.count else None

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile (ms) clamped to [min, max]."""
        return self.histogram.percentile(p)

    def record(
        self, rt_ms: float | None, failed: bool = False, ts: float | None = None, bucket: int | None = None
    ) -> None:
        """Add one request (`bucket`: `fine_bucket(rt_ms)` when the caller has it already)."""
        self.count += 1
        if failed:
            self.failures += int(failed)
        if rt_ms is not None:
            self.total_ms += rt_ms
            self.histogram.add(rt_ms, 1, bucket)
        if ts is not None:
            self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
            self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)

    @classmethod
    def from_locust(cls, entry: Mapping[str, Any]) -> RequestStats:
        """From `StatsEntry.serialize()` (or an entry of Locust's --json output)."""
        hist = Histogram.from_locust(
            entry.get("response_times") or {}, entry.get("min_response_time"), entry.get("max_response_time")
        )
        if not hist.count:
            hist.min = hist.max = None
        return cls(
            method=entry.get("method") or "",
            name=entry.get("name") or "",
            count=int(entry.get("num_requests") or 0),
            failures=int(entry.get("num_failures") or 0),
            total_ms=float(entry.get("total_response_time") or 0),
            histogram=hist,
            first_ts=entry.get("start_time"),
            last_ts=entry.get("last_request_timestamp"),
        )

    def merge(self, other: RequestStats) -> RequestStats:
        """Sum of two disjoint sets of requests (keeps this one's method/name)."""
        return replace(
            self,
            count=self.count + other.count,
            failures=self.failures + other.failures,
            total_ms=self.total_ms + other.total_ms,
            histogram=self.histogram.merge(other.histogram),
            first_ts=_opt(min, self.first_ts, other.first_ts),
            last_ts=_opt(max, self.last_ts, other.last_ts),
            users=other.users if other.users is not None else self.users,  # a point in time: the latest
        )

    def minus(self, earlier: RequestStats) -> RequestStats:
        """Requests made since the cumulative `earlier` (same key)."""
        if earlier.count > self.count or earlier.failures > self.failures:
            raise ValueError(f"{self.label}: the earlier snapshot has more requests than the later one")
        return replace(
            self,
            count=self.count - earlier.count,
            failures=self.failures - earlier.failures,
            total_ms=self.total_ms - earlier.total_ms,
            histogram=self.histogram.minus(earlier.histogram),
            first_ts=earlier.last_ts if earlier.count else self.first_ts,
        )


def _opt(fn: Any, a: Any, b: Any) -> Any:
    """fn(a, b) when both are known, else whichever is."""
    if a is None or b is None:
        return a if b is None else b
    return fn(a, b)


@dataclass
class Snapshot:
    """Cumulative (or windowed) stats of a run: per request, per role, total, extra metrics."""

    requests: dict[tuple[str, str], RequestStats] = field(default_factory=dict)  # (method, name) ->
    roles: dict[str, RequestStats] = field(default_factory=dict)  # user class name ->
    total: RequestStats | None = None  # None: merged from `requests` on demand
    duration_s: float = 0.0  # the rps denominator
    extra: dict[str, ExtraValue] = field(default_factory=dict)  # resource/correctness metrics
    bucket_scheme: str = "fine"  # "locust" when histograms came from Locust's default bucketing
    views: dict[str, Snapshot] = field(default_factory=dict)  # "intended": latency from intended start

    def add(self, stats: RequestStats) -> None:
        """Add (or merge into) the entry of `stats.method`, `stats.name`."""
        key = (stats.method, stats.name)
        self.requests[key] = self.requests[key].merge(stats) if key in self.requests else stats

    def total_stats(self) -> RequestStats:
        """The aggregate over every request."""
        if self.total is not None:
            return self.total
        out = RequestStats("", "Aggregated")
        for stats in self.requests.values():
            out = out.merge(stats)
        return out

    def labels(self) -> list[str]:
        """Known request labels, sorted."""
        return sorted(s.label for s in self.requests.values())

    def find_request(self, label: str) -> RequestStats | None:
        """Stats for 'METHOD name'; a bare name merges every method with that name."""
        for stats in self.requests.values():
            if stats.label == label:
                return stats
        same_name = [s for s in self.requests.values() if s.name == label]
        if not same_name:
            return None
        out = replace(same_name[0], method="")
        for stats in same_name[1:]:
            out = out.merge(stats)
        return out

    def minus(self, earlier: Snapshot) -> Snapshot:
        """What happened between the cumulative `earlier` and this snapshot (a window)."""
        requests = {k: _minus(v, earlier.requests.get(k)) for k, v in self.requests.items()}
        roles = {k: _minus(v, earlier.roles.get(k)) for k, v in self.roles.items()}
        total = None
        if self.total is not None:
            total = _minus(self.total, earlier.total if earlier.total is not None else earlier.total_stats())
        return Snapshot(
            requests,
            roles,
            total,
            max(0.0, self.duration_s - earlier.duration_s),
            dict(self.extra),
            self.bucket_scheme,
        )

    def plus(self, other: Snapshot) -> Snapshot:
        """Union of two disjoint windows (e.g. two steady stages): counts add, durations add."""
        out = Snapshot(duration_s=self.duration_s + other.duration_s, extra={**self.extra, **other.extra})
        out.bucket_scheme = self.bucket_scheme
        for snap in (self, other):
            for stats in snap.requests.values():
                out.add(stats)
            for role, stats in snap.roles.items():
                out.roles[role] = out.roles[role].merge(stats) if role in out.roles else stats
        if self.total is not None and other.total is not None:
            out.total = self.total.merge(other.total)
        return out


def _minus(later: RequestStats, earlier: RequestStats | None) -> RequestStats:
    """later - earlier, where a missing earlier entry means 'nothing yet'."""
    return later if earlier is None else later.minus(earlier)


def stage_windows(
    marks: Sequence[tuple[str, Snapshot]], end: Snapshot, steady: Collection[str] = ()
) -> dict[str, Snapshot]:
    """Windows for `sla.evaluate`: "all", "stage:NAME" per stage, and "steady" (the listed stages).

    `marks` are (stage name, cumulative snapshot taken when that stage started), in order; `end`
    is the cumulative snapshot at the end of the run. A stage name seen twice sums its windows.
    """
    windows: dict[str, Snapshot] = {"all": end}
    bounds: Iterable[Snapshot] = [snap for _, snap in marks[1:]] + [end]
    steady_parts: list[Snapshot] = []
    for (name, start), stop in zip(marks, bounds, strict=True):
        part = stop.minus(start)
        key = f"stage:{name}"
        windows[key] = windows[key].plus(part) if key in windows else part
        if name in steady:
            steady_parts.append(part)
    if steady_parts:
        acc = steady_parts[0]
        for part in steady_parts[1:]:
            acc = acc.plus(part)
        windows["steady"] = acc
    return windows
