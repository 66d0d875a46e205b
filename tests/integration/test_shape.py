"""ProfileShape drives per-role user counts per stage: LocalRunner and master + 2 workers over real ZeroMQ.

The users are dummies named like the roles that make no requests, so only the shape and the
dispatcher are under test. Counts are read from the master's (or local runner's) view.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import pytest
from locust import User, constant, task
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.runners import STATE_STOPPED, Runner, WorkerNode

from erpload.core.domain import USER_CLASSES as ROLES
from erpload.locust.shapes import ProfileDispatcher, ProfileShape, RoleTargets, install_shape_support
from erpload.profile import load_profile, stage_plan, target_at

ROOT = Path(__file__).resolve().parents[2]
MIX_CHANGE = ROOT / "profiles" / "mix-change.yaml"


def _role_class(name: str) -> type[User]:
    """A user named like a role that makes no request (the dispatcher is what is under test)."""
    return type(
        name, (User,), {"wait_time": constant(0.2), "idle": task(lambda self: None), "__module__": __name__}
    )


CLASSES = [_role_class(n) for n in ROLES]


def _options(profile: Path | None, **extra: object):
    opts = get_parser(default_config_files=[]).parse_args([])
    opts.load_profile = str(profile) if profile else None
    vars(opts).update(extra)
    return opts


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Bounded polling (gevent-friendly): fail with `what` if cond() stays false."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        gevent.sleep(0.05)


class Cluster:
    """A LocalRunner, or a MasterRunner with N in-process WorkerRunners on a random port."""

    def __init__(self, profile: Path | None, workers: int = 0, **opts: object) -> None:
        self.shape = ProfileShape()
        self.env = Environment(
            user_classes=CLASSES, shape_class=self.shape, parsed_options=_options(profile, **opts)
        )
        install_shape_support(self.env)
        self.stages: list[str] = []  # stage announcements, reset at test_start like the run recorder does
        self.env.events.test_start.add_listener(lambda **_: self.stages.clear())
        self.env.events.erpload_stage.add_listener(lambda name, **_: self.stages.append(name))
        self.workers: list[Runner] = []
        if not workers:
            self.runner: Runner = self.env.create_local_runner()
            return
        self.runner = master = self.env.create_master_runner("127.0.0.1", 0)
        for _ in range(workers):
            self.workers.append(
                Environment(user_classes=CLASSES).create_worker_runner("127.0.0.1", master.server.port)
            )
        _wait(lambda: len(master.clients.ready) == workers, 10, f"{workers} workers to connect")

    def counts(self) -> dict[str, int]:
        """Running users per role as the master (or the local runner) sees them."""
        raw = self.runner.reported_user_classes_count if self.workers else self.runner.user_classes_count
        return {name: int(raw.get(name, 0)) for name in ROLES}

    def close(self) -> None:
        for runner in [self.runner, *self.workers]:
            runner.quit()


@pytest.fixture(params=[0, 2], ids=["local", "master+2workers"])
def cluster_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(profile: Path | None, **opts: object) -> Cluster:
        made.append(Cluster(profile, workers=request.param, **opts))
        return made[-1]

    yield make
    for c in made:
        c.close()


def _shape_done(cluster: Cluster) -> bool:
    greenlet = cluster.runner.shape_greenlet
    return greenlet is None or greenlet.dead


def _sample_at(cluster: Cluster, t: float) -> dict[str, int]:
    _wait(lambda: cluster.shape.get_run_time() >= t, t + 5, f"run time {t}s")
    return cluster.counts()


def test_every_stage_runs_its_exact_role_mix_including_mix_changes_and_ramp_down(cluster_factory) -> None:
    cluster = cluster_factory(MIX_CHANGE)
    plan = stage_plan(load_profile(MIX_CHANGE))
    cluster.runner.start_shape()
    observed = []
    for sp in plan:  # transitions take < 1 s at spawn_rate 24; sample late in each 4 s stage
        got = _sample_at(cluster, sp.start_s + 3.0)
        observed.append(got)
        off = {r: (got[r], sp.end_roles.get(r, 0)) for r in ROLES if abs(got[r] - sp.end_roles.get(r, 0)) > 1}
        assert not off, (
            f"stage {sp.stage.name}: role counts off by more than 1 (got, want): {off}; all: {got}"
        )
    print(f"\nobserved per stage ({len(cluster.workers)} workers):", *observed, sep="\n  ")
    _wait(lambda: cluster.runner.state == STATE_STOPPED, 10, "the run to stop after the last stage")
    assert sum(cluster.counts().values()) == 0
    assert cluster.stages == [sp.stage.name for sp in plan]  # stage 0 announced after test_start


def test_linear_ramp_follows_target_at_then_holds_then_ramps_down(cluster_factory, tmp_path: Path) -> None:
    profile = tmp_path / "ramp.yaml"
    profile.write_text(
        "name: ramp\ndescription: linear ramp\nroles: {CuttingOperator: 1, QcInspector: 1}\n"
        "stages:\n  - {name: ramp, duration: 6s, users: 6}\n  - {name: hold, duration: 2s, users: 6}\n"
        "  - {name: down, duration: 2s, users: 0}\n"
    )
    cluster = cluster_factory(profile)
    parsed = load_profile(profile)
    cluster.runner.start_shape()
    for t in (2.5, 4.5):  # mid-ramp: within one user of the linear target (Locust starts a user at once)
        got = sum(_sample_at(cluster, t).values())
        want = target_at(parsed, t).users_total
        assert abs(got - want) <= 1, f"at {t}s: {got} users, linear target {want}"
    assert _sample_at(cluster, 7.5) == {**dict.fromkeys(ROLES, 0), "CuttingOperator": 3, "QcInspector": 3}
    assert sum(_sample_at(cluster, 9.8).values()) == 0


def test_profile_is_reloaded_at_each_run_start(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    body = "name: {n}\ndescription: d\nroles: {{{r}: 1}}\nstages: [{{duration: 2s, users: {u}, spawn_rate: 50}}]\n"
    first.write_text(body.format(n="a", r="CuttingOperator", u=2))
    second.write_text(body.format(n="b", r="QcInspector", u=3))
    cluster = Cluster(first)
    try:
        cluster.runner.start_shape()
        assert _sample_at(cluster, 1.0)["CuttingOperator"] == 2
        _wait(lambda: cluster.runner.state == STATE_STOPPED, 5, "the first run to end")
        cluster.env.parsed_options.load_profile = str(second)  # as the web UI form does between runs
        cluster.runner.start_shape()
        got = _sample_at(cluster, 1.0)
        assert (got["QcInspector"], got["CuttingOperator"]) == (3, 0)
        assert cluster.shape.profile is not None and cluster.shape.profile.name == "b"
    finally:
        cluster.close()


def test_invalid_profile_stops_before_any_user_and_sets_exit_code_2(tmp_path: Path, caplog) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndescription: d\nroles: {Cutter: 1}\nstages: [{duration: 2s, users: 2}]\n")
    cluster = Cluster(bad, headless=True)
    try:
        cluster.runner.start_shape()
        _wait(lambda: _shape_done(cluster), 5, "the shape to give up")
        assert cluster.runner.user_count == 0
        assert cluster.env.process_exit_code == 2
        assert "roles.Cutter: unknown role 'Cutter'" in caplog.text
    finally:
        cluster.close()


def test_without_a_profile_the_shape_is_plain_users_spawn_rate_run_time() -> None:
    cluster = Cluster(None, num_users=3, spawn_rate=50, run_time=2)
    try:
        cluster.runner.start_shape()
        _wait(lambda: cluster.runner.user_count == 3, 3, "3 users")
        assert cluster.env.dispatcher_class is ProfileDispatcher  # installed, yet plain Locust semantics
        _wait(lambda: _shape_done(cluster), 5, "the run time limit")
        assert cluster.runner.user_count == 0
    finally:
        cluster.close()


def test_dispatcher_keeps_exact_counts_and_balance_when_workers_change() -> None:
    nodes = [WorkerNode(f"host_{i}") for i in range(2)]
    d = ProfileDispatcher(worker_nodes=nodes, user_classes=CLASSES)
    counts = {**dict.fromkeys(ROLES, 0), "CuttingOperator": 5, "QcInspector": 3, "Admin": 1}
    d.new_dispatch(9, 1000, RoleTargets([c for c in CLASSES if counts[c.__name__]], counts))
    *_, last = list(d)
    assert _aggregate(last) == counts and sorted(sum(w.values()) for w in last.values()) == [4, 5]
    d.add_worker(WorkerNode("host_2"))  # a late worker: the same totals spread over three
    d.new_dispatch(9, 1000)  # what the runner calls on a rebalance (no user_classes)
    *_, last = list(d)
    assert _aggregate(last) == counts and [sum(w.values()) for w in last.values()] == [3, 3, 3]
    d.remove_worker(nodes[0])
    d.new_dispatch(9, 1000)
    *_, last = list(d)
    assert set(last) == {"host_1", "host_2"} and _aggregate(last) == counts


def _aggregate(users_on_workers: dict[str, dict[str, int]]) -> dict[str, int]:
    return {name: sum(w.get(name, 0) for w in users_on_workers.values()) for name in ROLES}
