"""Accurate, mergeable latency histograms and nearest-rank percentiles (pure: no locust import).

Locust rounds every response time to ~2 significant digits before counting it
(`locust.stats.bucket_response_time`), so its percentiles can be 5 % off and even fall below the
minimum. `fine_bucket` keeps 1 ms steps below 1 s and 3 significant digits above, so a bucket is
never more than max(0.5 ms, 0.5 %) from the value it stands for. The plugin assigns it in EVERY
process (bucketing happens where the request is made, i.e. on the workers)::

    locust.stats.bucket_response_time = erpload.core.histogram.fine_bucket

Because bucketing is monotonic, the k-th smallest bucket is the bucket of the k-th smallest raw
sample: a percentile read from the histogram is exact up to `bucket_bound`, and merging worker
histograms by adding counts gives exactly the single-process answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import Any

Bucket = int | float


def fine_bucket(rt_ms: float) -> int:
    """Round a response time (ms) to 1 ms below 1 s, else to 3 significant digits."""
    if rt_ms < 1000:
        return int(round(rt_ms))
    step = 10
    while rt_ms >= step * 1000:  # 1000-9999 -> 10, 10000-99999 -> 100, ...
        step *= 10
    return int(round(rt_ms / step)) * step


def bucket_bound(value: float, scheme: str = "fine") -> float:
    """Largest distance (ms) between a bucket near `value` and any raw time rounded into it."""
    if scheme not in ("fine", "locust"):
        raise ValueError(f"unknown bucket scheme {scheme!r}; use 'fine' or 'locust'")
    if scheme == "locust":  # Locust's own: 1 ms < 100, then 10 / 100 / 1000 ms steps
        if value < 100:
            return 0.5
        return 5.0 if value < 1000 else (50.0 if value < 10000 else 500.0)
    if value < 1000:
        return 0.5
    step = 10
    while value >= step * 1000:
        step *= 10
    return step / 2


def nearest_rank(n: int, p: float) -> int:
    """1-based rank of the p-quantile among n samples: floor(n*p)+1, at most n (Locust's definition).

    The product is computed on the decimal form of p (0.999 is 999/1000 exactly) so p99.9 of
    1000 samples is the 1000th, not the 999th that float rounding would give.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"percentile must be within 0..1, got {p!r}")
    return max(1, min(math.floor(n * Fraction(str(p))) + 1, n))


def exact_percentile(samples: Iterable[float], p: float) -> float:
    """Nearest-rank percentile of raw samples (the reference the histogram is tested against)."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    return ordered[nearest_rank(len(ordered), p) - 1]


def _key(raw: object) -> Bucket:
    """Bucket key from JSON/msgpack: '212' -> 212, '12.5' -> 12.5."""
    if isinstance(raw, int | float):
        return raw
    text = str(raw)
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


class Histogram:
    """Bucket -> count map with optional exact min/max; percentiles are clamped to [min, max]."""

    __slots__ = ("counts", "min", "max")

    def __init__(
        self, counts: Mapping[Any, int] | None = None, min: float | None = None, max: float | None = None
    ) -> None:
        self.counts: dict[Bucket, int] = {}
        if counts and all(type(k) is int or type(k) is float for k in counts):  # numeric keys: no parsing
            self.counts = {k: int(n) for k, n in counts.items() if n}
        else:
            for key, n in (counts or {}).items():
                if n:
                    k = _key(key)
                    self.counts[k] = self.counts.get(k, 0) + int(n)
        self.min = min
        self.max = max

    @classmethod
    def from_locust(
        cls, response_times: Mapping[Any, int], min_ms: float | None = None, max_ms: float | None = None
    ) -> Histogram:
        """From a Locust `StatsEntry.response_times` (+ its exact min/max response time)."""
        return cls(response_times, min_ms, max_ms)

    @classmethod
    def from_samples(cls, samples: Iterable[float]) -> Histogram:
        """Bucket raw samples with `fine_bucket`, tracking the exact min and max."""
        h = cls()
        for s in samples:
            h.add(s)
        return h

    def add(self, rt_ms: float, n: int = 1, bucket: Bucket | None = None) -> None:
        """Record `n` raw samples of `rt_ms` (`bucket`: its `fine_bucket`, when the caller has it)."""
        if bucket is None:  # fine_bucket, inline below 1 s
            bucket = int(round(rt_ms)) if rt_ms < 1000 else fine_bucket(rt_ms)
        counts = self.counts
        if bucket in counts:
            counts[bucket] += n
        else:
            counts[bucket] = n
        low = self.min
        if low is None or rt_ms < low:  # = min(low, rt_ms): the earlier one on a tie
            self.min = rt_ms
        high = self.max
        if high is None or rt_ms > high:
            self.max = rt_ms

    @property
    def count(self) -> int:
        """Number of samples."""
        return sum(self.counts.values())

    def percentile(self, p: float) -> float | None:
        """The (floor(N*p)+1)-th smallest bucket, clamped to [min, max]; None when empty."""
        n = self.count
        if n == 0:
            return None
        rank = nearest_rank(n, p)
        seen = 0
        value: float = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                value = key
                break
        if self.max is not None and value > self.max:
            value = self.max
        if self.min is not None and value < self.min:
            value = self.min
        return value

    def merge(self, other: Histogram) -> Histogram:
        """A new histogram holding both (exact: counts add, min/max combine)."""
        out = Histogram(None, self.min, self.max)
        out.counts = {k: n for k, n in self.counts.items() if n}  # bucket keys already: not re-parsed
        for key, n in other.counts.items():
            out.counts[key] = out.counts.get(key, 0) + n
        out.min = _pick(min, self.min, other.min)
        out.max = _pick(max, self.max, other.max)
        return out

    __add__ = merge

    def minus(self, earlier: Histogram) -> Histogram:
        """Samples recorded since `earlier` (a cumulative snapshot); min/max become unknown."""
        out: dict[Bucket, int] = {}
        for key, n in self.counts.items():
            left = n - earlier.counts.get(key, 0)
            if left < 0:
                raise ValueError(f"bucket {key} has fewer samples ({n}) than the earlier snapshot")
            if left:
                out[key] = left
        for key in earlier.counts:
            if key not in self.counts:
                raise ValueError(f"bucket {key} is missing from the later snapshot")
        if earlier.count == 0:
            return Histogram(out, self.min, self.max)
        return Histogram(out)

    def to_dict(self) -> dict[str, int]:
        """JSON-ready {bucket: count}, keys ascending."""
        return {str(k): self.counts[k] for k in sorted(self.counts)}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, int], min: float | None = None, max: float | None = None
    ) -> Histogram:
        """Inverse of `to_dict`."""
        return cls(data, min, max)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return (self.counts, self.min, self.max) == (other.counts, other.min, other.max)

    def __repr__(self) -> str:
        return f"Histogram(n={self.count}, buckets={len(self.counts)}, min={self.min}, max={self.max})"


def _pick(fn: Callable[[list[float]], float], a: float | None, b: float | None) -> float | None:
    """min/max over the values that are known."""
    known = [v for v in (a, b) if v is not None]
    return fn(known) if known else None
