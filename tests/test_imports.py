"""The package's shape: layers import only the layers below them, no cycles (counting imports inside functions),
every module imports on its own, only the kaggle package talks HTTP, and every module says what it owns."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kaggle_runner"
MODULES = {
    ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
    for p in sorted(PACKAGE.rglob("*.py"))
}
HTTP = ("kagglesdk", "requests", "urllib.request", "http.client", "urllib3")


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Every module this file imports, at the top or inside a function; `from a import b` counts a.b if a module."""
    name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    out = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(name.split(".")[: -node.level] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
    return out


def _graph() -> dict[str, set[str]]:
    return {m: {i for i in _imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}


def test_no_import_cycles() -> None:
    graph = _graph()
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    edges = {
        m: {t for t in ts if not (m.endswith(("cli", "runtime", "emulator")) and t.startswith(m + "."))}
        for m, ts in graph.items()
    }
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    assert cycles == [], f"import cycles: {cycles}"


# Which part of kaggle_runner may import which (docs/design.md, "Layers"): each names only parts below it. A part
# is a package, or a module beside the packages; anything may import the base modules.
BASE = {"errors", "layout", "params"}
LAYERS = {
    "kaggle": set(),
    "config": {"kaggle"},
    "ledger": {"config", "kaggle"},
    "project": {"config", "kaggle", "ledger"},
    "ensembles": set(),
    "team": {"config", "kaggle", "ledger", "project"},
    "loop": {"config", "kaggle", "ledger", "project", "ensembles", "team"},
    "scaffold": {"kaggle"},
    "runtime": {"kaggle"},
    "emulator": {"kaggle"},
    "cli": {"config", "kaggle", "ledger", "project", "ensembles", "team", "loop", "scaffold", "emulator"},
}


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_each_layer_imports_only_the_layers_below_it() -> None:
    assert set(LAYERS) | BASE | {"__main__"} >= {_part(m) for m in MODULES if _part(m)}, "a new part needs a layer"
    wrong = sorted(
        f"{m} imports {t}"
        for m, targets in _graph().items()
        for t in targets
        if _part(t) and _part(t) != _part(m) and _part(t) not in BASE and _part(t) not in LAYERS.get(_part(m), set())
    )
    assert wrong == []


def test_the_layer_check_sees_an_import_that_points_up() -> None:
    code = "def f():\n    from kaggle_runner.loop import pushing\n"
    assert "kaggle_runner.loop.pushing" in _imports(PACKAGE / "ledger" / "db.py", code)
    assert "loop" not in LAYERS["ledger"]


def test_the_cycle_check_sees_imports_inside_functions_and_relative_ones() -> None:
    code = "def f():\n    from kaggle_runner.loop import watching\n    from .responses import Raw\n"
    found = _imports(PACKAGE / "emulator" / "kernels.py", code)
    assert {"kaggle_runner.loop.watching", "kaggle_runner.emulator.responses"} <= found


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith(("runtime.xla", "__main__"))))
def test_each_module_imports_alone_in_a_fresh_interpreter(module: str) -> None:
    r = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_xla_lacks_only_torch_xla_here() -> None:
    # torch_xla cannot be installed beside the CPU torch of CI: its module must fail on that import alone
    r = subprocess.run(
        [sys.executable, "-c", "import kaggle_runner.runtime.xla"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode != 0 and "No module named 'torch_xla'" in r.stderr, r.stderr


def test_only_kaggle_api_talks_http_or_uses_kagglesdk() -> None:
    offenders = {
        m: sorted(i for i in _imports(p) if i.split(".")[0] in ("kagglesdk", "requests", "urllib3") or i in HTTP)
        for m, p in MODULES.items()
        if not m.startswith(("kaggle_runner.kaggle.", "kaggle_runner.emulator"))
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_every_module_opens_with_a_docstring_of_two_lines() -> None:
    bad = []
    for m, p in MODULES.items():
        doc = ast.get_docstring(ast.parse(p.read_text()), clean=False)
        if not doc or len(doc.strip().splitlines()) != 2:
            bad.append(m)
    assert bad == []


def _undocumented(tree: ast.Module, module: str) -> list[str]:
    """Public classes, functions and methods of a module without a docstring."""
    out = []

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not node.name.startswith(
                "_"
            ):
                if not ast.get_docstring(node):
                    out.append(f"{module}.{prefix}{node.name}")
                if isinstance(node, ast.ClassDef):
                    walk(node.body, f"{prefix}{node.name}.")

    walk(tree.body, "")
    return out


def test_every_public_function_says_what_it_does() -> None:
    """The library, the runtime kernels import and the CLI's helpers. The emulator's route handlers are named after
    the RPCs they serve (docs/wire-protocol.md §5) and are left out."""
    missing = [
        name
        for m, p in MODULES.items()
        if not m.startswith("kaggle_runner.emulator")
        for name in _undocumented(ast.parse(p.read_text()), m)
    ]
    assert missing == []


def test_the_docstring_check_sees_a_method() -> None:
    code = "class A:\n    def f(self):\n        return 1\n    def _g(self):\n        return 2\n"
    assert _undocumented(ast.parse(code), "m") == ["m.A", "m.A.f"]


def test_nothing_in_the_repository_points_outside_it() -> None:
    """The design, the facts about Kaggle, the wire protocol and the log formats are in docs/, which code, tests and
    README cite; a fresh clone has nothing beside it to point at."""
    root = PACKAGE.parent
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    outside = [
        name
        for name in tracked.split()
        if (root / name).is_file() and "../" + "shared" in (root / name).read_text(errors="replace")
    ]
    assert outside == []
    for doc in ("design.md", "kaggle-facts.md", "wire-protocol.md", "log-formats.md"):
        assert f"(docs/{doc})" in (root / "README.md").read_text(), doc
