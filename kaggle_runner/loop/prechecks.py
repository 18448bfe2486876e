"""What kr refuses before anything is uploaded, because it would fail on Kaggle after hours in the queue: code that
does not compile, and a top-level import that nothing there provides. Notebooks are read cell by cell."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from pathlib import Path

from kaggle_runner.config import Config, KernelSpec
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle import image

SKIPPED = " (nothing was pushed; --no-check skips this check)"


def kernel_ready(
    cfg: Config, spec: KernelSpec, source: str, shipped: dict[str, Path], wheel_modules: Iterable[str] = ()
) -> None:
    """Raise one line (`kernels/k2/main.py:3: ...`) when the kernel would fail at once on Kaggle: the entry or a
    `.py` shipped from its folder does not compile, or a top-level import of the entry or of a module beside it
    names a module that neither the kernel's folder, the code bundle's packages, the wheels of code.requirements
    (`wheel_modules`) nor Kaggle's image provides. `shipped` is packaging.kernel_files: what goes up."""
    entry = spec.folder / spec.entry
    shown = _shown(cfg.root, entry)
    folder = spec.folder.resolve()
    own = {path.resolve() for path in shipped.values() if path.resolve().is_relative_to(folder)}
    modules = {_module_of(path.relative_to(folder)) for path in own} | {Path(p).name for p in cfg.packages}
    modules |= ({"kaggle_runner"} if cfg.ships_packages else set()) | set(wheel_modules)
    pieces = _code_cells(source, shown) if entry.suffix == ".ipynb" else [(0, source)]
    checked = [(f"{shown} cell {n}" if n else shown, text) for n, text in pieces]
    for path in sorted(p for p in own if p.suffix == ".py"):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"{_shown(cfg.root, path)}: cannot be read as UTF-8 text ({e}){SKIPPED}") from e
        if path.parent == folder:  # a module beside the entry: its imports are checked too
            checked.append((_shown(cfg.root, path), text))
        else:
            _compiles(text, _shown(cfg.root, path))
    for where, text in checked:
        _compiles(text, where)
        for line, module in _top_level_imports(text):
            if module not in modules and not image.provides(module):
                raise UserError(
                    f"{where}:{line}: no module '{module}' in the kernel's folder, your packages, Kaggle's image or "
                    f"requirements (code.packages, code.requirements){SKIPPED}"
                )


def _shown(root: Path, path: Path) -> str:
    """The path the user knows: from the project's root (kernels/k2/main.py)."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _module_of(rel: Path) -> str:
    """The top-level module a shipped file makes importable: utils.py -> utils, pkg/x.py -> pkg."""
    return rel.parts[0] if len(rel.parts) > 1 else rel.name.split(".")[0]


def _top_level_imports(source: str) -> list[tuple[int, str]]:
    """(line, top-level module) of each import in the module's own body: an import inside a function, a `try:` or
    an `if` may be optional, so only these are sure to run."""
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module.split(".")[0]))
    return out


def _compiles(source: str, shown: str) -> None:
    try:
        compile(source, shown, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise UserError(f"{shown}:{e.lineno or 1}: {e.msg}{SKIPPED}") from e
    except ValueError as e:  # a NUL byte: no Python reads the file
        raise UserError(f"{shown}: {e}{SKIPPED}") from e


def _code_cells(source: str, shown: str) -> list[tuple[int, str]]:
    """(cell number, source) of each code cell. IPython's lines are blanked, not removed, so line numbers hold:
    `%magic`, `!shell`, `?help`; a `%%cell` magic leaves its cell out, as it is not Python."""
    try:
        cells = json.loads(source).get("cells", [])
    except (json.JSONDecodeError, AttributeError) as e:
        raise UserError(f"{shown}: not a notebook (its JSON does not read: {e}){SKIPPED}") from e
    out = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        if text.lstrip().startswith("%%"):
            continue
        lines = ["" if line.lstrip().startswith(("%", "!", "?")) else line for line in text.split("\n")]
        out.append((number, "\n".join(lines)))
    return out
