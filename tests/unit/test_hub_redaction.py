"""A greenlet that dies with a secret in its exception (a user whose on_start raised) prints it redacted."""

from __future__ import annotations

import io

import gevent

from erpload.core import redact as core
from erpload.locust.redaction import _redact_hub_stream


def test_dead_greenlet_traceback_is_redacted_on_the_hub_stream() -> None:
    hub = gevent.get_hub()
    before = hub.exception_stream
    sink = io.StringIO()
    hub.exception_stream = sink
    try:
        core.add_secret("hub-secret-Pa55word")
        _redact_hub_stream()
        _redact_hub_stream()  # idempotent: wrapped once

        def dies() -> None:
            raise RuntimeError("login refused for password hub-secret-Pa55word")

        gevent.spawn(dies).join()
        text = sink.getvalue()
        assert "RuntimeError: login refused for password" in text  # the traceback is still printed
        assert "hub-secret-Pa55word" not in text
        assert text.count("Traceback") == 1
    finally:
        hub.exception_stream = before
