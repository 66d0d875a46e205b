"""The validated load profile as frozen dataclasses (pure); `erpload.profile.load` builds them.

One file is one test. Every stage value is the value reached at the END of the stage, ramping
linearly from the previous stage's value (k6 semantics, Locust words); docs/profiles.md has examples.

    name: peak-200                      required
    description: Shift start...         required
    host: http://erp.local:8000         optional; used when -H/--host is not given
    roles: {CuttingOperator: 50, ...}   user class -> relative weight (>= 0, not all 0);
                                        required unless every stage has its own roles
    stages:                             required, at least one
      - duration: 5m                    required; Locust -t syntax (90, 90s, 5m, 1h30m) or seconds
        users: 200                      running users at the end of the stage (closed model),
                                        at most 1,000,000
        spawn_rate: 10                  optional: users started/stopped per second, then hold
                                        (default: linear over the whole stage)
        roles: {SewingOperator: 1}      optional: this stage's mix, replacing the profile's
        name: warm-up                   optional label, unique (SLA window "stage:warm-up");
                                        default stage-N
      - duration: 10m                   open model (every stage then has arrival_rate):
        arrival_rate: 20/s              workflow iterations per second, total over all workers
                                        (N, "N/s", "N/m", "N/h"); ramps from the previous
                                        stage's rate (0 before the first stage)
        users: 60                       required: the pre-allocated pool that runs the iterations
      - duration: 3m                    per operation (every stage then has rates; erpload.profile.rates):
        rates: {PpicPlanner.plan_order: 50/s}   ROLE.TASK -> total rate, ramping like arrival_rate
        users: 60                       required: the pool; roles without rates keep their think time
    sla: [...]                          rules, parsed by erpload.sla.grammar.parse_rules
    groups:                             named request sets for rules (`rps of group "writes" >= 100`):
      writes: ["POST /production/cutting", "POST /production/work-orders/[id]/claim"]
                                        each "METHOD PATH", as named in the stats (erpload.sla.terms)
    options: {stop_timeout: 30s, arrival_backlog: 2}
    allow: {dropped_iterations: 1%}     share of planned iterations that may be dropped
           {generator_saturation: true, under_delivery: true}   keep such runs valid (warn only)
           {memory_overcommit: true}    start even when the users need more memory than is free
                                        (erpload.profile.capacity.check_memory)
    faults: [{at: 20s, action: outage, duration: 5s}]   scheduled faults (erpload.core.faultplan)
    hot_skus: [FAB-000001, FAB-000002]  stock adjustments pick from these only (lost-update check)
    mode: capacity                      search the capacity instead of following stages
                                        (capacity: block, erpload.profile.capacity_spec)
    api: ../maps/our-erp.yaml           the API map of the ERP under test, relative to this file
                                        (erpload.api; docs/your-erp.md); --api-map or
                                        ERPLOAD_API_MAP overrides it

The file itself is read within bounds (erpload.core.safeyaml): at most 1 MiB, 32 levels deep,
no duplicate keys, numbers of at most 30 digits, aliases expanding to at most 100,000 values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_BACKLOG = 2  # arrival tokens per process that may wait for a free user
DEFAULT_DROPPED = 0.01  # share of planned iterations that may be dropped


@dataclass(frozen=True)
class Stage:
    """One stage: where users (or the arrival rate) are at its end, and how fast they get there."""

    name: str
    duration_s: float
    users: int
    spawn_rate: float | None = None  # None: linear ramp over the whole stage
    roles: dict[str, float] | None = None  # this stage's mix; None: the profile's
    arrival_rate: float | None = None  # open model: total iterations/s at the stage's end
    rates: dict[str, float] | None = None  # per operation: {ROLE.TASK: total per second} at the stage's end


@dataclass(frozen=True)
class Options:
    """Run options a profile may set."""

    stop_timeout_s: float | None = None  # graceful stop for users (Locust --stop-timeout)
    arrival_backlog: int = DEFAULT_BACKLOG  # tokens per process that may wait for a free user


@dataclass(frozen=True)
class Allow:
    """Deviations a run may show and still count as delivering the planned load."""

    dropped_iterations: float = DEFAULT_DROPPED  # fraction of planned iterations
    generator_saturation: bool = False  # a load generator above --worker-cpu-limit keeps the run valid
    under_delivery: bool = False  # closed model: fewer running users than planned keeps the run valid
    memory_overcommit: bool = False  # start even when check_memory says the users will not fit


@dataclass(frozen=True)
class Profile:
    """A validated load profile."""

    name: str
    description: str
    host: str | None
    roles: dict[str, float]
    stages: tuple[Stage, ...]
    sla: tuple = ()  # erpload.sla.grammar.Rule objects
    sla_raw: tuple = ()
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # groups: name -> "METHOD PATH"s
    options: Options = field(default_factory=Options)
    allow: Allow = field(default_factory=Allow)
    source_path: str = ""
    faults: tuple = ()  # erpload.core.faultplan.FaultStep objects, applied by the master (erpload.locust.faults)
    hot_skus: tuple[str, ...] = ()  # stock adjustments pick from these only (erpload.locust.correctness)
    api: str | None = None  # the `api:` map file, resolved to an absolute path; None: not set
    capacity: Any = None  # mode: capacity: erpload.profile.capacity_spec.CapacitySpec; None: mode: stages

    @property
    def duration_s(self) -> float:
        """Total length of all stages."""
        return sum(s.duration_s for s in self.stages)

    @property
    def is_open(self) -> bool:
        """True for an open-model (arrival-rate) profile."""
        return any(s.arrival_rate is not None for s in self.stages)

    @property
    def has_rates(self) -> bool:
        """True for a per-operation profile (stages with `rates:`, erpload.profile.rates)."""
        return any(s.rates is not None for s in self.stages)

    @property
    def role_names(self) -> tuple[str, ...]:
        """Every role the profile or one of its stages mentions, sorted."""
        names = set(self.roles)
        for s in self.stages:
            names |= set(s.roles or {})
        return tuple(sorted(names))

    @property
    def peak_users(self) -> int:
        """The most users running at once: ramps are linear between stage ends, so the largest end."""
        return max((s.users for s in self.stages), default=0)
