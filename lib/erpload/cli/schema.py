"""`erpload schema profile|api-map`: print the JSON Schema generated from the validator's own tables.

For an editor's YAML language server (docs/your-erp.md, docs/profiles.md): save the output, or point
at the copies shipped in the package (erpload/profile/profile.schema.json,
erpload/api/api-map.schema.json), with a first line such as

    # yaml-language-server: $schema=profile.schema.json

`--roles` names the user classes of your own locustfile (the default schema knows the shipped role
users only, as `erpload validate` does without `-f`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from erpload.core.errors import ConfigError, ExitCode, Problem

KINDS = ("profile", "api-map")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `schema` to the `erpload` subcommands."""
    p = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of load profiles or API maps (for an editor's YAML language server)",
        description="Print the JSON Schema generated from erpload's own validator. Save it, or use the copy "
        "shipped in the package (erpload/profile/profile.schema.json, erpload/api/api-map.schema.json), "
        "and start a YAML file with: # yaml-language-server: $schema=PATH-OR-URL",
    )
    p.add_argument("kind", choices=KINDS, help="profile or api-map")
    p.add_argument(
        "--roles",
        metavar="CLASS,...",
        help="profile only: the user classes a profile may name (default: the shipped role users)",
    )
    return p


def cmd_schema(ns: argparse.Namespace) -> int:
    """Print the schema; exit 2 for --roles with api-map or an empty --roles."""
    roles = None
    if ns.roles is not None:
        roles = [r.strip() for r in ns.roles.split(",") if r.strip()]
        if ns.kind != "profile" or not roles:
            raise ConfigError(
                "--roles",
                [
                    Problem(
                        "",
                        f"names user classes of a profile (got {ns.roles!r} for {ns.kind})",
                        "e.g. --roles Burner,Admin",
                    )
                ],
            )
    if ns.kind == "profile":
        from erpload.profile.json_schema import profile_schema

        schema = profile_schema(roles)
    else:
        from erpload.api.json_schema import api_map_schema

        schema = api_map_schema()
    from erpload.api.json_schema import render

    sys.stdout.write(render(schema))
    return ExitCode.PASS
