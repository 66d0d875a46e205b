"""Scheduled faults of a load profile (pure): the `faults:` list, validated, and the switches each step sets.

    faults:
      - {at: 20s, action: outage, duration: 5s}              # every request refused for 5 s (an API restart)
      - {at: 40s, action: slow_db, duration: 10s, ms: 300}    # 300 ms per database query
      - {at: 60s, action: errors, duration: 5s, rate: 0.5}    # half the requests answer 500
      - {at: 70s, action: latency, duration: 5s, ms: 800}
      - {at: 80s, action: kill_connections, duration: 1s}    # every connection reset mid-answer
      - {at: 90s, action: set, duration: 5s, switches: {hang_rate: 0.1}}   # any fault switch

The master applies each step through the reference ERP's `PUT /admin/faults` at `at` seconds after
the start and switches it off again after `duration` (erpload.locust.faults). A target without that
endpoint cannot take scheduled faults; restart it from the harness instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from erpload.core.units import QuantityError, did_you_mean, parse_duration, preview, preview_keys

# action -> (params with defaults, fn(duration_s, params) -> switches on, switches that turn it off)
ACTIONS: dict[str, dict[str, Any]] = {
    "outage": {},
    "slow_db": {"ms": 500.0},
    "errors": {"rate": 1.0},
    "latency": {"ms": 1000.0},
    "kill_connections": {},
    "set": {"switches": None},
}
STEP_KEYS = ("at", "action", "duration", "ms", "rate", "switches", "name")
OFF_VALUES = {"_path": None, "racy_stock": False}  # every other switch is off at 0


@dataclass(frozen=True)
class FaultStep:
    """One scheduled fault: `action` from `at_s` for `duration_s` seconds."""

    at_s: float
    action: str
    duration_s: float
    params: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    @property
    def label(self) -> str:
        """'outage 5s at 20s' (timeline events, summary)."""
        return self.name or f"{self.action} {self.duration_s:g}s at {self.at_s:g}s"

    def switches_on(self) -> dict[str, Any]:
        """The PUT /admin/faults body that starts this fault."""
        if self.action == "outage":
            return {"outage_s": self.duration_s}
        if self.action == "slow_db":
            return {"slow_db_ms": self.params["ms"]}
        if self.action == "errors":
            return {"error_rate": self.params["rate"], "error_path": None}
        if self.action == "latency":
            return {"latency_ms": self.params["ms"], "latency_path": None}
        if self.action == "kill_connections":
            return {"reset_rate": 1.0, "reset_path": None}
        return dict(self.params["switches"])

    def switches_off(self) -> dict[str, Any]:
        """The PUT /admin/faults body that ends it (every switch it set, back to off)."""
        return {k: off_value(k) for k in self.switches_on()}


def off_value(key: str) -> Any:
    """The 'off' value of a fault switch: None for *_path, False for racy_stock, else 0."""
    if key.endswith("_path"):
        return None
    return OFF_VALUES.get(key, 0)


def check_faults(raw: Any, add: Callable[[str, str, str], None]) -> list[FaultStep]:
    """Validate the `faults:` list; report each problem through `add(where, message, fix)`."""
    got = preview
    if raw is None:
        return []
    example = "e.g. faults: [{at: 20s, action: outage, duration: 5s}]"
    if not isinstance(raw, list):
        add("faults", f"must be a list of scheduled faults (got {got(raw)})", example)
        return []
    out: list[FaultStep] = []
    for i, item in enumerate(raw):
        where = f"faults[{i}]"
        if not isinstance(item, Mapping):
            add(where, f"must be a mapping (got {got(item)})", example)
            continue
        ok = True
        for key in item:
            if key not in STEP_KEYS:
                add(
                    f"{where}.{got(key) if not isinstance(key, str) else key[:60]}",
                    f"unknown key {got(key)}",
                    f"{did_you_mean(key, STEP_KEYS)}Known keys: {', '.join(STEP_KEYS)}",
                )
                ok = False
        times: dict[str, float] = {}
        for key in ("at", "duration"):
            if key not in item:
                add(f"{where}.{key}", f"required (got keys: {preview_keys(item)})", example)
                ok = False
                continue
            try:
                times[key] = parse_duration(item[key])
            except QuantityError as e:
                add(f"{where}.{key}", e.message, e.fix)
                ok = False
        if times.get("duration") == 0:
            add(f"{where}.duration", "must be > 0 (got 0)", "e.g. duration: 5s")
            ok = False
        action = item.get("action")
        if not isinstance(action, str) or action not in ACTIONS:  # a list is unhashable: check the type first
            what = (
                f"unknown action {got(action)}"
                if isinstance(action, str | None)
                else f"an action is a name (got {got(action)})"
            )
            add(
                f"{where}.action",
                what,
                f"{did_you_mean(action, ACTIONS)}Known actions: {', '.join(ACTIONS)}",
            )
            continue
        params: dict[str, Any] = {}
        for key, default in ACTIONS[action].items():
            params[key] = item.get(key, default)
        for key in ("ms", "rate", "switches"):
            if key in item and key not in ACTIONS[action]:
                add(
                    f"{where}.{key}",
                    f"action {action} takes no {key!r}",
                    f"{action} takes: {', '.join(ACTIONS[action]) or 'only at and duration'}",
                )
                ok = False
        if "ms" in params and not _number(params["ms"], 0, 600_000):
            add(
                f"{where}.ms",
                f"must be a number of ms in 0..600000 (got {got(params['ms'])})",
                "e.g. ms: 300",
            )
            ok = False
        if "rate" in params and not _number(params["rate"], 0, 1):
            add(f"{where}.rate", f"must be a share in 0..1 (got {got(params['rate'])})", "e.g. rate: 0.5")
            ok = False
        if action == "set" and (not isinstance(params["switches"], Mapping) or not params["switches"]):
            add(
                f"{where}.switches",
                f"must map fault switches to values (got {got(params['switches'])})",
                "e.g. switches: {hang_rate: 0.1}",
            )
            ok = False
        if ok:
            if "ms" in params:
                params["ms"] = float(params["ms"])
            out.append(FaultStep(times["at"], action, times["duration"], params, str(item.get("name") or "")))
    return out


def _number(value: Any, lo: float, hi: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and lo <= value <= hi
