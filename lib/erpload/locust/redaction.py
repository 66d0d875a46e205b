"""Redact once, where an error is recorded, so every sink (stats, CSV, HTML, web UI, reports, logs) inherits it.

`EventHook.fire` calls each listener with its own copy of the keyword arguments, so a listener
cannot hand the others a different `exception`; and Locust's stats listener is registered in
`Runner.__init__`, before any plugin runs. So `install_redaction` wraps the `fire` of the
`request` and `user_error` hooks themselves: every listener (Locust's stats, erpload's per-role
stats, a worker's report to the master) receives the redacted equivalent. Log records get the same
treatment through a filter on every handler (Locust's console tables, tracebacks, DEBUG lines).
"""

from __future__ import annotations

import logging
import os
import traceback
from typing import Any

from locust import log as locust_log
from locust.env import Environment
from locust.exception import (
    CatchResponseError,
    InterruptTaskSet,
    RescheduleTask,
    RescheduleTaskImmediately,
    StopTest,
    StopUser,
)

from erpload.core import redact as core
from erpload.users.credentials import pool

__all__ = ["RedactedError", "install_redaction", "redact_exception", "register_known_secrets"]

log = logging.getLogger(__name__)
SECRET_ENVS = ("ERP_SEED_PASSWORD", "ERPLOAD_WEB_PASSWORD")
# what Locust's EventHook.fire lets through a listener (locust/event.py)
_CONTROL = (StopUser, StopTest, RescheduleTask, RescheduleTaskImmediately, InterruptTaskSet)


class RedactedError(Exception):
    """Stands in for an exception whose text held a secret: same repr and str, secrets replaced."""

    def __init__(self, text: str, rep: str) -> None:
        super().__init__(text)
        self._repr = rep

    def __repr__(self) -> str:
        return self._repr

    def __str__(self) -> str:
        return str(self.args[0])


def redact_exception(exc: Any) -> Any:
    """`exc` itself if its text holds nothing to hide, else an equivalent whose repr/str are redacted."""
    if exc is None:
        return None
    if isinstance(exc, str):
        return core.redact(exc)
    if isinstance(exc, CatchResponseError):  # Locust's error table shows args[0] of these
        text = str(exc.args[0]) if exc.args else ""
        clean = core.redact(text)
        return exc if clean == text else CatchResponseError(clean)
    rep, text = repr(exc), str(exc)
    clean_rep, clean_text = core.redact(rep), core.redact(text)
    if clean_rep == rep and clean_text == text:
        return exc
    return RedactedError(clean_text, clean_rep)


def _redacted(field: str, exc: Any) -> Any:
    try:
        return redact_exception(exc)
    except Exception:  # never lose the event; never show what could not be checked
        log.exception("erpload: redacting a %s failed; its text is withheld", field)
        return RedactedError("error text withheld (redaction failed)", "RedactedError()")


def _wrap_fire(hook: Any, field: str) -> None:
    """Make `hook.fire` hand every listener a redacted `field` (idempotent; the global hook is shared).

    The wrapper runs the listeners itself, as Locust 2.47's `EventHook.fire` does (a copy of the
    list, control-flow exceptions raised, any other logged and flagged), so a request event costs
    one keyword dict less than calling the original `fire` from a wrapper (docs/performance.md).
    """
    if getattr(hook, "_erpload_redacting", False):
        return
    original = hook.fire

    def fire(*, reverse: bool = False, **kwargs: Any) -> Any:
        if kwargs.get(field) is not None:
            kwargs[field] = _redacted(field, kwargs[field])
        if reverse:
            return original(reverse=True, **kwargs)
        for handler in hook._handlers.copy():  # a copy: listeners may add or remove listeners
            try:
                handler(**kwargs)
            except _CONTROL:
                raise
            except Exception:
                logging.error("Uncaught exception in event handler: \n%s", traceback.format_exc())
                locust_log.unhandled_greenlet_exception = True
        return None

    hook.fire = fire
    hook._erpload_redacting = True


class RedactingFilter(logging.Filter):
    """Redact every log record's message, traceback and stack before a handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
            clean = core.redact(message)
            if clean != message:
                record.msg, record.args = clean, None
            if record.exc_info and not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if record.exc_text:
                record.exc_text = core.redact(record.exc_text)
            if record.stack_info:
                record.stack_info = core.redact(record.stack_info)
        except Exception:
            record.msg, record.args, record.exc_info, record.exc_text = "log line withheld", None, None, None
        return True


def _filter_handlers() -> None:
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for lg in loggers:
        for handler in lg.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())


def register_known_secrets(environ: Any = None) -> int:
    """Register the credential pool's passwords and the secret ERPLOAD/ERP environment variables."""
    environ = os.environ if environ is None else environ
    for name in SECRET_ENVS:
        core.add_secret(environ.get(name) or None)
    try:
        for password in pool().passwords():
            core.add_secret(password)
    except Exception as e:  # a bad credentials file is reported (exit 2) by the plugin, not here
        log.debug("erpload: credential pool not readable for redaction: %r", e)
    return core.default.known()


class _RedactingStream:
    """A text stream that redacts what it is given before passing it on (gevent's hub writes tracebacks here).

    gevent prints the traceback of a greenlet that died (a user whose `on_start` raised) straight to
    the hub's `exception_stream`, past every logging filter; a login's password could be in it.
    Tracebacks are written line by line, and a secret never spans lines.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._erpload_redacting = True

    def write(self, text: str) -> int:
        self._stream.write(core.redact(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _redact_hub_stream() -> None:
    import gevent  # the hub of this (main) thread: the one the users' greenlets run on

    hub = gevent.get_hub()
    stream = hub.exception_stream
    if stream and not getattr(stream, "_erpload_redacting", False):
        hub.exception_stream = _RedactingStream(stream)


def install_redaction(environment: Environment) -> None:
    """Redact every recorded request failure, user error and log line of this process (idempotent)."""
    register_known_secrets()
    _wrap_fire(environment.events.request, "exception")
    _wrap_fire(environment.events.user_error, "exception")
    _filter_handlers()
    _redact_hub_stream()
