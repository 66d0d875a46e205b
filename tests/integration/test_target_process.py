"""The reference ERP as a process: listening line, seeding and reuse, flags, clean exits on signals."""

from __future__ import annotations

import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from erp_target.config import build_parser

from helpers import PY, Proc, Target

LISTEN = r"listening on (http://127\.0\.0\.1:(\d+))"


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory):
    """One seeded DB for the module (`--seed-only`); tests copy it, so each start is a fast reuse."""
    tmp = tmp_path_factory.mktemp("seed")
    p = Proc([PY, "-m", "erp_target", "--seed-only", "--db", str(tmp / "seed.db")], name="seed", log_dir=tmp)
    assert p.wait(timeout=60) == 0, p.tail()
    return tmp / "seed.db", p.output


def _copy(seeded_db, tmp_path, name="t.db"):
    dst = tmp_path / name
    shutil.copy(seeded_db[0], dst)
    return dst


def test_seed_counts_and_time(seeded_db):
    out = seeded_db[1]
    assert "seeded 10000 manufacturing orders" in out and "50000 stock items" in out and "390 users" in out
    seconds = float(out.split(" in ")[1].split("s ")[0])
    assert seconds < 10, out  # target < 3 s on a dev box; generous for loaded CI runners


def test_reuses_seeded_db_and_exits_cleanly_on_sigterm(seeded_db, tmp_path):
    t = Target(tmp_path, db=_copy(seeded_db, tmp_path))
    assert t.proc.output.count("listening on") == 1
    assert "reusing seeded db" in t.proc.output and not t.proc.output.startswith("seeded ")
    assert requests.get(t.url + "/health", timeout=5).json()["status"] == "ok"
    t.proc.signal(signal.SIGTERM)
    assert t.proc.wait(timeout=15) == 0
    assert "Traceback" not in t.proc.output


def test_sigint_exit_code_zero_with_open_connections(seeded_db, tmp_path):
    t = Target(tmp_path, db=_copy(seeded_db, tmp_path))
    s = requests.Session()  # an idle keep-alive connection must not delay shutdown
    s.get(t.url + "/health", timeout=5)
    t0 = time.monotonic()
    t.proc.signal(signal.SIGINT)
    assert t.proc.wait(timeout=15) == 0
    assert time.monotonic() - t0 < 5
    assert "Traceback" not in t.proc.output and "KeyboardInterrupt" not in t.proc.output


def test_hung_request_does_not_block_shutdown(seeded_db, tmp_path):
    t = Target(tmp_path, "--hang-rate", "1", "--hang-path", "^/auth/login$", db=_copy(seeded_db, tmp_path))
    outcome: list[object] = []

    def hang():
        try:
            outcome.append(requests.post(t.url + "/auth/login", json={}, timeout=30).status_code)
        except requests.RequestException as e:
            outcome.append(e)

    th = threading.Thread(target=hang, daemon=True)
    th.start()
    deadline = time.monotonic() + 10  # wait until the server has the request (counted as hanging)
    while 'erp_faults_injected_total{kind="hang"}' not in requests.get(t.url + "/metrics", timeout=5).text:
        assert time.monotonic() < deadline, "the hang fault never fired"
        time.sleep(0.05)  # poll interval of a bounded wait
    t0 = time.monotonic()
    t.proc.signal(signal.SIGINT)
    assert t.proc.wait(timeout=15) == 0
    assert time.monotonic() - t0 < 5
    th.join(timeout=10)
    assert outcome and isinstance(outcome[0], requests.ConnectionError), outcome
    assert "Traceback" not in t.proc.output


def test_main_function_entry_point(seeded_db, tmp_path):
    """`erp_target.__main__.main(argv)` is what `erpload target` calls: same flags, returns the code."""
    code = "import sys; from erp_target.__main__ import main; sys.exit(main(sys.argv[1:]))"
    p = Proc(
        [PY, "-c", code, "--port", "0", "--db", str(_copy(seeded_db, tmp_path))],
        name="main-fn",
        log_dir=tmp_path,
    )
    m = p.expect(LISTEN, timeout=60)
    assert requests.get(m.group(1) + "/health", timeout=5).status_code == 200
    assert p.stop() == 0


def test_temp_db_when_no_db_flag(tmp_path):
    p = Proc(
        [PY, "-m", "erp_target", "--port", "0", "--seed-password", "s3cret-for-test"],
        name="tempdb",
        log_dir=tmp_path,
    )
    url = p.expect(LISTEN, timeout=90).group(1)
    db = Path(p.expect(r"temporary file (\S+), removed at exit").group(1))
    assert db.exists() and "s3cret-for-test" not in p.output
    r = requests.post(
        url + "/auth/login", json={"username": "qc01", "password": "s3cret-for-test"}, timeout=10
    )
    assert r.status_code == 200
    assert p.stop() == 0
    assert not db.parent.exists(), "the temporary DB directory is removed at exit"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--error-rate", "2"], "--error-rate"),
        (["--latency-path", "(unclosed"], "--latency-path"),
        (["--port", "70000"], "--port"),
        (["--bogus-flag"], "--bogus-flag"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(tmp_path, args, needle):
    p = Proc([PY, "-m", "erp_target", *args], name="badflag", log_dir=tmp_path)
    assert p.wait(timeout=30) == 2
    assert needle in p.output and "Traceback" not in p.output


def test_port_in_use_is_a_clean_error(seeded_db, tmp_path):
    t = Target(tmp_path, db=_copy(seeded_db, tmp_path))
    p = Proc(
        [PY, "-m", "erp_target", "--port", str(t.port), "--db", str(_copy(seeded_db, tmp_path, "b.db"))],
        name="busy",
        log_dir=tmp_path,
    )
    assert p.wait(timeout=60) == 1
    assert "cannot listen" in p.output and "Traceback" not in p.output
    t.stop()


def test_not_an_erp_db_is_refused(tmp_path):
    import sqlite3

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as c:
        c.execute("CREATE TABLE precious (x)")
    p = Proc([PY, "-m", "erp_target", "--port", "0", "--db", str(foreign)], name="foreign", log_dir=tmp_path)
    assert p.wait(timeout=30) == 1
    assert "not a seeded erp_target database" in p.output and "Traceback" not in p.output
    with sqlite3.connect(foreign) as c:
        assert c.execute("SELECT name FROM sqlite_master").fetchall() == [("precious",)]


def test_help_lists_every_fault_flag():
    text = build_parser().format_help()
    for flag in (
        "--latency-ms",
        "--latency-jitter-ms",
        "--latency-path",
        "--error-rate",
        "--error-path",
        "--hang-rate",
        "--hang-path",
        "--malformed-rate",
        "--malformed-path",
        "--reset-rate",
        "--reset-path",
        "--leak-kb",
        "--slow-db-ms",
        "--racy-stock",
        "--db",
        "--seed-password",
        "--jwt-secret",
        "--token-ttl",
        "--access-log",
        "--host",
        "--port",
    ):
        assert flag in text, flag
