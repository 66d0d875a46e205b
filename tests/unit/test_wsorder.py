"""erpload.core.wsorder: out-of-order, duplicated and lost messages of one stream; the summed figures."""

from __future__ import annotations

from collections import Counter

import pytest

from erpload.core.wsorder import (
    LOST_MEMORY,
    StreamOrder,
    missed_between,
    order_metric,
    seq_of,
    ws_figures,
)


def feed(seqs, start=0, window=4, close=True) -> Counter:
    counts: Counter = Counter()
    s = StreamOrder(counts, start, window=window)
    for q in seqs:
        s.observe(q)
    if close:
        s.close()
    return counts


def test_an_in_order_stream_counts_nothing_bad():
    c = feed([11, 12, 13, 14], start=10)
    assert c["received"] == 4 and c["in_order"] == 4 and c["expected"] == 4 and c["streams"] == 1
    assert c["out_of_order"] == c["duplicated"] == c["lost"] == 0


def test_a_swapped_pair_is_one_out_of_order_and_nothing_lost():
    c = feed([1, 3, 2, 4])
    assert (c["out_of_order"], c["lost"], c["duplicated"], c["in_order"]) == (1, 0, 0, 3)


def test_a_skipped_seq_is_lost_once_the_window_passes_it():
    counts: Counter = Counter()
    s = StreamOrder(counts, 0, window=3)
    for q in (1, 3, 4, 5):  # 2 missing, 3 later seqs: still in the window
        s.observe(q)
    assert counts["lost"] == 0 and list(s.missing) == [2]
    s.observe(6)  # 4 later seqs > window 3
    assert counts["lost"] == 1 and not s.missing


def test_a_late_arrival_after_being_declared_lost_turns_into_out_of_order():
    c = feed([1, 3, 4, 5, 6, 7, 2], window=3)
    assert (c["lost"], c["out_of_order"], c["duplicated"]) == (0, 1, 0)


def test_missing_at_close_is_lost_but_nothing_after_the_last_seq():
    c = feed([1, 2, 4], start=0, window=10)  # 3 skipped; 5.. never published before the close
    assert c["lost"] == 1 and c["expected"] == 4


def test_duplicates_inside_and_beyond_the_window_and_before_the_stream():
    c = feed([1, 2, 2, 3, 4, 5, 6, 7, 8, 1, 0, -5], start=0, window=2)
    assert c["duplicated"] == 4 and c["lost"] == 0 and c["out_of_order"] == 0


def test_a_huge_gap_is_lost_without_holding_every_seq_in_memory():
    counts: Counter = Counter()
    s = StreamOrder(counts, 0, window=8)
    s.observe(1_000_001)
    assert len(s.missing) == 8 and counts["lost"] == 1_000_000 - 8
    s.close()
    assert counts["lost"] == 1_000_000


def test_lost_memory_is_bounded():
    counts: Counter = Counter()
    s = StreamOrder(counts, 0, window=1)
    seq = 0
    for _ in range(LOST_MEMORY + 10):  # every other seq skipped
        seq += 2
        s.observe(seq)
    assert len(s._lost) <= LOST_MEMORY and len(s._lost_set) <= LOST_MEMORY
    assert counts["lost"] >= LOST_MEMORY


def test_without_a_hello_seq_the_first_event_starts_the_stream():
    c = feed([41, 42, 44, 43], start=None)
    assert (c["in_order"], c["out_of_order"], c["lost"], c["expected"]) == (3, 1, 0, 4)


def test_unsequenced_events_are_counted_and_never_judged():
    c = feed([None, "7", True, 1.0], start=0)
    assert c["unsequenced"] == 4 and c["received"] == 4 and c["in_order"] == 0
    assert order_metric(dict(c), "out_of_order") is None  # nothing judged: not measured (fails closed)
    assert [seq_of(v) for v in (3, True, "3", None)] == [3, None, None, None]


def test_close_is_idempotent_and_a_bad_window_is_refused():
    counts: Counter = Counter()
    s = StreamOrder(counts, 0)
    s.observe(2)
    s.close()
    s.close()
    assert counts["lost"] == 1 and counts["expected"] == 2
    with pytest.raises(ValueError, match="window must be >= 1"):
        StreamOrder(counts, 0, window=0)


def test_reconnect_gap_is_missed_not_lost():
    assert missed_between(10, 25) == 15
    assert missed_between(None, 25) == 0 and missed_between(10, None) == 0 and missed_between(30, 25) == 0


def test_metrics_and_figures_from_summed_counts():
    assert order_metric({}, "lost") is None and ws_figures({}, 10.0) is None
    a, b = feed([1, 3, 2], start=0), feed([5, 7], start=4, window=10)
    counts = dict(Counter(a) + Counter(b))
    counts["stream_seconds"] = 20.0
    assert order_metric(counts, "out_of_order") == 1 and order_metric(counts, "lost") == 1
    assert order_metric(counts, "duplicated") == 0
    f = ws_figures(counts, duration_s=10.0)
    assert f is not None
    assert f["messages_received"] == 5 and f["messages_per_s"] == 0.5 and f["streams"] == 2
    assert (f["out_of_order"], f["lost"], f["duplicated"]) == (1, 1, 0)
    # 6 seqs expected over 20 connected seconds, 2 supervisors connected on average
    assert f["events_per_s"] == 0.3 and f["connected_supervisors"] == 2.0
    assert f["fan_out"].startswith("0.30 events/s x 2.00 connected supervisors = 0.60 messages/s expected")
