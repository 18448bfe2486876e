"""Submission-shaped CSV files read with pyarrow: header, id column (parsed, and as written), target columns.
Every problem becomes one CsvError naming the file, the line and the fix; the checks are vectorised."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kaggle_runner.errors import UserError

_FIELD = re.compile(r'"(?:[^"]|"")*"|[^,]*')
BLOCK = 1 << 24  # bytes pyarrow parses at a time; each block becomes one chunk of every column


class CsvError(UserError):
    """A submission CSV kr cannot read or align; the message names the file and the line."""


@dataclass
class Table:
    """One submission CSV read with pyarrow: the header, the ids (parsed and as written) and the target columns."""

    path: Path
    header: list[str]  # column names, parsed
    header_line: bytes  # the first line as written (BOM removed), reused by the merge's output
    id_column: str
    ids: Any  # pyarrow ChunkedArray of strings, parsed (quotes removed)
    columns: dict[str, Any]  # target columns: pyarrow ChunkedArrays of float64, or of strings when labels=True
    keys: Any = None  # the ids as int64 numpy arrays, one per chunk, when that is exact (_scan_ids), else None
    key_format: Any = None  # how keys map back to text: "plain" or a zero-padded width
    data_start: int = 0  # byte offset of the first row
    _raw_ids: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The file's name, as messages show it."""
        return self.path.name

    @property
    def targets(self) -> list[str]:
        """The columns other than the id."""
        return [c for c in self.header if c != self.id_column]

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def quoted(self) -> bool:
        """Whether any field after the header is quoted (then ids are re-read as written)."""
        block = bytearray(1 << 20)  # read through one small buffer: a mapping would count the whole file as ours
        with open(self.path, "rb") as f:
            f.seek(self.data_start)
            while n := f.readinto(block):
                if block.find(b'"', 0, n) >= 0:
                    return True
        return False

    def raw_ids(self) -> Any:
        """The id column's text exactly as written (quotes and leading zeros kept)."""
        if self._raw_ids is None:
            self._raw_ids = _raw_column(self) if self.quoted else self.ids
        return self._raw_ids


def numpy_view(arr: Any) -> Any:
    """A numeric pyarrow array without nulls as a numpy view (a copy only for several chunks).
    (Array.to_numpy imports pandas when it is installed, 0.2 s that a merge does not need.)"""
    import numpy as np
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    dtype = np.dtype(str(arr.type).replace("double", "float64"))
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def chunk_views(arr: Any) -> list[Any]:
    """Each chunk of a numeric ChunkedArray as a numpy view, in order."""
    return [numpy_view(c) for c in arr.chunks if len(c)]


def pooled(n: int, dtype: Any) -> Any:
    """An uninitialised numpy array in pyarrow's memory pool, which keeps freed pages for reuse where numpy's
    allocator hands large blocks back to the OS: 80 MB less at the merge benchmark's peak, and fewer first touches
    of fresh pages, which cost a large part of a merge's time on a VM."""
    import numpy as np
    import pyarrow as pa

    dtype = np.dtype(dtype)
    return np.frombuffer(pa.allocate_buffer(max(n, 1) * dtype.itemsize), dtype=dtype, count=n)


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
    import pyarrow as pa
    import pyarrow.csv as pcsv

    path = Path(path)
    names, header_line, bom = _header(path)
    id_column = id_column or names[0]
    if id_column not in names:
        raise CsvError(f"{path}: no column '{id_column}' (columns: {', '.join(names)}); pass --id with one of them")
    types = {n: pa.string() for n in names} if labels else {n: pa.float64() for n in names}
    types[id_column] = pa.string()
    read_opts = pcsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK)
    convert = pcsv.ConvertOptions(column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False)
    try:
        table = pcsv.read_csv(path, read_options=read_opts, convert_options=convert)
    except pa.ArrowInvalid as e:
        _refuse(path, e)
        if not labels and "conversion error" in str(e):
            _first_non_number(path, names, id_column)
        raise CsvError(f"{path}: {_arrow_message(e)}") from e
    if table.num_rows == 0:
        raise CsvError(f"{path}: no rows after the header")
    ids = table.column(id_column)
    keys, key_format = _scan_ids(path, ids)
    columns = {
        n: (_check_labels if labels else _check_numbers)(path, n, table.column(n), ids) for n in names if n != id_column
    }
    return Table(path, names, header_line, id_column, ids, columns, keys, key_format, bom + len(header_line))


def _check_numbers(path: Path, name: str, col: Any, ids: Any) -> Any:
    import numpy as np

    if col.null_count:  # blank cells
        row = first_true(col.is_null())
        raise CsvError(
            f"{path}: line {line_of(row)}: column '{name}' is blank or NaN (id {ids[row].as_py()!r}); "
            "every row needs a number"
        )
    start = 0
    for values in chunk_views(col):
        if not np.isfinite(values).all():
            row = start + int(np.argmax(~np.isfinite(values)))
            if np.isnan(values[row - start]):
                raise CsvError(
                    f"{path}: line {line_of(row)}: column '{name}' is blank or NaN (id {ids[row].as_py()!r}); "
                    "every row needs a number"
                )
            raise CsvError(f"{path}: line {line_of(row)}: column '{name}' is infinite (id {ids[row].as_py()!r})")
        start += len(values)
    return col


def _check_labels(path: Path, name: str, col: Any, ids: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_lower(pc.utf8_trim_whitespace(col))
    blank = pc.or_(pc.equal(text, ""), pc.equal(text, "nan"))
    if pc.any(blank).as_py():
        row = first_true(blank)
        raise CsvError(f"{path}: line {line_of(row)}: column '{name}' is blank or NaN (id {ids[row].as_py()!r})")
    infinite = pc.is_in(text, value_set=pa.array(["inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"]))
    if pc.any(infinite).as_py():  # the same refusal as numbers get: Kaggle cannot score it
        row = first_true(infinite)
        raise CsvError(f"{path}: line {line_of(row)}: column '{name}' is infinite (id {ids[row].as_py()!r})")
    return col


def _scan_ids(path: Path, ids: Any) -> tuple[Any, Any]:
    """One pass over the id column's buffers: refuse an empty id; return (int64 keys, format) when every id is ASCII
    digits (18 at most) written one consistent way, else (None, None). Most Kaggle ids are such numbers, and then
    repeats and alignment need no hashing or sorting of strings. The format is "plain" when no id has a leading
    zero, else the one width all ids share; two files' keys compare like their texts exactly when formats agree."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    # Temporaries come from pyarrow's allocator or are reductions: numpy ones of this size would be fresh memory
    # for every chunk of every file (see Index).
    digits, leading, start = True, False, 0
    widths: set[int] = set()
    parts: list[Any] = []
    for chunk in ids.chunks:
        if not len(chunk):
            continue
        lengths = numpy_view(pc.binary_length(chunk))
        shortest, longest = int(lengths.min()), int(lengths.max())
        if shortest == 0:
            row = start + int(np.argmax(lengths == 0))
            raise CsvError(f"{path}: line {line_of(row)}: the id is empty")
        start += len(chunk)
        if not digits:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], np.int32, len(chunk) + 1, chunk.offset * 4)
        text = np.frombuffer(chunk.buffers()[2], np.uint8, int(offsets[-1] - offsets[0]), int(offsets[0]))
        digits = longest <= 18 and int(text.min()) >= 48 and int(text.max()) <= 57  # all '0'..'9'
        if not digits:
            continue
        keys = numpy_view(pc.cast(chunk, pa.int64()))
        if shortest == longest:  # one width: a leading zero makes a key shorter than that
            leading = leading or (shortest > 1 and int(keys.min()) < 10 ** (shortest - 1))
        else:
            leading = leading or bool(((text[offsets[:-1] - offsets[0]] == 48) & (lengths > 1)).any())
        widths.update((shortest, longest))
        parts.append(keys)
    key_format = "plain" if not leading else (next(iter(widths)) if len(widths) == 1 else None)
    if not digits or key_format is None:
        return None, None
    return parts, key_format


def same_columns(first: Table, t: Table) -> None:
    """Refuse t unless it has exactly first's columns (in any order), naming the first one that differs."""
    missing = [c for c in first.header if c not in t.header]
    extra = [c for c in t.header if c not in first.header]
    if missing or extra:
        what = f"lacks column '{missing[0]}'" if missing else f"has column '{extra[0]}'"
        raise CsvError(f"{t.path}: line 1: {what}; {first.name} has {', '.join(first.header)}")


def _refuse(path: Path, e: Exception) -> None:
    """Say where the file is not a CSV pyarrow can read, for the refusals whose own message names no line."""
    text = str(e)
    if "invalid UTF8" in text:
        where = _scan_bytes(path, long_line=None)
        if where:
            raise CsvError(f"{path}: line {where[0]}: not UTF-8 text (byte 0x{where[1]:02x}); save the file as UTF-8")
    if "straddl" in text:
        where = _scan_bytes(path, long_line=BLOCK)
        if where:
            raise CsvError(
                f"{path}: line {where[0]}: a line of more than {BLOCK >> 20} MiB; a submission's line holds an id and "
                "a few values: is this the right file?"
            )


def _scan_bytes(path: Path, long_line: int | None) -> tuple[int, int] | None:
    """(line, byte) of the first byte that is not UTF-8, or with `long_line` (line, 0) of the first line longer than
    that; read in pieces, so a 1 GB line costs no 1 GB of memory. Only on the way to an error."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    line, length = 1, 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            if long_line is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as e:
                    at = max(0, min(e.start, len(chunk) - 1))
                    return line + chunk.count(b"\n", 0, at), chunk[at]
                line += chunk.count(b"\n")
                continue
            start = 0
            while (nl := chunk.find(b"\n", start)) >= 0:
                if length + nl - start > long_line:
                    return line, 0
                line, length, start = line + 1, 0, nl + 1
            length += len(chunk) - start
            if length > long_line:
                return line, 0
    return None


def _arrow_message(e: Exception) -> str:
    text = str(e).strip().splitlines()[0]
    return text.replace("CSV parse error: ", "").replace("CSV parse error:", "")


def _first_non_number(path: Path, names: list[str], id_column: str) -> None:
    """Slow path, only after pyarrow refused a number: find the first offending cell and raise for it."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names}),
        )
    except pa.ArrowInvalid as e:
        _refuse(path, e)
        raise CsvError(f"{path}: {_arrow_message(e)}") from e
    ids = table.column(id_column)
    for n in names:
        if n == id_column:
            continue
        for row, text in enumerate(table.column(n).to_pylist()):
            try:
                float(text)
            except (TypeError, ValueError):
                raise CsvError(
                    f"{path}: line {line_of(row)}: column '{n}' is not a number: {text!r} (id {ids[row].as_py()!r})"
                ) from None


def _raw_column(t: Table) -> Any:
    """The id column re-read with quoting off, so each id is the text between the commas."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    try:
        raw = pcsv.read_csv(
            t.path,
            read_options=pcsv.ReadOptions(column_names=t.header, skip_rows=1, block_size=BLOCK),
            parse_options=pcsv.ParseOptions(quote_char=False),
            convert_options=pcsv.ConvertOptions(
                column_types={t.id_column: pa.string()}, include_columns=[t.id_column], strings_can_be_null=False
            ),
        )
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
                pos = _field(line, pos).end() + 1
            fields.append(_field(line, pos).group())
    if len(fields) == len(t.ids):
        return pa.array(fields, pa.string())
    # a quoted field spans lines: quote what needs it, as csv writers do
    needs = pc.match_substring_regex(t.ids, r'[,"\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(t.ids, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, t.ids)


def _field(line: str, pos: int) -> re.Match[str]:
    """The CSV field at pos; _FIELD matches everywhere, if only the empty field."""
    m = _FIELD.match(line, pos)
    assert m is not None
    return m
