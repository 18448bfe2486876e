"""Row alignment across submission CSVs: each file's ids matched to the first file's, duplicates and strays
refused, naming file and line."""

from __future__ import annotations

from typing import Any

from kaggle_runner.ensembles.table import CsvError, Table, first_true, line_of, numpy_view, pooled


class Index:
    """Where each id of one table (the first input, or the sample submission) is, so that another table's rows
    can be placed in its order. Building it refuses a repeated id. Positions are written chunk by chunk into
    buffers allocated once, so that placing one input after another touches no fresh memory."""

    def __init__(self, first: Table):
        import numpy as np

        self.first = first
        self._dense: Any = None  # (table, lowest key): table[key - lowest] = the row holding key, or -1;
        #                           no table when the keys are lowest, lowest + 1, ... in order (row = key - lowest)
        self._sorted: Any = None  # (sort order, sorted keys or ids)
        self._rows: Any = None  # buffers that positions() fills, allocated once (see _buffers)
        self._hit: Any = None
        n, keys = len(first), first.keys
        if keys is not None:
            lo, hi = min(int(k.min()) for k in keys), max(int(k.max()) for k in keys)
            starts = np.cumsum([0] + [len(k) for k in keys])
            if hi - lo == n - 1 and all(
                k[0] == lo + s and np.array_equal(k, np.arange(lo + s, lo + s + len(k))) for k, s in zip(keys, starts)
            ):
                self._dense = (None, lo)  # ids 0..n-1 or 1..n in order, as many sample submissions have them
                return
            lo = 0 if 0 <= lo and hi < 8 * n + 4096 else lo  # then keys index the table as they are
            if hi - lo < 8 * n + 4096:
                table = pooled(hi - lo + 1, np.intp)  # intp: numpy indexes with it without a copy
                table.fill(-1)
                start = 0
                for k in keys:
                    table[k - lo if lo else k] = np.arange(start, start + len(k))
                    start += len(k)
                if np.count_nonzero(table >= 0) != n:  # a repeat overwrote a slot
                    check_unique(first)
                self._dense = (table, lo)
                return
        order, ordered = _sort(first.ids if keys is None else np.concatenate(keys))
        if _has_neighbours(ordered):
            check_unique(first)
        self._sorted = (order, ordered)

    def positions(self, t: Table) -> Any:
        """For each chunk of t, the rows of the first table holding its ids (None when t has the same ids in the
        same order): views of one buffer, which the next call reuses. Any difference in t's ids raises, naming the
        first stray or repeated one."""
        first = self.first
        if len(t) == len(first):
            if t.ids.equals(first.ids):
                return None
            where = None
            if first.keys is None:
                where = self._from_sorted(t, t.ids)
            elif t.keys is not None and t.key_format == first.key_format:
                where = self._from_dense(t.keys) if self._dense is not None else self._from_sorted(t, t.keys)
            if where is not None:
                return where
        check_unique(t)
        _stray(first, t)
        raise AssertionError("unreachable")

    def _buffers(self) -> tuple[Any, Any]:
        import numpy as np

        if self._rows is None:
            self._rows, self._hit = pooled(len(self.first), np.intp), pooled(len(self.first), bool)
        return self._rows, self._hit

    def _from_dense(self, keys: list[Any]) -> Any:
        import numpy as np

        table, lo = self._dense
        size = len(self.first) if table is None else len(table)
        if min(int(k.min()) for k in keys) < lo or max(int(k.max()) for k in keys) - lo >= size:
            return None
        rows, hit = self._buffers()
        hit.fill(False)
        where, start = [], 0
        for k in keys:
            part = rows[start : start + len(k)]
            if table is None:
                np.subtract(k, lo, out=part)
            else:
                np.take(table, k - lo if lo else k, out=part, mode="clip")  # in range (checked): "clip" is unbuffered
                if part.min() < 0:
                    return None
            hit[part] = True
            where.append(part)
            start += len(k)
        return where if hit.all() else None  # with as many rows as the first table, a miss means a repeat

    def _from_sorted(self, t: Table, values: Any) -> Any:
        import numpy as np

        order, ordered = self._sorted
        mine, mine_ordered = _sort(values if not isinstance(values, list) else np.concatenate(values))
        same = (
            np.array_equal(mine_ordered, ordered) if isinstance(ordered, np.ndarray) else mine_ordered.equals(ordered)
        )
        if not same:
            return None
        where = self._buffers()[0]
        where[mine] = order
        return np.split(where, np.cumsum([len(c) for c in t.ids.chunks if len(c)])[:-1])


def _sort(values: Any) -> tuple[Any, Any]:
    """(stable sort order as numpy, sorted values) of int64 keys (numpy) or ids (pyarrow)."""
    import numpy as np
    import pyarrow.compute as pc

    if isinstance(values, np.ndarray):
        order = np.argsort(values, kind="stable")
        return order, values[order]
    order = pc.sort_indices(values)
    return numpy_view(order).astype(np.int64, copy=False), values.take(order)


def _has_neighbours(ordered: Any) -> bool:
    """Whether sorted values hold two equal neighbours."""
    import numpy as np
    import pyarrow.compute as pc

    if len(ordered) < 2:
        return False
    if isinstance(ordered, np.ndarray):
        return bool((ordered[1:] == ordered[:-1]).any())
    return bool(pc.any(pc.equal(ordered[1:], ordered[:-1])).as_py())


def check_unique(t: Table) -> None:
    """Refuse a repeated id, naming both lines (the error path: hashes every id)."""
    import numpy as np
    import pyarrow.compute as pc

    ids = t.ids.combine_chunks()
    first = numpy_view(pc.index_in(ids, value_set=ids))  # each id's first occurrence
    repeats = np.flatnonzero(first != np.arange(len(t)))
    if len(repeats):
        row = int(repeats[0])
        raise CsvError(
            f"{t.path}: line {line_of(row)}: id {ids[row].as_py()!r} repeats line {line_of(int(first[row]))}; "
            "each id must appear once"
        )


def _stray(first: Table, t: Table) -> None:
    """Raise for the first id of t missing from first, or else the first id of first missing from t."""
    import pyarrow.compute as pc

    mine, theirs = t.ids.combine_chunks(), first.ids.combine_chunks()
    where = pc.index_in(mine, value_set=theirs)
    if where.null_count:
        row = first_true(where.is_null())
        raise CsvError(
            f"{t.path}: line {line_of(row)}: id {mine[row].as_py()!r} is not in {first.name}; "
            "the files must have the same ids"
        )
    back = pc.index_in(theirs, value_set=mine)
    row = first_true(back.is_null())
    raise CsvError(
        f"{t.path}: has no row for id {theirs[row].as_py()!r} (line {line_of(row)} of {first.name}); "
        "the files must have the same ids"
    )
