"""`erpload` command line: demo | run | ui | capacity | target | validate | compare | history | schema.

Pure orchestration: Locust and the reference ERP run as child processes (or replace this one), so
gevent's monkey-patching never touches it. Like click, `main` maps every `ErploadError` to its exit
code (message on stderr, no traceback); anything else escaping is a bug: exit 6, and it says so.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from erpload.cli import capacity as capacity_cmd
from erpload.cli import history as history_cmd
from erpload.cli import schema as schema_cmd
from erpload.cli.children import TARGET_START_TIMEOUT_S
from erpload.cli.forward import DEST, add_forwarded_options
from erpload.cli.paths import locustfile_arg, profile_path
from erpload.cli.run import cmd_demo, cmd_run, cmd_ui, ui_command
from erpload.core.errors import ConfigError, ErploadError, ExitCode, TargetUnavailable

__all__ = ["build_parser", "main", "ui_command"]


def cmd_validate(ns: argparse.Namespace) -> int:
    """Validate profiles offline (roles: the shipped users, or those of `-f`); exit 2 if any is invalid."""
    from erpload.cli.userclasses import user_class_names
    from erpload.profile import validate_profile_file

    known = user_class_names(locustfile_arg(ns.locustfile)) if ns.locustfile else None
    bad = 0
    for name in ns.profiles:
        try:
            path = profile_path(name)
        except ConfigError as e:
            bad += 1
            print(e.render())
            continue
        problems = validate_profile_file(path, known_roles=known)
        if problems:
            bad += 1
            print(ConfigError(str(path), problems).render())
        else:
            print(f"OK {path}")
    return ExitCode.CONFIG_INVALID if bad else ExitCode.PASS


def cmd_compare(ns: argparse.Namespace) -> int:
    """Compare a run's summary.json with one or more baselines (pooled); 3 on a regression, 4 if nothing
    could be judged (too few samples: fail closed)."""
    from erpload.report.baseline import check_options, compare, load_baseline, render_table

    check_options(ns.tolerance, ns.min_samples, prefix="--")  # the same checks as --baseline-tolerance, ...
    baselines = [load_baseline(path) for path in ns.baseline]
    current = load_baseline(ns.current, role="current run's summary")
    comparison = compare(
        current,
        baselines,
        tolerance=ns.tolerance,
        min_samples=ns.min_samples,
        compare_rps=True if ns.rps else None,
        seed=ns.seed,
    )
    print(render_table(comparison, fmt="markdown" if ns.markdown else "text"))
    staged = by_stage(ns, current, baselines) if ns.by_stage else ExitCode.PASS
    if comparison.problem:
        print(f"Error: the comparison could not be evaluated: {comparison.problem}", file=sys.stderr)
        return ExitCode.SLA_BREACHED if staged == ExitCode.SLA_BREACHED else ExitCode.RUN_INVALID
    return ExitCode.SLA_BREACHED if comparison.regressions else staged


def by_stage(ns: argparse.Namespace, current: dict, baselines: list[dict]) -> ExitCode:
    """`erpload compare --by-stage`: stage-by-stage tables (report.stage_compare); its exit code."""
    from erpload.report.stage_compare import compare_by_stage, render

    result = compare_by_stage(
        current,
        baselines,
        tolerance=ns.tolerance,
        min_samples=ns.min_samples,
        compare_rps=True if ns.rps else None,
        seed=ns.seed,
    )
    print(render(result, fmt="markdown" if ns.markdown else "text"))
    if result.problem and not result.regressions:
        print(f"Error: the stage comparison could not be evaluated: {result.problem}", file=sys.stderr)
    return result.exit_code()


def cmd_target(argv: list[str]) -> int:
    """`erpload target ...`: the reference ERP in this process; 7 when it cannot start."""
    from erp_target.__main__ import main as target_main

    rc = target_main(argv)
    if rc == 1:  # its own code for "cannot start" (message already logged); ours is 7
        raise TargetUnavailable("the reference ERP", "it could not start (see the error above)")
    return rc


PROFILE_HELP = "a shipped profile's name (smoke, peak-200, ...) or the path of a profile .yaml file"
LOCUST_EPILOG = "Any other option is passed on to Locust (see `locust --help`), e.g. --master, --processes 4."


def _locust_command(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """`run` / `ui`: profile, -H, -f; erpload's Locust options are added last, as their own group."""
    # allow_abbrev=False: Locust's --master must reach Locust, not be read as erpload's --master-timeout
    p = sub.add_parser(name, help=summary, description=summary, epilog=LOCUST_EPILOG, allow_abbrev=False)
    p.add_argument("profile", help=PROFILE_HELP)
    p.add_argument("--host", "-H", required=True, help="base URL of the ERP under test")
    p.add_argument(
        "-f",
        "--locustfile",
        metavar="FILE",
        help="your own locustfile (.py files or directories, comma-separated) instead of the shipped role "
        "users; erpload's harness is loaded beside it, so it needs no erpload import",
    )
    return p


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
    r = _locust_command(sub, "run", "run a profile headless against any ERP (extra args go to locust)")
    r.add_argument(
        "--workers", type=int, default=0, help="run with N local worker processes (default: 0 = one process)"
    )
    u = _locust_command(
        sub, "ui", "start Locust's web UI on 127.0.0.1 with a profile pre-selected (extra args go to locust)"
    )
    u.add_argument(
        "--web-host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1); any other needs ERPLOAD_WEB_USER/PASSWORD",
    )
    u.add_argument("--web-port", type=int, default=8089, help="default 8089")
    add_forwarded_options(r, skip=["--load-profile"])  # the profile is the positional argument
    add_forwarded_options(u, skip=["--load-profile"])
    sub.add_parser("target", help="run the reference ERP (see `erpload target --help`)", add_help=False)
    v = sub.add_parser("validate", help="validate profiles offline (exit 2 if any is invalid)")
    v.add_argument("profiles", nargs="+", metavar="profile", help=PROFILE_HELP)
    v.add_argument(
        "-f",
        "--locustfile",
        metavar="FILE",
        help="check role names against the User classes of this locustfile (.py files or directories, "
        "comma-separated) instead of the shipped role users",
    )
    c = sub.add_parser(
        "compare",
        help="compare a run's summary.json with a baseline summary.json (several: pooled, noise band)",
        description="Per endpoint: regressed, improved, unchanged or inconclusive, from bootstrap CIs of "
        "the p95/p99 difference and the error-rate difference (docs/sla-and-reports.md). Exit 3 on a "
        "regression, 4 when nothing could be judged.",
    )
    c.add_argument("baseline", nargs="+", help="baseline summary.json; several are pooled")
    c.add_argument("current", help="the current run's summary.json")
    c.add_argument("--tolerance", type=float, default=0.10, help="relative tolerance (default 0.10 = 10%%)")
    c.add_argument("--min-samples", type=int, default=100, help="MIN n per side for p95 (default 100)")
    c.add_argument("--rps", action="store_true", help="compare rps in a closed-model run too")
    c.add_argument("--seed", type=int, default=0, help="bootstrap RNG seed (default 0)")
    c.add_argument("--markdown", action="store_true", help="print a Markdown table")
    c.add_argument(
        "--by-stage",
        action="store_true",
        help="also compare stage by stage (stages matched by name; unmatched ones named)",
    )
    capacity_cmd.add_parser(sub)
    history_cmd.add_parser(sub)
    schema_cmd.add_parser(sub)
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
        ns.locust_args = [*getattr(ns, DEST), *rest]
        return cmd_run(ns) if ns.cmd == "run" else cmd_ui(ns)
    if ns.cmd == "capacity":
        ns.locust_args = [*getattr(ns, DEST), *rest]
        return capacity_cmd.cmd_capacity(ns)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    commands = {
        "validate": cmd_validate,
        "compare": cmd_compare,
        "history": history_cmd.cmd_history,
        "schema": schema_cmd.cmd_schema,
    }
    return commands[ns.cmd](ns)


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
