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
    names, header_line, _ = _header(path)
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
    _check_ids(path, ids)
    columns: dict[str, Any] = {}
    for n in names:
        if n == id_column:
            continue
        col = table.column(n).combine_chunks()
        if labels:
            import pyarrow.compute as pc

            blank = pc.or_(pc.equal(pc.utf8_trim_whitespace(col), ""), pc.equal(pc.utf8_lower(col), "nan"))
            if pc.any(blank).as_py():
                row = int(np.argmax(blank.to_numpy(zero_copy_only=False)))
                raise CsvError(f"{path}: line {line_of(row)}: column '{n}' is blank or NaN (id {ids[row].as_py()!r})")
            columns[n] = col
            continue
        values = col.to_numpy(zero_copy_only=False)  # nulls (blank cells) come back as NaN
        bad = np.isnan(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise CsvError(f"{path}: line {line_of(row)}: column '{n}' is blank or NaN (id {ids[row].as_py()!r}); "
                           "every row needs a number")
        if np.isinf(values).any():
            row = int(np.argmax(np.isinf(values)))
            raise CsvError(f"{path}: line {line_of(row)}: column '{n}' is infinite (id {ids[row].as_py()!r})")
        columns[n] = values
    return Table(path, names, header_line, id_column, ids, columns, _has_quote(path))


def align(first: Table, t: Table) -> Any:
    """Index array putting t's rows in first's order, or None when t is already in that order."""
    import numpy as np
    import pyarrow.compute as pc

    if t.ids.equals(first.ids):
        return None
    where = pc.index_in(t.ids, value_set=first.ids)  # position in first of each of t's ids
    if where.null_count:
        row = int(np.argmax(where.is_null().to_numpy(zero_copy_only=False)))
        raise CsvError(f"{t.path}: line {line_of(row)}: id {t.ids[row].as_py()!r} is not in {first.name}; "
                       "the files must have the same ids")
    if len(t) != len(first):  # every id of t is in first and none repeats, so first has more
        back = pc.index_in(first.ids, value_set=t.ids)
        row = int(np.argmax(back.is_null().to_numpy(zero_copy_only=False)))
        raise CsvError(f"{t.path}: has no row for id {first.ids[row].as_py()!r} (line {line_of(row)} of {first.name}); "
                       "the files must have the same ids")
    order = np.empty(len(t), dtype=np.int64)
    order[where.to_numpy(zero_copy_only=False)] = np.arange(len(t))
    return order


def _arrow_message(e: Exception) -> str:
    text = str(e).strip().splitlines()[0]
    return text.replace("CSV parse error: ", "").replace("CSV parse error:", "")


def _has_quote(path: Path) -> bool:
    with open(path, "rb") as f:
        if f.seek(0, 2) == 0:
            return False
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return m.find(b'"') >= 0


def _check_ids(path: Path, ids: Any) -> None:
    import numpy as np
    import pyarrow.compute as pc

    empty = pc.equal(pc.utf8_trim_whitespace(ids), "")
    if pc.any(empty).as_py():
        row = int(np.argmax(empty.to_numpy(zero_copy_only=False)))
        raise CsvError(f"{path}: line {line_of(row)}: the id is empty")
    if pc.count_distinct(ids).as_py() != len(ids):
        first = pc.index_in(ids, value_set=ids).to_numpy(zero_copy_only=False)  # each id's first occurrence
        row = int(np.argmax(first != np.arange(len(ids))))
        raise CsvError(f"{path}: line {line_of(row)}: id {ids[row].as_py()!r} repeats line {line_of(int(first[row]))}; "
                       "each id must appear once")


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
