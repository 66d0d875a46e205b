"""Load profiles: the schema checker, the Profile model, the stage plan maths and the memory check.

Pure: imports only erpload.sla and erpload.core (and PyYAML). Import from here; the modules are
load (files -> Profile), model (dataclasses), plan (stage maths), capacity (memory), schema and
stages (the checks); files are read by erpload.core.safeyaml (bounded YAML).
"""

from erpload.core.safeyaml import MAX_BYTES, MAX_DEPTH, MAX_NODES
from erpload.profile.capacity import KB_PER_USER, check_memory, memory_needed
from erpload.profile.load import load_profile, parse_profile, validate_profile_file
from erpload.profile.model import Allow, Options, Profile, Stage
from erpload.profile.plan import StagePlan, StageTarget, allocate, stage_plan, target_at
from erpload.profile.stages import MAX_USERS

__all__ = [
    "KB_PER_USER",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_USERS",
    "Allow",
    "Options",
    "Profile",
    "Stage",
    "StagePlan",
    "StageTarget",
    "allocate",
    "check_memory",
    "load_profile",
    "memory_needed",
    "parse_profile",
    "stage_plan",
    "target_at",
    "validate_profile_file",
]
