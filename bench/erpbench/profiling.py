"""Where the generator's CPU goes: py-spy (sampling, from PyPI) on one overhead run, summarised.

py-spy is optional: `--profile` looks for it on PATH (or `--py-spy PATH`); install it anywhere with
`pip install py-spy`. It samples the running greenlet's stack, so time is attributed to the user code
that was running; idle time in the gevent hub is excluded.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from erpbench import RESULTS_DIR
from erpbench.nginx import NginxTarget
from erpbench.overhead import run_variant
from erpbench.procs import Child

OURS = re.compile(r"erpload/|locustfiles/|raw_roles")


def find_py_spy(explicit: str = "") -> str | None:
    """The py-spy executable, if any."""
    if explicit:
        return explicit if Path(explicit).exists() else None
    return shutil.which("py-spy")


def summarise(raw_path: Path, top: int = 15) -> dict[str, Any]:
    """Self time per frame and inclusive time of our own frames, from py-spy's --format raw output."""
    self_n: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        self_n[frames[-1]] += n
        for frame in set(frames):
            if OURS.search(frame):
                incl[frame] += n
    pct = (lambda n: round(100.0 * n / total, 1)) if total else (lambda n: 0.0)
    return {
        "samples": total,
        "self": [(f, pct(n)) for f, n in self_n.most_common(top)],
        "ours_inclusive": [(f, pct(n)) for f, n in incl.most_common(top)],
    }


def profile_variant(
    variant: str,
    target: NginxTarget,
    py_spy: str,
    *,
    users: int,
    warmup_s: float,
    window_s: float,
    cpus: str | None,
    work: Path,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run `variant` once with py-spy recording the measurement window; return the summary."""
    out = work / f"py-spy-{variant}.txt"
    delay = warmup_s + 2.0  # skip interpreter start-up and spawning: profile the steady window

    def attach(pid: int, _work: Path) -> Child:
        """Start py-spy on `pid` once the warm-up is over (the delay aligns it with the window)."""
        argv = [
            "sh",
            "-c",
            f'sleep {delay:g} && exec "$0" record --pid {pid} --duration {window_s:g} --rate 200 '
            f"--format raw --nonblocking --output {out}",
            py_spy,
        ]
        return Child(argv, log_path=work / f"py-spy-{variant}.log")

    res = run_variant(variant, target, users, warmup_s, window_s, cpus, work, attach=attach)
    res.cleanup()
    if not out.exists():
        log(f"  profile {variant}: py-spy wrote nothing (see {work / f'py-spy-{variant}.log'})")
        return {"variant": variant, "error": "py-spy wrote nothing"}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    kept = Path(shutil.copy(out, RESULTS_DIR / out.name))  # collapsed stacks, e.g. for flamegraph.pl
    summary = {"variant": variant, **summarise(out), "raw_file": str(kept)}
    log(f"  profile {variant}: {summary['samples']} samples; top self time:")
    for frame, p in summary["self"][:10]:
        log(f"    {p:5.1f}%  {frame}")
    log("  our frames, inclusive:")
    for frame, p in summary["ours_inclusive"][:12]:
        log(f"    {p:5.1f}%  {frame}")
    return summary
