"""Resource samplers: a process (optionally with its children), the host, a Prometheus /metrics endpoint.

psutil semantics: process CPU % is per core (100 = one full core, 200 = two) measured since the
previous call, so every sampler primes `cpu_percent()` once when created; reads go through
`oneshot()` so one sample costs a handful of /proc reads. No Locust import here.

Every network read has a TOTAL deadline, not only a per-read timeout: an endpoint that trickles a
byte a second never lets a per-read timeout fire and would hold the sampler (and, for the final
sample at the end of a run, the whole verdict) forever. See `fetch_text`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import psutil

log = logging.getLogger(__name__)
MB = 1024.0 * 1024.0
SCRAPE_MAX_BYTES = 4 * 1024 * 1024  # a /metrics page is a few KiB; anything this big is not one
CHUNK = 64 * 1024


class ScrapeError(Exception):
    """A scrape that did not complete within its deadline or byte cap."""


def fetch_text(url: str, deadline_s: float, max_bytes: int = SCRAPE_MAX_BYTES) -> str:
    """GET `url`; the whole exchange (connect, headers, body) within `deadline_s` and `max_bytes`.

    Two bounds, so neither depends on the other: the body is read in `read1` calls (each returns
    what one socket read gave, so a trickle cannot keep one call busy) with the deadline checked
    after each; and, when sockets are gevent's (every Locust process), a `gevent.Timeout` around
    the whole exchange also ends a connect or header phase that outlasts the deadline.
    """
    import requests

    deadline = time.monotonic() + deadline_s
    body = bytearray()
    with _hard_deadline(deadline_s), requests.get(url, timeout=deadline_s, stream=True) as r:
        r.raise_for_status()
        while chunk := r.raw.read1(CHUNK, decode_content=True):
            body += chunk
            if len(body) > max_bytes:
                raise ScrapeError(f"answer larger than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise ScrapeError(f"answer not complete within {deadline_s:g}s ({len(body)} bytes so far)")
        encoding = r.encoding or "utf-8"
    return body.decode(encoding, errors="replace")


def _hard_deadline(seconds: float) -> Any:
    """gevent.Timeout over the whole exchange when the socket module is gevent's; else nothing."""
    try:
        from gevent import Timeout, monkey
    except ImportError:  # pragma: no cover - gevent comes with Locust
        return contextlib.nullcontext()
    if not monkey.is_module_patched("socket"):
        return contextlib.nullcontext()
    return Timeout(seconds, ScrapeError(f"no complete answer within {seconds:g}s"))


class ProcessSampler:
    """CPU %, RSS, threads, open fds and inet connections of one process (+ children if asked)."""

    def __init__(
        self,
        pid: int | None = None,
        children: bool = False,
        connections: bool = True,
        connections_every: int = 10,
    ) -> None:
        self.proc = psutil.Process(pid)
        self.pid = self.proc.pid
        self.children = children
        self.connections = connections
        # psutil's net_connections() walks every socket: 31 / 163 / 286 ms at 1k / 5k / 10k connections
        # (bench, docs/performance.md), far too much to pay every second on a load generator. Count them
        # every Nth sample and repeat the last count in between.
        self.connections_every = max(1, connections_every)
        self._samples = 0
        self._last_conns = 0.0
        self._kids: dict[int, psutil.Process] = {}
        self.proc.cpu_percent(None)  # prime: the first call always returns 0.0
        self._refresh_children()

    def _refresh_children(self) -> list[psutil.Process]:
        if not self.children:
            return []
        try:
            current = {p.pid: p for p in self.proc.children(recursive=True)}
        except psutil.Error:
            return []
        for pid, p in current.items():
            if pid not in self._kids:
                try:
                    p.cpu_percent(None)  # prime new children; they count from the next sample on
                except psutil.Error:
                    continue
                self._kids[pid] = p
        for pid in list(self._kids):
            if pid not in current:
                del self._kids[pid]
        return [p for pid, p in self._kids.items() if pid in current]

    def alive(self) -> bool:
        """True while the process exists and is not a zombie."""
        try:
            return self.proc.is_running() and self.proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def sample(self) -> dict[str, float] | None:
        """One sample ({cpu_percent, rss_mb, threads, fds, connections}); None once the process is gone."""
        count_conns = self.connections and self._samples % self.connections_every == 0
        self._samples += 1
        try:
            out = _read(self.proc, count_conns)
        except psutil.Error:
            return None
        for kid in self._refresh_children():
            try:
                k = _read(kid, count_conns)
            except psutil.Error:
                continue
            for key in out:
                out[key] += k[key]
        if count_conns:
            self._last_conns = out["connections"]
        else:
            out["connections"] = self._last_conns
        return {k: round(v, 3) for k, v in out.items()}


def _read(p: psutil.Process, connections: bool) -> dict[str, float]:
    with p.oneshot():
        cpu = p.cpu_percent(None)
        rss = p.memory_info().rss / MB
        threads = p.num_threads()
        try:
            fds = p.num_fds()
        except (AttributeError, psutil.Error):  # Windows has no fds; others' processes may be denied
            fds = 0
    conns = 0
    if connections:
        try:
            conns = len(p.net_connections(kind="inet"))
        except (AttributeError, psutil.Error):
            conns = 0
    return {
        "cpu_percent": float(cpu),
        "rss_mb": float(rss),
        "threads": float(threads),
        "fds": float(fds),
        "connections": float(conns),
    }


class HostSampler:
    """Host CPU %, memory %, and network/disk byte rates since the previous sample."""

    def __init__(self) -> None:
        psutil.cpu_percent(None)  # prime
        self._t = time.monotonic()
        self._net = _safe(psutil.net_io_counters)
        self._disk = _safe(psutil.disk_io_counters)

    def sample(self) -> dict[str, float]:
        """{cpu_percent (all cores = 100), mem_percent, net_sent/recv_kbps, disk_read/write_kbps}."""
        now = time.monotonic()
        dt = max(now - self._t, 1e-6)
        net, disk = _safe(psutil.net_io_counters), _safe(psutil.disk_io_counters)
        out = {
            "cpu_percent": float(psutil.cpu_percent(None)),
            "mem_percent": float(psutil.virtual_memory().percent),
        }
        out["net_sent_kbps"] = _rate(net, self._net, "bytes_sent", dt)
        out["net_recv_kbps"] = _rate(net, self._net, "bytes_recv", dt)
        out["disk_read_kbps"] = _rate(disk, self._disk, "read_bytes", dt)
        out["disk_write_kbps"] = _rate(disk, self._disk, "write_bytes", dt)
        self._t, self._net, self._disk = now, net, disk
        return {k: round(v, 2) for k, v in out.items()}


def _safe(fn: Any) -> Any:
    try:
        return fn()
    except Exception:  # containers without /proc/diskstats etc.
        return None


def _rate(now: Any, before: Any, attr: str, dt: float) -> float:
    if now is None or before is None:
        return 0.0
    return max(0.0, (getattr(now, attr) - getattr(before, attr)) / dt / 1024.0)


class PrometheusSampler:
    """CPU % and RSS of a remote process from its Prometheus text endpoint (process_* collector metrics)."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:  # timeout: total, per scrape
        self.url = url
        self.timeout = timeout
        self._prev: tuple[float, float] | None = None  # (monotonic time, cpu seconds)
        self.last_error = ""

    def sample(self) -> dict[str, float] | None:
        """One sample ({cpu_percent, rss_mb} + threads/fds when exposed); None if the scrape failed.

        Takes at most `timeout` seconds in all (see `fetch_text`), however slowly the endpoint answers.
        """
        try:
            values = parse_process_metrics(fetch_text(self.url, self.timeout))
        except Exception as e:  # an unreachable or too slow endpoint is a gap in the series, not a crash
            self.last_error = f"{type(e).__name__}: {e}"
            return None
        return self.from_values(values, time.monotonic())

    def from_values(self, values: dict[str, float], now: float) -> dict[str, float] | None:
        """Turn one scrape's process_* values into a sample (CPU % from the cpu-seconds delta)."""
        cpu_s = values.get("process_cpu_seconds_total")
        rss = values.get("process_resident_memory_bytes")
        if rss is None:
            self.last_error = "no process_resident_memory_bytes in the scrape"
            return None
        cpu = 0.0
        if cpu_s is not None:
            if self._prev is not None and now > self._prev[0]:
                cpu = max(0.0, (cpu_s - self._prev[1]) / (now - self._prev[0]) * 100.0)
            self._prev = (now, cpu_s)
        out = {"cpu_percent": round(cpu, 3), "rss_mb": round(rss / MB, 3)}
        if "process_open_fds" in values:
            out["fds"] = values["process_open_fds"]
        return out


def parse_process_metrics(text: str) -> dict[str, float]:
    """process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds from Prometheus text."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds")
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in wanted and not s.labels:
                out[s.name] = float(s.value)
    return out
