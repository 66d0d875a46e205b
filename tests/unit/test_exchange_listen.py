"""erpload's one request listener (Exchange.on_request): role stats, then every consumer, isolated."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from erpload.locust.exchange import ROLE_METHOD, Exchange


def test_one_listener_logs_the_role_and_calls_every_consumer_even_after_one_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ex = Exchange()
    seen: list[tuple[Any, ...]] = []

    def broken(*_: Any) -> None:
        raise RuntimeError("consumer bug")

    ex.listen(broken)
    ex.listen(lambda *args: seen.append(args))
    err = ValueError("HTTP 500")
    with caplog.at_level(logging.ERROR):
        ex.on_request("GET", "/x", 12.0, 100, exception=err, context={"role": "Admin"})
        ex.on_request("POST", "/y", 3.0, 0, exception=None, context=None)  # no role: consumers still see it
    assert seen == [("GET", "/x", 12.0, err), ("POST", "/y", 3.0, None)]
    entry = ex.role_stats.entries[("Admin", ROLE_METHOD)]
    assert (entry.num_requests, entry.num_failures) == (1, 1)
    assert len(ex.role_stats.entries) == 1
    assert (
        sum("consumer bug" in r.getMessage() or "request consumer" in r.getMessage() for r in caplog.records)
        == 2
    )


def _rows(seed: int, n: int) -> list[tuple[float, Any, int | None, BaseException | None, str | None]]:
    """(clock step s, response time, length, exception, role) of n mixed requests."""
    import random

    rng = random.Random(seed)
    times = [None, 0, 3, 3.0, 2.5, 999.5, 1000, 1234.5, 99999.7, -1.0]
    return [
        (
            rng.choice([0.0, 0.3, 1.1]),
            rng.choice([*times, rng.lognormvariate(3, 1.5)]),
            rng.choice([0, 7, None]),
            ValueError("HTTP 500") if rng.random() < 0.1 else None,
            rng.choice(["Admin", "Cutter", None]),
        )
        for _ in range(n)
    ]


@pytest.mark.parametrize("fine", [True, False], ids=["fine-buckets", "locust-buckets"])
def test_the_inline_role_log_holds_exactly_what_locusts_statsentry_log_holds(
    fine: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import locust.stats

    from erpload.core.histogram import fine_bucket

    if fine:  # what the plugin sets in every process
        monkeypatch.setattr(locust.stats, "bucket_response_time", fine_bucket)
    rows = _rows(3, 3000)
    clock = [1_800_000_000.5]
    monkeypatch.setattr("time.time", lambda: clock[0])
    ex = Exchange()
    for step, rt, length, exc, role in rows:
        clock[0] += step
        ex.on_request("GET", "/x", rt, length, exception=exc, context={"role": role} if role else {})
    clock[0] = 1_800_000_000.5
    ref = locust.stats.RequestStats(use_response_times_cache=False)  # Locust's own log, same clock
    for step, rt, length, exc, role in rows:
        clock[0] += step
        if role:
            entry = ref.entries[(role, ROLE_METHOD)]
            entry.log(rt, length or 0)
            if exc is not None:
                entry.log_error(exc)
    got = {k: e.serialize() for k, e in ex.role_stats.entries.items()}
    want = {k: e.serialize() for k, e in ref.entries.items()}
    assert got == want
    admin = got[("Admin", ROLE_METHOD)]
    assert (
        admin["num_failures"] > 0 and admin["num_none_requests"] > 0 and len(admin["num_reqs_per_sec"]) > 100
    )
    assert [type(k) for k in admin["response_times"]] == [
        type(k) for k in want[("Admin", ROLE_METHOD)]["response_times"]
    ]


def test_detail_consumers_get_the_shared_role_time_and_fine_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    from erpload.core.histogram import fine_bucket

    monkeypatch.setattr("time.time", lambda: 1_800_000_123.75)
    ex = Exchange()
    detailed: list[tuple[Any, ...]] = []
    plain: list[tuple[Any, ...]] = []

    def broken(*_: Any) -> None:
        raise RuntimeError("detail consumer bug")

    ex.listen(broken, detail=True)
    ex.listen(lambda *args: detailed.append(args), detail=True)
    ex.listen(lambda *args: plain.append(args))
    err = ValueError("HTTP 500")
    ex.on_request("GET", "/x", 1234.5, 10, exception=err, context={"role": "Admin"}, response=None, url="u")
    ex.on_request("POST", "/y", None, 0, context=None, start_time=1.0, something_new=1)
    assert detailed == [
        ("GET", "/x", 1234.5, err, "Admin", 1_800_000_123.75, fine_bucket(1234.5)),
        ("POST", "/y", None, None, None, 1_800_000_123.75, None),
    ]
    assert detailed[0][-1] == 1230
    assert plain == [("GET", "/x", 1234.5, err), ("POST", "/y", None, None)]


def test_every_view_hears_requests_through_the_one_erpload_request_listener() -> None:
    """Stage book, intended-start recorder and per-second counts are Exchange consumers, not listeners."""
    from types import SimpleNamespace

    from locust import User, constant
    from locust.env import Environment
    from locust.event import EventHook, Events

    from erpload.locust.correctness import install_correctness
    from erpload.locust.intended import install_intended
    from erpload.locust.redaction import install_redaction
    from erpload.locust.run import ErploadRun
    from erpload.locust.stage_stats import install_stage_stats

    class Admin(User):
        wait_time = constant(1)

    env = Environment(user_classes=[Admin], events=Events())
    env.events.erpload_stage = EventHook()  # type: ignore[attr-defined]  # erpload.locust.shapes adds it
    env.create_local_runner()
    run = ErploadRun(env)
    env.erpload = run  # type: ignore[attr-defined]
    install_redaction(env)
    run.exchange.install(env)
    stages = install_stage_stats(env, run)
    intended = install_intended(env, run)
    correctness = install_correctness(env, run)
    ours = [
        h for h in env.events.request._handlers if (getattr(h, "__module__", "") or "").startswith("erpload")
    ]
    assert ours == [run.exchange.on_request]
    env.events.request.fire(
        request_type="GET",
        name="/x",
        context={"role": "Admin"},
        response=SimpleNamespace(),
        exception=ValueError("HTTP 500"),
        start_time=0.0,
        url="http://x/x",
        response_length=5,
        response_time=12.4,
    )
    part = stages.book.parts[0]
    assert (part.requests[("GET", "/x")].count, part.requests[("GET", "/x")].failures) == (1, 1)
    assert part.roles["Admin"].histogram.counts == {12: 1}
    assert intended.blocked_s == pytest.approx(0.0124)  # outside an iteration (closed model)
    assert [tuple(v) for v in correctness.counts.seconds.values()] == [(1, 1)]
    assert run.exchange.role_stats.entries[("Admin", ROLE_METHOD)].response_times == {12: 1}
