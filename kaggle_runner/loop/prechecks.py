"""What kr refuses before anything is uploaded, because it would fail on Kaggle after hours in the queue: an entry
that does not compile. A script is compiled whole; a notebook cell by cell, its magics and shell lines left out."""

from __future__ import annotations

import json
from pathlib import Path

from kaggle_runner.errors import UserError

SKIPPED = " (nothing was pushed; --no-check skips this check)"


def entry_compiles(path: Path, source: str, shown: str) -> None:
    """Raise one line naming `shown:LINE` when the entry does not compile. `shown` is the path the user knows
    (kernels/k2/main.py); a notebook's cell is named too. The check uses this Python's grammar."""
    if path.suffix == ".ipynb":
        for number, cell in _code_cells(source, shown):
            _compiles(cell, f"{shown} cell {number}")
    else:
        _compiles(source, shown)


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
