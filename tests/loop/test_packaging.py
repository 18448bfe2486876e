"""What goes up from a kernel's folder: the files the entry may import or open, as git would see them, and never
credentials, environments, the ledger or the data that goes up as datasets."""

from __future__ import annotations

from pathlib import Path

from helpers import write_project
from kaggle_runner import config
from kaggle_runner.loop import packaging


def _project(tmp_path: Path, **files: str) -> config.Config:
    kernels = {
        "train": {"folder": "kernels/train", "entry": "main.py", "slug": "train-kernel"},
        "infer": {"folder": "kernels/train", "entry": "infer.py", "slug": "infer-kernel"},
    }
    base = {"kernels/train/main.py": "import utils\n", "kernels/train/infer.py": "import utils\n"}
    root = write_project(
        tmp_path / "p", kernels=kernels, files={**base, **files}, datasets={"raw": {"paths": ["kernels/train/data"]}}
    )
    return config.load(root)


def test_the_kernels_folder_ships_as_git_would_see_it(tmp_path: Path) -> None:
    cfg = _project(
        tmp_path,
        **{
            "kernels/train/utils.py": "X = 1\n",
            "kernels/train/vocab.txt": "a\nb\n",
            "kernels/train/models/net.py": "",
            "kernels/train/.gitignore": "*.ckpt\nscratch/\n!keep.ckpt\n",
            "kernels/train/w.ckpt": "weights",
            "kernels/train/keep.ckpt": "kept",
            "kernels/train/scratch/notes.txt": "x",
            "kernels/train/models/.gitignore": "net_old.py\n!vocab.log\n",
            "kernels/train/models/net_old.py": "",
            "kernels/train/models/vocab.log": "re-included by the deeper .gitignore",
            "kernels/train/models/w.ckpt": "still ignored by the folder above",
            ".gitignore": "*.log\n",
            "kernels/train/run.log": "x",
        },
    )
    assert sorted(packaging.kernel_files(cfg)) == [
        "kernels/train/keep.ckpt",
        "kernels/train/models/net.py",
        "kernels/train/models/vocab.log",
        "kernels/train/utils.py",
        "kernels/train/vocab.txt",
    ]  # the entries go up as the kernels' sources; ignored files, as git has them, stay


def test_secrets_environments_caches_and_datasets_stay_behind(tmp_path: Path) -> None:
    cfg = _project(
        tmp_path,
        **{
            "kernels/train/utils.py": "X = 1\n",
            "kernels/train/.env": "KAGGLE_KEY=0000",
            "kernels/train/kaggle.json": '{"username": "testuser", "key": "0000"}',
            "kernels/train/venv/pyvenv.cfg": "home = /usr/bin\n",
            "kernels/train/venv/lib/x.py": "",
            "kernels/train/__pycache__/utils.cpython-311.pyc": "",
            "kernels/train/.kr/ledger.sqlite": "",
            "kernels/train/data/train.csv": "a,b\n",
        },
    )
    assert list(packaging.kernel_files(cfg)) == ["kernels/train/utils.py"]


def test_the_code_manifest_puts_the_folders_under_kr_src_and_warns_of_large_files(tmp_path: Path) -> None:
    cfg = _project(tmp_path, **{"kernels/train/utils.py": "X = 1\n", "kernels/train/big.bin": "x" * 2048})
    files = packaging.code_manifest(cfg, packaging.kernel_files(cfg))
    assert set(files) == {"kr-src/kernels/train/utils.py", "kr-src/kernels/train/big.bin"}  # no `code:`: no wheel
    assert packaging.large(files, limit=1024) == [
        "kernels/train/big.bin (0.0 MB) goes up with the kernel's code; large data belongs in datasets: (kr.yaml), "
        "and .gitignore leaves a file out"
    ]
