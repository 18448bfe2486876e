"""How the CLI shows things: rich tables sized for a terminal or a pipe, JSON for scripts, numbers, durations,
metric tables and correlation matrices. Pure formatting; no command logic."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import typer


class LogWriter:
    """A kernel's log events written as a person reads them: stdout and stderr in the order they came, both on
    stdout (`split`: stderr on stderr), each line's carriage-return updates (tqdm's bars) down to their last
    state; `live` on a terminal writes the events as they are, for the terminal to redraw."""

    def __init__(self, split: bool = False, live: bool = False) -> None:
        self.split, self.live = split, live
        self.pending: dict[str, str] = {}

    def write(self, event: dict[str, Any]) -> None:
        """Write one event's text (complete lines at once; a partial line waits for its end)."""
        stream = "stderr" if event.get("stream_name") == "stderr" else "stdout"
        out = sys.stderr if self.split and stream == "stderr" else sys.stdout
        data = str(event.get("data", ""))
        if self.live:
            out.write(data)
            out.flush()
            return
        *lines, rest = (self.pending.pop(stream, "") + data).replace("\r\n", "\n").split("\n")
        out.write("".join(_last_state(line) + "\n" for line in lines))
        if rest:
            self.pending[stream] = rest

    def close(self) -> None:
        """Write the partial lines still waiting, then flush."""
        for stream, rest in self.pending.items():
            (sys.stderr if self.split and stream == "stderr" else sys.stdout).write(_last_state(rest) + "\n")
        self.pending.clear()
        sys.stdout.flush()


def _last_state(line: str) -> str:
    return line.rstrip("\r").rsplit("\r", 1)[-1]


QUIET = {"on": False}  # `kr -q`: no progress bars or spinners


def showing_progress() -> bool:
    """Progress goes to stderr, only on a terminal, and never with -q."""
    return sys.stderr.isatty() and not QUIET["on"]


class Transfers:
    """Progress bars for uploads and downloads on stderr (bytes, rate, time left), one per file while it moves;
    the display starts with the first and goes when the last is done. KaggleApi.on_bytes calls it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

        columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        self.progress = Progress("{task.description}", *columns, console=Console(stderr=True), transient=True)
        self.tasks: dict[str, Any] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        """`done` of `total` bytes of `name` have moved (total 0: unknown)."""
        if name not in self.tasks:
            if not self.tasks:
                import atexit

                self.progress.start()
                atexit.register(self.progress.stop)  # a failed upload leaves no half-drawn bar behind its error
            self.tasks[name] = self.progress.add_task(name, total=total or None)
        self.progress.update(self.tasks[name], completed=done)
        if total and done >= total:
            self.progress.remove_task(self.tasks.pop(name))
            if not self.tasks:
                self.progress.stop()


class _Still:
    def update(self, text: str) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def __enter__(self) -> _Still:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class Waits:
    """A spinner on stderr for what KaggleApi.on_wait says kr waits for; it goes when told None."""

    def __init__(self) -> None:
        self.status: Any = None

    def __call__(self, text: str | None) -> None:
        if text is None:
            if self.status is not None:
                self.status.stop()
                self.status = None
            return
        if self.status is None:
            self.status = spinner(text)
            self.status.start()
        self.status.update(text)


def live_table(columns: list[str], rows: list[list[str]]) -> Any:
    """A table for a live view on stderr (kr wait of many runs, kr sweep), its status column coloured by state."""
    from rich.table import Table
    from rich.text import Text

    t = Table(show_edge=False, header_style="bold", pad_edge=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[Text(cell, style=_style(c, cell, None)) for c, cell in zip(columns, r, strict=True)])
    return t


def clock(seconds: float | None) -> str:
    """Elapsed time as m:ss (h:mm:ss past an hour); blank when unknown."""
    if seconds is None:
        return ""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


STATE_STYLES = {"ERROR": "red", "CANCEL": "yellow", "REFUSED": "red", "COMPLETE": "green"}


def _style(column: str, cell: str, top: str | None) -> str:
    if column == "status":
        return next((style for state, style in STATE_STYLES.items() if cell.startswith(state)), "")
    return "bold green" if top is not None and cell == top else ""


def _highest(cells: list[str]) -> str | None:
    """The cell holding the highest number of a column (the best score, as kr ls sorts them), if any."""
    numbers = []
    for c in cells:
        try:
            numbers.append((float(c), c))
        except ValueError:
            continue
    return max(numbers)[1] if len(numbers) > 1 else None


def spinner(text: str) -> Any:
    """A spinner on stderr saying what is being waited for (`.update(text)` changes it); nothing with -q or when
    stderr is not a terminal."""
    if not showing_progress():
        return _Still()
    from rich.console import Console

    return Console(stderr=True).status(text)


def as_json(obj: Any) -> None:
    """Print `obj` as indented JSON on stdout (paths and dates as text)."""
    typer.echo(json.dumps(obj, indent=1, default=str))


def as_json_list(items: Iterable[Any]) -> None:
    """A JSON list, one item a line, written as the items come (a log can hold millions of metric points)."""
    out, batch, first = sys.stdout, [], True
    encode = json.JSONEncoder(default=str).encode
    for item in items:
        batch.append(encode(item))
        if len(batch) == 4096:
            out.write(("[\n " if first else ",\n ") + ",\n ".join(batch))
            batch, first = [], False
    if batch:
        out.write(("[\n " if first else ",\n ") + ",\n ".join(batch))
    out.write("[]\n" if first and not batch else "\n]\n")
    out.flush()


def err(text: str) -> None:
    """Print a line on stderr at once: progress and warnings, never results."""
    print(text, file=sys.stderr, flush=True)


WRAPPED = ("message", "notes", "path", "kr's running runs", "failure", "status")  # text columns that may wrap at spaces
GAP = 3  # what rich puts between two columns: a space, the rule, a space


def width() -> int:
    """The columns output may use: $COLUMNS when set, else the terminal's; piped output gets 200, so that files and
    grep are not folded at rich's default of 80."""
    import os
    import shutil

    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else 200


def table(
    title: str | None,
    columns: list[str],
    rows: list[list[Any]],
    right: tuple[str, ...] = (),
    spare: tuple[str, ...] = (),
    best: tuple[str, ...] = (),
) -> None:
    """Print a rich table on stdout; `right` names the columns aligned right (numbers). A number or a word is never
    split inside a cell: only the text columns of WRAPPED wrap, at spaces. Columns that still do not fit are left
    out, those named in `spare` first (in that order), then from the right, and a line on stderr names them.
    On a terminal a "status" cell is coloured by state (ERROR red), and the highest value of each `best` column
    (a score) is bold green; piped, or with NO_COLOR set, there is no colour."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    cells = [["" if v is None else str(v) for v in r] for r in rows]
    need = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    least = [
        max([len(c)] + [len(w) for r in cells for w in r[i].split()]) if c in WRAPPED else need[i]
        for i, c in enumerate(columns)
    ]
    order = [c for c in spare if c in columns] + [c for c in reversed(columns[1:]) if c not in spare]
    kept = list(range(len(columns)))
    for name in order:
        if sum(least[i] for i in kept) + GAP * (len(kept) - 1) <= width():
            break
        kept.remove(columns.index(name))
    # the text columns share what the others leave, each at least its longest word; wrapped here, at spaces
    wrapped = sorted((i for i in kept if columns[i] in WRAPPED), key=lambda i: need[i])
    room = width() - sum(need[i] for i in kept if columns[i] not in WRAPPED) - GAP * (len(kept) - 1)
    widths = {i: need[i] for i in kept}
    for k, i in enumerate(wrapped):
        rest = sum(least[j] for j in wrapped[k + 1 :])
        widths[i] = min(need[i], max(least[i], room // (len(wrapped) - k)), room - rest)
        room -= widths[i]
    t = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
    for i in kept:
        t.add_column(columns[i], justify="right" if columns[i] in right else "left", no_wrap=True, width=widths[i])
    top = {columns.index(c): _highest([r[columns.index(c)] for r in cells]) for c in best if c in columns}
    for r in cells:
        # cells are the user's text (messages, notes in [brackets]), never rich markup
        t.add_row(
            *[
                Text(_wrap(r[i], widths[i]) if i in wrapped else r[i], style=_style(columns[i], r[i], top.get(i)))
                for i in kept
            ]
        )
    Console(width=width()).print(t)
    left = [c for i, c in enumerate(columns) if i not in kept]
    if left:
        sys.stdout.flush()
        err(f"(left out to fit {width()} columns: {', '.join(left)}; --json has them)")


def _wrap(text: str, columns: int) -> str:
    import textwrap

    return textwrap.fill(text, columns, break_long_words=False, break_on_hyphens=False) if text else text


def num(v: Any, digits: int = 5) -> str:
    """A value for a table cell: floats to `digits` significant digits, None as empty."""
    if v is None:
        return ""
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def duration(seconds: float | None) -> str:
    """M:SS, or H:MM:SS from an hour on; empty when unknown."""
    if seconds is None:
        return ""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def when(date: str | None) -> str:
    """An ISO timestamp as `YYYY-MM-DD HH:MM`."""
    return (date or "")[:16].replace("T", " ")


MAX_POINT_ROWS = 2000  # more points than this are shown as one row per series


def metrics_table(points: Iterable[dict[str, Any]], title: str) -> None:
    """Every point as a row; a log with more points gets one row per series instead (`--json` lists them all)."""
    from kaggle_runner.ledger.metrics import series

    rows: list[list[Any]] = []
    summary: dict[str, list[Any]] = {}  # series -> [points, first, last, min, max, first line, last line]
    count = 0
    for p in points:
        count += 1
        if count <= MAX_POINT_ROWS:
            rows.append([p.get("line"), series(p), p.get("split"), p.get("epoch"), p.get("step"), num(p["value"], 6)])
        s = summary.get(series(p))
        v = p["value"]
        if s is None:
            summary[series(p)] = [1, v, v, v, v, p.get("line"), p.get("line")]
        else:
            s[0] += 1
            s[2], s[3], s[4], s[6] = v, min(s[3], v), max(s[4], v), p.get("line")
    if not count:
        err(f"{title}: no metric lines found (see `kr metrics --help` for the shapes kr reads)")
    elif count <= MAX_POINT_ROWS:
        table(
            title, ["line", "series", "split", "epoch", "step", "value"], rows, right=("line", "epoch", "step", "value")
        )
    else:
        table(
            f"{title}: {count} points in {len(summary)} series",
            ["series", "points", "first", "last", "min", "max", "lines"],
            [[name, s[0], *(num(x, 6) for x in s[1:5]), f"{s[5]}-{s[6]}"] for name, s in summary.items()],
            right=("points", "first", "last", "min", "max", "lines"),
        )
        err(f"{title}: {count} points, one row per series; --json lists every point")


def correlation_table(column: str, labels: list[str], matrix: list[list[Any]], method: str) -> None:
    """The inputs' pairwise correlation (or, for vote, agreement) on one column, as `kr merge` shows it."""
    what = "agreement" if method == "vote" else "correlation"
    table(
        f"{column}: {what}",
        ["", *labels],
        [[a, *[num(v, 4) for v in row]] for a, row in zip(labels, matrix)],
        right=tuple(labels),
    )


def submissions_table(subs: list[dict[str, Any]], title: str | None = "submissions", source: bool = False) -> None:
    """Submissions with their status and scores, as `kr scores` and `kr show` list them."""
    columns = ["ref", "date", *(["from"] if source else []), "status", "public", "private", "description"]
    table(
        title,
        columns,
        [
            [
                s["ref"],
                when(s["date"]),
                *([s["source"] or "(outside kr)"] if source else []),
                s["status"],
                s["public_score"],
                s["private_score"],
                s["description"],
            ]
            for s in subs
        ],
        right=("ref", "public", "private"),
    )
