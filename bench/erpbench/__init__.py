"""erpload's benchmark harness (run it with `make bench` / `.venv/bin/python bench/run.py`).

Modules:
    procs      - child processes (start, readiness by polling, stop by PID), ports, CPU pinning
    bodies     - ERP-shaped JSON bodies and the bench accounts (one per role)
    nginx      - nginx on loopback serving those bodies (config from bench/nginx.conf.in)
    locust_run - one bounded Locust run with the measurement probe, and its results
    overhead, memory, scaleout, percentiles, history - the five measurements
    users_per_core - role users one worker core holds with loop-lag p99 < 5 ms (--only users_per_core)
    master_scale   - master CPU per worker report, workers at 50 % of a core (--only master)
    gc_soak        - RSS over time, --gc-tuning on and off side by side (--only gc_soak)
    profiling  - py-spy on one overhead run (optional, --profile)
    report     - the printed table and the JSON results
"""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[1]
REPO = BENCH_DIR.parent
LOCUSTFILES = BENCH_DIR / "locustfiles"
RESULTS_DIR = BENCH_DIR / "results"
