"""Timeline stays bounded over a 24-hour run and merges intervals without losing rate accuracy."""

from erpload.core.timeline import Timeline


def test_bounded_for_a_day_at_one_hertz():
    tl = Timeline(max_points=1200)
    for s in range(1, 86_401):
        tl.append(
            t=s,
            dt=1.0,
            users=200,
            rps=100.0,
            fail_rate=0.0,
            p50=10.0,
            p95=20.0 + (s == 50_000) * 500,
            p99=30.0,
        )
    assert len(tl.t) < 1200
    assert tl.t[-1] == 86_400
    assert abs(sum(tl.dt) - 86_400) < 1e-6  # no interval lost
    assert all(r == 100.0 for r in tl.rps)  # weighted rate survives merging
    assert max(p for p in tl.p95 if p is not None) == 520.0  # a spike is never averaged away


def test_merge_is_weighted_by_interval_length():
    tl = Timeline(max_points=4)
    tl.append(1, 1.0, 1, 10.0, 0.0, None, None, None)
    tl.append(4, 3.0, 3, 30.0, 0.5, 5.0, None, 9.0)
    tl.append(5, 1.0, 2, 0.0, 0.0, 1.0, 2.0, 3.0)
    tl.append(6, 1.0, 2, 0.0, 0.0, 1.0, 2.0, 3.0)  # 4th point triggers halving
    assert tl.t == [4, 6]
    assert tl.rps[0] == 25.0  # (10*1 + 30*3) / 4
    assert tl.fail_rate[0] == 0.375
    assert tl.users[0] == 3 and tl.p50[0] == 5.0 and tl.p95[0] is None


def test_stages_and_events():
    tl = Timeline()
    tl.mark_stage(0, "ramp", 0.0)
    tl.mark_stage(1, "hold", 30.0)
    tl.close(90.0)
    for i in range(600):
        tl.mark_event(i, "x")
    d = tl.to_dict()
    assert d["stages"] == [
        {"index": 0, "name": "ramp", "start_s": 0.0, "end_s": 30.0},
        {"index": 1, "name": "hold", "start_s": 30.0, "end_s": 90.0},
    ]
    assert len(d["events"]) == 500
