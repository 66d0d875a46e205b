"""Will the users fit in memory? (pure) `check_memory` before the first user spawns, not the OOM killer after.

`users: 1000000000` is a valid number and an impossible test: every user is a greenlet with its
own client and buffers, and a load generator that runs out of memory is killed mid-run with no report.
The plugin calls `check_memory` at init with the memory available now (psutil); the profile may opt
out with `allow: {memory_overcommit: true}`.
"""

from __future__ import annotations

import math

from erpload.core.errors import Problem
from erpload.profile.model import Profile

# Memory per running user, in KB. Measured: Locust's HttpUser ~38-41 KB RSS per idle user and
# FastHttpUser 16-22 KB (/work/shared/LOCUST_FACTS.md, 1k-5k users); erpload's ErpUser 23.5-23.7 KB
# logged in with a keep-alive connection (docs/performance.md, "Memory per idle user", 1k-10k users).
# 40 KB is the HttpUser figure: an upper bound for our users, left for response bodies in flight.
KB_PER_USER = 40.0


def memory_needed(users: int, *, workers: int, kb_per_user: float = KB_PER_USER) -> int:
    """Bytes one load-generating process needs for its share of `users` (workers < 1 counts as 1)."""
    per_process = math.ceil(users / max(workers, 1))
    return math.ceil(per_process * kb_per_user * 1024)


def check_memory(
    profile: Profile, *, workers: int, available_bytes: int, kb_per_user: float = KB_PER_USER
) -> list[Problem]:
    """An error when the peak users per process need more memory than `available_bytes` (empty: fits).

    `workers` is the number of load-generating processes sharing the users (Locust's --expect-workers;
    0 or 1 for a standalone run); `available_bytes` what the machine can give them now (psutil's
    virtual_memory().available). Skipped when the profile says `allow: {memory_overcommit: true}`.
    """
    if profile.allow.memory_overcommit:
        return []
    peak, procs = profile.peak_users, max(workers, 1)
    need = memory_needed(peak, workers=procs, kb_per_user=kb_per_user)
    if need <= available_bytes:
        return []
    fits = int(available_bytes / (kb_per_user * 1024)) * procs
    more = math.ceil(peak * kb_per_user * 1024 / max(available_bytes, 1))
    return [
        Problem(
            "stages",
            f"{peak:,} users at the peak / {procs} load-generating process{'es' if procs > 1 else ''} "
            f"x {kb_per_user:g} KB per user = {_mib(need)} per process, more than the {_mib(available_bytes)} "
            "of memory available",
            f"Lower users to at most {fits:,}, spread them over at least {more} workers each on a "
            "machine with this much memory free (locust --worker, --expect-workers), or, if you know "
            "better, set allow: {memory_overcommit: true} in the profile",
        )
    ]


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB" if n >= 2**20 else f"{n / 1024:,.0f} KB"
