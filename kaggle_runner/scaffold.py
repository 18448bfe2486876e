"""`kr init`: write kr.yaml and a starter kernel that runs unedited (emulator or Kaggle).
The starter reads the competition's sample submission and writes it back as submission.csv."""

from __future__ import annotations

from pathlib import Path

from kaggle_runner.errors import UserError
from kaggle_runner.layout import KR_DIR

STARTER_HEAD = '''"""Starter kernel written by `kr init`: replace the body with your model."""
import os
import shutil


'''
STARTER_BODY = """
COMPETITION = {competition!r}

if COMPETITION:
    # /kaggle/input/competitions/<slug> on 2026 Kaggle, /kaggle/input/<slug> on accounts with the flat layout
    sample = os.path.join(_kr_find_input(COMPETITION, "competitions"), "sample_submission.csv")
    shutil.copyfile(sample, "submission.csv")
    print("[RESULT]: Validation. Epoch: 0, score: 0.5")
    print("wrote submission.csv from", sample)
else:
    INPUT = os.environ.get("KAGGLE_INPUT_DIR", "/kaggle/input")
    print("hello from kr; inputs:", sorted(os.listdir(INPUT)) if os.path.isdir(INPUT) else [])
"""


def starter(competition: str | None) -> str:
    """The starter kernel's source: it runs without kaggle_runner installed, so it carries the input resolver."""
    from kaggle_runner.kaggle import rules
    from kaggle_runner.kaggle.in_kernel import carried

    return STARTER_HEAD + carried(rules.find_input) + STARTER_BODY.format(competition=competition or "")


def init_project(root: Path, competition: str | None, owner: str | None) -> list[str]:
    """`kr init`: kr.yaml and a starter kernel in `root`; returns the files written. Refuses to overwrite. A folder
    with the kaggle CLI's kernel-metadata.json is adopted instead: its kernel, slug and sources go into kr.yaml."""
    if (root / "kr.yaml").exists():
        raise UserError(f"{root / 'kr.yaml'} already exists; edit it instead")
    if (root / METADATA).exists():
        return _adopt(root, competition, owner)
    kernel = root / "kernels" / "main"
    if (kernel / "main.py").exists():
        raise UserError(f"{kernel / 'main.py'} already exists; move it away or write kr.yaml by hand")
    kernel.mkdir(parents=True, exist_ok=True)
    (kernel / "main.py").write_text(starter(competition))
    words = "".join(c if c.isalnum() else " " for c in root.resolve().name).split() or ["kr"]
    title = " ".join(w.capitalize() for w in words)[:40] + " Main"  # Kaggle wants >= 5 characters
    slug = "-".join(title.lower().split())
    lines = [
        "# kr project: see the README of kaggle_runner for every key",
        *([f"owner: {owner}"] if owner else ["# owner: your-kaggle-username   (default: from your credentials)"]),
        *([f"competition: {competition}"] if competition else []),
        "kernels:",
        "  main:",
        "    folder: kernels/main",
        "    entry: main.py",
        f"    title: {title}",
        f"    slug: {slug}",
        "    accelerator: cpu",
        "datasets: {}",
        "params: {lr: 1.0e-5}  # the kernel's rt.params(); kr push --set lr=2e-5 and kr sweep lr=... change them",
    ]
    _write(root, lines)
    return ["wrote kr.yaml and kernels/main/main.py", "next: kr push -m 'first run' --wait"]


METADATA = "kernel-metadata.json"  # the kaggle CLI's description of a kernel folder


def _adopt(root: Path, competition: str | None, owner: str | None) -> list[str]:
    """kr.yaml for a folder the kaggle CLI pushes: its kernel-metadata.json's id, title, code file and sources."""
    import json

    try:
        meta = json.loads((root / METADATA).read_text())
        ref, entry = str(meta["id"]), str(meta["code_file"])
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{root / METADATA}: not the kaggle CLI's kernel metadata ({e}); fix it or move it away") from e
    if not (root / entry).is_file():
        raise UserError(f"{root / METADATA}: code_file {entry} is not in {root}")
    meta_owner, _, slug = ref.partition("/")
    accel = "tpu" if meta.get("enable_tpu") else "gpu" if meta.get("enable_gpu") else "cpu"
    comps = [str(c) for c in meta.get("competition_sources") or []]
    competition = competition or (comps[0] if comps else None)
    sources = {
        "datasets": [str(d) for d in meta.get("dataset_sources") or []],
        "kernel_sources": [str(k) for k in meta.get("kernel_sources") or []],
        "model_sources": [str(m) for m in meta.get("model_sources") or []],
    }
    lines = [
        f"# kr project adopted from {METADATA} (kr reads kr.yaml from now on; see the README of kaggle_runner)",
        f"owner: {owner or meta_owner}",
        *([f"competition: {competition}"] if competition else []),
        "kernels:",
        "  main:",
        "    folder: .",
        f"    entry: {json.dumps(entry)}",
        f"    title: {json.dumps(str(meta.get('title') or slug))}",
        f"    slug: {slug}",
        f"    accelerator: {accel}",
        f"    internet: {'true' if meta.get('enable_internet') else 'false'}",
        *[f"    {key}: {json.dumps(values)}" for key, values in sources.items() if values],
        *([f"    competition_sources: {json.dumps(comps)}"] if len(comps) > 1 else []),
        "params: {}  # the kernel's rt.params(); kr push --set name=value and kr sweep change them",
    ]
    _write(root, lines)
    return [f"wrote kr.yaml for {ref} ({entry}) from {METADATA}", "next: kr push -m 'first run with kr' --wait"]


def _write(root: Path, lines: list[str]) -> None:
    (root / "kr.yaml").write_text("\n".join(lines) + "\n")
    gitignore = root / ".gitignore"
    if f"{KR_DIR}/" not in (gitignore.read_text() if gitignore.exists() else ""):
        with open(gitignore, "a") as f:
            f.write(f"{KR_DIR}/\n")
