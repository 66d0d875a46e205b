"""`erpload capacity PROFILE -H URL`: search the most users (or the highest rate) every SLO holds at.

    erpload capacity peak-200 -H http://erp:8000                      # derived from the profile's stages
    erpload capacity peak-200 -H http://erp:8000 --bisect 5 --max 400 --hold 1m --required 150
    erpload capacity profiles/capacity.yaml -H http://erp:8000        # a `mode: capacity` profile as is

A `mode: capacity` profile runs with its `capacity:` block (flags given here override its keys).
Any other profile becomes one: its roles, SLA rules, options, allow and api are kept, its stages
are dropped and give the defaults (closed model: max = the most users of any stage, start and step
a tenth of that; open model: the same over arrival rates, the pool = the most users). The profile
searched is written beside the reports (`<report-dir>/<name>.capacity.yaml`, else a temporary
directory) so the run can be repeated as `erpload run` of that file, then the run goes as `erpload
run` goes (Locust replaces this process; erpload.locust.capacity does the search).

Exit codes (the run's verdict, erpload.core.verdict): 0 a capacity was confirmed (or ">= max")
and meets `required`; 3 no level held ("< start"), or the capacity is below `required`, or the
evidence level's rules fail at the final evaluation; 4 the run is invalid (a level's users or
arrivals were not delivered, a worker lost, a saturated generator); 5 interrupted; 2 bad input.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import yaml

from erpload.cli.forward import DEST, add_forwarded_options
from erpload.cli.paths import locustfile_arg, profile_path
from erpload.cli.run import _option, cmd_run
from erpload.core.errors import ConfigError, Problem
from erpload.core.safeyaml import read_yaml_file

__all__ = ["add_parser", "capacity_document", "cmd_capacity", "derive_capacity"]

FLAGS = ("model", "start", "step", "bisect", "max", "hold", "settle", "confirm", "required", "users")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `capacity` to the `erpload` subcommands (extra args go to Locust, as with `run`)."""
    summary = "search the capacity: step or bisect users (or arrival rate) until an SLO breaks"
    p = subparsers.add_parser("capacity", help=summary, description=(__doc__ or "").split("\n\n")[1],
                              epilog="Any other option is passed on to Locust.", allow_abbrev=False)  # fmt: skip
    p.add_argument("profile", help="a shipped profile's name or the path of a profile .yaml file")
    p.add_argument("--host", "-H", required=True, help="base URL of the ERP under test")
    p.add_argument("-f", "--locustfile", metavar="FILE", help="your own locustfile instead of the role users")
    p.add_argument("--workers", type=int, default=0, help="run with N local worker processes (default 0)")
    g = p.add_argument_group("search (override the profile's capacity: block)")
    g.add_argument("--model", choices=("closed", "open"), help="closed: users; open: arrival rate")
    g.add_argument("--start", help="first level: users, or a rate (5/s) in the open model")
    g.add_argument("--step", help="linear search: add this much per level")
    g.add_argument("--bisect", metavar="RESOLUTION", help="double until a break, then bisect to this")
    g.add_argument("--max", help="the last level tried")
    g.add_argument("--hold", help="each level's measured window (e.g. 30s)")
    g.add_argument("--settle", help="before each hold: ramp and settle, not measured (e.g. 10s)")
    g.add_argument("--confirm", help="hold the last passing level again this long (e.g. 1m)")
    g.add_argument("--required", help="exit 3 when the capacity found is below this")
    g.add_argument("--users", help="open model: the pre-allocated pool of users")
    add_forwarded_options(p, skip=["--load-profile"])
    return p


def _scalar(text: str) -> Any:
    """A flag's words as YAML would read them: 10 -> int, 2.5 -> float, 5/s and 30s stay text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def derive_capacity(doc: dict[str, Any], source: Path) -> dict[str, Any]:
    """A `mode: capacity` document from a stages profile: stages dropped, defaults from them."""
    stages = [s for s in doc.get("stages") or () if isinstance(s, dict)]
    out = {k: v for k, v in doc.items() if k != "stages"}
    is_open = any("arrival_rate" in s for s in stages)
    cap: dict[str, Any] = {"model": "open" if is_open else "closed"}
    if is_open:
        from erpload.core.units import parse_rate  # a bad rate: the profile check names it below

        rates = [parse_rate(s["arrival_rate"]) for s in stages]
        top = max(rates, default=0.0)
        cap.update(max=top, start=round(top / 10, 3) or top, step=round(top / 10, 3) or top)
        cap["users"] = max((int(s.get("users") or 0) for s in stages), default=0) or 1
    else:
        top = max((int(s.get("users") or 0) for s in stages if isinstance(s.get("users"), int)), default=0)
        cap.update(max=top, start=max(top // 10, 1), step=max(top // 10, 1))
    out["mode"] = "capacity"
    out["capacity"] = cap
    out["description"] = f"Capacity search derived from {source.name}: {doc.get('description', '')}".strip()
    return out


def capacity_document(path: Path, flags: dict[str, Any]) -> dict[str, Any]:
    """The profile to search: `path` as a capacity document, `flags` (not None) over its block."""
    doc, problems = read_yaml_file(path)
    if problems or not isinstance(doc, dict):
        raise ConfigError(
            str(path), problems or [Problem("", "not a profile mapping", "Give a profile file")]
        )
    if doc.get("mode") != "capacity":
        try:
            doc = derive_capacity(doc, path)
        except (ValueError, TypeError) as e:
            raise ConfigError(
                str(path), [Problem("stages", f"no capacity defaults from them: {e}")]
            ) from None
    cap = dict(doc.get("capacity") or {})
    given = {k: _scalar(v) for k, v in flags.items() if v is not None}
    if given.get("step") is not None:
        cap.pop("bisect", None)
    if given.get("bisect") is not None:
        cap.pop("step", None)
    doc["capacity"] = {**cap, **given}
    if isinstance(doc.get("api"), str):  # relative to the original file, which the copy is not beside
        doc["api"] = str((path.parent / doc["api"]).resolve())
    return doc


def cmd_capacity(ns: argparse.Namespace) -> int:
    """Write the searched profile beside the reports, check it, then run it as `erpload run` would."""
    from erpload.cli.userclasses import user_class_names
    from erpload.profile import validate_profile_file

    ns.locust_args = list(getattr(ns, "locust_args", None) or getattr(ns, DEST, []))
    source = profile_path(ns.profile)
    doc = capacity_document(source, {k: getattr(ns, k, None) for k in FLAGS})
    report_dir = _option(ns.locust_args, "--report-dir", "ERPLOAD_REPORT_DIR")
    where = Path(report_dir) if report_dir else Path(tempfile.mkdtemp(prefix="erpload-capacity-"))
    where.mkdir(parents=True, exist_ok=True)
    out = where / f"{source.stem}.capacity.yaml"
    text = f"# erpload capacity: searched profile derived from {source}\n"
    out.write_text(text + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    known = user_class_names(locustfile_arg(ns.locustfile)) if getattr(ns, "locustfile", None) else None
    problems = validate_profile_file(out, known_roles=known)
    if problems:
        raise ConfigError(f"{out} (the capacity search of {source})", problems)
    print(f"erpload capacity: searching with {out}", flush=True)
    ns.profile = str(out)
    return cmd_run(ns)
