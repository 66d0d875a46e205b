"""Which code a run measured: the git commit and branch from the CI's environment, else from git (pure).

    key = detect_key()        # RunKey(commit="9f1c...", branch="main", source="github-actions")

Read in this order, field by field (a CI that sets only the branch still gets the commit from git):

    GitHub Actions  GITHUB_ACTIONS=true   GITHUB_SHA      GITHUB_HEAD_REF (pull request) or GITHUB_REF_NAME
    GitLab CI       GITLAB_CI=true        CI_COMMIT_SHA   CI_COMMIT_REF_NAME
    Jenkins         JENKINS_URL set       GIT_COMMIT      BRANCH_NAME (multibranch) or GIT_BRANCH
    git             `git rev-parse HEAD` / `git rev-parse --abbrev-ref HEAD` in the working directory
    otherwise       "unknown"

Jenkins' GIT_BRANCH is "origin/main": the remote prefix is dropped, as is a "refs/heads/" prefix.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["UNKNOWN", "RunKey", "detect_key", "target_rss_slope"]

UNKNOWN = "unknown"
GIT_TIMEOUT_S = 5.0
# (source, marker variables (any set), commit variables, branch variables) in order of preference
_PROVIDERS = (
    ("github-actions", ("GITHUB_ACTIONS",), ("GITHUB_SHA",), ("GITHUB_HEAD_REF", "GITHUB_REF_NAME")),
    ("gitlab-ci", ("GITLAB_CI",), ("CI_COMMIT_SHA",), ("CI_COMMIT_REF_NAME",)),
    ("jenkins", ("JENKINS_URL", "JENKINS_HOME"), ("GIT_COMMIT",), ("BRANCH_NAME", "GIT_BRANCH")),
)


@dataclass(frozen=True)
class RunKey:
    """The code under test: commit, branch, and where they were read (github-actions, gitlab-ci, ...)."""

    commit: str = UNKNOWN
    branch: str = UNKNOWN
    source: str = UNKNOWN


def _first(environ: Mapping[str, str], names: tuple[str, ...]) -> str:
    return next((v for n in names if (v := environ.get(n, "").strip())), "")


def _clean_branch(name: str) -> str:
    for prefix in ("refs/heads/", "origin/", "remotes/origin/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def _git(args: list[str], cwd: str | os.PathLike[str] | None) -> str:
    """`git ARGS` output (stripped), or "" when git is missing, fails, or is not in a repository."""
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def detect_key(environ: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None) -> RunKey:
    """The RunKey of the code under test (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    commit = branch = source = ""
    for name, markers, commit_vars, branch_vars in _PROVIDERS:
        if any(env.get(m, "").strip() for m in markers):
            commit, branch, source = _first(env, commit_vars), _first(env, branch_vars), name
            break
    if not commit or not branch:
        where = Path(cwd) if cwd is not None else None
        commit = commit or _git(["rev-parse", "HEAD"], where)
        if not branch:
            head = _git(["rev-parse", "--abbrev-ref", "HEAD"], where)
            branch = "" if head == "HEAD" else head  # detached HEAD: no branch
        source = source or ("git" if commit or branch else "")
    return RunKey(commit or UNKNOWN, _clean_branch(branch) or UNKNOWN, source or UNKNOWN)


def target_rss_slope(summary: Mapping[str, Any]) -> float | None:
    """The target's RSS slope (MB/min) from summary.json's resources.leaks, None when not monitored."""
    resources = summary.get("resources")
    leaks = resources.get("leaks") if isinstance(resources, Mapping) else None
    for row in leaks if isinstance(leaks, list) else []:
        if isinstance(row, Mapping) and row.get("key") == "target":
            value = row.get("slope_mb_per_min")
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    return None
