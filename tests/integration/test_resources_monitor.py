"""ResourceMonitor in-process: worker batches, saturation -> mark_invalid, allow:, live UI shape, artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from locust import User, task
from locust.env import Environment

from erpload.locust.resource_outputs import extra_metrics as _extra_metrics
from erpload.locust.resource_outputs import write_artifacts
from erpload.locust.resources import ResourceMonitor


class Idle(User):
    """A user class so an Environment can be built."""

    @task
    def nothing(self) -> None:
        pass


class FakeRun:
    """The parts of ErploadRun the monitor uses."""

    def __init__(self, allow: Any = None) -> None:
        self.t = 0.0
        self.recorder = SimpleNamespace(elapsed=lambda: self.t)
        self.profile = SimpleNamespace(allow=allow, is_open=True) if allow is not None else None
        self.invalid: list[dict[str, Any]] = []
        self.resources: dict[str, Any] = {}

    def mark_invalid(self, reason: str, detail: str) -> None:
        self.invalid.append({"reason": reason, "detail": detail, "at_s": self.t})


def monitor(run: FakeRun) -> ResourceMonitor:
    env = Environment(user_classes=[Idle])
    env.create_local_runner()
    mon = ResourceMonitor(env, run)
    mon.on_test_start()
    return mon


def batch(idx: int, cpu: float, n: int, start_age: float) -> dict[str, Any]:
    return {
        "idx": idx,
        "host": "gen-1",
        "pid": 4242,
        "host_metrics": {"cpu_percent": 50.0},
        "samples": [
            [start_age - i, {"cpu_percent": cpu, "rss_mb": 80.0 + i * 0.01, "threads": 3}] for i in range(n)
        ],
    }


def test_worker_batches_become_series_and_saturation_marks_the_run_invalid():
    run = FakeRun()
    mon = monitor(run)
    run.t = 40.0
    mon.on_payload("client-a", batch(1, 97.0, 15, start_age=20.0))  # samples at t = 20 .. 34 s
    assert [p["key"] for p in mon.live()["processes"]] == ["worker:1"]
    assert run.invalid and run.invalid[0]["reason"] == "generator saturated"
    detail = run.invalid[0]["detail"]
    assert detail.startswith("worker:1 (gen-1, pid 4242) at 97% CPU") and "from 20s to 30s" in detail, detail
    extra = {k: fn() for k, fn in _extra_metrics(mon).items()}
    assert (
        extra["worker_cpu_max"] == 0.97 and extra["target_leak"] is None and extra["master_cpu_max"] is None
    )


def test_allowed_saturation_only_warns():
    run = FakeRun(allow=SimpleNamespace(generator_saturation=True, under_delivery=False))
    mon = monitor(run)
    run.t = 40.0
    mon.on_payload("c", batch(0, 99.0, 15, start_age=20.0))
    assert not run.invalid
    assert any("allowed by the profile" in w for w in mon.live()["warnings"])


def test_live_shape_is_exactly_what_the_web_ui_expects(tmp_path: Path):
    run = FakeRun()
    mon = monitor(run)
    for i in range(2000):  # more samples than the live view may carry
        run.t = float(i)
        mon.record("target", run.t, {"cpu_percent": 20.0, "rss_mb": 100.0 + i * 0.1}, "h", 7, requests=i * 10)
        mon.record("master", run.t, {"cpu_percent": 5.0, "rss_mb": 60.0}, "h", 8)
    live = mon.live()
    assert set(live) == {"processes", "warnings"}
    assert [p["key"] for p in live["processes"]] == ["target", "master"]
    for p in live["processes"]:
        assert set(p) == {"key", "host", "cpu_percent", "rss_mb", "cpu_series", "rss_series", "leak"}
        assert isinstance(p["cpu_percent"], float) and isinstance(p["rss_mb"], float)
        assert 0 < len(p["cpu_series"]) <= 300 and len(p["rss_series"]) <= 300
        assert all(len(pt) == 2 for pt in p["rss_series"])
        assert set(p["leak"]) == {"verdict", "slope_mb_per_min", "growth_pct"}
    target = live["processes"][0]["leak"]
    assert target["verdict"] == "leak" and abs(target["slope_mb_per_min"] - 6.0) < 0.6
    assert live["processes"][1]["leak"]["verdict"] == "no leak"
    section = mon.section()
    assert [row["key"] for row in section["leaks"]] == ["target", "master"]
    assert abs(section["leaks"][0]["kb_per_request"] - 10.24) < 1.0  # 0.1 MB per 10 requests
    write_artifacts(section, tmp_path)
    memory = json.loads((tmp_path / "memory_profile.json").read_text())
    assert memory["processes"][0]["leak"]["verdict"] == "leak"
    util = json.loads((tmp_path / "worker_resource_utilization.json").read_text())
    assert [w["key"] for w in util["workers"]] == ["master"] and util["workers"][0]["cpu_max_percent"] == 5.0
