"""`--baseline history:BRANCH[:N]`: the last N passing runs of the same profile on a branch, pooled (pure).

    base = resolve_baseline("history:main:5", history="history.db", profile="smoke")  # or a summary.json path
    base = baseline_from_history("history.db", "history:main", "smoke")                # N defaults to 5
    runs = baseline_runs("history.db", "history:main:5", "smoke")   # the N summaries, newest first (noise band)

"Passing" is verdict pass and exit code 0. No such run is a ConfigError (exit 2) naming the branch
and the profile: a baseline that cannot be found never lets a run pass unchecked (fail closed).

The pooled dict has summary.json's shape, so every baseline comparison that reads a summary.json
consumes it unchanged: per endpoint (and role, and the total) counts and failures add up, latency
histograms are merged bucket by bucket (exact, `erpload.core.histogram`), percentiles and their
bounds are read from the merged histogram, and rps is all requests over all run time. Its extra
`history` key names the pooled runs (a summary reader ignores keys it does not know).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from erpload.core.errors import ConfigError, Problem
from erpload.core.histogram import Histogram, bucket_bound
from erpload.core.units import did_you_mean
from erpload.report.baseline import load_baseline
from erpload.report.history import open_history
from erpload.report.history_db import display_name
from erpload.report.model import PERCENTILES, SCHEMA_VERSION
from erpload.report.summary_check import summary_problems

__all__ = [
    "DEFAULT_RUNS",
    "HistorySpec",
    "baseline_from_history",
    "baseline_runs",
    "check_baseline",
    "is_history_spec",
    "parse_spec",
    "pool",
    "resolve_baseline",
]

PREFIX = "history:"
DEFAULT_RUNS = 5
MAX_RUNS = 1000
SPEC_FIX = "Write history:BRANCH or history:BRANCH:N, e.g. history:main:5 (the last 5 passing runs on main)"


@dataclass(frozen=True)
class HistorySpec:
    """A parsed `history:BRANCH[:N]`."""

    branch: str
    runs: int = DEFAULT_RUNS

    def __str__(self) -> str:
        return f"{PREFIX}{self.branch}:{self.runs}"


def is_history_spec(spec: str) -> bool:
    """True when a --baseline value names the run history rather than a summary.json."""
    return str(spec or "").strip().startswith(PREFIX)


def parse_spec(spec: str) -> HistorySpec:
    """`history:main` / `history:main:5` -> HistorySpec; ConfigError naming the value otherwise."""
    text = str(spec).strip()
    parts = text[len(PREFIX) :].split(":")
    problem = ""
    if not parts[0].strip():
        problem = f"names no branch (got {text!r})"
    elif len(parts) > 2:
        problem = f"has too many ':' (got {text!r}; a git branch name cannot contain ':')"
    elif len(parts) == 2 and not (
        parts[1].isascii() and parts[1].isdigit() and 1 <= int(parts[1]) <= MAX_RUNS
    ):
        problem = f"N must be a whole number from 1 to {MAX_RUNS} (got {parts[1]!r} in {text!r})"
    if problem:
        raise ConfigError(f"--baseline {text}", [Problem("--baseline", problem, SPEC_FIX)])
    return HistorySpec(parts[0].strip(), int(parts[1]) if len(parts) == 2 else DEFAULT_RUNS)


def _need_history(spec: str, history: str) -> None:
    if not str(history or "").strip():
        raise ConfigError(
            f"--baseline {spec}",
            [
                Problem(
                    "--history",
                    "is not set; a history: baseline is read from the run history DB",
                    "Add --history DB (or ERPLOAD_HISTORY): the DB your runs on that branch record into",
                )
            ],
        )


def check_baseline(spec: str, history: str = "") -> None:
    """Before any load, without the profile at hand: a summary.json loads, or a history spec parses and
    its DB opens. The run itself (erpload.locust.checks) also finds the runs; ConfigError otherwise."""
    if not is_history_spec(spec):
        load_baseline(spec)
        return
    parse_spec(spec)
    _need_history(spec, history)
    open_history(history, create=False).close()


def resolve_baseline(spec: str, history: str = "", profile: str = "") -> dict[str, Any]:
    """The baseline summary dict a --baseline value names: a summary.json file or `history:BRANCH[:N]`."""
    if not is_history_spec(spec):
        return load_baseline(spec)
    _need_history(spec, history)
    return baseline_from_history(history, spec, profile)


def baseline_runs(db: str, spec: str, profile: str) -> list[dict[str, Any]]:
    """The summaries of the last N passing runs of `profile` on the spec's branch, newest first."""
    s = parse_spec(spec)
    with open_history(db, create=False) as store:
        rows = store.runs(profile=profile, branch=s.branch, limit=s.runs, passing=True)
        if not rows:
            any_rows = store.runs(profile=profile, branch=s.branch, limit=1)
            branches = store.distinct("branch", profile=profile)
            profiles = store.distinct("profile")
            raise _no_runs(db, spec, s, profile, bool(any_rows), branches, profiles)
        summaries = [store.summary(r.id) for r in rows]
    for row, summary in zip(rows, summaries, strict=True):
        problems = summary_problems(summary)
        if problems:
            raise ConfigError(f"run {row.id} in the history DB {display_name(db)}", problems)
    return [
        {
            **sm,
            "history_run": {"id": r.id, "commit": r.commit, "branch": r.branch, "started_at": r.started_at},
        }
        for r, sm in zip(rows, summaries, strict=True)
    ]


def _no_runs(
    db: str, spec: str, s: HistorySpec, profile: str, others: bool, branches: list[str], profiles: list[str]
) -> ConfigError:
    what = (
        f"no passing run (verdict pass, exit 0) of profile {profile!r} on branch {s.branch!r} "
        f"in {display_name(db)}"
    )
    if others:
        what += ": its runs there all failed, were invalid or aborted"
    elif branches:
        what += f"; this profile has runs on: {', '.join(branches[:20])}"
    elif profiles:
        what += f"; no run of this profile at all (profiles recorded: {', '.join(profiles[:20])})"
    else:
        what += "; the history holds no run yet"
    hint = did_you_mean(s.branch, branches) if branches and not others else ""
    hint = hint or (did_you_mean(profile, profiles) if not branches else "")
    fix = (
        f"{hint}Record a passing run of {profile!r} on {s.branch!r} with --history first, "
        "or give --baseline a summary.json"
    )
    return ConfigError(f"--baseline {spec}", [Problem("--baseline", what, fix)])


def baseline_from_history(db: str, spec: str, profile: str) -> dict[str, Any]:
    """The last N passing runs of `profile` on the spec's branch, pooled into one summary dict."""
    runs = baseline_runs(db, spec, profile)
    pooled = pool(runs)
    pooled["history"] = {
        "spec": str(parse_spec(spec)),
        "db": display_name(db),
        "profile": profile,
        "runs": [r["history_run"] for r in runs],
    }
    return pooled


def _pool_rows(rows: Sequence[Mapping[str, Any]], duration_s: float) -> dict[str, Any]:
    """One endpoint (or role, or the total) over several runs."""
    hist = Histogram()
    for r in rows:
        hist = hist.merge(Histogram.from_dict(r.get("histogram") or {}, r.get("min"), r.get("max")))
    count = sum(int(r.get("count") or 0) for r in rows)
    weighted = [(float(r["avg"]), int(r.get("count") or 0)) for r in rows if r.get("avg") is not None]
    n_avg = sum(n for _, n in weighted)
    out: dict[str, Any] = {
        "method": rows[0].get("method") or "",
        "name": rows[0].get("name") or "",
        "count": count,
        "failures": sum(int(r.get("failures") or 0) for r in rows),
        "rps": round(count / duration_s, 3) if duration_s > 0 else 0.0,
        "avg": round(sum(a * n for a, n in weighted) / n_avg, 3) if n_avg else None,
        "min": hist.min,
        "max": hist.max,
        "bounds": {},
    }
    for key, p in PERCENTILES.items():
        value = hist.percentile(p)
        out[key] = value
        if value is not None:
            out["bounds"][key] = bucket_bound(value)
    out["histogram"] = hist.to_dict()
    users = [r["users"] for r in rows if isinstance(r.get("users"), int)]
    out["users"] = max(users) if users else None
    return out


def _pool_list(summaries: Sequence[Mapping[str, Any]], key: str, duration_s: float) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for s in summaries:
        for row in s.get(key) or []:
            groups.setdefault((str(row.get("name") or ""), str(row.get("method") or "")), []).append(row)
    return [_pool_rows(groups[k], duration_s) for k in sorted(groups)]


def pool(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Several summary.json dicts (newest first) as one, in summary.json's shape (see the docstring)."""
    if not summaries:
        raise ValueError("nothing to pool")
    duration = sum(float(s.get("duration_s") or 0.0) for s in summaries)
    newest, oldest = summaries[0], summaries[-1]
    totals = [s.get("total") or {"method": "", "name": "Aggregated"} for s in summaries]
    return {
        "schema_version": SCHEMA_VERSION,
        "verdict": "pass" if all(s.get("verdict") == "pass" for s in summaries) else "fail",
        "exit_code": max(int(s.get("exit_code") or 0) for s in summaries),
        "profile": dict(newest.get("profile") or {}),
        "started_at": str(oldest.get("started_at") or ""),
        "ended_at": str(newest.get("ended_at") or ""),
        "duration_s": round(duration, 3),
        "host": str(newest.get("host") or ""),
        "workers": max(int(s.get("workers") or 0) for s in summaries),
        "requests": _pool_list(summaries, "requests", duration),
        "roles": _pool_list(summaries, "roles", duration),
        "total": {**_pool_rows(totals, duration), "method": "", "name": "Aggregated"},
        "notes": [f"pooled from {len(summaries)} run(s), {duration:.0f}s of load in all"],
    }
