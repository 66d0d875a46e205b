"""One bounded Locust run with the measurement probe (bench/locustfiles/bench_probe.py), and its results."""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erpbench import LOCUSTFILES, REPO
from erpbench.procs import Child, pin_prefix

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
            raise RuntimeError(f"{self.label}: no complete measurement window from every process "
                               f"(exit {self.exit_code})\n{self.log_tail}")
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
            "per_process": [{"requests": w["requests"], "cpu_s": w["cpu_s"], "wall_s": w["wall_s"]} for w in wins],
        }


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a bench child: ours minus ERPLOAD_*/LOCUST_*/BENCH_*, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_locust(label: str, locustfiles: Sequence[str | Path], args: Sequence[str], *, env: Mapping[str, str],
               timeout_s: float, cpus: str | None = None) -> RunResult:
    """Run `locust -f FILES,bench_probe.py --headless ARGS` to completion (bounded) and collect the probes."""
    work = Path(tempfile.mkdtemp(prefix=f"erpload-bench-{label}-"))
    files = ",".join([*(str(f) for f in locustfiles), str(PROBE)])
    argv = [*pin_prefix(cpus), sys.executable, "-m", "locust", "-f", files, "--headless", "--only-summary",
            *args]
    run_env = {**env, "BENCH_PROBE_DIR": str(work)}
    cpu0, t0 = _children_cpu(), time.perf_counter()
    child = Child(argv, env=run_env, cwd=REPO, log_path=work / "locust.log")
    try:
        code = child.wait(timeout_s)
    finally:
        child.stop()
    result = RunResult(label, code, time.perf_counter() - t0, children_cpu_s=_children_cpu() - cpu0, work_dir=work,
                       log_tail=child.log_tail(30))
    for path in sorted(work.glob("probe-*.json")):
        result.probes.append(json.loads(path.read_text()))
    return result
