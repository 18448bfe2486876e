"""Ensembles of submission files: align rows on the id column, combine each target column by one method,
write the first input's ids back exactly as written. Vectorised with pyarrow and numpy; nothing per row in Python."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaggle_runner.ensembles.align import Index
from kaggle_runner.ensembles.table import (
    CsvError,
    Table,
    arrow_view,
    chunk_views,
    numpy_view,
    pooled,
    read,
    same_columns,
)
from kaggle_runner.errors import UserError

METHODS = ("mean", "weighted", "rank", "geo", "power", "vote")


@dataclass
class Result:
    """A merge before it is written: the merged columns in the first input's order, and the inputs' correlation."""

    first: Table  # the first input: its order, header and id text are the output's
    id_column: str
    columns: dict[str, Any]  # merged target columns in the first input's order
    correlation: dict[str, list[list[float | None]]]  # per column: the inputs' pairwise Pearson r (vote: agreement)
    rows: int


def check_options(method: str, weights: list[float] | None, power: float | None, n_inputs: int) -> list[float]:
    """Validated weights (all 1.0 when none are given)."""
    if method not in METHODS:
        raise UserError(f"--method: '{method}' is unknown; use one of {', '.join(METHODS)}")
    if n_inputs < 2:
        raise UserError("a merge needs at least two inputs")
    if method == "weighted" and not weights:
        raise UserError("--method weighted needs --weights, one per input, e.g. --weights 0.6,0.4")
    if power is not None and method != "power":
        raise UserError("--power is for --method power")
    if method == "power" and (power is None or power == 0):
        raise UserError("--method power needs a non-zero --power K (e.g. --power 2; geo is the K -> 0 limit)")
    if weights is None:
        return [1.0] * n_inputs
    if len(weights) != n_inputs:
        raise UserError(f"--weights: {len(weights)} weights for {n_inputs} inputs; give one per input")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise UserError("--weights: weights must be >= 0 and not all 0")
    return list(weights)


def parse_weights(text: str | None) -> list[float] | None:
    """`--weights 0.6,0.4` as numbers; None when not given."""
    if text is None:
        return None
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise UserError(f"--weights: '{text}' is not a comma-separated list of numbers (e.g. 0.6,0.4)") from None


def _read_ahead(paths: list[Path], id_column: str | None, labels: bool) -> Any:
    """Each input in turn, the next two being read meanwhile: pyarrow's parser leaves a core partly idle, so two
    files parse faster side by side, and the alignment of one input fills the gaps. At most three are in memory."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        pending = deque(pool.submit(read, p, id_column, labels) for p in paths[:2])
        for following in [*paths[2:], None, None]:
            table = pending.popleft().result()
            if following is not None:
                pending.append(pool.submit(read, following, id_column, labels))
            yield table


def _placed(values: Any, where: Any, labels: bool) -> Any:
    """One input's column in the first input's order (where: Index.positions, per chunk); contiguous."""
    import numpy as np

    if where is None:
        return values.combine_chunks() if labels else numpy_view(values)
    if labels:
        order, start = np.empty(len(values), dtype=np.int64), 0
        for rows in where:
            order[rows] = np.arange(start, start + len(rows))
            start += len(rows)
        return values.combine_chunks().take(arrow_view(order))
    out = pooled(len(values), np.float64)
    for rows, chunk in zip(where, chunk_views(values), strict=True):  # every column of a table has the same chunks
        out[rows] = chunk
    return out


def rank_average(x: Any) -> Any:
    """Ranks 1..n with ties sharing their average rank (scipy's rankdata 'average')."""
    import numpy as np

    order = np.argsort(x, kind="stable")
    xs = x[order]
    start = np.concatenate(([True], xs[1:] != xs[:-1]))
    group = np.cumsum(start) - 1
    firsts = np.flatnonzero(start)
    lasts = np.concatenate((firsts[1:], [len(x)]))
    ranks = np.empty(len(x))
    ranks[order] = ((firsts + 1 + lasts) / 2.0)[group]
    return ranks


class _Running:
    """One target column, combined as the inputs arrive: the weighted sum of each input's term (the value, its rank,
    log or power), and the dot products for the correlation. Little is then left after the last input is read."""

    def __init__(self, method: str, weights: list[float], power: float | None, first: Table, column: str):
        self.method, self.power, self.first, self.column = method, power, first, column
        # Ranks are summed with the weights as given and divided once at the end: ranks are halves, so with whole
        # weights the sums are exact and rows with equal rank sums get equal values.
        self.raw, self.wsum = list(weights), sum(weights)
        self.w = [wi / self.wsum for wi in weights]
        self.stack: list[Any] = []  # every input's values in the first input's order
        self.total: Any = None
        self.dots: list[list[float]] = []  # dots[i][j] = x_i . x_j for j <= i

    @property
    def _power(self) -> float:
        assert self.power is not None  # check_options requires K for --method power
        return self.power

    def add(self, x: Any, path: Path) -> None:
        import numpy as np

        self.stack.append(x)
        if self.method == "vote":
            return
        i, method = len(self.stack) - 1, self.method
        if method in ("geo", "power"):
            bad = (x <= 0) if method == "geo" else (x < 0)
            if bad.any():
                row = int(np.argmax(bad))
                need = "positive" if method == "geo" else "non-negative"
                raise CsvError(
                    f"{path}: column '{self.column}' has {float(x[row])!r}; --method {method} needs {need} "
                    f"values (id {self.first.ids[row].as_py()!r})"
                )
        weight = self.w[i]
        if method == "rank":
            term, weight = rank_average(x), self.raw[i]
        elif method == "geo":
            term = np.log(x)
        elif method == "power":
            term = np.power(x, self._power)
        else:
            term = x
        if self.total is None:
            self.total = weight * term
        else:
            self.total += weight * term
        self.dots.append([_dot(x, other) for other in self.stack])

    def values(self) -> Any:
        import numpy as np

        if self.method == "vote":
            return _vote(self.stack, self.w)
        if self.method == "geo":
            return np.exp(self.total)
        if self.method == "power":
            return np.power(self.total, 1.0 / self._power)
        if self.method == "rank":
            return self.total / (self.wsum * len(self.total))
        return self.total

    def correlation(self) -> list[list[float | None]]:
        """Pairwise Pearson r of the inputs (None where an input is constant), from the dot products of the raw
        columns; centred copies only when the spread is too small for that to be exact. Vote: agreement."""
        import numpy as np

        stack = self.stack
        if self.method == "vote":
            return _agreement(stack)
        n, k = len(stack[0]), len(stack)
        means = np.array([x.mean() for x in stack])
        second = np.array([[self.dots[max(i, j)][min(i, j)] for j in range(k)] for i in range(k)])
        cov = second / n - np.outer(means, means)
        if (np.diag(cov) < 1e-8 * np.maximum(means**2, 1e-300)).any():
            centred = [x - m for x, m in zip(stack, means)]
            cov = np.array([[_dot(a, b) / n for b in centred] for a in centred])
        scale = np.sqrt(np.maximum(np.diag(cov), 0))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = cov / np.outer(scale, scale)
        return [[None if np.isnan(v) else round(float(min(1.0, max(-1.0, v))), 6) for v in row] for row in r]


def _dot(a: Any, b: Any) -> float:
    import numpy as np

    return float(np.einsum("i,i->", a, b))  # not np.dot: BLAS threads would spin on the cores the writer needs


def _vote(stack: list[Any], w: Any) -> Any:
    """Per row, the label with the most weight; a tie goes to the earliest input's label."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(pa.concat_arrays(stack))
    codes = numpy_view(encoded.indices).reshape(len(stack), -1)
    best_score = np.full(codes.shape[1], -1.0)
    best = codes[0].copy()
    for j in range(len(stack)):
        score = np.zeros(codes.shape[1])
        for i in range(len(stack)):
            score += w[i] * (codes[i] == codes[j])
        better = score > best_score + 1e-12
        best = np.where(better, codes[j], best)
        best_score = np.where(better, score, best_score)
    return encoded.dictionary.take(arrow_view(best.astype(np.int64)))


def merge(
    paths: list[Path],
    method: str = "mean",
    weights: list[float] | None = None,
    power: float | None = None,
    id_column: str | None = None,
) -> Result:
    """Read, check and combine; raises CsvError (naming file and line) before anything is written."""

    w = check_options(method, weights, power, len(paths))
    labels = method == "vote"
    first: Any = None
    running: dict[str, _Running] = {}
    for t in _read_ahead(paths, id_column, labels):
        if first is None:
            first, index, where = t, Index(t), None  # Index refuses a repeated id in the first input
            running = {name: _Running(method, w, power, first, name) for name in t.targets}
        else:
            if t.id_column != first.id_column:
                raise CsvError(
                    f"{t.path}: the id column is '{t.id_column}' but {first.name}'s is '{first.id_column}'; pass --id"
                )
            same_columns(first, t)
            where = index.positions(t)
        for name, column in running.items():
            column.add(_placed(t.columns[name], where, labels), t.path)
    columns = {name: column.values() for name, column in running.items()}
    correlation = {name: column.correlation() for name, column in running.items()}
    return Result(first, first.id_column, columns, correlation, len(first))


def _agreement(stack: list[Any]) -> list[list[float | None]]:
    """For labels: the share of rows on which each pair of inputs agrees."""
    import pyarrow.compute as pc

    k = len(stack)
    n = len(stack[0])
    return [[pc.sum(pc.equal(stack[i], stack[j])).as_py() / n for j in range(k)] for i in range(k)]


def write(result: Result, dest: Path) -> None:
    """The first input's header and id text, then the merged columns (shortest round-trip floats); atomic."""
    import pyarrow as pa

    first = result.first
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(tmp, "wb") as f:
            f.write(first.header_line + b"\n")
            if not first.quoted:  # nothing in the ids needs quotes: pyarrow's own writer, many threads
                try:
                    _write_table(f, result)
                except pa.ArrowInvalid:  # a label holds a comma or quote: write it quoted, line by line below
                    f.seek(len(first.header_line) + 1)
                    f.truncate()
                    _write_lines(f, result)
            else:
                _write_lines(f, result)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_table(f: Any, result: Result) -> None:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    first = result.first
    columns = [first.ids if n == result.id_column else result.columns[n] for n in first.header]
    table = pa.Table.from_arrays(
        [c if isinstance(c, (pa.Array, pa.ChunkedArray)) else arrow_view(c) for c in columns],
        names=[f"c{i}" for i in range(len(columns))],
    )
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")

    def text(part: Any) -> Any:
        sink = pa.BufferOutputStream()
        pcsv.write_csv(part, sink, options)
        return sink.getvalue()

    # pyarrow formats a table on one core; slices formatted side by side (it releases the GIL) take about 60% of
    # the time. A few slices in flight keep the memory bounded whatever the row count.
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    rows, pending = 1 << 17, deque[Any]()
    with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        for start in range(0, table.num_rows, rows):
            pending.append(pool.submit(text, table.slice(start, rows)))
            if len(pending) > 5:
                f.write(pending.popleft().result())
        while pending:
            f.write(pending.popleft().result())


def _write_lines(f: Any, result: Result) -> None:
    """Each line joined from the id text as written and the merged columns: keeps quoted ids exactly."""
    import pyarrow as pa
    import pyarrow.compute as pc

    first = result.first
    parts = []
    for name in first.header:
        if name == result.id_column:
            parts.append(pc.cast(first.raw_ids(), pa.large_string()))
        else:
            values = result.columns[name]
            text = pc.cast(
                arrow_view(values) if not isinstance(values, (pa.Array, pa.ChunkedArray)) else values, pa.large_string()
            )
            if isinstance(values, (pa.Array, pa.ChunkedArray)):  # labels: quote those that need it
                needs = pc.match_substring_regex(text, r'[,"\r\n]')
                quote = pa.scalar('"', pa.large_string())
                text = pc.if_else(
                    needs,
                    pc.binary_join_element_wise(
                        quote, pc.replace_substring(text, '"', '""'), quote, pa.scalar("", pa.large_string())
                    ),
                    text,
                )
            parts.append(text)
    sep, nothing = pa.scalar(",", pa.large_string()), pa.scalar("", pa.large_string())
    lines = pc.binary_join_element_wise(*parts, sep)
    lines = pc.binary_join_element_wise(lines, nothing, pa.scalar("\n", pa.large_string()))  # each line + "\n"
    for chunk in lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]:
        _write_strings(f, chunk)


def _write_strings(f: Any, arr: Any) -> None:
    """Write a large_string array's characters as one block (they are contiguous in its data buffer)."""
    import numpy as np

    if len(arr) == 0:
        return
    _, offsets, data = arr.buffers()
    offs = np.frombuffer(offsets, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    f.write(memoryview(data)[int(offs[0]) : int(offs[-1])])
