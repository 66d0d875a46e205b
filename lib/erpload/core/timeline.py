"""Bounded run timeline for charts: users, rps, failure rate and interval percentiles over time (pure).

The master appends one point per sampling interval. Memory must not grow with run length (a
24-hour soak at 1 Hz is 86,400 points), so when the timeline reaches `max_points` adjacent points
are merged pairwise and the resolution halves. Merging keeps rates exact (weighted by interval
length) and keeps latency percentiles conservative (the max of the two intervals). The verdict never
reads the timeline: it is computed from the full merged histograms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SERIES = ("t", "dt", "users", "rps", "fail_rate", "p50", "p95", "p99")


@dataclass
class Timeline:
    """Parallel lists, one entry per (possibly merged) interval; `t` is the interval end (s since start)."""

    max_points: int = 1200
    t: list[float] = field(default_factory=list)
    dt: list[float] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    fail_rate: list[float] = field(default_factory=list)
    p50: list[float | None] = field(default_factory=list)
    p95: list[float | None] = field(default_factory=list)
    p99: list[float | None] = field(default_factory=list)
    stages: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    def append(
        self,
        t: float,
        dt: float,
        users: int,
        rps: float,
        fail_rate: float,
        p50: float | None,
        p95: float | None,
        p99: float | None,
    ) -> None:
        """Add one interval; halve the resolution when full (bounded memory)."""
        self.t.append(round(t, 3))
        self.dt.append(dt)
        self.users.append(users)
        self.rps.append(round(rps, 3))
        self.fail_rate.append(round(fail_rate, 6))
        self.p50.append(p50)
        self.p95.append(p95)
        self.p99.append(p99)
        if len(self.t) >= self.max_points:
            self._halve()

    def mark_stage(self, index: int, name: str, start_s: float) -> None:
        """Record a stage boundary (closes the previous stage)."""
        if self.stages and self.stages[-1].get("end_s") is None:
            self.stages[-1]["end_s"] = round(start_s, 3)
        self.stages.append({"index": index, "name": name, "start_s": round(start_s, 3), "end_s": None})

    def mark_event(self, t: float, text: str) -> None:
        """Record a notable moment (SLA abort, worker lost, ...); capped so it cannot grow unbounded."""
        if len(self.events) < 500:
            self.events.append({"t": round(t, 3), "text": text})

    def close(self, end_s: float) -> None:
        if self.stages and self.stages[-1].get("end_s") is None:
            self.stages[-1]["end_s"] = round(end_s, 3)

    def _halve(self) -> None:
        n = len(self.t) // 2 * 2
        t, dt, users, rps, fr, p50, p95, p99 = ([] for _ in range(8))
        for i in range(0, n, 2):
            a, b = i, i + 1
            d = self.dt[a] + self.dt[b]
            w_a, w_b = (self.dt[a] / d, self.dt[b] / d) if d > 0 else (0.5, 0.5)
            t.append(self.t[b])
            dt.append(d)
            users.append(max(self.users[a], self.users[b]))
            rps.append(round(self.rps[a] * w_a + self.rps[b] * w_b, 3))
            fr.append(round(self.fail_rate[a] * w_a + self.fail_rate[b] * w_b, 6))
            p50.append(_max(self.p50[a], self.p50[b]))
            p95.append(_max(self.p95[a], self.p95[b]))
            p99.append(_max(self.p99[a], self.p99[b]))
        rest = slice(n, len(self.t))
        self.t, self.dt = t + self.t[rest], dt + self.dt[rest]
        self.users, self.rps = users + self.users[rest], rps + self.rps[rest]
        self.fail_rate = fr + self.fail_rate[rest]
        self.p50, self.p95, self.p99 = p50 + self.p50[rest], p95 + self.p95[rest], p99 + self.p99[rest]

    def to_dict(self) -> dict:
        d = {k: list(getattr(self, k)) for k in SERIES}
        d["stages"] = [dict(s) for s in self.stages]
        d["events"] = [dict(e) for e in self.events]
        return d


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
