"""A stand-in for the GitHub CLI `gh`, for running examples/ci/github-actions.yml's steps with no network.

State lives in $GH_STUB_STATE (a directory the test owns):
    calls.jsonl     every invocation: {"argv": [...], "token": bool}
    comments.json   [{"id", "issue", "body", "user": {"login"}}]   the PR's comments
    runs.json       [{"databaseId", "headBranch", "event", "conclusion", "workflowName"}]
    artifacts/RUN_ID/NAME/...                                      what upload-artifact stored

What it answers, as the real `gh` would (output through the real `jq -r` for --jq):
    gh api [--method M] PATH [--paginate] [--jq F] [-F key=@file | -F key=value]
        GET repos/R/issues/N/comments | POST repos/R/issues/N/comments | PATCH repos/R/issues/comments/ID
    gh run list --workflow W --branch B --event E --status S --limit L --json F [--jq F] [--repo R]
    gh run download ID --name NAME --dir DIR [--repo R]
Anything else exits 2 with "gh stub: unsupported", so the test sees a template calling what it cannot check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ["GH_STUB_STATE"])
BOT = "github-actions[bot]"


def _load(name: str) -> list:
    path = STATE / name
    return json.loads(path.read_text()) if path.exists() else []


def _save(name: str, data: list) -> None:
    (STATE / name).write_text(json.dumps(data, indent=1))


def _emit(data: object, jq: str | None) -> int:
    text = json.dumps(data)
    if jq is None:
        print(text)
        return 0
    out = subprocess.run(
        ["jq", "-r", jq], input=text, capture_output=True, text=True, timeout=30, check=False
    )
    sys.stdout.write(out.stdout)
    sys.stderr.write(out.stderr)
    return out.returncode


def _options(args: list[str], flags: set[str]) -> tuple[list[str], dict[str, list[str]]]:
    """(positionals, {option: [values]}); `flags` take no value."""
    positional: list[str] = []
    options: dict[str, list[str]] = {}
    it = iter(args)
    for arg in it:
        if arg.startswith("-"):
            options.setdefault(arg, []).append("" if arg in flags else next(it))
        else:
            positional.append(arg)
    return positional, options


def _api(args: list[str]) -> int:
    (path, *extra), opts = _options(args, {"--paginate"})
    if extra:
        return _unsupported(args)
    method = (opts.get("--method") or opts.get("-X") or ["GET"])[0].upper()
    fields = {}
    for field in opts.get("-F", []) + opts.get("--field", []):
        key, _, value = field.partition("=")
        fields[key] = Path(value[1:]).read_text() if value.startswith("@") else value
    jq = (opts.get("--jq") or opts.get("-q") or [None])[0]
    comments = _load("comments.json")
    if m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/(\d+)/comments", path):
        issue = int(m[1])
        if method == "GET":
            return _emit([c for c in comments if c["issue"] == issue], jq)
        if method == "POST":
            new = {
                "id": max([c["id"] for c in comments] + [1000]) + 1,
                "issue": issue,
                "body": fields["body"],
            }
            comments.append({**new, "user": {"login": BOT}})
            _save("comments.json", comments)
            return _emit(comments[-1], jq)
    if (m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/comments/(\d+)", path)) and method == "PATCH":
        for c in comments:
            if c["id"] == int(m[1]):
                c["body"] = fields["body"]
                _save("comments.json", comments)
                return _emit(c, jq)
        print("gh: Not Found (HTTP 404)", file=sys.stderr)
        return 1
    return _unsupported(args)


def _run_list(args: list[str]) -> int:
    _, opts = _options(args, set())
    want = {
        "workflowName": opts.get("--workflow"),
        "headBranch": opts.get("--branch"),
        "event": opts.get("--event"),
        "conclusion": opts.get("--status"),
    }
    runs = [r for r in _load("runs.json") if all(v is None or r[k] == v[0] for k, v in want.items())]
    runs = sorted(runs, key=lambda r: -r["databaseId"])[: int((opts.get("--limit") or ["20"])[0])]
    fields = (opts.get("--json") or ["databaseId"])[0].split(",")
    return _emit([{f: r[f] for f in fields} for r in runs], (opts.get("--jq") or [None])[0])


def _run_download(args: list[str]) -> int:
    (run_id, *_), opts = _options(args, set())
    name, dest = opts["--name"][0], Path(opts["--dir"][0])
    source = STATE / "artifacts" / run_id / name
    if not source.is_dir():
        print(f"no artifact matches any of the names or patterns provided: {name}", file=sys.stderr)
        return 1
    shutil.copytree(source, dest, dirs_exist_ok=True)
    return 0


def _unsupported(argv: list[str]) -> int:
    print(f"gh stub: unsupported: gh {' '.join(argv)}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    with (STATE / "calls.jsonl").open("a") as f:
        f.write(json.dumps({"argv": argv, "token": bool(os.environ.get("GH_TOKEN"))}) + "\n")
    if not os.environ.get("GH_TOKEN"):
        print("gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.")
        return 4
    if argv[:1] == ["api"]:
        return _api(argv[1:])
    if argv[:2] == ["run", "list"]:
        return _run_list(argv[2:])
    if argv[:2] == ["run", "download"]:
        return _run_download(argv[2:])
    return _unsupported(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
