"""Credential pool: sources, round-robin hand-out, masking, and errors people can act on (no locust import)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from erpload.api import ApiMap, reference_map
from erpload.core.domain import CREDENTIAL_KEYS
from erpload.core.errors import ConfigError, ExitCode
from erpload.users import api
from erpload.users import credentials as cr


def test_pure_module_does_not_import_locust() -> None:
    code = "import sys, erpload.users.credentials; assert 'locust' not in sys.modules and 'gevent' not in sys.modules"
    subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=60
    )  # a fresh process: pytest may have locust


def test_seeded_accounts_follow_the_roles_table() -> None:
    accounts = cr.seeded_accounts("pw")
    assert set(accounts) == set(CREDENTIAL_KEYS)
    sizes = {role: len(v) for role, v in accounts.items()}
    assert sizes == {
        "admin": 10,
        "ppic": 30,
        "cutting": 100,
        "sewing": 100,
        "finishing": 60,
        "qc": 60,
        "warehouse": 30,
    }
    names = {role: (v[0].username, v[-1].username) for role, v in accounts.items()}
    assert names["admin"] == ("admin01", "admin10")
    assert names["cutting"] == ("cutting001", "cutting100")
    assert names["finishing"] == ("finishing001", "finishing060")
    assert names["qc"] == ("qc01", "qc60")
    assert names["warehouse"] == ("warehouse01", "warehouse30")


def test_seed_password_from_env_else_default() -> None:
    p = cr.load_pool({})
    assert p.next("qc").password.reveal() == cr.DEFAULT_SEED_PASSWORD
    p = cr.load_pool({"ERP_SEED_PASSWORD": "s3cret"})
    assert p.next("qc").password.reveal() == "s3cret"
    assert "seeded" in p.source


def test_round_robin_unique_then_reused() -> None:
    p = cr.CredentialPool({"admin": [cr.Credential(f"a{i}", cr.Secret("x")) for i in range(3)]}, "test")
    assert [p.next("admin").username for _ in range(7)] == ["a0", "a1", "a2", "a0", "a1", "a2", "a0"]
    assert p.size("admin") == 3 and p.size("qc") == 0


def test_roles_are_independent_and_workers_interleave() -> None:
    accounts = {
        "qc": [cr.Credential(f"q{i}", cr.Secret("x")) for i in range(6)],
        "ppic": [cr.Credential("p0", cr.Secret("x"))],
    }
    w0, w1 = cr.CredentialPool(accounts, "t"), cr.CredentialPool(accounts, "t")
    assert [w0.next("qc", 0, 2).username for _ in range(3)] == ["q0", "q2", "q4"]
    assert [w1.next("qc", 1, 2).username for _ in range(3)] == ["q1", "q3", "q5"]
    assert w0.next("ppic").username == "p0"


def test_unknown_role_in_pool_names_the_fix() -> None:
    p = cr.CredentialPool({"admin": [cr.Credential("a", cr.Secret("x"))]}, "credentials file c.yaml")
    with pytest.raises(ConfigError) as e:
        p.next("qc")
    text = str(e.value)
    assert "c.yaml" in text and "no accounts for role 'qc'" in text and "admin" in text and "Add 'qc:" in text
    assert e.value.exit_code == ExitCode.CONFIG_INVALID


def test_secret_is_masked_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    cred = cr.Credential("qc01", cr.Secret("hunter2-xyz"))
    shown = [
        repr(cred),
        str(cred),
        f"{cred.password}",
        f"{cred.password:>20}",
        str(cred.password),
        repr(cr.seeded_accounts("hunter2-xyz")["qc"][:2]),
        json.dumps({"p": str(cred.password)}),
    ]
    logging.getLogger("t").warning("login %s %r", cred, cred.password)
    assert all("hunter2" not in s for s in shown)
    assert "hunter2" not in caplog.text
    assert "qc01" in repr(cred) and "****" in repr(cred)
    assert cred.password.reveal() == "hunter2-xyz"
    assert cr.Secret("a") == cr.Secret("a") and cr.Secret("a") != cr.Secret("b")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_file_source_wins(tmp_path: Path, suffix: str) -> None:
    data = {
        "cutting": [{"username": "op1", "password": "p1"}, {"username": "op2", "password": "p2"}],
        "qc": [{"username": "insp", "password": "p3"}],
    }
    f = tmp_path / f"creds{suffix}"
    f.write_text(
        json.dumps(data)
        if suffix == ".json"
        else "cutting:\n  - {username: op1, password: p1}\n  - {username: op2, password: p2}\n"
        "qc:\n  - username: insp\n    password: p3\n"
    )
    p = cr.load_pool({"ERPLOAD_CREDENTIALS": str(f), "ERP_SEED_PASSWORD": "ignored"})
    assert [p.next("cutting").username for _ in range(3)] == ["op1", "op2", "op1"]
    assert p.next("qc").password.reveal() == "p3"
    assert p.size("admin") == 0 and str(f) in p.source


def _problems(tmp_path: Path, text: str, name: str = "c.yaml") -> str:
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        cr.load_file(f)
    return str(e.value)


def test_bad_file_lists_every_problem_without_echoing_passwords(tmp_path: Path) -> None:
    text = _problems(
        tmp_path,
        "cuting:\n  - {username: a, password: topsecret}\n"
        "qc: []\n"
        "sewing:\n  - {username: s1}\n  - {username: s2, password: 12345}\n"
        "  - {username: s3, password: topsecret, role: x}\n  - {username: s3, password: pw}\n"
        "admin: nope\n",
    )
    assert text.startswith("Error: credentials file ") and "c.yaml" in text and "ERPLOAD_CREDENTIALS" in text
    assert "cuting" not in text  # any name is a pool key: a typo shows up in check_roles (see below)
    assert "qc: must be a non-empty list" in text
    assert "sewing[0].password: must be a non-empty string (got missing)" in text
    assert "sewing[1].password: must be a non-empty string (got a int)" in text and "Quote it" in text
    assert "sewing[2]: unknown keys ['role']" in text
    assert "sewing[3].username: duplicate username 's3'" in text
    assert "admin: must be a non-empty list of accounts (got str)" in text
    assert "topsecret" not in text and "12345" not in text


def test_unreadable_and_unparseable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        cr.load_file(tmp_path / "missing.yaml")
    assert "cannot read it" in str(e.value) and "missing.yaml" in str(e.value)
    text = _problems(tmp_path, "qc:\n  - {username: a, password: b\n  - x: : y\n")
    assert "YAML syntax error" in text and "line 3" in text
    assert "invalid JSON" in _problems(tmp_path, '{"qc": [}', "c.json")
    assert "top level must be a mapping (got list)" in _problems(tmp_path, "- a\n- b\n")


def test_process_pool_is_lazy_and_resettable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cr.reset_pool()
    monkeypatch.setenv("ERPLOAD_CREDENTIALS", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError):
        cr.pool()
    monkeypatch.delenv("ERPLOAD_CREDENTIALS")
    monkeypatch.setenv("ERP_SEED_PASSWORD", "x")
    assert cr.pool() is cr.pool() and cr.pool().next("admin").username == "admin01"
    cr.reset_pool()


def test_check_roles_names_every_missing_key_and_who_needs_it() -> None:
    pool = cr.CredentialPool(
        {"admin": [cr.Credential("a1", cr.Secret("pw"))], "qc": [cr.Credential("q1", cr.Secret("pw"))]},
        "credentials file c.yaml",
    )
    cr.check_roles(pool, {"Admin": "admin", "QcInspector": "qc"})  # every key present: no error
    with pytest.raises(ConfigError) as e:
        cr.check_roles(
            pool,
            {"Admin": "admin", "CuttingOperator": "cutting", "Supervisor": "ppic", "PpicPlanner": "ppic"},
        )
    assert e.value.exit_code == ExitCode.CONFIG_INVALID
    text = e.value.render()
    assert text.startswith("Error: credentials file c.yaml is not valid:")
    assert "no accounts for role key 'cutting', needed by CuttingOperator" in text
    assert "no accounts for role key 'ppic', needed by PpicPlanner, Supervisor" in text
    assert "keys with accounts: admin, qc" in text and "'admin'" not in text.split("keys with")[0]
    assert [p.where for p in e.value.problems] == ["cutting", "ppic"]


def test_credentials_yaml_is_read_within_bounds(tmp_path: Path) -> None:
    """Duplicate keys and an anchor bomb are configuration errors, not a silent pick or an exhausted generator."""
    dup = tmp_path / "dup.yaml"
    dup.write_text("admin: [{username: a, password: b}]\nadmin: [{username: c, password: d}]\n")
    with pytest.raises(ConfigError, match="duplicate key 'admin'"):
        cr.load_file(dup)
    rows = ["a: &a [1,1,1,1,1,1,1,1,1,1]"]
    rows += [f"{n}: &{n} [{', '.join(['*' + p] * 10)}]" for p, n in zip("abcdef", "bcdefg", strict=True)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(rows) + "\n")  # 10**7 values once expanded
    with pytest.raises(ConfigError, match="anchor bomb"):
        cr.load_file(bomb)


def test_any_pool_key_is_allowed_but_must_be_a_name(tmp_path: Path) -> None:
    """A team's ERP has its own roles: any name is a pool key; what is not a name says how to write one."""
    f = tmp_path / "c.yaml"
    f.write_text(
        "line-lead:\n  - {username: ll1, password: p1}\nqc.night:\n  - {username: n1, password: p2}\n"
    )
    p = cr.load_pool({"ERPLOAD_CREDENTIALS": str(f)})
    assert p.keys() == ["line-lead", "qc.night"] and p.next("line-lead").username == "ll1"
    text = _problems(tmp_path, "'': [{username: a, password: b}]\n'with space': [{username: a, password: b}]\n"
                     "7: [{username: a, password: b}]\n_x: [{username: a, password: b}]\n")  # fmt: skip
    for key in ("''", "'with space'", "7", "'_x'"):
        assert f"role key {key} is not a name" in text, (key, text)
    assert "Use letters, digits" in text and "API map" in text


def test_check_roles_reads_pools_through_the_api_map() -> None:
    """Role key -> pool key as the map says; a missing pool names both, and the closest key that has accounts."""
    pool = cr.CredentialPool(
        {
            "floor-ops": [cr.Credential("f1", cr.Secret("pw"))],
            "cuting": [cr.Credential("c1", cr.Secret("pw"))],
        },
        "credentials file c.yaml",
    )
    doc = {"version": 1, "name": "team", "roles": {"sewing": "floor-ops", "qc": "quality"}}
    team = ApiMap.from_dict(doc, "team.yaml", reference=reference_map())
    cr.check_roles(pool, {"SewingOperator": "sewing"}, team)  # sewing logs in from floor-ops: present
    with pytest.raises(ConfigError) as e:
        cr.check_roles(
            pool, {"SewingOperator": "sewing", "QcInspector": "qc", "CuttingOperator": "cutting"}, team
        )
    text = e.value.render()
    assert [p.where for p in e.value.problems] == ["cutting", "quality"]
    assert (
        "no accounts for role key 'quality' (the API map's pool for role key 'qc'), needed by QcInspector"
        in text
    )
    assert "no accounts for role key 'cutting', needed by CuttingOperator" in text
    assert "Did you mean 'cuting'?" in text and "keys with accounts: cuting, floor-ops" in text
    with pytest.raises(ConfigError, match="role key 'sewing', needed by SewingOperator"):
        cr.check_roles(pool, {"SewingOperator": "sewing"})  # no map: the keys are pool keys already
    cr.check_roles(pool, {"SewingOperator": "floor-ops"})


def test_api_for_prefers_the_shipped_map_built_once_then_the_configured_one() -> None:
    class Env:
        def __init__(self, shipped: object) -> None:
            self.parsed_options = type("Opts", (), {"erpload_api_map": shipped})()

    team = ApiMap.from_dict(
        {"version": 1, "name": "team", "base_path": "/api/v9"}, "team.yaml", reference=reference_map()
    )
    assert api.api_for(Env(None)) is reference_map() and api.current_api() is reference_map()
    api.configure_api(team)
    try:
        assert api.api_for(Env(None)) is team and api.api_for(object()) is team
        shipped = team.to_dict()
        first = api.api_for(Env(shipped))
        assert first.base_path == "/api/v9" and first.source == "team.yaml" and first is not team
        assert (
            api.api_for(Env(shipped)) is first and api.api_for(Env(json.loads(json.dumps(shipped)))) is first
        )
        assert api.api_for(Env(reference_map().to_dict())) is reference_map()
    finally:
        api.configure_api(None)
    assert api.current_api() is reference_map()
