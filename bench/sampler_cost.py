"""Cost of erpload's resource sampler (erpload.locust.samplers) at 1 Hz: CPU time per sample and % of one core.

    .venv/bin/python bench/sampler_cost.py              # 30 s at 1 Hz + 300 back-to-back samples
    .venv/bin/python bench/sampler_cost.py --seconds 60 --json bench/results/sampler_cost.json

What one tick costs on the master: its own process (CPU, RSS, threads, fds, inet connections),
the host (CPU, memory, net, disk) and a local target with its children; a worker's tick is the first
two. The 1 Hz figure is the process's CPU time over the wall time of a sampling loop that sleeps
between ticks, so it includes Python's own overhead of waking up once a second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from erpload.locust.samplers import HostSampler, ProcessSampler  # noqa: E402


def cpu_s() -> float:
    """This process's user + system CPU seconds (CLOCK_PROCESS_CPUTIME_ID: finer than os.times' 10 ms)."""
    return time.process_time()


def per_sample_ms(fn, n: int) -> float:
    """Mean CPU ms of fn() over n back-to-back calls."""
    fn()
    c0 = cpu_s()
    for _ in range(n):
        fn()
    return (cpu_s() - c0) / n * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the 1 Hz run (default 30)")
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--samples", type=int, default=300, help="back-to-back samples for the per-sample cost")
    ap.add_argument("--json", default="", help="also write the results here")
    args = ap.parse_args()

    # a stand-in target: a python process with one child, like a server with a worker
    target = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess,sys,time;"
            "c=subprocess.Popen([sys.executable,'-c','import time;time.sleep(600)']);"
            "time.sleep(600)",
        ]
    )
    try:
        time.sleep(0.5)  # let the child start (a setup delay, not a measurement)
        own, host, tgt = ProcessSampler(), HostSampler(), ProcessSampler(target.pid, children=True)
        costs = {
            "own_process_ms": per_sample_ms(own.sample, args.samples),
            "host_ms": per_sample_ms(host.sample, args.samples),
            "target_with_children_ms": per_sample_ms(tgt.sample, args.samples),
        }

        def tick() -> None:
            own.sample()
            host.sample()
            tgt.sample()

        costs["master_tick_ms"] = per_sample_ms(tick, args.samples)
        c0, w0 = cpu_s(), time.monotonic()
        ticks = 0
        next_at = w0
        while time.monotonic() - w0 < args.seconds:
            tick()
            ticks += 1
            next_at += args.interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        wall, used = time.monotonic() - w0, cpu_s() - c0
    finally:
        target.kill()
        target.wait(10)
    result = {
        **{k: round(v, 3) for k, v in costs.items()},
        "run_seconds": round(wall, 1),
        "ticks": ticks,
        "run_cpu_seconds": round(used, 4),
        "percent_of_one_core": round(used / wall * 100.0, 3),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
