"""code.requirements resolved for Kaggle's platform: what a kernel needs beyond Kaggle's image goes up as wheels,
resolved once per request, and a package pip cannot find for the platform is one line naming it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import write_project
from kaggle_runner import config
from kaggle_runner.errors import UserError
from kaggle_runner.loop import wheels


@pytest.fixture
def index(pip_index: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in pip_index.items():
        monkeypatch.setenv(key, value)


def _cfg(tmp_path: Path, requirements: object) -> config.Config:
    return config.load(write_project(tmp_path / "p", code={"requirements": requirements}))


def test_the_requirements_and_what_they_need_less_the_image_are_resolved_once(index, tmp_path: Path, monkeypatch):
    said: list[str] = []
    house = wheels.resolve(_cfg(tmp_path, ["krdemo-greet"]), said.append)
    assert house.wheels == ["krdemo_greet-1.0-py3-none-any.whl", "krdemo_words-2.0-py3-none-any.whl"]  # no six
    assert house.modules == ["krdemo_greet", "krdemo_words"] and house.folder.is_relative_to(tmp_path / "p" / ".kr")
    assert said[0].startswith("resolving code.requirements for Kaggle (Python 3.12, manylinux x86_64)")

    def no_pip(*args: object, **kwargs: object) -> None:
        raise AssertionError("pip ran again for a request already resolved")

    monkeypatch.setattr(subprocess, "run", no_pip)
    again = wheels.resolve(_cfg(tmp_path, ["krdemo-greet"]), said.append)
    assert again == house


def test_a_requirements_file_is_read_and_an_option_in_it_refused(index, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", files={"k/main.py": "print(1)\n", "req.txt": "# ours\nkrdemo-words==2.0\n"})
    (root / "kr.yaml").write_text((root / "kr.yaml").read_text() + "code: {requirements: req.txt}\n")
    assert config.load(root).requirements == ["krdemo-words==2.0"]
    (root / "req.txt").write_text("-e git+https://example.invalid/x\n")
    with pytest.raises(config.ConfigError) as e:
        config.load(root)
    assert str(e.value).startswith("kr.yaml: req.txt:1: '-e git+https://example.invalid/x' is not a requirement")


def test_a_package_without_a_wheel_for_kaggle_is_one_line(index, tmp_path: Path) -> None:
    with pytest.raises(UserError) as e:
        wheels.resolve(_cfg(tmp_path, ["krdemo-missing>=1"]), lambda _: None)
    assert str(e.value).startswith("code.requirements: no wheel of 'krdemo-missing>=1' for Kaggle's Python 3.12")
    assert "\n" not in str(e.value) and not (tmp_path / "p" / ".kr" / "wheels").exists()
