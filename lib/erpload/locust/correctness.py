"""Correctness under load: lost/duplicated stock updates, RBAC violations per role, recovery time.

`install_correctness(environment, run)` (called once from `erpload.plugin.install`) wires:

- every process: the profile's `hot_skus:` pool (stock adjustments pick from it, so writes collide),
  per-second request outcomes (erpload.locust.faults);
- master: the initial stock of the hot SKUs, fetched at test start before any user spawns (the
  listener runs before the master sends its spawn messages); the profile's `faults:` schedule;
  a finalizer that fetches the final stock and compares, per SKU,
      final == initial + sum(confirmed adjust deltas) + sum(received quantities)
  (the ledger every worker's Environment keeps, erpload.core.tallies). Adjustments still unanswered when the run
  stopped (`pending`) may or may not have applied: a difference equal to a subset of their deltas
  is consistent. Below that the target lost updates, above it it applied some twice.
- SLA extra metrics `lost_updates` and `duplicated_updates` (SKUs with missing / surplus confirmed
  stock changes), `recovery_s`; `rbac_violations` (total) stays the plugin's. The summary's
  `correctness` section carries the per-SKU evidence (units lost beside the SKUs), RBAC probes and
  violations per role (only when probes were sent) and the recovery episodes (only with a fault plan
  or a `recovery_s` rule): a section appears only when its check ran.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from locust.env import Environment
from locust.runners import WorkerRunner

from erpload.core.errors import ConfigError, Problem, TargetUnavailable
from erpload.core.stockcheck import stock_report, stock_verdict
from erpload.core.tallies import tallies_for
from erpload.locust.apiclient import ApiCallError, ApiClient
from erpload.locust.faults import (
    FaultScheduler,
    SecondCounts,
    admin_session,
    answered,
    describe,
    recovery_report,
)
from erpload.locust.shapes import current_profile
from erpload.profile import Profile, load_profile
from erpload.users.api import api_for
from erpload.users.checks import PROBE_SUFFIX

log = logging.getLogger("erpload")


class Correctness:
    """The correctness checks of one Environment (see the module docstring)."""

    def __init__(self, environment: Environment, run: Any) -> None:
        self.env = environment
        self.run = run
        self.counts = SecondCounts(ignore_suffixes=(PROBE_SUFFIX,))  # probes fail on purpose: no outage
        self.scheduler = FaultScheduler(run)
        self.initial: dict[str, int] = {}
        self.initial_error = ""
        self.report: dict[str, Any] = {}
        self.stock_rows: list[dict[str, Any]] | None = None
        self.recovery: dict[str, Any] | None = None
        self.run_start_wall = 0.0

    # -- every process -----------------------------------------------------------------------
    def profile(self) -> Profile | None:
        profile = getattr(self.run, "profile", None) or current_profile(self.env)
        if profile is not None:
            return profile
        path = getattr(self.env.parsed_options, "load_profile", "") if self.env.parsed_options else ""
        if not path:
            return None
        try:
            return load_profile(path, known_roles=[c.__name__ for c in self.env.user_classes])
        except Exception as e:  # the master validated it already; a worker only loses the hot pool
            log.warning("erpload: %s: no hot-SKU pool on this process (%s)", path, e)
            return None

    def on_any_test_start(self, **_: Any) -> None:
        profile = self.profile()
        tallies_for(self.env).set_hot_skus(profile.hot_skus if profile else ())
        self.counts.reset()

    # -- master --------------------------------------------------------------------------------
    def base_url(self) -> str:
        profile = self.profile()
        return self.env.host or (profile.host if profile and profile.host else "") or ""

    def on_master_test_start(self, **_: Any) -> None:
        import time

        self.run_start_wall = time.time()
        self.initial, self.initial_error, self.report = {}, "", {}
        self.stock_rows, self.recovery = None, None
        profile = self.profile()
        if profile is None:
            return
        url = self.base_url()
        if profile.hot_skus:
            try:
                session = admin_session(url, api_for(self.env))  # the map this run speaks (apimap)
                try:
                    self.initial = self._fetch(session, url, profile.hot_skus)
                finally:
                    session.close()
                log.info("erpload: initial stock of the hot SKUs: %s", self.initial)
            except Exception as e:
                self.initial_error = f"initial stock not fetched: {describe(e)}"
                log.error("erpload: %s (lost/duplicated updates cannot be checked)", self.initial_error)
        if profile.faults:
            self.scheduler.start(profile.faults, url, api_for(self.env))

    @staticmethod
    def _fetch(session: ApiClient, url: str, skus: Any) -> dict[str, int]:
        """Current stock of each SKU through the map's get_stock; ConfigError for a SKU the target does
        not know, TargetUnavailable for any other answer without a quantity."""
        amap = session.map
        out = {}
        for sku in skus:
            get = amap.op("get_stock")
            path = get.render(amap.base_path, {"sku": sku})
            where = f"{get.method} {path}"
            try:
                status, body = session.call("get_stock", {"sku": sku})
            except ApiCallError as e:
                raise TargetUnavailable(url, answered(get.method, path, e)) from None
            if status == 404:
                listing = amap.op("list_stock")
                raise ConfigError(
                    "the load profile",
                    [
                        Problem(
                            "hot_skus",
                            f"{sku!r} is not a stock item of {url} (get_stock, {where}: HTTP 404)",
                            f"Name SKUs the target has ({listing.method} "
                            f"{amap.base_path}{listing.path} lists them), e.g. FAB-000001",
                        )
                    ],
                )
            quantity = body.get("quantity") if isinstance(body, dict) else None
            if status != 200 or isinstance(quantity, bool) or not isinstance(quantity, int):
                last = session.last
                evidence = last.evidence if last else ""
                what = f"HTTP {status}: {evidence}" if status != 200 else f"no integer quantity in {evidence}"
                raise TargetUnavailable(url, f"{where} answered {what}")
            out[sku] = quantity
        return out

    def finalize(self, run: Any) -> None:
        """Master, before the verdict: fetch the final stock, compare, compute recovery, fill the report."""
        import time

        self.scheduler.stop()
        totals = run.tallies.totals(self.env)
        report: dict[str, Any] = {}
        # A section only for a feature that ran: RBAC when probes were sent, recovery with a fault plan
        # or a recovery_s rule (a team's own locustfile has neither; an empty section would claim a check)
        probes = sum(
            e.num_requests for (name, _), e in self.env.stats.entries.items() if name.endswith(PROBE_SUFFIX)
        )
        violations = dict(totals.get("rbac_violations", {}))
        if probes or violations:
            report.update(rbac_probes=probes, rbac_violations=violations)
        profile = self.profile()
        if profile is not None and profile.hot_skus:
            report["stock"] = self._stock_check(profile, totals.get("ledger", {}))
        starts = [a["wall"] for a in self.scheduler.applied if a.get("ok")]
        self.recovery = recovery_report(
            self.counts.seconds, starts, self.run_start_wall or time.time(), time.time()
        )
        if profile is not None and (profile.faults or any(r.metric == "recovery_s" for r in profile.sla)):
            report["recovery"] = {
                **self.recovery,
                "faults": [{k: v for k, v in a.items() if k != "wall"} for a in self.scheduler.applied],
            }
            if math.isinf(self.recovery["recovery_s"]):
                report["recovery"]["recovery_s"] = None  # JSON has no infinity; "recovered": false says it
        self.report = report
        run.correctness = report

    def _stock_check(self, profile: Profile, ledger: dict[str, Any]) -> dict[str, Any]:
        if not self.initial:
            return {"checked": False, "error": self.initial_error or "initial stock unknown"}
        url = self.base_url()
        try:
            session = admin_session(url, api_for(self.env))
            try:
                final = self._fetch(session, url, profile.hot_skus)
            finally:
                session.close()
        except Exception as e:
            return {"checked": False, "error": f"final stock not fetched: {describe(e)}"}
        rows = [
            stock_verdict(sku, self.initial[sku], final[sku], ledger.get(sku, {})) for sku in profile.hot_skus
        ]
        self.stock_rows = rows
        report = stock_report(rows)
        for r in sorted((r for r in rows if r["status"] != "ok"), key=lambda r: r["status"] != "lost"):
            log.error(
                "erpload: %s update(s) on %s: initial %d + confirmed %+d + received %d = %d expected, target has %d",
                r["status"],
                r["sku"],
                r["initial"],
                r["confirmed_delta"],
                r["received"],
                r["expected"],
                r["final"],
            )
        return report

    def lost_updates(self) -> int | None:
        return None if self.stock_rows is None else sum(r["status"] == "lost" for r in self.stock_rows)

    def duplicated_updates(self) -> int | None:
        return None if self.stock_rows is None else sum(r["status"] == "duplicated" for r in self.stock_rows)

    def recovery_s(self) -> float | None:
        return None if self.recovery is None else self.recovery["recovery_s"]


def install_correctness(environment: Environment, run: Any) -> Correctness:
    """Wire the correctness checks on `environment` (every process; master parts on the master only)."""
    c = Correctness(environment, run)
    run.correctness = {}
    environment.events.test_start.add_listener(c.on_any_test_start)
    run.exchange.listen(c.counts.count, detail=True)  # through erpload's one request listener
    run.exchange.provide("seconds", c.counts.take_unsent)
    run.exchange.merge("seconds", c.counts.merge)
    if not isinstance(environment.runner, WorkerRunner):
        environment.events.test_start.add_listener(c.on_master_test_start)
        run.finalizers.append(c.finalize)
        run.extra_providers["lost_updates"] = c.lost_updates
        run.extra_providers["duplicated_updates"] = c.duplicated_updates
        run.extra_providers["recovery_s"] = c.recovery_s
    return c
