"""Per-stage request stats (pure): what a stage's table is computed from, kept where requests are made.

Every process files each request under the stage it is in when the request completes::

    book = StageBook()
    book.record(0, "GET", "/dashboard", "Admin", 12.3, failed=False)    # stage index 0

A worker ships what it filed since its last report (`take()`, which empties it) and the master adds
it up (`absorb`), the way Locust ships its own stats: counts add and the latency histograms are the
same fine, mergeable `Histogram`s as the whole-run table (`core.histogram`), so the stages of a run
add up exactly to the whole run, locally and distributed alike. The master turns a stage into a
`Snapshot` window (`snapshot`) that the run summary tabulates like the whole run.

Why not subtract boundary snapshots of the master's merged stats: workers report every 3 s, so on
the master a boundary falls up to 3 s late and a stage's numbers would depend on the report timing
(distributed and local would disagree). Here a request belongs to the stage its own process was in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from erpload.core.histogram import Histogram, fine_bucket
from erpload.core.snapshot import RequestStats, Snapshot

ROLE_METHOD = "ROLE"
VIEW_PREFIX = "stage:"  # Snapshot.views key of a stage's window (also the SLA window's name)


def encode(stats: RequestStats) -> dict[str, Any]:
    """Msgpack-ready form of one RequestStats (the exchange payload).

    The histogram keeps its numeric bucket keys: msgpack keeps them (Locust unpacks with
    strict_map_key=False), so the master copies them instead of parsing a string per bucket and
    report (docs/performance.md "Master scale"); `decode` still reads string keys (a JSON copy).
    """
    h = stats.histogram
    return {
        "method": stats.method,
        "name": stats.name,
        "count": stats.count,
        "failures": stats.failures,
        "total_ms": stats.total_ms,
        "histogram": dict(h.counts),
        "min": h.min,
        "max": h.max,
    }


def decode(data: Mapping[str, Any]) -> RequestStats:
    """Inverse of `encode`; ValueError for a malformed row."""
    try:
        hist = Histogram.from_dict(data.get("histogram") or {}, data.get("min"), data.get("max"))
        return RequestStats(
            method=str(data["method"]),
            name=str(data["name"]),
            count=int(data["count"]),
            failures=int(data["failures"]),
            total_ms=float(data["total_ms"]),
            histogram=hist,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"malformed stage stats row {dict(data)!r:.120}: {e}") from None


@dataclass
class StagePart:
    """One stage's requests (by method, name) and roles (by user class name)."""

    requests: dict[tuple[str, str], RequestStats] = field(default_factory=dict)
    roles: dict[str, RequestStats] = field(default_factory=dict)

    def add(self, stats: RequestStats, role: bool) -> None:
        if role:
            old = self.roles.get(stats.name)
            self.roles[stats.name] = stats if old is None else old.merge(stats)
        else:
            key = (stats.method, stats.name)
            old = self.requests.get(key)
            self.requests[key] = stats if old is None else old.merge(stats)


class StageBook:
    """Stage index -> StagePart; filled by `record` (where requests are made) or `absorb` (master)."""

    def __init__(self) -> None:
        self.parts: dict[int, StagePart] = {}

    def clear(self) -> None:
        self.parts = {}

    def record(
        self,
        stage: int,
        method: str,
        name: str,
        role: str | None,
        rt_ms: float | None,
        failed: bool,
        bucket: int | None = None,
    ) -> None:
        """File one request, exactly as Locust counts it (a request without a time counts, unbucketed).

        `bucket` is `fine_bucket(rt_ms)` when the caller has it already (erpload's request listener
        computes it once for every view). The endpoint's and the role's RequestStats are updated
        inline: what `RequestStats.record` and `Histogram.add` do, without four calls per request.
        """
        try:  # subscripts, not .get(): no method call on the hit that nearly every request is
            part = self.parts[stage]
        except KeyError:
            part = self.parts[stage] = StagePart()
        key = (method, name)
        try:
            entry = part.requests[key]
        except KeyError:
            entry = part.requests[key] = RequestStats(method, name)
        r = None
        if role is not None:
            try:
                r = part.roles[role]
            except KeyError:
                r = part.roles[role] = RequestStats(ROLE_METHOD, role)
        fail = int(failed)
        if rt_ms is None:
            entry.count += 1
            entry.failures += fail
            if r is not None:
                r.count += 1
                r.failures += fail
            return
        if bucket is None:
            bucket = fine_bucket(rt_ms)
        for stats in (entry, r) if r is not None else (entry,):
            stats.count += 1
            stats.failures += fail
            stats.total_ms += rt_ms
            h = stats.histogram
            counts = h.counts
            if bucket in counts:
                counts[bucket] += 1
            else:
                counts[bucket] = 1
            low = h.min
            if low is None or rt_ms < low:  # = min(low, rt_ms): the earlier one on a tie
                h.min = rt_ms
            high = h.max
            if high is None or rt_ms > high:
                h.max = rt_ms

    def take(self) -> dict[str, list[dict[str, Any]]]:
        """Everything filed since the last take, encoded ({"<stage>": [rows]}), and empty the book."""
        out = {
            str(i): [encode(s) for s in part.requests.values()] + [encode(s) for s in part.roles.values()]
            for i, part in self.parts.items()
        }
        self.clear()
        return out

    def absorb(self, payload: Mapping[str, Any]) -> None:
        """Add a worker's `take()`; ValueError (nothing added) for a malformed payload."""
        decoded: list[tuple[int, RequestStats]] = []
        for key, rows in payload.items():
            try:
                index = int(key)
            except (TypeError, ValueError):
                raise ValueError(f"stage key {key!r} is not a stage index") from None
            if index < 0 or not isinstance(rows, list):
                raise ValueError(f"stage {key!r}: expected a list of rows (got {type(rows).__name__})")
            decoded += [(index, decode(row)) for row in rows]
        for index, stats in decoded:
            self.parts.setdefault(index, StagePart()).add(stats, stats.method == ROLE_METHOD)

    def snapshot(self, index: int, duration_s: float, extra: Mapping[str, Any] | None = None) -> Snapshot:
        """Stage `index` as a window Snapshot (independent copies; empty when nothing was filed)."""
        part = self.parts.get(index, StagePart())
        snap = Snapshot(duration_s=max(0.0, duration_s), extra=dict(extra or {}))
        for stats in part.requests.values():
            snap.add(stats.merge(RequestStats(stats.method, stats.name)))
        for role, stats in part.roles.items():
            snap.roles[role] = stats.merge(RequestStats(ROLE_METHOD, role))
        return snap


def view_windows(end: Snapshot, steady: Collection[str] = ()) -> dict[str, Snapshot] | None:
    """SLA windows ("all", "stage:NAME", "steady") from `end.views`' stage windows; None without them.

    The same numbers as the per-stage tables; a window keeps `end`'s extra metrics, as a window
    subtracted from boundary snapshots does (`core.snapshot.stage_windows`).
    """
    stages = {k: v for k, v in end.views.items() if k.startswith(VIEW_PREFIX)}
    if not stages:
        return None
    windows: dict[str, Snapshot] = {"all": end}
    steady_parts = []
    for key, view in stages.items():
        window = Snapshot(
            dict(view.requests), dict(view.roles), None, view.duration_s, dict(end.extra), end.bucket_scheme
        )
        windows[key] = window
        if key[len(VIEW_PREFIX) :] in steady:
            steady_parts.append(window)
    if steady_parts:
        acc = steady_parts[0]
        for part in steady_parts[1:]:
            acc = acc.plus(part)
        windows["steady"] = acc
    return windows
