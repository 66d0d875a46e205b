"""`erpload` command line: demo | run | ui | target | validate | compare | report.

Pure orchestration: it starts the reference ERP and Locust as child processes (so Locust's
gevent monkey-patching never touches this process) and maps their outcome to our exit codes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from erpload.core.errors import ConfigError, ExitCode

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILES = Path(os.environ.get("ERPLOAD_LOCUSTFILES", ROOT / "locustfiles"))
PROFILES = Path(os.environ.get("ERPLOAD_PROFILES", ROOT / "profiles"))
LISTEN_RX = re.compile(r"listening on (http://\S+)")
EXPECT_WORKERS_MAX_WAIT_S = 120  # `erpload run --master`/`--workers`: give up on missing workers


def _profile_path(name: str) -> Path:
    """Accept a path or a bare profile name from profiles/ (`smoke` -> profiles/smoke.yaml)."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return PROFILES / f"{name}.yaml"


def _locust_cmd(profile: Path, host: str, report_dir: Path | None, extra: Sequence[str]) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILES),
        "--headless",
        "--load-profile",
        str(profile),
        "-H",
        host,
        "--only-summary",
    ]
    if report_dir is not None:
        cmd += ["--report-dir", str(report_dir)]
    return cmd + list(extra)


class _Child:
    """A child process whose output is echoed (optionally filtered) by a reader thread."""

    def __init__(self, args: list[str], prefix: str = "", echo: bool = True):
        self.popen = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.prefix, self.echo = prefix, echo
        self.lines: list[str] = []
        self.first_match = threading.Event()
        self.url: str | None = None
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)
            if self.url is None and (m := LISTEN_RX.search(line)):
                self.url = m.group(1)
                self.first_match.set()
            if self.echo:
                sys.stdout.write(self.prefix + line)
                sys.stdout.flush()
        self.first_match.set()

    def stop(self, timeout: float = 10.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._t.join(timeout=5)
        return self.popen.returncode


def start_target(target_args: Sequence[str], db: Path, timeout: float = 120.0) -> _Child:
    """Start the reference ERP on a free loopback port; return once it answered /health."""
    import requests

    child = _Child(
        [sys.executable, "-m", "erp_target", "--port", "0", "--db", str(db), *target_args], prefix="[target] "
    )
    deadline = time.monotonic() + timeout
    while child.url is None and time.monotonic() < deadline and child.popen.poll() is None:
        child.first_match.wait(0.5)
    if child.url is None:
        child.stop()
        raise ConfigError(
            "the reference ERP", [f"it did not start (exit {child.popen.returncode}); see its output above"]
        )
    while time.monotonic() < deadline:
        try:
            if requests.get(child.url + "/health", timeout=2).status_code == 200:
                return child
        except requests.RequestException:
            pass
        time.sleep(0.1)  # readiness polling interval (bounded by deadline)
    child.stop()
    raise ConfigError("the reference ERP", [f"{child.url}/health did not answer 200 within {timeout:.0f}s"])


def cmd_demo(ns: argparse.Namespace, target_args: list[str]) -> int:
    """Start the reference ERP, run a profile headless against it, print the verdict, stop it."""
    profile = _profile_path(ns.profile)
    report_dir = Path(ns.report_dir or f"reports/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    with tempfile.TemporaryDirectory(prefix="erpload-demo-") as tmp:
        print(f"erpload demo: starting the reference ERP {' '.join(target_args)}".rstrip(), flush=True)
        try:
            target = start_target(target_args, Path(tmp) / "erp.db")
        except ConfigError as e:
            print(e.render(), file=sys.stderr)
            return ExitCode.CONFIG_INVALID
        print(
            f"erpload demo: reference ERP at {target.url}; running {profile} (reports -> {report_dir})",
            flush=True,
        )
        env = {**os.environ, "ERPLOAD_THINK_TIME": os.environ.get("ERPLOAD_THINK_TIME", "0.5,2")}
        cmd = _locust_cmd(profile, target.url, report_dir, ns.locust_args)
        if ns.workers:
            cmd += ["--processes", str(ns.workers)]
        locust = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
        try:
            rc = locust.wait()
        except KeyboardInterrupt:
            locust.send_signal(signal.SIGINT)
            rc = locust.wait()
        finally:
            target.stop()
    print_verdict(report_dir)
    print(f"erpload demo: exit code {rc} ({_exit_name(rc)}); reports in {report_dir}/", flush=True)
    return rc


def print_verdict(report_dir: Path) -> None:
    """Repeat the verdict after Locust's long final tables, from summary.json (if the run wrote one)."""
    try:
        summary = json.loads((report_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return
    rows = summary.get("sla") or []
    width = min(70, max((len(r.get("rule", "")) for r in rows), default=0))
    print(f"\n== verdict: {str(summary.get('verdict', '?')).upper()} ==")
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


def _exit_name(rc: int) -> str:
    try:
        return ExitCode(rc).name.lower().replace("_", " ")
    except ValueError:
        return "unknown"


def cmd_run(ns: argparse.Namespace) -> int:
    """Run a profile headless against --host (any ERP), in-process or with local worker processes."""
    cmd = _locust_cmd(
        _profile_path(ns.profile), ns.host, Path(ns.report_dir) if ns.report_dir else None, ns.locust_args
    )
    if ns.workers:
        cmd += ["--processes", str(ns.workers)]
    if (ns.workers or "--master" in ns.locust_args) and not any(
        a.startswith("--expect-workers-max-wait") for a in ns.locust_args
    ):
        # Locust alone waits forever for missing workers; ours gives up with a clear error (exit 2)
        cmd += ["--expect-workers-max-wait", str(EXPECT_WORKERS_MAX_WAIT_S)]
    return subprocess.call(cmd)


def ui_command(ns: argparse.Namespace) -> list[str]:
    """The locust command line for `erpload ui`; ConfigError when a non-loopback UI has no login."""
    from erpload.web.login import PASSWORD_ENV, USER_ENV, configured_credentials, is_loopback

    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILES),
        "--load-profile",
        str(_profile_path(ns.profile)),
        "-H",
        ns.host,
        "--web-host",
        ns.web_host,
        "--web-port",
        str(ns.web_port),
    ]
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
    cmd = ui_command(ns)
    print(f"erpload: web UI on http://{ns.web_host}:{ns.web_port} (Ctrl+C to stop)", flush=True)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return int(ExitCode.ABORTED)


def cmd_validate(ns: argparse.Namespace) -> int:
    """Validate profiles offline; print every problem; exit 2 if any is invalid."""
    from erpload.profile.model import validate_profile_file

    bad = 0
    for name in ns.profiles:
        path = _profile_path(name)
        problems = validate_profile_file(path)
        if problems:
            bad += 1
            print(ConfigError(str(path), problems).render())
        else:
            print(f"OK {path}")
    return ExitCode.CONFIG_INVALID if bad else ExitCode.PASS


def cmd_compare(ns: argparse.Namespace) -> int:
    """Compare two summary.json files (baseline first); exit 3 if a regression is flagged."""
    from erpload.report.baseline import compare, render_table

    def load(p: str) -> dict:
        try:
            return json.loads(Path(p).read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(p, [f"cannot read a summary.json: {e}"]) from None

    comparison = compare(load(ns.current), load(ns.baseline), tolerance=ns.tolerance)
    print(render_table(comparison, fmt="markdown" if ns.markdown else "text"))
    return ExitCode.SLA_BREACHED if comparison.regressions else ExitCode.PASS


def cmd_target(argv: list[str]) -> int:
    from erp_target.__main__ import main as target_main

    return target_main(argv)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="erpload", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser(
        "demo",
        help="start the reference ERP and run a profile against it (default: smoke)",
        description="Any option not listed here is passed to the reference ERP, e.g. "
        "--latency-ms 800 or --error-rate 0.05 (see `erpload target --help`).",
    )
    d.add_argument("--profile", default="smoke", help="profile name in profiles/ or a path (default: smoke)")
    d.add_argument("--report-dir", help="where reports go (default: reports/demo-<timestamp>)")
    d.add_argument(
        "--workers", type=int, default=0, help="run with N local worker processes (default: 0 = one process)"
    )
    r = sub.add_parser("run", help="run a profile headless against any ERP (extra args go to locust)")
    r.add_argument("profile")
    r.add_argument("--host", "-H", required=True, help="base URL of the ERP under test")
    r.add_argument("--report-dir")
    r.add_argument("--workers", type=int, default=0)
    u = sub.add_parser(
        "ui", help="start Locust's web UI on 127.0.0.1 with a profile pre-selected (extra args go to locust)"
    )
    u.add_argument("profile", help="profile name in profiles/ or a path")
    u.add_argument("--host", "-H", required=True, help="base URL of the ERP under test")
    u.add_argument(
        "--web-host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1); any other needs ERPLOAD_WEB_USER/PASSWORD",
    )
    u.add_argument("--web-port", type=int, default=8089, help="default 8089")
    sub.add_parser("target", help="run the reference ERP (see `erpload target --help`)", add_help=False)
    v = sub.add_parser("validate", help="validate profiles offline (exit 2 if any is invalid)")
    v.add_argument("profiles", nargs="+")
    c = sub.add_parser("compare", help="compare a run's summary.json with a baseline summary.json")
    c.add_argument("baseline")
    c.add_argument("current")
    c.add_argument("--tolerance", type=float, default=0.10, help="relative tolerance (default 0.10 = 10%%)")
    c.add_argument("--markdown", action="store_true", help="print a Markdown table")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["target"]:
        return cmd_target(argv[1:])
    parser = build_parser()
    ns, rest = parser.parse_known_args(argv)
    try:
        if ns.cmd == "demo":
            ns.locust_args = []
            return cmd_demo(ns, rest)
        if ns.cmd in ("run",):
            ns.locust_args = rest
            return cmd_run(ns)
        if ns.cmd == "ui":
            ns.locust_args = rest
            return cmd_ui(ns)
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return {"validate": cmd_validate, "compare": cmd_compare}[ns.cmd](ns)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return int(e.exit_code)


if __name__ == "__main__":
    sys.exit(main())
