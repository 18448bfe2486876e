"""kr merge: every method against a plain numpy reference on independently shuffled inputs, the id text kept
exactly, and every refusal naming the file and the first bad line with nothing written."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from helpers import write_project
from kaggle_runner.ensembles import blend
from kaggle_runner.ensembles.table import CsvError
from kaggle_runner.errors import UserError

N = 400


def _write(path: Path, ids: list[str], columns: dict[str, list], order: np.ndarray, quote_ids: bool = False) -> Path:
    with open(path, "w", newline="") as f:
        f.write(",".join(["id", *columns]) + "\n")
        for i in order:
            idtext = f'"{ids[i]}"' if quote_ids else ids[i]
            f.write(
                ",".join(
                    [
                        idtext,
                        *[
                            repr(columns[c][i]) if isinstance(columns[c][i], float) else str(columns[c][i])
                            for c in columns
                        ],
                    ]
                )
                + "\n"
            )
    return path


ID_KINDS = {
    "digits": lambda i: f"{i:06d}",  # number-like with leading zeros: a table of positions
    "sparse": lambda i: str(10**12 + i * 1_000_003),  # numbers too far apart for a table: sorted numbers
    "text": lambda i: f"u{i * 7919:x}",  # sorted text
}


@pytest.fixture(params=sorted(ID_KINDS))
def inputs(request, tmp_path: Path) -> tuple[list[Path], list[str], list[dict[str, np.ndarray]]]:
    """Three files with the same ids in different orders; values rounded so ranks tie. Each kind of id takes
    its own alignment path."""
    rng = np.random.default_rng(7)
    ids = [ID_KINDS[request.param](i) for i in rng.permutation(N) * 3]
    values = [
        {"toxic": np.round(rng.uniform(0.01, 1, N), 2), "severe": np.round(rng.uniform(0.01, 1, N), 3)}
        for _ in range(3)
    ]
    paths = [
        _write(
            tmp_path / f"in{k}.csv",
            ids,
            {c: list(map(float, v)) for c, v in values[k].items()},
            np.arange(N) if k == 0 else rng.permutation(N),
        )
        for k in range(3)
    ]
    return paths, ids, values


def _read(path: Path) -> tuple[list[str], dict[str, np.ndarray], str]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    return (
        [r[0] for r in rows[1:]],
        {c: np.array([float(r[j]) for r in rows[1:]]) for j, c in enumerate(header) if j},
        path.read_text().splitlines()[0],
    )


def _ranks(x: np.ndarray) -> np.ndarray:  # the textbook definition, O(n^2): below + half of the ties
    return np.array([(x < v).sum() + ((x == v).sum() + 1) / 2 for v in x])


REFERENCES = {
    "mean": lambda X, w, K: X.mean(axis=0),
    "weighted": lambda X, w, K: np.average(X, axis=0, weights=w),
    "rank": lambda X, w, K: np.average(np.array([_ranks(x) / len(x) for x in X]), axis=0, weights=w),
    "geo": lambda X, w, K: np.exp(np.average(np.log(X), axis=0, weights=w)),
    "power": lambda X, w, K: np.average(X**K, axis=0, weights=w) ** (1 / K),
}


@pytest.mark.parametrize(
    "method,weights,power",
    [
        ("mean", None, None),
        ("weighted", [0.5, 0.3, 0.2], None),
        ("rank", None, None),
        ("rank", [3, 1, 1], None),
        ("geo", None, None),
        ("power", None, 3.5),
        ("power", [1, 2, 1], 0.5),
    ],
)
def test_methods_match_numpy_on_shuffled_inputs(inputs, tmp_path: Path, method, weights, power) -> None:
    paths, ids, values = inputs
    out = tmp_path / "out.csv"
    blend.write(blend.merge(paths, method, weights, power), out)
    got_ids, got, header = _read(out)
    assert got_ids == ids and header == "id,toxic,severe"  # the first input's order and text
    w = np.ones(3) if weights is None else np.asarray(weights, dtype=float)
    for column in ("toxic", "severe"):
        X = np.array([v[column] for v in values])  # already in id order: values[k][i] belongs to ids[i]
        np.testing.assert_allclose(got[column], REFERENCES[method](X, w, power), rtol=1e-12, atol=1e-15)


def test_vote_on_label_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ids = [f"{i:04d}" for i in range(200)]
    labels = [
        {"sentiment": list(rng.choice(["pos", "neg", "neutral, maybe"], 200)), "flag": list(rng.choice([0, 1], 200))}
        for _ in range(3)
    ]
    paths = []
    for k in range(3):
        p = tmp_path / f"v{k}.csv"
        with open(p, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "sentiment", "flag"])
            for i in range(200) if k == 0 else rng.permutation(200):
                w.writerow([ids[i], labels[k]["sentiment"][i], labels[k]["flag"][i]])
        paths.append(p)
    out = tmp_path / "vote.csv"
    result = blend.merge(paths, "vote", [1, 1, 1.5])
    blend.write(result, out)
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows[1:]] == ids
    for i, r in enumerate(rows[1:]):
        for j, column in ((1, "sentiment"), (2, "flag")):
            score = Counter()
            for k, wk in enumerate([1, 1, 1.5]):
                score[str(labels[k][column][i])] += wk
            best = max(score.values())
            expect = next(str(labels[k][column][i]) for k in range(3) if score[str(labels[k][column][i])] == best)
            assert r[j] == expect
    assert 0 < result.correlation["flag"][0][1] < 1  # agreement between inputs


def test_ids_are_written_exactly_as_the_first_input_has_them(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text('id,target\n"000123",0.2\n"00x,9",0.4\n045,0.6\n')
    b = tmp_path / "b.csv"
    b.write_text('id,target\n045,0.0\n000123,0.4\n"00x,9",0.8\n')
    out = tmp_path / "o.csv"
    blend.write(blend.merge([a, b]), out)
    assert out.read_text() == 'id,target\n"000123",0.30000000000000004\n"00x,9",0.6000000000000001\n045,0.3\n'
    c = tmp_path / "c.csv"
    c.write_text('"id","target"\n"000123",0.2\n"7",0.4\n')
    d = tmp_path / "d.csv"
    d.write_text("id,target\n7,0.2\n000123,0.2\n")
    blend.write(blend.merge([c, d]), out)
    assert out.read_text() == '"id","target"\n"000123",0.2\n"7",0.30000000000000004\n'


def test_id_option_picks_a_later_column(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("p,key\n0.1,b\n0.3,a\n")
    b = tmp_path / "b.csv"
    b.write_text("key,p\na,0.5\nb,0.3\n")
    out = tmp_path / "o.csv"
    blend.write(blend.merge([a, b], id_column="key"), out)
    assert out.read_text() == "p,key\n0.2,b\n0.4,a\n"


BAD = {
    "extra id": ("id,toxic,severe\n{0},0.1,0.1\n999999,0.2,0.2\n", r"bad.csv: line 3: id '999999' is not in in0.csv"),
    "missing id": ("id,toxic,severe\n{0},0.1,0.1\n", r"bad.csv: has no row for id '\w+' \(line \d+ of in0.csv\)"),
    "columns": ("id,toxic\n000000,0.1\n", r"bad.csv: line 1: lacks column 'severe'; in0.csv has id, toxic, severe"),
    "duplicate": (
        "id,toxic,severe\n{0},0.1,0.1\n{1},0.1,0.1\n{0},0.3,0.3\n",
        r"bad.csv: line 4: id '\w+' repeats line 2",
    ),
    "nan": ("id,toxic,severe\n000000,0.1,0.1\n000003,NaN,0.1\n", r"bad.csv: line 3: column 'toxic' is blank or NaN"),
    "blank": ("id,toxic,severe\n000000,0.1,0.1\n000003,0.1,\n", r"bad.csv: line 3: column 'severe' is blank or NaN"),
    "text": (
        "id,toxic,severe\n000000,0.1,0.1\n000003,0.1,high\n",
        r"bad.csv: line 3: column 'severe' is not a number: 'high'",
    ),
    "empty": ("", r"bad.csv: empty file"),
    "empty id": ("id,toxic,severe\n{0},0.1,0.1\n,0.2,0.2\n", r"bad.csv: line 3: the id is empty"),
    "infinite": ("id,toxic,severe\n{0},0.1,0.1\n{1},inf,0.2\n", r"bad.csv: line 3: column 'toxic' is infinite"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_refusals_name_file_and_line(inputs, tmp_path: Path, case: str) -> None:
    paths, ids, _ = inputs
    text, pattern = BAD[case]
    bad = tmp_path / "bad.csv"
    bad.write_text(text.format(ids[0], ids[1]))
    with pytest.raises(CsvError, match=pattern):
        blend.merge([paths[0], bad])


def test_ids_written_another_way_are_other_ids(tmp_path: Path) -> None:
    padded = tmp_path / "padded.csv"
    padded.write_text("id,p\n001,0.1\n002,0.2\n")
    plain = tmp_path / "plain.csv"
    plain.write_text("id,p\n2,0.2\n1,0.1\n")
    with pytest.raises(CsvError, match=r"plain.csv: line 2: id '2' is not in padded.csv"):
        blend.merge([padded, plain])


def test_counting_ids_in_order_align_without_a_table(tmp_path: Path) -> None:
    """A first input with ids 1..n in order (as many sample submissions have them) takes its own path."""
    rng = np.random.default_rng(5)
    ids = [str(i) for i in range(1, N + 1)]
    values = [rng.uniform(0.01, 1, N) for _ in range(3)]
    paths = [
        _write(
            tmp_path / f"c{k}.csv",
            ids,
            {"p": list(map(float, values[k]))},
            np.arange(N) if k == 0 else rng.permutation(N),
        )
        for k in range(3)
    ]
    out = tmp_path / "out.csv"
    blend.write(blend.merge(paths), out)
    got_ids, got, _ = _read(out)
    assert got_ids == ids
    np.testing.assert_allclose(got["p"], np.mean(values, axis=0), rtol=1e-12)
    lines = paths[1].read_text().splitlines()
    for bad_line, pattern in (
        (f"{N + 1},0.5", rf"bad.csv: line {N + 1}: id '{N + 1}' is not in c0.csv"),
        (lines[1], rf"bad.csv: line {N + 1}: id '\d+' repeats line 2"),
    ):
        bad = tmp_path / "bad.csv"
        bad.write_text("\n".join(lines[:-1] + [bad_line]) + "\n")
        with pytest.raises(CsvError, match=pattern):
            blend.merge([paths[0], bad])


def test_many_chunks_give_the_same_merge_and_lines(inputs, tmp_path: Path, monkeypatch) -> None:
    """Big files reach the merge as many chunks; alignment, refusals and line numbers must not depend on that."""
    from kaggle_runner.ensembles import table

    paths, ids, values = inputs
    whole = blend.merge(paths, "weighted", [3, 2, 1])
    monkeypatch.setattr(table, "BLOCK", 1024)
    assert table.read(paths[1]).ids.num_chunks > 5
    chunked = blend.merge(paths, "weighted", [3, 2, 1])
    for column in ("toxic", "severe"):
        np.testing.assert_array_equal(chunked.columns[column], whole.columns[column])
    assert chunked.correlation == whole.correlation
    lines = paths[2].read_text().splitlines()
    late = tmp_path / "late.csv"
    late.write_text("\n".join(lines[:-1] + [lines[3]]) + "\n")  # the last row repeats the third
    with pytest.raises(CsvError, match=rf"late.csv: line {N + 1}: id '\w+' repeats line 4"):
        blend.merge([paths[0], late])
    fields = lines[350].split(",")
    for text, problem in (("nan", "blank or NaN"), ("-inf", "infinite")):
        late.write_text("\n".join(lines[:350] + [",".join([fields[0], text, fields[2]])] + lines[351:]) + "\n")
        with pytest.raises(CsvError, match=rf"late.csv: line 351: column 'toxic' is {problem}"):
            blend.merge([paths[0], late])
    late.write_text("\n".join(lines[:350] + ["," + lines[350].split(",", 1)[1]] + lines[351:]) + "\n")
    with pytest.raises(CsvError, match=r"late.csv: line 351: the id is empty"):
        blend.merge([paths[0], late])
    late.write_text("\n".join(lines[:-1] + ["x" + lines[-1]]) + "\n")
    with pytest.raises(CsvError, match=rf"late.csv: line {N + 1}: id 'x\w+' is not in in0.csv"):
        blend.merge([paths[0], late])


def test_geo_refuses_zero_and_options_are_checked(inputs, tmp_path: Path) -> None:
    paths, ids, values = inputs
    zero = _write(tmp_path / "zero.csv", ids, {"toxic": [0.0] * N, "severe": [0.5] * N}, np.arange(N))
    with pytest.raises(CsvError, match="zero.csv: column 'toxic' has 0.0; --method geo needs positive values"):
        blend.merge([paths[0], zero], "geo")
    with pytest.raises(UserError, match="needs --weights"):
        blend.merge(paths, "weighted")
    with pytest.raises(UserError, match="3 weights for 2 inputs"):
        blend.merge(paths[:2], "mean", [1, 1, 1])
    with pytest.raises(UserError, match="needs a non-zero --power"):
        blend.merge(paths, "power")


def test_cli_records_merge_and_refuses_without_writing(inputs, tmp_path: Path, make_kr) -> None:
    paths, ids, _ = inputs
    project = write_project(tmp_path / "proj", competition=None)
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD["duplicate"][0].format(ids[0], ids[1]))
    kr = make_kr(project)
    refused = kr("merge", str(paths[0]), str(bad), "-o", "out.csv", check=None)
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1 and "bad.csv: line 4" in refused.stderr
    assert not (project / "out.csv").exists()
    assert not list(project.glob(".kr/merges/*"))  # nothing staged or kept

    ok = kr("merge", *map(str, paths), "-o", "out.csv", "--method", "rank", "--json", check=None)
    assert ok.returncode == 0, ok.stderr
    info = json.loads(ok.stdout)
    assert info["id"] == "m1" and info["rows"] == N
    kept = project / ".kr" / "merges" / "m1.csv"
    assert kept.read_bytes() == (project / "out.csv").read_bytes()
    db = sqlite3.connect(project / ".kr" / "ledger.sqlite")
    method, inputs_json, output_sha = db.execute("SELECT method, inputs, output_sha256 FROM merges").fetchone()
    import hashlib

    assert method == "rank" and output_sha == hashlib.sha256(kept.read_bytes()).hexdigest()
    assert [i["sha256"] for i in json.loads(inputs_json)] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    assert len(info["correlation"]["toxic"]) == 3

    shown = kr("show", "m1", check=None)
    assert shown.returncode == 0 and "rank" in shown.stdout and "correlation" in shown.stdout

    outside = kr("merge", str(paths[0]), str(paths[1]), "-o", "plain.csv", check=None, cwd=tmp_path)
    assert outside.returncode == 0, outside.stderr
    assert (tmp_path / "plain.csv").read_text().splitlines()[1].split(",")[0] == ids[0]


def test_correlation_matches_numpy_and_flags_constant_inputs(inputs, tmp_path: Path) -> None:
    paths, ids, values = inputs
    result = blend.merge(paths)
    X = np.array([v["toxic"] for v in values])
    np.testing.assert_allclose(np.array(result.correlation["toxic"], dtype=float), np.corrcoef(X), atol=2e-6)
    flat = _write(tmp_path / "flat.csv", ids, {"toxic": [0.5] * N, "severe": [0.25] * N}, np.arange(N))
    assert blend.merge([paths[0], flat]).correlation["toxic"][0][1] is None


def test_rank_gives_rows_with_equal_rank_sums_exactly_equal_values(tmp_path: Path) -> None:
    # ranks per input: a = 1..6, b = 6..1, so every row's rank sum is 7; c makes sums 7+1 .. 7+6 pairwise distinct
    n = 6
    files = []
    for name, values in (("a", range(n)), ("b", reversed(range(n))), ("c", [0, 0, 1, 1, 2, 2])):
        p = tmp_path / f"{name}.csv"
        p.write_text("id,y\n" + "".join(f"{i},{0.1 + v * 0.137}\n" for i, v in enumerate(values)))
        files.append(p)
    two = blend.merge(files[:2], "rank").columns["y"]
    assert len(set(two.tolist())) == 1  # every row: (r_a + r_b) / (2n) = 7 / 12, to the last digit
    three = blend.merge(files, "rank").columns["y"]
    assert three[0] == three[1] and three[2] == three[3] and three[4] == three[5]  # c's ties share their rank
