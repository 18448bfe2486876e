"""kr.yaml validation: every error names the file, the key and the fix; defaults are filled in."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaggle_runner.config import ConfigError, load


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "kernels" / "main").mkdir(parents=True)
    (tmp_path / "kernels" / "main" / "main.py").write_text("print(1)\n")
    (tmp_path / "kr.yaml").write_text(text)
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    cfg = load(_project(tmp_path, "competition: tiny-toxic\nkernels:\n  main: {}\n"))
    k = cfg.kernel(None)
    assert (k.slug, k.title, k.entry, k.accelerator, k.competition_sources) == (
        "main",
        "Main Kernel",
        "main.py",
        "cpu",
        ["tiny-toxic"],
    )
    assert k.kernel_type == "script" and cfg.default_kernel == "main"


@pytest.mark.parametrize(
    "text, message",
    [
        ("kernels:\n  main: {accelerator: tpux}\n", "kernels.main.accelerator: 'tpux' is unknown; use one of"),
        (
            "kernels:\n  main: {accelerator: NvidiaTeslaT4Highmem}\n",
            "kernels.main.accelerator: 'NvidiaTeslaT4Highmem' (GPU T4 (high memory)) is for Kaggle's admins only",
        ),
        (
            "kernels:\n  main: {accelerator: tpu, docker_image: gcr.io/kaggle-images/python:v160}\n",
            "kernels.main.docker_image: a TPU runs without a docker image",
        ),
        ("kernels:\n  main: {entry: nope.py}\n", "kernels.main.entry:"),
        ("kernels:\n  main: {slug: Bad_Slug}\n", "kernels.main.slug: 'Bad_Slug' is not a valid Kaggle slug"),
        ("kernels:\n  main: {datasets: [missing]}\n", "kernels.main.datasets[0]: 'missing' is neither"),
        ("kernels:\n  main: {kernel_sources: [trian]}\n", "kernels.main.kernel_sources[0]: 'trian' is neither another"),
        ("kernels:\n  main: {kernel_sources: [main]}\n", "kernels.main.kernel_sources[0]: 'main' is neither another"),
        ("kernels:\n  main: {timeout: soon}\n", "kernels.main.timeout: expected seconds as an integer"),
        ("kernels:\n  main: {timeout: -60}\n", "kernels.main.timeout: -60 seconds is no time to run"),
        ("kernels:\n  main: {timeout: 0}\n", "kernels.main.timeout: 0 seconds is no time to run"),
        ("kernel:\n  main: {}\n", "kernel: unknown key; use one of"),
        ("kernels: {}\n", "kernels: no kernels defined"),
        ("kernels:\n  main: {}\ndatasets:\n  d: {slug: dd-data}\n", "datasets.d.paths: missing"),
        ("kernels:\n  main: {}\n  - broken\n", "not valid YAML at line 3"),
        ("kernels:\n  main: {}\ntracking: {mlflw: http://x}\n", "tracking.mlflw: unknown key; use one of"),
        ("kernels:\n  main: {}\ntracking: {mlflow: 5000}\n", "tracking.mlflow: 5000; e.g. mlflow: http://"),
    ],
)
def test_errors_name_key_and_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load(_project(tmp_path, text))
    assert str(e.value).startswith("kr.yaml: ") and message in str(e.value)
