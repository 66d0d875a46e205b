"""Bounded per-process resource series and the generator-health detectors (pure: no psutil, no Locust).

`ProcessSeries` keeps CPU/RSS over time for one process in at most `max_points` points: when full,
adjacent points merge pairwise (mean CPU, mean RSS, the later request count) and the resolution
halves, like `erpload.core.timeline`, so a 24-hour run costs the master no more memory than a 20-minute
one. Peaks, means and the latest thread/fd/connection counts are kept exactly, over every sample.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from erpload.core.leak import LeakResult, LeakSettings, analyse

LIVE_POINTS = 300


@dataclass
class ProcessSeries:
    """CPU % (100 = one core) and RSS (MB) over time (s since run start) for one process."""

    key: str
    host: str = ""
    pid: int | None = None
    max_points: int = 1200
    t: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    requests: list[float] = field(default_factory=list)  # cumulative requests when sampled (target only)
    n: int = 0
    cpu_sum: float = 0.0
    cpu_max: float = 0.0
    rss_max: float = 0.0
    latest: dict[str, float] = field(default_factory=dict)
    peaks: dict[str, float] = field(default_factory=dict)

    def add(self, t: float, sample: dict[str, float], requests: float | None = None) -> None:
        """Append one sample ({cpu_percent, rss_mb, threads?, fds?, connections?})."""
        cpu, rss = float(sample.get("cpu_percent", 0.0)), float(sample.get("rss_mb", 0.0))
        self.t.append(round(t, 3))
        self.cpu.append(round(cpu, 2))
        self.rss.append(round(rss, 3))
        self.requests.append(float(requests) if requests is not None else -1.0)
        self.n += 1
        self.cpu_sum += cpu
        self.cpu_max = max(self.cpu_max, cpu)
        self.rss_max = max(self.rss_max, rss)
        self.latest = dict(sample)
        for k in ("threads", "fds", "connections"):
            if k in sample:
                self.peaks[k] = max(self.peaks.get(k, 0.0), float(sample[k]))
        if len(self.t) >= self.max_points:
            self._halve()

    def _halve(self) -> None:
        n = len(self.t) // 2 * 2
        rest = slice(n, len(self.t))
        self.t = [self.t[i + 1] for i in range(0, n, 2)] + self.t[rest]
        self.cpu = [round((self.cpu[i] + self.cpu[i + 1]) / 2, 2) for i in range(0, n, 2)] + self.cpu[rest]
        self.rss = [round((self.rss[i] + self.rss[i + 1]) / 2, 3) for i in range(0, n, 2)] + self.rss[rest]
        self.requests = [self.requests[i + 1] for i in range(0, n, 2)] + self.requests[rest]

    @property
    def cpu_avg(self) -> float:
        """Mean CPU % over every sample."""
        return self.cpu_sum / self.n if self.n else 0.0

    def leak(self, settings: LeakSettings | None = None) -> LeakResult:
        """Leak verdict on this process's RSS series (KB per request when request counts are known)."""
        reqs = self.requests if self.requests and all(r >= 0 for r in self.requests) else None
        return analyse(self.t, self.rss, reqs, settings)

    def series(self, max_points: int = LIVE_POINTS) -> tuple[list[list[float]], list[list[float]]]:
        """([[t, cpu%], ...], [[t, rss_mb], ...]) thinned to <= max_points."""
        idx = thin_indices(len(self.t), max_points)
        return [[self.t[i], self.cpu[i]] for i in idx], [[self.t[i], self.rss[i]] for i in idx]

    def summary(self) -> dict[str, Any]:
        """Exact aggregates: CPU avg/max, RSS first/last/peak, peak threads/fds/connections."""
        return {
            "key": self.key,
            "host": self.host,
            "pid": self.pid,
            "samples": self.n,
            "cpu_avg_percent": round(self.cpu_avg, 2),
            "cpu_max_percent": round(self.cpu_max, 2),
            "rss_first_mb": self.rss[0] if self.rss else None,
            "rss_last_mb": self.rss[-1] if self.rss else None,
            "rss_peak_mb": round(self.rss_max, 3),
            **{f"{k}_max": v for k, v in self.peaks.items()},
        }


def thin_indices(n: int, max_points: int) -> list[int]:
    """Evenly spaced indices of range(n), at most max_points, last included."""
    if n <= max_points:
        return list(range(n))
    step = n / max_points
    idx = [int(i * step) for i in range(max_points)]
    idx[-1] = n - 1
    return idx


@dataclass
class Episode:
    """A detected health problem: which process/what, when, how much."""

    key: str
    start_s: float
    end_s: float
    value: float
    peak: float = 0.0


class SaturationDetector:
    """CPU above `limit_percent` on average over `sustain_s` seconds, reported once per process."""

    def __init__(self, limit_percent: float = 90.0, sustain_s: float = 10.0) -> None:
        self.limit = limit_percent
        self.sustain = sustain_s
        self._win: dict[str, deque[tuple[float, float]]] = {}
        self.reported: set[str] = set()

    def feed(self, key: str, t: float, cpu: float) -> Episode | None:
        """Add a sample; return the episode the first time this process is saturated for `sustain_s`."""
        win = self._win.setdefault(key, deque())
        if win and t < win[-1][0]:
            return None  # out of order (a late batch): ignore
        win.append((t, cpu))
        while len(win) > 1 and win[1][0] <= t - self.sustain:
            win.popleft()
        if key in self.reported or win[0][0] > t - self.sustain:
            return None
        inside = [c for ts, c in win if ts > t - self.sustain]
        mean = sum(inside) / len(inside) if inside else 0.0
        if inside and mean > self.limit:
            self.reported.add(key)
            return Episode(key, win[0][0], t, mean, max(inside))
        return None


class UnderDeliveryDetector:
    """Closed model: running users short of the plan by > tolerance for > grace_s after a ramp's planned end."""

    def __init__(
        self, plan: Sequence[Any], tolerance: float = 0.10, min_users: int = 2, grace_s: float = 15.0
    ) -> None:
        self.plan = list(
            plan
        )  # erpload.profile.model.StagePlan (start_s, end_s, ramp_s, end_roles, stage.name)
        self.tolerance, self.min_users, self.grace = tolerance, min_users, grace_s
        self._since: float | None = None
        self._worst: tuple[int, int] = (0, 0)
        self.reported: Episode | None = None

    def planned(self, t: float) -> tuple[Any, int] | None:
        """(stage plan, planned users) at t once that stage's ramp should be over; None during ramps."""
        for sp in self.plan:
            if sp.start_s <= t < sp.end_s:
                if t < sp.start_s + sp.ramp_s:
                    return None
                return sp, sum(sp.end_roles.values())
        return None

    def feed(self, t: float, running: int) -> Episode | None:
        """Add (time, running users); return the episode once a shortfall lasted longer than grace_s."""
        if self.reported is not None:
            return None
        at = self.planned(t)
        if at is None:
            self._since = None
            return None
        _sp, planned = at
        deficit = planned - running
        if deficit >= self.min_users and deficit > self.tolerance * planned:
            if self._since is None:
                self._since, self._worst = t, (running, planned)
            elif running < self._worst[0]:
                self._worst = (running, planned)
            if t - self._since > self.grace:
                self.reported = Episode("users", self._since, t, float(self._worst[0]), float(self._worst[1]))
                return self.reported
        else:
            self._since = None
        return None
