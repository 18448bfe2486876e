"""ensembles/table and align on their own: submission-shaped CSVs read, refusals naming file and line, and the
Index that places another file's rows in the first one's order for each kind of id (counting, sparse, text)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kaggle_runner.ensembles.align import Index
from kaggle_runner.ensembles.table import CsvError, read, same_columns


def _csv(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def test_read_parses_header_ids_and_numbers(tmp_path: Path) -> None:
    t = read(_csv(tmp_path, "a.csv", "id,toxic,obscene\n7,0.5,1\n3,0.25,0\n"))
    assert t.header == ["id", "toxic", "obscene"] and t.id_column == "id" and t.targets == ["toxic", "obscene"]
    assert t.ids.to_pylist() == ["7", "3"] and len(t) == 2
    assert t.columns["toxic"].to_pylist() == [0.5, 0.25]


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    t = read(_csv(tmp_path, "bom.csv", b"\xef\xbb\xbfid,y\n1,0.5\n"))
    assert t.header == ["id", "y"] and t.header_line == b"id,y" and t.ids.to_pylist() == ["1"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("id\n1\n", "line 1: only one column ('id')"),
        ("id,y\n", "no rows after the header"),
        ("id,y\n1,0.5\n2,\n", "line 3: column 'y' is blank or NaN (id '2')"),
        ("id,y\n1,0.5\n2,nan\n", "line 3: column 'y' is blank or NaN (id '2')"),
        ("id,y\n1,inf\n", "line 2: column 'y' is infinite (id '1')"),
        ("id,y\n1,0.5\n2,high\n", "line 3"),
        ("id,y\n1,0.5\n,0.2\n", "line 3: the id is empty"),
    ],
)
def test_bad_files_are_refused_with_their_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CsvError, match="bad.csv: " + message.replace("(", r"\(").replace(")", r"\)")):
        read(_csv(tmp_path, "bad.csv", text))


def test_an_unknown_id_column_names_the_columns(tmp_path: Path) -> None:
    with pytest.raises(CsvError, match=r"no column 'key' \(columns: id, y\); pass --id"):
        read(_csv(tmp_path, "a.csv", "id,y\n1,2\n"), id_column="key")


def test_labels_keep_text_and_still_refuse_blanks(tmp_path: Path) -> None:
    t = read(_csv(tmp_path, "l.csv", "id,label\n1,cat\n2,True\n"), labels=True)
    assert t.columns["label"].to_pylist() == ["cat", "True"]
    with pytest.raises(CsvError, match="line 3: column 'label' is blank or NaN"):
        read(_csv(tmp_path, "l2.csv", "id,label\n1,cat\n2,NaN\n"), labels=True)


def test_same_columns_names_the_first_difference(tmp_path: Path) -> None:
    a = read(_csv(tmp_path, "a.csv", "id,x,y\n1,0,0\n"))
    same_columns(a, read(_csv(tmp_path, "b.csv", "id,y,x\n1,0,0\n")))  # order does not matter
    with pytest.raises(CsvError, match="c.csv: line 1: lacks column 'y'; a.csv has id, x, y"):
        same_columns(a, read(_csv(tmp_path, "c.csv", "id,x,z\n1,0,0\n")))


IDS = {
    "counting": [str(i) for i in range(1, 9)],
    "sparse numbers": [str(10**12 + 977 * i) for i in range(8)],
    "zero-padded": [f"{i:06d}" for i in range(100, 108)],
    "text": [f"{h:016x}" for h in (0xDEAD, 0xBEEF, 0xF00D, 0xCAFE, 0xFACE, 0xC0DE, 0xBADE, 0xABBA)],
}


@pytest.mark.parametrize("kind", IDS)
def test_index_places_a_shuffled_file_in_the_first_files_order(tmp_path: Path, kind: str) -> None:
    ids = IDS[kind]
    first = read(_csv(tmp_path, "first.csv", "id,y\n" + "".join(f"{i},{n}\n" for n, i in enumerate(ids))))
    index = Index(first)
    assert index.positions(first) is None  # same ids in the same order: nothing to move
    order = [5, 2, 7, 0, 3, 6, 1, 4]
    other = read(_csv(tmp_path, "other.csv", "id,y\n" + "".join(f"{ids[k]},{k}\n" for k in order)))
    where = np.concatenate(index.positions(other))
    placed = np.empty(len(ids))
    placed[where] = other.columns["y"].to_numpy()
    assert placed.tolist() == list(range(8))  # each value back on its id's row of the first file


@pytest.mark.parametrize("kind", IDS)
def test_index_refuses_repeats_strays_and_missing_ids(tmp_path: Path, kind: str) -> None:
    ids = IDS[kind]
    first = read(_csv(tmp_path, "first.csv", "id,y\n" + "".join(f"{i},0\n" for i in ids)))
    index = Index(first)
    repeat = read(_csv(tmp_path, "repeat.csv", "id,y\n" + "".join(f"{i},0\n" for i in [*ids[:-1], ids[0]])))
    with pytest.raises(CsvError, match=f"repeat.csv: line 9: id '{ids[0]}' repeats line 2"):
        index.positions(repeat)
    stray = read(_csv(tmp_path, "stray.csv", "id,y\n" + "".join(f"{i},0\n" for i in [*ids[:-1], "999"])))
    with pytest.raises(CsvError, match="stray.csv: line 9: id '999' is not in first.csv"):
        index.positions(stray)
    short = read(_csv(tmp_path, "short.csv", "id,y\n" + "".join(f"{i},0\n" for i in ids[:-1])))
    with pytest.raises(CsvError, match=f"short.csv: has no row for id '{ids[-1]}' \\(line 9 of first.csv\\)"):
        index.positions(short)
    with pytest.raises(CsvError, match="line 3: id .* repeats line 2"):
        Index(read(_csv(tmp_path, "dup.csv", f"id,y\n{ids[0]},0\n{ids[0]},1\n")))


def test_ids_written_another_way_are_other_ids(tmp_path: Path) -> None:
    first = read(_csv(tmp_path, "a.csv", "id,y\n0012,1\n0013,2\n"))
    with pytest.raises(CsvError, match="id '12' is not in a.csv"):
        Index(first).positions(read(_csv(tmp_path, "b.csv", "id,y\n12,1\n13,2\n")))
