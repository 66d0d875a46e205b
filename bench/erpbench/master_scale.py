"""Master scale: master CPU per worker report, and how many workers reach 50 % of one core.

Run as `python -m erpbench.master_scale` (bench/run.py --only master does) in a fresh process:

- Worker side, real code: a Locust WorkerRunner Environment (connected to a port nobody listens on,
  so nothing is sent) with erpload installed, fed `request` events of 40 endpoints x 9 roles at
  `--rps` per worker (lognormal latencies, 0.2 % failures, one iteration context in two so the
  intended-start recorder has data) and resource samples; every `WORKER_REPORT_INTERVAL` of
  synthetic traffic the worker fires `report_to_master` like Locust's `_send_stats`, and the
  resulting data (Locust's stats + errors + user counts + data["erpload"] with every provider:
  roles, tallies, health, resources, intended, looplag, seconds, ...) is serialized as a real
  Locust `Message("stats", ...)` (msgpack). K distinct such reports are kept as templates.
- Master side, real code: a MasterRunner Environment (bound to a free loopback port) with erpload
  installed; N workers register through `handle_message("client_ready")`, then each report is
  `Message.unserialize(bytes)` + `runner.handle_message(node, msg)` (what Locust's client_listener
  does for every message), heartbeats likewise. Timed with `time.process_time()`.

Figures: CPU ms per report and per heartbeat; the master's share of one core at N workers =
N * (report / interval + heartbeat / 1 s); the worker count at 50 % of one core. Goal: >= 100.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import pstats
import random
import socket
import sys
import time
from pathlib import Path
from typing import Any

from erpload.core.domain import REPORTING_CLASSES, USER_CLASSES  # pure: no gevent before the patching

GOAL = 100
ENDPOINTS = 40
ROLES = tuple(c for c in USER_CLASSES if c not in REPORTING_CLASSES)  # the 9 daily roles


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(kind: str, master_port: int = 0) -> Any:
    import locust.stats
    from locust import FastHttpUser, task
    from locust.env import Environment

    import erpload.plugin as plugin

    classes = []
    for role in ROLES:  # stand-ins named like the roles: only their names matter to the master
        classes.append(
            type(role, (FastHttpUser,), {"host": "http://127.0.0.1:9", "t": task(lambda self: None)})
        )
    env = Environment(user_classes=classes)
    if kind == "master":
        env.create_master_runner("127.0.0.1", master_port or _free_port())
    else:
        env.create_worker_runner("127.0.0.1", master_port)  # Locust's worker connects (and waits for the ack)
    plugin.install(env)
    assert locust.stats.bucket_response_time is not None
    return env


def make_reports(k: int, rps: float, interval: float, seed: int = 1) -> list[bytes]:
    """K serialized worker reports, each `interval` s of traffic at `rps` through the real worker code."""
    import gevent
    from locust.rpc import Message

    from erpload.locust import intended

    rng = random.Random(seed)
    port = _free_port()
    scratch = _env("master", port)  # only to acknowledge the worker's connection; not measured
    env = _env("worker", port)
    env.events.test_start.fire(environment=env)  # resource sampler, loop-lag probe, recorders start
    gevent.sleep(1.2)  # one resource sample at least
    names = [f"/ep/{i:02d}/[id]" for i in range(ENDPOINTS)]
    medians = {n: math.log(rng.choice((20, 40, 80, 150, 400))) for n in names}
    ctxs = [{"role": r} for r in ROLES]
    err = RuntimeError('HTTP 500 (expected 200): {"error":"boom"}')
    out = []
    for i in range(k):
        n_req = int(rps * interval)
        for j in range(n_req):
            name = names[rng.randrange(ENDPOINTS)]
            rt = rng.lognormvariate(medians[name], 0.6)
            if j % 2:
                intended.begin_iteration(0.0, rng.random() * 0.02)
            env.events.request.fire(
                request_type="GET" if j % 3 else "POST",
                name=name,
                response_time=rt,
                response_length=2048,
                response=None,
                context=ctxs[j % len(ctxs)],
                exception=err if rng.random() < 0.002 else None,
                start_time=time.time(),
                url=name,
            )
            intended.end_iteration()
        gevent.sleep(0.01)
        data: dict[str, Any] = {}
        env.events.report_to_master.fire(client_id=f"template-{i}", data=data)
        out.append(Message("stats", data, f"template-{i}").serialize())
    env.runner.quit()
    scratch.runner.quit()
    return out


def measure(
    workers: int, reports_per_worker: int, templates: list[bytes], interval: float, profile: bool
) -> dict[str, Any]:
    """Feed `workers` x `reports_per_worker` reports (and heartbeats) into a real master; CPU per message."""
    from locust import __version__
    from locust.rpc import Message

    env = _env("master")
    runner = env.runner
    nodes = [f"bench-worker-{i}" for i in range(workers)]
    for node in nodes:
        runner.handle_message(node, Message("client_ready", __version__, node))
    beat = Message(
        "heartbeat", {"state": "running", "current_cpu_usage": 40.0, "current_memory_usage": 1}, "x"
    ).serialize()
    prof = cProfile.Profile() if profile else None
    cpu_reports = cpu_beats = 0.0
    n_reports = n_beats = 0
    for r in range(reports_per_worker):
        t0 = time.process_time()
        if prof:
            prof.enable()
        for i, node in enumerate(nodes):
            msg = Message.unserialize(templates[(i + r) % len(templates)])
            msg.node_id = node
            runner.handle_message(node, msg)
        if prof:
            prof.disable()
        cpu_reports += time.process_time() - t0
        n_reports += workers
        t0 = time.process_time()
        for node in nodes:
            msg = Message.unserialize(beat)
            msg.node_id = node
            runner.handle_message(node, msg)
        cpu_beats += time.process_time() - t0
        n_beats += workers
    merged = env.erpload.exchange.role_stats
    per_report = cpu_reports / n_reports
    per_beat = cpu_beats / n_beats
    per_worker_share = per_report / interval + per_beat  # heartbeats: one per second per worker
    out = {
        "workers": workers,
        "reports": n_reports,
        "report_bytes": [len(t) for t in templates],
        "cpu_ms_per_report": round(per_report * 1000, 3),
        "cpu_ms_per_heartbeat": round(per_beat * 1000, 4),
        "share_per_worker": round(per_worker_share, 5),
        "workers_at_50pct_core": int(0.5 / per_worker_share) if per_worker_share > 0 else None,
        "master_requests_merged": env.stats.total.num_requests,
        "role_entries": len(merged.entries),
        "goal": GOAL,
    }
    out["met"] = (out["workers_at_50pct_core"] or 0) >= GOAL
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(35)
        out["profile"] = s.getvalue()
    runner.clients._worker_nodes.clear()  # simulated workers: nobody to wait for at quit
    runner.quit()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m erpbench.master_scale", description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=100, help="simulated workers (default 100)")
    ap.add_argument("--reports", type=int, default=10, help="reports per worker (default 10)")
    ap.add_argument("--templates", type=int, default=6, help="distinct worker reports (default 6)")
    ap.add_argument("--rps", type=float, default=300.0, help="requests per second per worker (default 300)")
    ap.add_argument("--profile", action="store_true", help="cProfile the report handling; print the top")
    ap.add_argument("--out", default="", help="write the figures as JSON here")
    args = ap.parse_args(argv)
    from locust.runners import WORKER_REPORT_INTERVAL

    templates = make_reports(args.templates, args.rps, WORKER_REPORT_INTERVAL)
    res = measure(args.workers, args.reports, templates, WORKER_REPORT_INTERVAL, args.profile)
    res.update(
        {
            "rps_per_worker": args.rps,
            "report_interval_s": WORKER_REPORT_INTERVAL,
            "endpoints": ENDPOINTS,
            "roles": len(ROLES),
        }
    )
    prof = res.pop("profile", None)
    print(json.dumps(res, indent=1))
    if prof:
        print(prof, file=sys.stderr)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
