"""Recovery time: scheduled faults applied by the master, per-second outcomes, `recovery_s`.

Every process counts its requests and failures per wall-clock second; workers ship the seconds
they counted with each report (`Exchange` key "seconds") and the master adds them up. The master
applies the profile's `faults:` (erpload.core.faultplan) through the target's `set_faults` operation
(the API map's; `PUT /admin/faults` on the reference ERP) with an admin account from the credential pool,
logged in as the map says (erpload.locust.apiclient).

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

from erpload.api import ApiMap
from erpload.core.errors import ConfigError, Problem, TargetUnavailable
from erpload.core.faultplan import FaultStep
from erpload.locust.apiclient import ApiCallError, ApiClient, Unanswered
from erpload.users import credentials
from erpload.users.api import current_api

log = logging.getLogger("erpload")
SUSTAIN_S = 5
MAX_ERROR_RATE = 0.01
HTTP_TIMEOUT_S = 10.0


ADMIN_ROLE = "admin"  # the role key whose pool (through the map's roles:) the runtime's own calls use


def admin_session(base_url: str, api_map: ApiMap | None = None) -> ApiClient:
    """An ApiClient logged in as the pool's next admin: ConfigError if refused, TargetUnavailable else."""
    api_map = api_map or current_api()
    cred = credentials.pool().next(api_map.pool_key(ADMIN_ROLE))
    client = ApiClient(base_url, api_map, timeout_s=HTTP_TIMEOUT_S)
    try:
        client.login(cred.username, cred.password.reveal())
    except ApiCallError as e:
        client.close()
        status = e.exchange.status
        if status in (401, 403):
            raise ConfigError(
                f"the credential pool ({credentials.FILE_ENV})",
                [
                    Problem(
                        f"admin account {cred.username}",
                        f"login refused by {base_url} (HTTP {status})",
                        f"Give an admin account the target accepts in ${credentials.FILE_ENV} "
                        "(faults and the stock check log in as admin)",
                    )
                ],
            ) from None
        raise TargetUnavailable(
            base_url, answered(api_map.login.method, api_map.base_path + api_map.login.path, e)
        ) from None
    return client


def answered(method: str, path: str, e: ApiCallError) -> str:
    """`POST /auth/login answered HTTP 503: <evidence>` (or what happened instead of an answer)."""
    if isinstance(e, Unanswered) or not e.exchange.status:
        return f"{method} {path}: {e.what}"
    head = f"{method} {path} answered HTTP {e.exchange.status}: {e.exchange.evidence}"
    return head if e.exchange.status != 200 else f"{head} ({e.what})"


def describe(e: BaseException) -> str:
    """One line for a summary or a log: an ErploadError's problems with their fix, else type and message."""
    if isinstance(e, ConfigError):
        return "; ".join(str(p) for p in e.problems)
    return str(e) if isinstance(e, TargetUnavailable) else f"{type(e).__name__}: {e}"


class SecondCounts:
    """Requests and failures per wall-clock second (`int(time.time())` -> [requests, failures]).

    Requests whose name ends in one of `ignore_suffixes` (RBAC probes) are not counted at all.
    A request is counted into one table (`_fresh`); it is added to the cumulative `seconds` and to
    the seconds not yet sent (`take_unsent`) when either is read, not twice per request.
    """

    def __init__(self, ignore_suffixes: Iterable[str] = ()) -> None:
        self._fresh: dict[int, list[int]] = {}  # counted since the last fold
        self._seconds: dict[int, list[int]] = {}
        self._unsent: dict[int, list[int]] = {}
        self.ignore_suffixes = tuple(s for s in ignore_suffixes if s)

    @property
    def seconds(self) -> dict[int, list[int]]:
        """Every second counted here or merged from workers (cumulative)."""
        self._fold()
        return self._seconds

    def _fold(self) -> None:
        fresh, self._fresh = self._fresh, {}
        for sec, (n, f) in fresh.items():
            for table in (self._seconds, self._unsent):
                row = table.get(sec)
                if row is None:
                    table[sec] = [n, f]
                else:
                    row[0] += n
                    row[1] += f

    def on_request(self, name: str = "", exception: BaseException | None = None, **_: Any) -> None:
        """Locust `request` listener: count this request (and its failure) in the current second."""
        self.count("", name, None, exception, None, time.time(), None)

    def count(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        exception: Any,
        role: str | None,
        now: float,
        bucket: int | None,
    ) -> None:
        """Count one request in the second `now` falls in (an `Exchange.listen(..., detail=True)` consumer)."""
        if self.ignore_suffixes and str(name).endswith(self.ignore_suffixes):
            return
        sec = int(now)
        try:
            row = self._fresh[sec]
        except KeyError:
            row = self._fresh[sec] = [0, 0]
        row[0] += 1
        if exception is not None:
            row[1] += 1

    def take_unsent(self) -> dict[str, list[int]]:
        """Worker: the seconds counted since the last report (then forgotten)."""
        self._fold()
        out = {str(k): v for k, v in self._unsent.items()}
        self._unsent = {}
        return out

    def merge(self, _client_id: str, payload: Any) -> None:
        """Master: add a worker's seconds."""
        if not isinstance(payload, dict):
            return
        for k, (n, f) in payload.items():
            row = self._seconds.setdefault(int(k), [0, 0])
            row[0] += int(n)
            row[1] += int(f)

    def reset(self) -> None:
        """Forget every counted second (test start)."""
        self._fresh.clear()
        self._seconds.clear()
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
    """Master: apply each FaultStep at its offset through the map's `set_faults`, switch it off after `duration`."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.applied: list[dict[str, Any]] = []
        self._glets: list[gevent.Greenlet] = []

    def start(self, steps: Iterable[FaultStep], base_url: str, api_map: ApiMap | None = None) -> None:
        self.stop()
        self.applied = []
        for step in steps:
            self._glets.append(gevent.spawn(self._apply, step, base_url, api_map))

    def stop(self) -> None:
        for g in self._glets:
            g.kill(block=False)
        self._glets = []

    @staticmethod
    def _set_faults(session: ApiClient, switches: dict[str, Any]) -> str | None:
        """Send `switches` through the map's set_faults; None when the target took them, else why not.

        The session logged in before the fault (the login itself is not exempt from faults); a token
        that expired during a long fault is renewed once (401) before giving up.
        """
        try:
            status, _ = session.call("set_faults", json=switches)
            if status == 401 and session.relogin():
                status, _ = session.call("set_faults", json=switches)
            last = session.last
            return None if status == 200 else f"set_faults: {last.describe() if last else f'HTTP {status}'}"
        except Exception as e:
            return describe(e)

    def _apply(self, step: FaultStep, base_url: str, api_map: ApiMap | None = None) -> None:
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
        session: ApiClient | None = None
        try:
            session = admin_session(base_url, api_map)
            error = self._set_faults(session, step.switches_on())
        except Exception as e:  # the run goes on; the summary says the fault never happened
            error = describe(e)
        entry["ok"] = error is None
        if error:
            entry["error"] = error
        text = f"fault {step.label}: " + ("applied" if entry["ok"] else f"NOT applied ({entry.get('error')})")
        rec.timeline.mark_event(rec.elapsed(), text)
        (log.warning if entry["ok"] else log.error)("erpload: %s", text)
        if session is None or not entry["ok"]:
            if session is not None:
                session.close()
            # The run did not test what the profile asked for (recovery after this fault): never a pass.
            self.run.mark_invalid(
                "fault not applied", f"{step.label} at {entry['at_s']:g}s: {entry.get('error')}"
            )
            return
        gevent.sleep(step.duration_s)
        error = self._set_faults(session, step.switches_off())
        session.close()
        if error is None:
            entry["ended_at_s"] = round(rec.elapsed(), 3)
            rec.timeline.mark_event(rec.elapsed(), f"fault {step.label}: switched off")
        else:
            entry["error"] = f"switching off failed: {error}"
            log.error("erpload: fault %s: %s", step.label, entry["error"])
            self.run.mark_invalid("fault not switched off", f"{step.label}: {entry['error']}")
