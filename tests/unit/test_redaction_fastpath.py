"""The redacting `fire` runs the listeners as Locust's EventHook.fire does, with the secret already gone."""

from __future__ import annotations

from typing import Any

import pytest
from locust import log as locust_log
from locust.event import EventHook
from locust.exception import StopUser

from erpload.core import redact as core
from erpload.locust.redaction import _wrap_fire

SECRET = "fastpath-S3cret-value"


@pytest.fixture
def hook() -> EventHook:
    core.add_secret(SECRET)
    hook = EventHook()
    _wrap_fire(hook, "exception")
    return hook


def test_every_listener_gets_the_redacted_exception_and_a_none_passes_untouched(hook: EventHook) -> None:
    got: list[tuple[str, Any, Any]] = []
    hook.add_listener(lambda exception, context, **_: got.append(("a", exception, context)))
    hook.add_listener(lambda exception, context, **_: got.append(("b", exception, context)))
    context = {"role": "X"}
    hook.fire(exception=ValueError(f"token {SECRET} refused"), context=context)
    hook.fire(exception=None, context=context)
    assert [g[0] for g in got] == ["a", "b", "a", "b"]
    for _, exc, ctx in got[:2]:
        assert SECRET not in str(exc) and SECRET not in repr(exc) and "refused" in str(exc)
        assert ctx is context
    assert got[2][1] is None and got[3][1] is None


def test_a_failing_listener_is_logged_and_the_others_still_run(
    hook: EventHook, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def broken(**_: Any) -> None:
        raise RuntimeError("listener bug")

    hook.add_listener(broken)
    hook.add_listener(lambda **_: ran.append("after"))
    locust_log.unhandled_greenlet_exception = False
    try:
        hook.fire(exception=None)
        assert ran == ["after"]
        assert "Uncaught exception in event handler" in caplog.text and "listener bug" in caplog.text
        assert locust_log.unhandled_greenlet_exception is True
    finally:
        locust_log.unhandled_greenlet_exception = False


def test_control_flow_exceptions_go_through_and_reverse_keeps_locusts_order(hook: EventHook) -> None:
    order: list[int] = []
    hook.add_listener(lambda **_: order.append(1))
    hook.add_listener(lambda **_: order.append(2))
    hook.fire(reverse=True, exception=None)
    assert order == [2, 1]

    def stop(**_: Any) -> None:
        raise StopUser()

    hook.add_listener(stop)
    with pytest.raises(StopUser):
        hook.fire(exception=None)


def test_wrapping_twice_is_a_no_op(hook: EventHook) -> None:
    fire = hook.fire
    _wrap_fire(hook, "exception")
    assert hook.fire is fire
