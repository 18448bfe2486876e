"""Kaggle's rules shared by kr, its bootstrap, its runtime and its emulator: one TPU check for every way a TPU
machine shows itself, one input resolver for both /kaggle/input layouts, the same in the bootstrap's copies."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kaggle_runner import scaffold
from kaggle_runner.kaggle.rules import find_input, tpu_present
from kaggle_runner.loop import bootstrap

FORMS = [
    (["accel0", "null"], [], {}, True),  # TPU VMs before v5e: /dev/accel*
    (["vfio", "null"], ["0", "1", "2", "3", "vfio"], {}, True),  # a TPU v5e-8 VM: numbered VFIO groups
    (["vfio", "null"], ["vfio"], {}, False),  # the VFIO control device alone is no TPU
    (["null"], [], {"TPU_NAME": "local"}, True),
    (["null"], [], {"TPU_ACCELERATOR_TYPE": "v5litepod-8"}, True),
    (["null", "nvidia0"], [], {"TPU_NAME": ""}, False),  # a GPU machine
]


@pytest.mark.parametrize("dev, vfio, environ, expected", FORMS)
def test_every_form_of_a_tpu_machine(dev: list[str], vfio: list[str], environ: dict, expected: bool) -> None:
    assert tpu_present(dev, vfio, environ) is expected


@pytest.mark.parametrize("dev, vfio, environ, expected", FORMS)
def test_the_bootstrap_carries_the_same_check(dev: list[str], vfio: list[str], environ: dict, expected: bool) -> None:
    source = bootstrap.script("print('user code')\n", {"run": 1, "kind": "tpu", "label": "TPU v5e-8"})
    carried = [n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert any(bootstrap.RULES in text for text in carried)  # inside the bootstrap the source runs
    scope: dict = {}
    exec(bootstrap.RULES, scope)  # the copy a kernel runs before kaggle_runner is installed
    assert scope["_kr_tpu_present"](dev, vfio, environ) is expected


MOUNTS_2026 = ["competitions/tiny-toxic", "datasets/testuser/kr-code", "notebooks/alice/prep", "models/g/bert/pt/b/1"]
LOOKUPS = [
    ("tiny-toxic", "", "tiny-toxic"),
    ("tiny-toxic", "competitions", "tiny-toxic"),
    ("kr-code", "", "kr-code"),
    ("testuser/kr-code", "datasets", "kr-code"),
    ("prep", "notebooks", "prep"),
    ("alice/prep", "", "prep"),
    ("g/bert/pt/b/1", "models", "bert/pt/b/1"),
]


@pytest.mark.parametrize("layout", ["2026", "legacy"])
@pytest.mark.parametrize("name, kind, flat", LOOKUPS)
def test_an_input_is_found_under_either_layout(tmp_path: Path, layout: str, name: str, kind: str, flat: str) -> None:
    mounts = MOUNTS_2026 if layout == "2026" else ["tiny-toxic", "kr-code", "prep", "bert/pt/b/1"]
    for m in mounts:
        (tmp_path / m).mkdir(parents=True)
    found = Path(find_input(name, kind, str(tmp_path)))
    if layout == "legacy":
        assert found == tmp_path / flat
    else:
        assert found.relative_to(tmp_path).as_posix() in MOUNTS_2026 and found.as_posix().endswith(flat)


def test_a_missing_input_names_what_was_looked_for_and_what_is_there(tmp_path: Path, monkeypatch) -> None:
    for m in MOUNTS_2026:
        (tmp_path / m).mkdir(parents=True)
    monkeypatch.setenv("KAGGLE_INPUT_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as e:
        find_input("xnli", "datasets")
    msg = str(e.value)
    assert f"looked for {tmp_path}/datasets/*/xnli, {tmp_path}/xnli" in msg
    assert "holds competitions/tiny-toxic, datasets/testuser/kr-code, models/g/bert, notebooks/alice/prep" in msg


def test_two_owners_of_one_slug_must_be_told_apart(tmp_path: Path) -> None:
    for owner in ("alice", "bob"):
        (tmp_path / "datasets" / owner / "folds").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="ambiguous"):
        find_input("folds", "datasets", str(tmp_path))
    assert find_input("bob/folds", "datasets", str(tmp_path)) == str(tmp_path / "datasets" / "bob" / "folds")


@pytest.mark.parametrize("layout", ["2026", "legacy"])
def test_the_starter_kernel_finds_its_competition_unaided(tmp_path: Path, layout: str, monkeypatch) -> None:
    comp = tmp_path / "input" / ("competitions/tiny-toxic" if layout == "2026" else "tiny-toxic")
    comp.mkdir(parents=True)
    (comp / "sample_submission.csv").write_text("id,toxic\n1,0.5\n")
    work = tmp_path / "working"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("KAGGLE_INPUT_DIR", str(tmp_path / "input"))
    exec(compile(scaffold.starter("tiny-toxic"), "main.py", "exec"), {"__name__": "__main__"})
    assert (work / "submission.csv").read_text() == "id,toxic\n1,0.5\n"
