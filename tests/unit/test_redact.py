"""Redaction: every encoding of a known secret, secret-shaped values, redact-before-digit-masking, and the
Locust wiring (a recorded failure, a user error and a log line never keep a secret)."""

from __future__ import annotations

import base64
import json
import logging
import re
from urllib.parse import quote, quote_plus

import pytest
from locust import User
from locust.env import Environment
from locust.exception import CatchResponseError

from erpload.core.errors import ConfigError
from erpload.core.redact import MARK, MAX_TOKENS, Redactor, encodings
from erpload.locust import redaction
from erpload.users import credentials as cr
from erpload.users.settings import DEFAULT_MAX_BODY, Settings
from erpload.users.transport import fmt_size

CANARY = "Can\"ary\\pw-7Q/'x+y%z"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbjAxIiwiZXhwIjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJlLTEyMzQ1Njc4OTA"


@pytest.fixture
def r() -> Redactor:
    red = Redactor()
    red.add_secret(CANARY)
    return red


def forms_of(secret: str) -> dict[str, str]:
    once = json.dumps(secret)
    return {
        "raw": secret,
        "json": once[1:-1],
        "json-in-json": json.dumps(once)[1:-1],
        "repr": repr(secret),
        "quote": quote(secret, safe=""),
        "quote-path": quote(secret),
        "quote_plus": quote_plus(secret),
        "lower-hex": re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(secret, safe="")),
        "basic": base64.b64encode(f"cutting001:{secret}".encode()).decode(),
        "b64-urlsafe": base64.urlsafe_b64encode(secret.encode()).decode(),
        "digits-masked": re.sub(r"\d+", "#", secret),
        "html": "Can&quot;ary\\pw-7Q/&#x27;x+y%z",
    }


@pytest.mark.parametrize("form", list(forms_of(CANARY)))
def test_every_encoding_of_a_known_secret_is_hidden(r: Redactor, form: str):
    text = forms_of(CANARY)[form]
    out = r.redact(f'HTTP 401 (expected 200): {{"echo": "{text}"}} tail')
    assert text not in out and MARK in out, out
    assert "pw-7Q" not in out and "ary\\" not in out, out
    assert out.endswith(" tail")


def test_a_login_body_echoed_in_json_hides_the_escaped_password(r: Redactor):
    body = json.dumps({"you_sent": json.dumps({"username": "cutting001", "password": CANARY})})
    out = r.redact(body)
    assert "ary" not in out and "cutting001" in out, out


def test_jwts_bearer_and_basic_are_hidden_by_shape_even_unknown():
    red = Redactor()
    for text in (
        f"token {JWT} end",
        f"Authorization: Bearer {JWT}",
        "authorization: bearer opaque-Token_value.123+/=",
        "Basic Y3V0dGluZzAwMTpzZWNyZXQ=",
        JWT[:70],  # cut by an evidence limit: header and part of the payload
        re.sub(r"\d+", "#", JWT),  # digit-masked before it reached us
    ):
        out = red.redact(text)
        assert "eyJ" not in out and "opaque-Token" not in out and "Y3V0" not in out, out
        assert MARK in out


def test_secret_named_fields_are_hidden_by_shape():
    red = Redactor()
    out = red.redact('{"username": "qc01", "password": "hunter2x", "access_token": "abc.def", "n": 5}')
    assert "hunter2x" not in out and "abc.def" not in out and '"qc01"' in out and '"n": 5' in out, out
    out = red.redact("POST /auth/login body username=qc01&password=hunter2x&x=1")
    assert "hunter2x" not in out and "x=1" in out, out


def test_registered_tokens_are_hidden_and_bounded():
    red = Redactor()
    assert red.add_token("opaque_tok.ABCdef123456789")
    for text in (
        '{"detail": "session opaque_tok.ABCdef123456789 expired"}',
        "GET /x?sid=opaque_tok.ABCdef123456789&page=2",
        "the session was opaque_tok.ABCdef123456789.",
        "session opaque_tok.ABCdef#",  # digit-masked before it reached us
    ):
        out = red.redact(text)
        assert "ABCdef" not in out and MARK in out, out
    for i in range(MAX_TOKENS + 10):
        red.add_token(f"tok-{i:08d}-xxxxxxxx")
    assert red.known() == MAX_TOKENS


def test_redaction_runs_before_digit_masking():
    red = Redactor()
    red.add_secret("p4ss-w0rd")
    assert red.scrub(f"p4ss-w0rd {JWT} order 1234") == f"{MARK} {MARK} order #"
    masked_first = re.sub(r"\d+", "#", f"p4ss-w0rd {JWT}")  # the old order: what used to be recorded
    assert "eyJhbGciOiJIUzI#NiJ#" in masked_first  # ... the token survived, only its digits masked


def test_ordinary_error_text_is_untouched_and_short_secrets_ignored():
    red = Redactor()
    assert not red.add_secret("ab") and red.known() == 0
    red.add_secret("erpload-demo")
    text = 'HTTP 500 (expected 200): {"error": "internal", "id": 42} URL http://127.0.0.1:8080/x: code=500'
    assert red.redact(text) == text
    assert {"erpload-demo"} <= encodings("erpload-demo")


@pytest.fixture
def env() -> Environment:
    class Nobody(User):
        pass

    environment = Environment(user_classes=[Nobody])
    environment.create_local_runner()
    return environment


@pytest.fixture
def canary_pool(monkeypatch: pytest.MonkeyPatch):
    pool = cr.CredentialPool({"qc": [cr.Credential("qc01", cr.Secret(CANARY))]}, "test")
    cr.reset_pool(pool)
    monkeypatch.setenv("ERPLOAD_WEB_PASSWORD", "web-Pa55word!")
    yield
    cr.reset_pool(None)


def test_recorded_failures_and_user_errors_never_keep_a_secret(env: Environment, canary_pool):
    redaction.install_redaction(env)
    redaction.install_redaction(env)  # idempotent: one wrapper
    seen: list = []
    env.events.request.add_listener(lambda exception=None, **_: seen.append(exception))
    for exc in (
        CatchResponseError(f'HTTP 401: {{"you_sent": {json.dumps(CANARY)}, "t": "{JWT}"}}'),
        ConnectionError(f"reset while sending Bearer {JWT}"),
        RuntimeError("web password web-Pa55word! leaked"),
    ):
        env.events.request.fire(
            request_type="GET", name="/x", response_time=1, response_length=0, response=None,
            context={}, exception=exc, start_time=0, url="",
        )  # fmt: skip
    env.events.user_error.fire(user_instance=None, exception=ValueError(CANARY), tb=None)
    assert len(seen) == 3 and isinstance(seen[0], CatchResponseError)
    recorded = json.dumps([e.serialize() for e in env.stats.errors.values()]) + repr(seen)
    recorded += json.dumps([row["msg"] for row in env.runner.exceptions.values()])
    for leak in ("ary", "pw-7Q", "eyJ", "Pa55word"):
        assert leak not in recorded, recorded
    assert recorded.count(MARK) >= 4 and "ConnectionError(" in recorded  # same shape, secrets replaced


def test_log_lines_and_tracebacks_are_redacted(
    env: Environment, canary_pool, caplog: pytest.LogCaptureFixture
):
    handler = logging.StreamHandler()
    logging.getLogger().addHandler(handler)
    try:
        redaction.install_redaction(env)
        assert any(isinstance(f, redaction.RedactingFilter) for f in handler.filters)
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "login %s -> %r", (CANARY, JWT), None)
        try:
            raise ValueError(f"password={CANARY}")
        except ValueError:
            import sys

            record.exc_info = sys.exc_info()
        redaction.RedactingFilter().filter(record)
        text = handler.format(record)
        assert "ary" not in text and "eyJ" not in text and "ValueError" in text, text
    finally:
        logging.getLogger().removeHandler(handler)


def test_known_secrets_come_from_the_pool_and_the_environment(canary_pool):
    red_before = redaction.core.default.known()
    redaction.register_known_secrets(
        {"ERP_SEED_PASSWORD": "seed-Secret-9", "ERPLOAD_WEB_PASSWORD": "w3b-Secret"}
    )
    assert redaction.core.default.known() >= red_before
    out = redaction.core.redact(f"{CANARY} seed-Secret-9 w3b-Secret")
    assert out == f"{MARK} {MARK} {MARK}", out


@pytest.mark.parametrize(
    ("raw", "expected"), [("", DEFAULT_MAX_BODY), ("10MB", 10**7), ("512KiB", 512 * 1024), ("2048", 2048)]
)
def test_max_body_setting(raw: str, expected: int):
    assert Settings.from_env({"ERPLOAD_MAX_BODY": raw}).max_body == expected
    assert fmt_size(DEFAULT_MAX_BODY) == "10 MiB"


@pytest.mark.parametrize("raw", ["10 parsecs", "-1MB", "1.5B", "12"])
def test_max_body_setting_rejects_bad_values_naming_the_variable(raw: str):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"ERPLOAD_MAX_BODY": raw})
    assert "ERPLOAD_MAX_BODY" in err.value.render() and raw in err.value.render()
