"""`erpload demo | run | ui`: build the Locust command line, check inputs before any load, run it.

`run` and `ui` replace this process with Locust (`os.execv`): signals from a terminal, `kill`,
Docker or Kubernetes reach Locust itself (no orphaned run that later writes "pass", no traceback),
and the exit code is Locust's. `demo` must also stop the reference ERP, so it stays the parent and
forwards SIGINT/SIGTERM (`children.run_forwarding`); it passes the reference ERP's PID to Locust
(`--target-pid`), so the Resources section has the target's CPU, RSS and leak verdict. The demo
uses the same think times as `erpload run` (each role's own, or ERPLOAD_THINK_TIME for both).

Role users and profiles are found by `erpload.cli.paths` (package data, from any directory). A
team's own `-f` locustfile runs with the shipped `harness.py` beside it, which installs erpload, so
the locustfile itself needs no import of erpload.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from erpload.cli.paths import harness, locustfile_arg, profile_path
from erpload.core.errors import ConfigError, ExitCode, Problem
from erpload.core.hosts import host_problems
from erpload.report.history_pool import check_baseline
from erpload.report.writer import check_report_dir

EXPECT_WORKERS_MAX_WAIT_S = 120  # `erpload run --master`/`--workers`: give up on missing workers
T = TypeVar("T")


def locustfiles(locustfile: str | None) -> str:
    """Locust's -f: the shipped role users, or the team's locustfile(s) plus the shipped harness.py
    (which installs erpload's options, shape and reports; loading it twice is harmless)."""
    if not locustfile:
        return locustfile_arg(None)
    return f"{locustfile_arg(locustfile)},{harness()}"


def locust_cmd(
    profile: Path, host: str, report_dir: Path | None, extra: Sequence[str], files: str | None = None
) -> list[str]:
    """The headless `python -m locust` command line for a profile run (`files`: Locust's -f)."""
    cmd = [sys.executable, "-m", "locust", "-f", files or locustfiles(None), "--headless"]
    cmd += ["--load-profile", str(profile), "-H", host, "--only-summary"]
    if report_dir is not None:
        cmd += ["--report-dir", str(report_dir)]
    return cmd + list(extra)


def _option(args: Sequence[str], name: str, env_var: str) -> str:
    """The value of `--name X` / `--name=X` among Locust's args (last wins), else $env_var."""
    value = os.environ.get(env_var, "")
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
    return value


def resolve(ns: argparse.Namespace) -> tuple[Path, str]:
    """The profile file and Locust's -f for `run` / `ui`, or one ConfigError listing every problem
    of both, the host, the report dir and the baseline (see `preflight`)."""
    problems: list[Problem] = []
    profile = _checked(lambda: profile_path(ns.profile), problems)
    files = _checked(lambda: locustfiles(ns.locustfile), problems)
    ns.host = preflight(ns.host, None, ns.locust_args, problems)
    assert profile is not None and files is not None  # preflight raised otherwise
    return profile, files


def _checked(check: Callable[[], T], problems: list[Problem]) -> T | None:
    try:
        return check()
    except ConfigError as e:
        problems += e.problems
        return None


def preflight(
    host: str | None, report_dir: str | None, locust_args: Sequence[str], earlier: Sequence[Problem] = ()
) -> str:
    """Every check that must pass before any load: the normalised host, or one ConfigError (exit 2)
    listing every problem of the host, the report dir, the baseline and the API map (after `earlier`
    ones). Whether the map fits the target is the plugin's check, at start."""
    problems: list[Problem] = [*earlier, *host_problems(host, where="-H / --host")]
    if report_dir := report_dir or _option(locust_args, "--report-dir", "ERPLOAD_REPORT_DIR"):
        try:
            check_report_dir(report_dir)
        except ConfigError as e:
            problems += e.problems
    if baseline := _option(locust_args, "--baseline", "ERPLOAD_BASELINE"):
        try:
            check_baseline(baseline, _option(locust_args, "--history", "ERPLOAD_HISTORY"))
        except ConfigError as e:
            for p in e.problems:
                where = p.where if p.where.startswith(baseline) else f"{baseline}: {p.where}"
                problems.append(Problem(f"--baseline {where}", p.message, p.fix))
    if api_map := _option(locust_args, "--api-map", "ERPLOAD_API_MAP"):
        from erpload.api import validate_api_map_file

        for p in validate_api_map_file(api_map):
            problems.append(
                Problem(f"--api-map {api_map}" + (f": {p.where}" if p.where else ""), p.message, p.fix)
            )
    if problems:
        raise ConfigError("the command line", problems)
    assert host is not None
    return host.rstrip("/")


def _exec(cmd: list[str]) -> int:
    """Become `cmd` (same PID, same process group); returns only if exec itself failed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
    raise AssertionError("unreachable")  # pragma: no cover


def cmd_run(ns: argparse.Namespace) -> int:
    """Run a profile headless against --host (any ERP), in-process or with local worker processes."""
    profile, files = resolve(ns)
    cmd = locust_cmd(profile, ns.host, None, ns.locust_args, files)
    if ns.workers:
        cmd += ["--processes", str(ns.workers)]
    if (ns.workers or "--master" in ns.locust_args) and not any(
        a.startswith("--expect-workers-max-wait") for a in ns.locust_args
    ):
        # Locust alone waits forever for missing workers; ours gives up with a clear error (exit 2)
        cmd += ["--expect-workers-max-wait", str(EXPECT_WORKERS_MAX_WAIT_S)]
    return _exec(cmd)


def ui_command(ns: argparse.Namespace) -> list[str]:
    """The locust command line for `erpload ui`; ConfigError when a non-loopback UI has no login."""
    from erpload.web.login import PASSWORD_ENV, USER_ENV, configured_credentials, is_loopback

    profile, files = profile_path(ns.profile), locustfiles(getattr(ns, "locustfile", None))
    cmd = [sys.executable, "-m", "locust", "-f", files, "--load-profile", str(profile)]
    cmd += ["-H", ns.host, "--web-host", ns.web_host, "--web-port", str(ns.web_port)]
    if not is_loopback(ns.web_host):
        if configured_credentials() is None:
            raise ConfigError(
                "--web-host " + ns.web_host,
                [
                    f"a web UI reachable from other machines needs a login: set {USER_ENV} and {PASSWORD_ENV} "
                    "(or leave --web-host at 127.0.0.1 and use an SSH tunnel)"
                ],
            )
        cmd.append("--web-login")
    return cmd + list(ns.locust_args)


def cmd_ui(ns: argparse.Namespace) -> int:
    """Start Locust's web UI (127.0.0.1 unless --web-host) with a profile pre-selected in the form."""
    resolve(ns)
    cmd = ui_command(ns)
    print(f"erpload: web UI on http://{ns.web_host}:{ns.web_port} (Ctrl+C to stop)", flush=True)
    return _exec(cmd)


def cmd_demo(ns: argparse.Namespace, target_args: list[str]) -> int:
    """Start the reference ERP, run a profile headless against it, print the verdict, stop it."""
    from erpload.cli.children import interrupt_on_sigterm, run_forwarding, start_target

    interrupt_on_sigterm()  # a SIGTERM while the reference ERP starts must stop it too (exit 5)

    profile = profile_path(ns.profile)
    report_dir = Path(ns.report_dir or f"reports/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    check_report_dir(report_dir)
    with tempfile.TemporaryDirectory(prefix="erpload-demo-") as tmp:
        print(f"erpload demo: starting the reference ERP {' '.join(target_args)}".rstrip(), flush=True)
        target = start_target(target_args, Path(tmp) / "erp.db", timeout=ns.target_timeout)
        assert target.url is not None
        print(
            f"erpload demo: reference ERP at {target.url}; running {profile} (reports -> {report_dir})",
            flush=True,
        )
        cmd = locust_cmd(profile, target.url, report_dir, ["--target-pid", str(target.popen.pid)])
        if ns.workers:
            cmd += ["--processes", str(ns.workers)]
        try:
            rc = run_forwarding(cmd)
        finally:
            target.stop()
    print_verdict(report_dir)
    print(f"erpload demo: exit code {rc} ({exit_name(rc)}); reports in {report_dir}/", flush=True)
    return rc


def print_verdict(report_dir: Path) -> None:
    """Repeat the verdict after Locust's long final tables, from summary.json (if the run wrote one)."""
    try:
        summary = json.loads((report_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return
    rows = summary.get("sla") or []
    width = min(70, max((len(r.get("rule", "")) for r in rows), default=0))
    print(f"\n== verdict: {str(summary.get('verdict', '?')).upper()} == ({think_time_text()})")
    for r in rows:
        print(
            f"SLA {'PASS' if r.get('passed') else 'FAIL'}  {r.get('rule', ''):<{width}}   {r.get('detail', '')}"
        )
    for item in summary.get("invalid") or []:
        print(f"INVALID  {item.get('reason')}: {item.get('detail')}")
    for note in summary.get("notes") or []:
        print(f"note: {note}")
    for name in ("report.html", "summary.md", "summary.json", "junit.xml"):
        if (report_dir / name).exists():
            print(f"  {report_dir / name}")


def think_time_text() -> str:
    """The think times the run used (Locust inherited this environment), for the verdict header."""
    raw = os.environ.get("ERPLOAD_THINK_TIME", "").strip()
    return f"think time {raw} s for every role, ERPLOAD_THINK_TIME" if raw else "think time: each role's own"


def exit_name(rc: int) -> str:
    """'sla breached' for 3; 'unknown' for a code outside ExitCode."""
    try:
        return ExitCode(rc).name.lower().replace("_", " ")
    except ValueError:
        return "unknown"
