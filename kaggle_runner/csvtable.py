"""Submission-shaped CSV files read with pyarrow: header, id column (parsed, and as written), target columns.
Every problem becomes one CsvError naming the file, the line and the fix; the checks are vectorised."""

from __future__ import annotations

import csv
import io
import mmap
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaggle_runner.errors import UserError


_FIELD = re.compile(r'"(?:[^"]|"")*"|[^,]*')


class CsvError(UserError):
    pass


@dataclass
class Table:
    path: Path
    header: list[str]          # column names, parsed
    header_line: bytes         # the first line as written (BOM removed), reused by the merge's output
    id_column: str
    ids: Any                   # pyarrow string array, parsed (quotes removed)
    columns: dict[str, Any]    # target columns: float64 numpy arrays, or pyarrow string arrays when labels=True
    quoted: bool = False       # the file contains a double quote somewhere
    _raw_ids: Any = field(default=None, repr=False)
    _keys: Any = field(default=None, repr=False)  # see _int_keys
    _positions: Any = field(default=None, repr=False)  # see _lookup

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def targets(self) -> list[str]:
        return [c for c in self.header if c != self.id_column]

    def __len__(self) -> int:
        return len(self.ids)

    def raw_ids(self) -> Any:
        """The id column's text exactly as written (quotes and leading zeros kept)."""
        if self._raw_ids is None:
            self._raw_ids = _raw_column(self) if self.quoted else self.ids
        return self._raw_ids


def numpy_view(arr: Any) -> Any:
    """A numeric pyarrow array without nulls as a numpy view. (Array.to_numpy imports pandas when it is
    installed, 0.2 s that a merge does not need.)"""
    import numpy as np
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    dtype = np.dtype(str(arr.type).replace("double", "float64"))
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def arrow_view(x: Any) -> Any:
    """A numpy float64/int64 array as a pyarrow array sharing its memory (pa.array would import pandas)."""
    import numpy as np
    import pyarrow as pa

    x = np.ascontiguousarray(x)
    kind = {np.dtype("float64"): pa.float64(), np.dtype("int64"): pa.int64()}[x.dtype]
    return pa.Array.from_buffers(kind, len(x), [None, pa.py_buffer(x)])


def first_true(mask: Any) -> int:
    """Index of the first true value of a pyarrow boolean array (there is one)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return int(pc.index(mask, pa.scalar(True, pa.bool_())).as_py())


def line_of(row: int) -> int:
    """File line of a 0-based data row (line 1 is the header)."""
    return row + 2


def _header(path: Path) -> tuple[list[str], bytes, int]:
    try:
        with open(path, "rb") as f:
            first = f.readline()
    except OSError as e:
        raise CsvError(f"{path}: cannot read ({e.strerror})") from e
    bom = 3 if first.startswith(b"\xef\xbb\xbf") else 0
    line = first[bom:].rstrip(b"\r\n")
    if not line.strip():
        raise CsvError(f"{path}: empty file or empty header line; a submission starts with a header such as id,target")
    try:
        names = next(csv.reader(io.StringIO(line.decode("utf-8"))))
    except (UnicodeDecodeError, StopIteration, csv.Error) as e:
        raise CsvError(f"{path}: line 1: cannot read the header ({e})") from e
    names = [n.strip() for n in names]
    seen: set[str] = set()
    for n in names:
        if not n:
            raise CsvError(f"{path}: line 1: a column has no name; name every column in the header")
        if n in seen:
            raise CsvError(f"{path}: line 1: column '{n}' appears twice; rename one")
        seen.add(n)
    if len(names) < 2:
        raise CsvError(f"{path}: line 1: only one column ('{names[0]}'); a submission has an id column and a target")
    return names, line, bom


def read(path: Path, id_column: str | None = None, labels: bool = False) -> Table:
    """Read a submission. Targets are float64 (refusing blanks, NaN and text) unless `labels` is set."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    path = Path(path)
    names, header_line, bom = _header(path)
    id_column = id_column or names[0]
    if id_column not in names:
        raise CsvError(f"{path}: no column '{id_column}' (columns: {', '.join(names)}); pass --id with one of them")
    types = {n: pa.string() for n in names} if labels else {n: pa.float64() for n in names}
    types[id_column] = pa.string()
    read_opts = pcsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24)
    convert = pcsv.ConvertOptions(column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False)
    try:
        table = pcsv.read_csv(path, read_options=read_opts, convert_options=convert)
    except pa.ArrowInvalid as e:
        if not labels and "conversion error" in str(e):
            _first_non_number(path, names, id_column)
        raise CsvError(f"{path}: {_arrow_message(e)}") from e
    if table.num_rows == 0:
        raise CsvError(f"{path}: no rows after the header")
    ids = table.column(id_column).combine_chunks()
    _check_empty_ids(path, ids)
    columns: dict[str, Any] = {}
    for n in names:
        if n == id_column:
            continue
        col = table.column(n).combine_chunks()
        if labels:
            import pyarrow.compute as pc

            blank = pc.or_(pc.equal(pc.utf8_trim_whitespace(col), ""), pc.equal(pc.utf8_lower(col), "nan"))
            if pc.any(blank).as_py():
                row = first_true(blank)
                raise CsvError(f"{path}: line {line_of(row)}: column '{n}' is blank or NaN (id {ids[row].as_py()!r})")
            columns[n] = col
            continue
        if col.null_count:  # blank cells
            row = first_true(col.is_null())
            raise CsvError(f"{path}: line {line_of(row)}: column '{n}' is blank or NaN (id {ids[row].as_py()!r}); "
                           "every row needs a number")
        values = numpy_view(col)
        bad = np.isnan(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise CsvError(f"{path}: line {line_of(row)}: column '{n}' is blank or NaN (id {ids[row].as_py()!r}); "
                           "every row needs a number")
        if np.isinf(values).any():
            row = int(np.argmax(np.isinf(values)))
            raise CsvError(f"{path}: line {line_of(row)}: column '{n}' is infinite (id {ids[row].as_py()!r})")
        columns[n] = values
    return Table(path, names, header_line, id_column, ids, columns, _has_quote(path, bom + len(header_line)))


def _int_keys(t: Table) -> Any:
    """The ids as int64 when that is exact (digits only, one length or no leading zeros), else None.
    Most Kaggle ids are such numbers, and then duplicates and alignment need no hashing of strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if t._keys is None:
        t._keys = False
        ids = t.ids
        if len(ids) and pc.all(pc.utf8_is_digit(ids)).as_py():
            lengths = pc.min_max(pc.utf8_length(ids)).as_py()
            canonical = lengths["min"] == lengths["max"] or not pc.any(
                pc.and_(pc.starts_with(ids, "0"), pc.greater(pc.utf8_length(ids), 1))).as_py()
            if canonical and lengths["max"] <= 18:
                t._keys = (numpy_view(pc.cast(ids, pa.int64())), lengths["min"] == lengths["max"] and lengths["max"])
    return t._keys or None


def same_columns(first: Table, t: Table) -> None:
    """Refuse t unless it has exactly first's columns (in any order), naming the first one that differs."""
    missing = [c for c in first.header if c not in t.header]
    extra = [c for c in t.header if c not in first.header]
    if missing or extra:
        what = f"lacks column '{missing[0]}'" if missing else f"has column '{extra[0]}'"
        raise CsvError(f"{t.path}: line 1: {what}; {first.name} has {', '.join(first.header)}")


def _lookup(t: Table) -> tuple[Any, int] | None:
    """(table, lowest key) with table[key - lowest] = the row of that key or -1, for dense int keys; built once."""
    import numpy as np

    if t._positions is None:
        t._positions = False
        keys = _int_keys(t)
        if keys is not None:
            lo, hi = int(keys[0].min()), int(keys[0].max())
            if hi - lo < 8 * len(t) + 4096:
                table = np.full(hi - lo + 1, -1, dtype=np.int64)
                table[keys[0] - lo] = np.arange(len(t))
                t._positions = (table, lo)
    return t._positions or None


def check_unique(t: Table) -> None:
    """Refuse a repeated id, naming both lines."""
    import numpy as np
    import pyarrow.compute as pc

    lookup = _lookup(t)
    if lookup is not None:
        unique = int(np.count_nonzero(lookup[0] >= 0)) == len(t)  # a repeat overwrote a slot
    else:
        ordered = t.ids.take(pc.sort_indices(t.ids))
        unique = len(t) < 2 or not pc.any(pc.equal(ordered[1:], ordered[:-1])).as_py()
    if not unique:
        first = numpy_view(pc.index_in(t.ids, value_set=t.ids))  # each id's first occurrence
        row = int(np.argmax(first != np.arange(len(t))))
        raise CsvError(f"{t.path}: line {line_of(row)}: id {t.ids[row].as_py()!r} repeats line {line_of(int(first[row]))}; "
                       "each id must appear once")


def align(first: Table, t: Table) -> Any:
    """Index array putting t's rows in first's order, or None when t is already in that order.
    `first` must hold unique ids (check_unique); any difference in t's ids raises, naming the first stray one."""
    import numpy as np
    import pyarrow.compute as pc

    if t.ids.equals(first.ids):
        return None
    n = len(first)
    if len(t) == n:
        lookup, a, b = _lookup(first), _int_keys(first), _int_keys(t)
        if lookup is not None and b is not None and a[1] == b[1]:
            table, lo = lookup
            keys = b[0] - lo
            if keys.min() >= 0 and keys.max() < len(table):
                where = table[keys]
                if where.min() >= 0:
                    order = np.full(n, -1, dtype=np.int64)
                    order[where] = np.arange(n)
                    if order.min() >= 0:  # every row of first was hit: t has no repeats
                        return order
        else:  # text ids, sparse numbers, or number-like ids written differently (000123 vs 123)
            s_first, s_t = pc.sort_indices(first.ids), pc.sort_indices(t.ids)
            if first.ids.take(s_first).equals(t.ids.take(s_t)):
                order = np.empty(n, dtype=np.int64)
                order[numpy_view(s_first)] = numpy_view(s_t)
                return order
    check_unique(t)
    _stray(first, t)
    raise AssertionError("unreachable")


def _stray(first: Table, t: Table) -> None:
    """Raise for the first id of t missing from first, or else the first id of first missing from t."""
    import pyarrow.compute as pc

    where = pc.index_in(t.ids, value_set=first.ids)
    if where.null_count:
        row = first_true(where.is_null())
        raise CsvError(f"{t.path}: line {line_of(row)}: id {t.ids[row].as_py()!r} is not in {first.name}; "
                       "the files must have the same ids")
    back = pc.index_in(first.ids, value_set=t.ids)
    row = first_true(back.is_null())
    raise CsvError(f"{t.path}: has no row for id {first.ids[row].as_py()!r} (line {line_of(row)} of {first.name}); "
                   "the files must have the same ids")


def _arrow_message(e: Exception) -> str:
    text = str(e).strip().splitlines()[0]
    return text.replace("CSV parse error: ", "").replace("CSV parse error:", "")


def _has_quote(path: Path, start: int) -> bool:
    """Whether any field after the header is quoted (then ids are re-read as written)."""
    with open(path, "rb") as f:
        if f.seek(0, 2) <= start:
            return False
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return m.find(b'"', start) >= 0


def _check_empty_ids(path: Path, ids: Any) -> None:
    import pyarrow.compute as pc

    lengths = pc.utf8_length(ids)
    if pc.min(lengths).as_py() == 0:  # (a length pass is ~20x cheaper than trimming every id)
        row = first_true(pc.equal(lengths, 0))
        raise CsvError(f"{path}: line {line_of(row)}: the id is empty")


def _first_non_number(path: Path, names: list[str], id_column: str) -> None:
    """Slow path, only after pyarrow refused a number: find the first offending cell and raise for it."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(path, read_options=pcsv.ReadOptions(column_names=names, skip_rows=1),
                          convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names}))
    ids = table.column(id_column)
    for n in names:
        if n == id_column:
            continue
        for row, text in enumerate(table.column(n).to_pylist()):
            try:
                float(text)
            except (TypeError, ValueError):
                raise CsvError(f"{path}: line {line_of(row)}: column '{n}' is not a number: {text!r} "
                               f"(id {ids[row].as_py()!r})") from None


def _raw_column(t: Table) -> Any:
    """The id column re-read with quoting off, so each id is the text between the commas."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    try:
        raw = pcsv.read_csv(t.path, read_options=pcsv.ReadOptions(column_names=t.header, skip_rows=1, block_size=1 << 24),
                            parse_options=pcsv.ParseOptions(quote_char=False),
                            convert_options=pcsv.ConvertOptions(column_types={t.id_column: pa.string()},
                                                                include_columns=[t.id_column],
                                                                strings_can_be_null=False))
        column = raw.column(t.id_column).combine_chunks()
        if len(column) == len(t.ids):
            return column
    except pa.ArrowInvalid:
        pass  # a quoted field holds a comma: split the lines here instead (rare, so plain Python is fine)
    index = t.header.index(t.id_column)
    fields = []
    with open(t.path, encoding="utf-8-sig", newline="") as f:
        next(f, None)
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue  # pyarrow skips blank lines too
            pos = 0
            for _ in range(index):
                pos = _FIELD.match(line, pos).end() + 1
            fields.append(_FIELD.match(line, pos).group())
    if len(fields) == len(t.ids):
        return pa.array(fields, pa.string())
    # a quoted field spans lines: quote what needs it, as csv writers do
    needs = pc.match_substring_regex(t.ids, r'[,"\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(t.ids, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, t.ids)
