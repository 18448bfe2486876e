"""`kr merge` as a whole: inputs named by version, merge or file; the merge written, kept as .kr/merges/mK.csv and
recorded in the ledger with every input's sha256; pairs of inputs so alike that merging them gains little."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from kaggle_runner import layout
from kaggle_runner.ensembles import blend
from kaggle_runner.errors import UserError
from kaggle_runner.ledger.addresses import is_reference, is_team_ref, submission_ref
from kaggle_runner.ledger.db import label
from kaggle_runner.project import Project
from kaggle_runner.team import view

NEAR_COPY = 0.98  # inputs that agree this closely are near-copies: averaging them adds almost nothing


def sources(ctx: Project | None, texts: list[str]) -> tuple[list[Path], list[str], list[dict[str, Any] | None]]:
    """The file behind each input (v21, KERNEL:v21, latest, m3, a teammate's alice/v21, a submission's sub40012 or a
    path), the label it is shown by, and for a teammate's file where on the team's server it came from."""
    from kaggle_runner.loop.submissions import NOT_A_SOURCE, kept_submission, source_of

    paths, labels, origins = [], [], []
    for text in texts:
        origin = None
        if ctx is not None and is_team_ref(text):
            path, origin = view.fetch_submission(ctx, text.strip())
            paths.append(path)
            labels.append(text.strip())
        elif ctx is not None and (ref := submission_ref(text)) is not None:
            paths.append(kept_submission(ctx, ref))
            labels.append(text.strip())
        elif is_reference(text):
            if ctx is None:
                raise UserError(f"{text}: versions and merges need a kr project (kr.yaml); outside one, pass files")
            path, item = source_of(ctx, text)
            paths.append(path)
            labels.append(label(item, ctx.cfg.default_kernel) if item is not None else text)
        else:
            if not Path(text).is_file():
                raise UserError(f"{text}: {NOT_A_SOURCE}")
            paths.append(Path(text))
            labels.append(text)
        origins.append(origin)
    return paths, labels, origins


def merge(
    ctx: Project | None,
    inputs: list[str],
    out: Path | None,
    method: str = "mean",
    weights: list[float] | None = None,
    power: float | None = None,
    id_column: str | None = None,
) -> dict[str, Any]:
    """Merge the inputs into `out`. In a project the merge is also kept and recorded as mK (out may then be None);
    outside one it is only written. Returns what was made, with the correlation of the inputs and near-copies."""
    blend.check_options(method, weights, power, len(inputs))
    paths, labels, origins = sources(ctx, inputs)
    result = blend.merge(paths, method, weights, power, id_column)
    if ctx is None:
        if out is None:
            raise UserError("-o: where should the merge go? (outside a kr project nothing is kept in .kr/merges)")
        try:
            blend.write(result, out)
        except OSError as e:
            raise UserError(f"{out}: cannot write ({e.strerror})") from e
        info: dict[str, Any] = {"id": None, "output": str(out), "rows": result.rows}
    else:
        info = _record(ctx, result, paths, labels, origins, method, weights, power, out)
    info.update(
        method=method,
        sources=labels,
        correlation=result.correlation,
        near_copies=near_copies(result.correlation, labels),
    )
    return info


def near_copies(correlation: dict[str, list[list[float | None]]], labels: list[str]) -> list[dict[str, Any]]:
    """Pairs of inputs whose values agree above NEAR_COPY on a column."""
    out = []
    for column, matrix in correlation.items():
        for i in range(len(labels)):
            for j in range(i + 1, len(labels)):
                r = matrix[i][j]
                if r is not None and r > NEAR_COPY:
                    out.append({"column": column, "a": labels[i], "b": labels[j], "r": r})
    return out


def _record(
    ctx: Project,
    result: blend.Result,
    paths: list[Path],
    labels: list[str],
    origins: list[dict[str, Any] | None],
    method: str,
    weights: list[float] | None,
    power: float | None,
    out: Path | None,
) -> dict[str, Any]:
    root = ctx.cfg.root
    staged = layout.merges_dir(root) / f".staged-{os.getpid()}.csv"
    blend.write(result, staged)
    try:
        digest = layout.sha256_file(staged)
        inputs = [
            {"source": s, "path": str(p), "sha256": layout.sha256_file(p), **({"origin": o} if o else {})}
            for s, p, o in zip(labels, paths, origins)
        ]
        merge_id = ctx.ledger.add_merge(
            method, weights, power, result.id_column, inputs, str(out or ""), digest, result.rows, result.correlation
        )
        kept = layout.merge_file(root, merge_id)
        os.replace(staged, kept)
    finally:
        if staged.exists():
            staged.unlink()
    if out is not None:
        tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
        try:
            try:
                os.link(kept, tmp)  # same bytes as the ledger's copy without a second write
            except OSError:
                shutil.copyfile(kept, tmp)
            os.replace(tmp, out)
        except OSError as e:
            raise UserError(f"{out}: cannot write ({e.strerror}); the merge is kept as m{merge_id} in {kept}") from e
    target = out or kept
    ctx.ledger.set_merge_output(merge_id, str(target))
    return {
        "id": f"m{merge_id}",
        "output": str(target),
        "kept": str(kept),
        "rows": result.rows,
        "sha256": digest,
        "inputs": inputs,
    }
