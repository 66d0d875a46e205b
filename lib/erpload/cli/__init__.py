"""`erpload` command line: demo | run | ui | target | validate | compare.

Pure orchestration: Locust and the reference ERP run as child processes (or replace this one), so
gevent's monkey-patching never touches it. Like click, `main` maps every `ErploadError` to its exit
code (message on stderr, no traceback); anything else escaping is a bug: exit 6, and it says so.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from erpload.cli.children import TARGET_START_TIMEOUT_S
from erpload.cli.run import cmd_demo, cmd_run, cmd_ui, profile_path, ui_command
from erpload.core.errors import ConfigError, ErploadError, ExitCode, TargetUnavailable

__all__ = ["build_parser", "main", "ui_command"]


def cmd_validate(ns: argparse.Namespace) -> int:
    """Validate profiles offline; print every problem; exit 2 if any is invalid."""
    from erpload.profile import validate_profile_file

    bad = 0
    for name in ns.profiles:
        path = profile_path(name)
        problems = validate_profile_file(path)
        if problems:
            bad += 1
            print(ConfigError(str(path), problems).render())
        else:
            print(f"OK {path}")
    return ExitCode.CONFIG_INVALID if bad else ExitCode.PASS


def cmd_compare(ns: argparse.Namespace) -> int:
    """Compare two summary.json files (baseline first); exit 3 if a regression is flagged."""
    from erpload.report.baseline import compare, load_baseline, render_table

    if not 0 <= ns.tolerance < 1:
        raise ConfigError("--tolerance", [f"must be within 0..1 (got {ns.tolerance:g}); 0.10 means 10 %"])
    baseline = load_baseline(ns.baseline)
    current = load_baseline(ns.current, role="current run's summary")
    comparison = compare(current, baseline, tolerance=ns.tolerance)
    print(render_table(comparison, fmt="markdown" if ns.markdown else "text"))
    return ExitCode.SLA_BREACHED if comparison.regressions else ExitCode.PASS


def cmd_target(argv: list[str]) -> int:
    """`erpload target ...`: the reference ERP in this process; 7 when it cannot start."""
    from erp_target.__main__ import main as target_main

    rc = target_main(argv)
    if rc == 1:  # its own code for "cannot start" (message already logged); ours is 7
        raise TargetUnavailable("the reference ERP", "it could not start (see the error above)")
    return rc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="erpload", description=(__doc__ or "").splitlines()[0])
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
    d.add_argument(
        "--target-timeout",
        type=float,
        default=TARGET_START_TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up (exit 7) if the reference ERP is not up by then (default {TARGET_START_TIMEOUT_S:g})",
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


def _dispatch(argv: list[str]) -> int:
    if argv[:1] == ["target"]:
        return cmd_target(argv[1:])
    parser = build_parser()
    ns, rest = parser.parse_known_args(argv)
    if ns.cmd == "demo":
        ns.locust_args = []
        return cmd_demo(ns, rest)
    if ns.cmd in ("run", "ui"):
        ns.locust_args = rest
        return cmd_run(ns) if ns.cmd == "run" else cmd_ui(ns)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return {"validate": cmd_validate, "compare": cmd_compare}[ns.cmd](ns)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the exit code (see ExitCode); every ErploadError is a message, not a traceback."""
    try:
        return int(_dispatch(list(sys.argv[1:] if argv is None else argv)))
    except ErploadError as e:
        print(e.render(), file=sys.stderr, flush=True)
        return int(e.exit_code)
    except KeyboardInterrupt:
        print(f"erpload: interrupted (exit {int(ExitCode.ABORTED)})", file=sys.stderr, flush=True)
        return int(ExitCode.ABORTED)
    except Exception as e:  # a bug in erpload: say so, keep the traceback for the bug report
        traceback.print_exc()
        print(
            f"Error: internal error in erpload (a bug, please report it with the traceback above): "
            f"{type(e).__name__}: {e}",
            file=sys.stderr,
            flush=True,
        )
        return int(ExitCode.INTERNAL_ERROR)
