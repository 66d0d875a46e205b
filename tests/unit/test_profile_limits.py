"""Profiles that would hang, crash or exhaust memory are refused with where/what/fix (exit 2), never a traceback.

Each hostile file also runs through `erpload validate` as a subprocess under a 1 GiB address-space
limit and a time bound, so a regression fails here instead of eating the machine.
"""

from __future__ import annotations

import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from erpload.core.errors import Problem
from erpload.core.safeyaml import load_yaml_text
from erpload.profile import (
    KB_PER_USER,
    check_memory,
    load_profile,
    parse_profile,
    target_at,
    validate_profile_file,
)
from erpload.profile.load import ALLOW

ROOT = Path(__file__).resolve().parents[2]
HEAD = "name: limits\ndescription: d\nroles: {Admin: 1}\n"
STAGES = "stages:\n  - {duration: 10s, users: 1}\n"
GIB = 1 << 30


def _bomb() -> str:
    """Billion laughs: 9 levels of 9 aliases each, 9**9 'lol's; a few hundred bytes of YAML."""
    levels = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return HEAD + STAGES + f"hot_skus: [{', '.join(levels)}]\n"


HOSTILE = {
    "deep-nesting": (
        HEAD + STAGES + "hot_skus: " + "[" * 20_000 + "]" * 20_000 + "\n",
        "nested deeper than 32 levels",
    ),
    "anchor-bomb": (_bomb(), "the document expands to more than 100,000 values through its 81 aliases"),
    "400-digit-int": (
        HEAD + "stages:\n  - {duration: 10s, users: " + "9" * 400 + "}\n",
        "a number of 400 digits",
    ),
    "5000-digit-int": (
        HEAD + "stages:\n  - {duration: 10s, users: " + "9" * 5000 + "}\n",
        "a number of 5000 digits",
    ),
    "superscript-for": (
        HEAD + STAGES + 'sla:\n  - {rule: "p95 < 1s", abort: true, for: "²"}\n',
        "sla[0].for: not a duration (got '²')",
    ),
    "action-list": (
        HEAD + STAGES + "faults:\n  - {at: 1s, action: [outage], duration: 1s}\n",
        "faults[0].action: an action is a name (got ['outage'])",
    ),
    "over-1-MiB": (
        HEAD + STAGES + "# " + "x" * (1 << 20) + "\n",
        "the file is larger than 1 MiB (got 1,048,",
    ),
    "duplicate-top-key": (
        HEAD + STAGES + "stages: []\n",
        "line 6, column 1: duplicate key 'stages' (first at line 4",
    ),
    "duplicate-nested-key": (
        HEAD + "stages:\n  - {duration: 10s, users: 1, users: 1000}\n",
        "line 5, column 31: duplicate key 'users' (first at line 5, column 21)",
    ),
    "duplicate-stage-name": (
        HEAD
        + "stages:\n  - {name: peak, duration: 10s, users: 1}\n  - {name: peak, duration: 10s, users: 2}\n",
        "stages[1].name: duplicate stage name 'peak' (also stages[0])",
    ),
    "a-billion-users": (
        HEAD + "stages:\n  - {duration: 10s, users: 1000000000}\n",
        "stages[0].users: more than 1,000,000 users in one stage (got 1,000,000,000)",
    ),
}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_erpload_validate_refuses_a_hostile_file_quickly_with_exit_2(case: str, tmp_path: Path) -> None:
    text, message = HOSTILE[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from erpload.cli import main; sys.exit(main())",
            "validate",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_memory,
        cwd=ROOT,
        check=False,
    )
    both = out.stdout + out.stderr
    assert out.returncode == 2, both[-2000:]
    assert "Traceback" not in both and "MemoryError" not in both
    assert f"Error: {path} is not valid:" in out.stdout and message in out.stdout, out.stdout[-2000:]
    assert len(out.stdout) < 2000  # bounded: no value is echoed whole
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_each_hostile_file_is_one_problem_with_a_fix(case: str, tmp_path: Path) -> None:
    text, message = HOSTILE[case]
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    problems = validate_profile_file(path)
    assert len(problems) == 1 and message in str(problems[0]) and problems[0].fix, problems


@pytest.mark.parametrize("tag, value", [("int", "name"), ("float", "stages"), ("timestamp", "2001-13-45")])
def test_an_explicit_tag_with_a_bad_value_is_a_problem_not_a_traceback(
    tmp_path: Path, tag: str, value: str
) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text(HEAD + STAGES + f"hot_skus: [!!{tag} {value}]\n")
    assert [str(p) for p in validate_profile_file(path)] == [
        f"line 6, column 12: not a valid !!{tag} value (got '{value}'). Write a valid {tag} or remove the !!{tag} tag"
    ]


MUTATIONS = [
    "&a ",
    "*a",
    "<<: ",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "!!int ",
    "!!float ",
    "!!set ",
    "? ",
    "9" * 40,
]
MUTATIONS += [
    "²",
    "0x",
    ".inf",
    ".nan",
    "~",
    "\t",
    "'",
    '"',
    "\n  ",
    "users: ",
    "duration: ",
    "1e309",
    "190:20:30",
]


def test_mutated_profiles_give_problems_never_exceptions() -> None:
    """A seeded fuzz over the shipped smoke profile: every mutation loads, or lists problems."""
    src = (ROOT / "profiles" / "smoke.yaml").read_text()
    rng = random.Random(12)
    for _ in range(600):
        text = src
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(text))
            if rng.random() < 0.6:
                text = text[:i] + rng.choice(MUTATIONS) + text[i:]
            else:
                text = text[:i] + text[i + rng.randint(1, 10) :]
        data, problems = load_yaml_text(text)
        profile, problems = parse_profile(data) if not problems else (None, problems)
        assert profile is not None or problems, text
        if profile is not None:
            check_memory(profile, workers=1, available_bytes=GIB)
            target_at(profile, 3.0)


def test_anchors_aliases_and_merge_keys_within_bounds_still_load(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        HEAD + "stages:\n"
        "  - &hold {name: ramp, duration: 10s, users: 4}\n"
        "  - {<<: *hold, name: hold, duration: 20s}\n"  # a merge key, then overriding: not a duplicate
    )
    p = load_profile(path)
    assert [(s.name, s.duration_s, s.users) for s in p.stages] == [("ramp", 10, 4), ("hold", 20, 4)]


def test_default_stage_names_count_as_names() -> None:
    doc = {"name": "n", "description": "d", "roles": {"Admin": 1}}
    doc["stages"] = [{"duration": 5, "users": 1, "name": "stage-2"}, {"duration": 5, "users": 1}]
    _, found = parse_profile(doc)
    assert [str(p) for p in found] == [
        "stages[1].name: duplicate stage name 'stage-2' (also stages[0]). Give every stage its own name: "
        "SLA windows (stage:NAME) and reports tell them apart by it"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("users", 1_000_001, "more than 1,000,000 users in one stage (got 1,000,001)"),
        ("spawn_rate", 5e-324, None),  # tiny but > 0: a ramp that cannot finish, reported, not a crash
        ("duration", 5e-324, None),
    ],
)
def test_sanity_bounds_on_stage_numbers(field: str, value: object, message: str | None) -> None:
    stage = {"duration": 10, "users": 10, "spawn_rate": 1, field: value}
    _, found = parse_profile({"name": "n", "description": "d", "roles": {"Admin": 1}, "stages": [stage]})
    assert found, "expected a problem"
    if message:
        assert [p.message for p in found] == [message]


def test_role_weights_are_bounded() -> None:
    _, found = parse_profile(
        {
            "name": "n",
            "description": "d",
            "roles": {"Admin": 1e308, "QcInspector": 1e308},
            "stages": [{"duration": 5, "users": 3}],
        }
    )
    assert {p.where for p in found} == {"roles.Admin", "roles.QcInspector"}
    assert "weight must be a number in 0..1,000,000 (got 1e+308)" in found[0].message


# -- check_memory ---------------------------------------------------------------------------------------------
def _profile(users: int, **allow: object):
    p, found = parse_profile(
        {
            "name": "n",
            "description": "d",
            "roles": {"Admin": 1},
            "stages": [{"duration": 5, "users": users}],
            "allow": allow,
        }
    )
    assert p is not None, found
    return p


def test_check_memory_passes_when_the_users_fit() -> None:
    assert check_memory(_profile(1000), workers=1, available_bytes=GIB) == []
    assert check_memory(_profile(0), workers=0, available_bytes=0) == []


def test_check_memory_error_shows_the_arithmetic_and_the_ways_out() -> None:
    found = check_memory(_profile(1_000_000), workers=4, available_bytes=GIB)
    assert len(found) == 1 and isinstance(found[0], Problem) and found[0].where == "stages"
    assert found[0].message == (
        "1,000,000 users at the peak / 4 load-generating processes x 40 KB per user = 9,766 MiB per process, "
        "more than the 1,024 MiB of memory available"
    )
    assert "Lower users to at most 104,856" in found[0].fix
    assert "at least 39 workers" in found[0].fix and "allow: {memory_overcommit: true}" in found[0].fix


def test_check_memory_divides_by_workers_and_uses_the_given_kb_per_user() -> None:
    p = _profile(100_000)  # 100,000 x 40 KB = 3,906 MiB
    assert check_memory(p, workers=1, available_bytes=2 * GIB)
    assert check_memory(p, workers=2, available_bytes=2 * GIB) == []
    assert check_memory(p, workers=1, available_bytes=2 * GIB, kb_per_user=16) == []
    assert KB_PER_USER == 40.0


def test_allow_memory_overcommit_skips_the_check_and_must_be_a_boolean() -> None:
    assert check_memory(_profile(1_000_000, memory_overcommit=True), workers=1, available_bytes=GIB) == []
    assert ALLOW["memory_overcommit"] is False
    _, found = parse_profile(
        {
            "name": "n",
            "description": "d",
            "roles": {"Admin": 1},
            "stages": [{"duration": 5, "users": 1}],
            "allow": {"memory_overcommit": "yes please"},
        }
    )
    assert [(p.where, p.message) for p in found] == [
        ("allow.memory_overcommit", "invalid value (got 'yes please')")
    ]
