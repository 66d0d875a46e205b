"""The code's shape: no import cycle, modules of one job (<= 300 lines), pure packages kept pure,
test modules that share code only through tests/helpers.py.

The cycle and size checks read the source with `ast` (no import of the package; imports inside
functions and under TYPE_CHECKING count too); the purity and layer checks run the real import-linter
on the contracts in pyproject.toml.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lib" / "erpload"
MAX_LINES = 300
EXCUSE = "Over 300 lines:"


def module_name(path: Path) -> str:
    """lib/erpload/core/units.py -> erpload.core.units; a package's __init__.py -> the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that `name` imports anywhere in its source (functions included).

    `from a.b import c` counts as importing the module a.b.c when that is a module, else a.b;
    relative imports are resolved against the importing module's package.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import erpload.core.units.x` -> the nearest module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    mods = modules()
    return {name: imported(name, path, set(mods)) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None (iterative DFS, grey/black colouring)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_graph_sees_imports_inside_functions():
    """Guard for the checks below: the graph is not empty and follows function-local imports."""
    graph = import_graph()
    assert "erpload.core.units" in graph and "erpload.plugin" in graph
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    local = [
        name
        for name, path in modules().items()
        for fn in ast.walk(ast.parse(path.read_text()))
        if isinstance(fn, ast.FunctionDef)
        for node in ast.walk(fn)
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("erpload"))
    ]
    assert local, "expected at least one function-local import of the package (the CLI defers them)"


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def unexcused_length(path: Path) -> int | None:
    """The line count of a module over the limit whose docstring gives no 'Over 300 lines:' reason."""
    text = path.read_text()
    lines = len(text.splitlines())
    doc = ast.get_docstring(ast.parse(text)) or ""
    excused = any(line.strip().startswith(EXCUSE) for line in doc.splitlines())
    return lines if lines > MAX_LINES and not excused else None


def test_modules_stay_small_or_say_why():
    """A module over 300 lines states why in its docstring ('Over 300 lines: <reason>')."""
    over = {str(p.relative_to(ROOT)): unexcused_length(p) for p in modules().values() if unexcused_length(p)}
    assert not over, (
        f"modules over {MAX_LINES} lines (split them, or give the reason in the module docstring on a "
        f"line starting with {EXCUSE!r}): " + ", ".join(f"{p} ({n})" for p, n in sorted(over.items()))
    )


def test_length_excuse_is_read_from_the_docstring(tmp_path):
    body = "x = 1\n" * MAX_LINES
    bare, excused = tmp_path / "bare.py", tmp_path / "excused.py"
    bare.write_text('"""One job."""\n' + body)
    excused.write_text(
        '"""One job.\n\nOver 300 lines: one table the spec defines in one place.\n"""\n' + body
    )
    assert unexcused_length(bare) == MAX_LINES + 1
    assert unexcused_length(excused) is None


def lint_imports() -> str:
    """The `lint-imports` command installed beside this interpreter (the dev extra)."""
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert found, "lint-imports not installed: pip install -e '.[dev]' (import-linter)"
    return found


@pytest.mark.parametrize("contract", ["pure", "layers"])
def test_import_contract(contract):
    """pure: core/sla/profile/report import no locust, gevent, flask, psutil, requests (the real tool)."""
    out = subprocess.run(
        [lint_imports(), "--no-cache", "--no-logo", "--contract", contract],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, f"contract {contract!r} broken:\n{out.stdout}{out.stderr}"
    assert "KEPT" in out.stdout, out.stdout


def test_no_test_module_imports_another():
    """Shared test code lives in tests/helpers.py; a test module importing another runs its fixtures twice."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top.startswith("test_") or top in ("conftest", "tests"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not offenders, "move shared code to tests/helpers.py: " + "; ".join(offenders)
