"""Recovery time: scheduled faults applied by the master, per-second outcomes, `recovery_s`.

Every process counts its requests and failures per wall-clock second; workers ship the seconds
they counted with each report (`Exchange` key "seconds") and the master adds them up. The master
applies the profile's `faults:` (erpload.core.faultplan) through the target's `PUT /admin/faults` with
an admin account from the credential pool.

`recovery_s` (SLA extra metric): for each applied fault (or, without scheduled faults, from the run
start, which covers a harness restarting the target), the seconds from the first second with a
failure to the start of the first SUSTAIN_S consecutive seconds that each had requests and together
an error rate below MAX_ERROR_RATE; the worst episode counts. A run that never recovered reports
infinity (every `recovery_s < N` rule fails); a run without failures reports 0.

Only requests that measure the target's health count: RBAC probes (names ending in
`erpload.users.checks.PROBE_SUFFIX`) fail on purpose when the target misbehaves on permissions, not when it
is down, so `install_correctness` passes that suffix as `ignore_suffixes` and they are left out.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from typing import Any

import gevent
import requests

from erpload.core.errors import ConfigError, Problem, TargetUnavailable
from erpload.core.faultplan import FaultStep
from erpload.users import credentials

log = logging.getLogger("erpload")
SUSTAIN_S = 5
MAX_ERROR_RATE = 0.01
HTTP_TIMEOUT_S = 10.0


def admin_session(base_url: str) -> requests.Session:
    """A requests session logged in as the pool's next admin: ConfigError if refused, TargetUnavailable else."""
    cred = credentials.pool().next("admin")
    s = requests.Session()
    r = s.post(
        base_url.rstrip("/") + "/auth/login",
        json={"username": cred.username, "password": cred.password.reveal()},
        timeout=HTTP_TIMEOUT_S,
    )
    if r.status_code in (401, 403):
        raise ConfigError(
            f"the credential pool ({credentials.FILE_ENV})",
            [
                Problem(
                    f"admin account {cred.username}",
                    f"login refused by {base_url} (HTTP {r.status_code})",
                    f"Give an admin account the target accepts in ${credentials.FILE_ENV} "
                    "(faults and the stock check log in as admin)",
                )
            ],
        )
    if r.status_code != 200:
        raise TargetUnavailable(base_url, f"POST /auth/login answered HTTP {r.status_code}: {r.text[:200]}")
    s.headers["Authorization"] = "Bearer " + r.json()["access_token"]
    return s


def describe(e: BaseException) -> str:
    """One line for a summary or a log: an ErploadError's problems with their fix, else type and message."""
    if isinstance(e, ConfigError):
        return "; ".join(str(p) for p in e.problems)
    return str(e) if isinstance(e, TargetUnavailable) else f"{type(e).__name__}: {e}"


class SecondCounts:
    """Requests and failures per wall-clock second (`int(time.time())` -> [requests, failures]).

    Requests whose name ends in one of `ignore_suffixes` (RBAC probes) are not counted at all.
    """

    def __init__(self, ignore_suffixes: Iterable[str] = ()) -> None:
        self.seconds: dict[int, list[int]] = {}
        self._unsent: dict[int, list[int]] = {}
        self.ignore_suffixes = tuple(s for s in ignore_suffixes if s)

    def on_request(self, name: str = "", exception: BaseException | None = None, **_: Any) -> None:
        """Locust `request` listener: count this request (and its failure) in the current second."""
        if self.ignore_suffixes and str(name).endswith(self.ignore_suffixes):
            return
        sec = int(time.time())
        for table in (self.seconds, self._unsent):
            row = table.setdefault(sec, [0, 0])
            row[0] += 1
            if exception is not None:
                row[1] += 1

    def take_unsent(self) -> dict[str, list[int]]:
        """Worker: the seconds counted since the last report (then forgotten)."""
        out = {str(k): v for k, v in self._unsent.items()}
        self._unsent = {}
        return out

    def merge(self, _client_id: str, payload: Any) -> None:
        """Master: add a worker's seconds."""
        if not isinstance(payload, dict):
            return
        for k, (n, f) in payload.items():
            row = self.seconds.setdefault(int(k), [0, 0])
            row[0] += int(n)
            row[1] += int(f)

    def reset(self) -> None:
        """Forget every counted second (test start)."""
        self.seconds.clear()
        self._unsent.clear()


def recovery_episode(seconds: dict[int, list[int]], start: float, end: float) -> dict[str, Any]:
    """Recovery after `start` (epoch s) looking no further than `end`: first failure -> sustained success."""
    first = next((s for s in range(int(start), int(end) + 1) if seconds.get(s, (0, 0))[1] > 0), None)
    if first is None:
        return {
            "first_failure_s": None,
            "recovered_s": None,
            "recovery_s": 0.0,
            "recovered": True,
            "failures": 0,
        }
    failures = sum(seconds.get(s, (0, 0))[1] for s in range(first, int(end) + 1))
    for s in range(first, int(end) - SUSTAIN_S + 2):
        window = [seconds.get(x, (0, 0)) for x in range(s, s + SUSTAIN_S)]
        n, f = sum(w[0] for w in window), sum(w[1] for w in window)
        if all(w[0] > 0 for w in window) and f < MAX_ERROR_RATE * n:
            return {
                "first_failure_s": first,
                "recovered_s": s,
                "recovery_s": float(s - first),
                "recovered": True,
                "failures": failures,
            }
    return {
        "first_failure_s": first,
        "recovered_s": None,
        "recovery_s": math.inf,
        "recovered": False,
        "failures": failures,
    }


def recovery_report(
    seconds: dict[int, list[int]], starts: Iterable[float], run_start: float, run_end: float
) -> dict[str, Any]:
    """Episodes from each fault start (or the run start) to the next; `recovery_s` is the worst."""
    marks = sorted(starts) or [run_start]
    episodes = []
    for i, start in enumerate(marks):
        end = marks[i + 1] if i + 1 < len(marks) else run_end
        ep = recovery_episode(seconds, start, end)
        for key in ("first_failure_s", "recovered_s"):  # relative to the run start for humans
            if ep[key] is not None:
                ep[key] = round(ep[key] - run_start, 3)
        episodes.append({"from_s": round(start - run_start, 3), **ep})
    worst = max(e["recovery_s"] for e in episodes)
    return {
        "recovery_s": worst,
        "sustain_s": SUSTAIN_S,
        "max_error_rate": MAX_ERROR_RATE,
        "episodes": episodes,
    }


class FaultScheduler:
    """Master: apply each FaultStep at its offset through PUT /admin/faults, switch it off after `duration`."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.applied: list[dict[str, Any]] = []
        self._glets: list[gevent.Greenlet] = []

    def start(self, steps: Iterable[FaultStep], base_url: str) -> None:
        self.stop()
        self.applied = []
        for step in steps:
            self._glets.append(gevent.spawn(self._apply, step, base_url))

    def stop(self) -> None:
        for g in self._glets:
            g.kill(block=False)
        self._glets = []

    def _apply(self, step: FaultStep, base_url: str) -> None:
        rec = self.run.recorder
        gevent.sleep(max(0.0, step.at_s - rec.elapsed()))
        entry: dict[str, Any] = {
            "fault": step.label,
            "action": step.action,
            "at_s": round(rec.elapsed(), 3),
            "wall": time.time(),
            "duration_s": step.duration_s,
            "ok": False,
        }
        self.applied.append(entry)
        try:
            session = admin_session(base_url)
            r = session.put(
                base_url.rstrip("/") + "/admin/faults", json=step.switches_on(), timeout=HTTP_TIMEOUT_S
            )
            entry["ok"] = r.status_code == 200
            if not entry["ok"]:
                entry["error"] = f"PUT /admin/faults: HTTP {r.status_code} {r.text[:200]}"
        except Exception as e:  # the run goes on; the summary says the fault never happened
            entry["error"] = describe(e)
            session = None
        text = f"fault {step.label}: " + ("applied" if entry["ok"] else f"NOT applied ({entry.get('error')})")
        rec.timeline.mark_event(rec.elapsed(), text)
        (log.warning if entry["ok"] else log.error)("erpload: %s", text)
        if session is None or not entry["ok"]:
            # The run did not test what the profile asked for (recovery after this fault): never a pass.
            self.run.mark_invalid(
                "fault not applied", f"{step.label} at {entry['at_s']:g}s: {entry.get('error')}"
            )
            return
        gevent.sleep(step.duration_s)
        try:
            session.put(
                base_url.rstrip("/") + "/admin/faults", json=step.switches_off(), timeout=HTTP_TIMEOUT_S
            )
            entry["ended_at_s"] = round(rec.elapsed(), 3)
            rec.timeline.mark_event(rec.elapsed(), f"fault {step.label}: switched off")
        except Exception as e:
            entry["error"] = f"switching off failed: {describe(e)}"
            log.error("erpload: fault %s: %s", step.label, entry["error"])
            self.run.mark_invalid("fault not switched off", f"{step.label}: {entry['error']}")
