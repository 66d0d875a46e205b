"""One bounded Locust run with the measurement probe (bench/locustfiles/bench_probe.py), and its results."""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erpbench import LOCUSTFILES, REPO
from erpbench.procs import Child, free_port, pin_prefix

PROBE = LOCUSTFILES / "bench_probe.py"
# erpload settings a developer may have exported must not leak into a bench run
_SCRUB = ("ERPLOAD_", "LOCUST_", "BENCH_")


@dataclass
class RunResult:
    """What one Locust run measured."""

    label: str
    exit_code: int
    wall_s: float
    probes: list[dict[str, Any]] = field(default_factory=list)  # one per process (local, or master + workers)
    children_cpu_s: float = 0.0  # user+sys of the whole run, every reaped process (RUSAGE_CHILDREN delta)
    work_dir: Path | None = None
    log_tail: str = ""

    def cleanup(self) -> None:
        """Remove the run's temp directory (probe files, logs, reports)."""
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        """Probe records of the given process kinds ('local', 'master', 'worker')."""
        return [p for p in self.probes if p.get("kind") in kinds]

    def window(self) -> dict[str, Any]:
        """The measurement window summed over the request-making processes (local or workers)."""
        makers = self.of_kind("local", "worker")
        wins = [p["window"] for p in makers if "window" in p]
        if not wins or len(wins) != len(makers):
            raise RuntimeError(
                f"{self.label}: no complete measurement window from every process "
                f"(exit {self.exit_code})\n{self.log_tail}"
            )
        counts: dict[str, int] = {}
        for w in wins:
            for k, v in w["counts"].items():
                counts[k] = counts.get(k, 0) + v
        return {
            "processes": len(wins),
            "wall_s": max(w["wall_s"] for w in wins),
            "cpu_s": sum(w["cpu_s"] for w in wins),
            "requests": sum(w["requests"] for w in wins),
            "failures": sum(w["failures"] for w in wins),
            "rps": sum(w["requests"] / w["wall_s"] for w in wins if w["wall_s"] > 0),
            "counts": counts,
            "per_process": [
                {"requests": w["requests"], "cpu_s": w["cpu_s"], "wall_s": w["wall_s"]} for w in wins
            ],
            "host_idle_share": wins[0].get("host_idle_share"),
        }


def _children_cpu() -> float:
    """User+system CPU seconds of every reaped child of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def processes_args(workers: int) -> list[str]:
    """`--processes N` with the master on 127.0.0.1 and a free port (never the default 5557, which
    another Locust on this machine may be using: its workers would join ours, and ours theirs)."""
    port = free_port()
    return [
        "--processes",
        str(workers),
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a bench child: ours minus ERPLOAD_*/LOCUST_*/BENCH_*, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class LocustProcess:
    """A started `locust -f FILES,bench_probe.py --headless --only-summary ARGS`; `finish()` collects it."""

    def __init__(
        self,
        label: str,
        locustfiles: Sequence[str | Path],
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        cpus: str | None = None,
    ) -> None:
        """Start the Locust process (pinned to `cpus` if given) with the probe writing into a temp dir."""
        self.label = label
        self.work = Path(tempfile.mkdtemp(prefix=f"erpload-bench-{label}-"))
        files = ",".join([*(str(f) for f in locustfiles), str(PROBE)])
        argv = [
            *pin_prefix(cpus),
            sys.executable,
            "-m",
            "locust",
            "-f",
            files,
            "--headless",
            "--only-summary",
            *args,
        ]
        self.t0 = time.perf_counter()
        self.child = Child(
            argv, env={**env, "BENCH_PROBE_DIR": str(self.work)}, cwd=REPO, log_path=self.work / "locust.log"
        )

    @property
    def pid(self) -> int:
        """PID of the Locust process (the master with --processes)."""
        return self.child.pid

    def finish(self, timeout_s: float, helper: Child | None = None) -> RunResult:
        """Wait (bounded) for the run to end, stop it and `helper` by PID in any case, read the probes."""
        try:
            code = self.child.wait(timeout_s)
            if helper is not None:
                helper.wait(30)
        finally:
            self.child.stop()
            if helper is not None:
                helper.stop()
        result = RunResult(
            self.label,
            code,
            time.perf_counter() - self.t0,
            work_dir=self.work,
            log_tail=self.child.log_tail(30),
        )
        for path in sorted(self.work.glob("probe-*.json")):
            result.probes.append(json.loads(path.read_text()))
        return result


def run_locust(
    label: str,
    locustfiles: Sequence[str | Path],
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout_s: float,
    cpus: str | None = None,
    attach: Callable[[int, Path], Child | None] | None = None,
) -> RunResult:
    """Run one Locust process to completion (bounded) and collect its probes.

    `attach(pid, work_dir)` may start a helper (a profiler) on the Locust process; it is waited for
    after the run and stopped by PID in any case. `children_cpu_s` is the whole run's CPU (every
    process it reaped included), from RUSAGE_CHILDREN: valid because runs do not overlap here.
    """
    cpu0 = _children_cpu()
    proc = LocustProcess(label, locustfiles, args, env=env, cpus=cpus)
    helper: Child | None = None
    try:
        helper = attach(proc.pid, proc.work) if attach is not None else None
    finally:
        result = proc.finish(timeout_s, helper)
    result.children_cpu_s = _children_cpu() - cpu0
    return result
