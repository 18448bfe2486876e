"""`kr model publish`: a run's outputs (trained weights) as a new version of a Kaggle Model instance, uploaded only
when they changed, and recorded beside the run that made them; and the model versions an inference kernel reads."""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from kaggle_runner.errors import UserError
from kaggle_runner.kaggle.in_kernel import PROGRESS
from kaggle_runner.kaggle.rules import model_ref
from kaggle_runner.ledger.db import Merge, Run, label
from kaggle_runner.project import Say, Session

REF_HELP = "owner/model/framework/variation, e.g. testuser/toxic-tiny/pytorch/fold-0"


@dataclass(frozen=True)
class Published:
    """One publish: the instance and its version, the run, the files, and whether anything went up."""

    ref: str  # owner/model/framework/variation (the framework as Kaggle's URLs write it)
    version: int
    run: str  # the run's label (v3, train:v3)
    files: list[dict[str, Any]] = field(default_factory=list)  # name, sha256, size
    uploaded: bool = True  # False: these files are that version already, and nothing was sent
    bytes: int = 0  # what went up

    def as_json(self) -> dict[str, Any]:
        """The publish as `--json` prints it: every field."""
        return asdict(self)


def publish(ctx: Session, target: str, as_ref: str, patterns: list[str], say: Say) -> Published:
    """Publish run `target`'s outputs matching `patterns` (globs on their paths; default every output but kr's
    progress file) as a new version of model instance `as_ref`, making the model (private) and the instance where
    they do not exist. Outputs not pulled yet are pulled first. Files already published as a version of that instance
    (the same sha256s) make no new version and cost nothing."""
    parsed = model_ref(as_ref)
    if parsed is None or parsed[4] is not None:
        raise UserError(f"--as: {as_ref!r} is not a model instance; write {REF_HELP}")
    owner, model, framework, variation, _ = parsed
    if owner != ctx.owner:
        raise UserError(f"--as: {owner} is not you ({ctx.owner}); kr publishes to your own models")
    ref = f"{owner}/{model}/{framework}/{variation}"
    run = ctx.ledger.resolve_any(target, ctx.cfg.default_kernel)
    if isinstance(run, Merge):
        raise UserError(f"{target} is a merge; publish the run whose outputs are the model (e.g. v3)")
    name = label(run, ctx.cfg.default_kernel)
    if run.status != "COMPLETE":
        raise UserError(f"{name} is {run.status}; only a completed run's outputs are published")
    files = _chosen(ctx, run, patterns, say)
    manifest = hashlib.sha256(json.dumps([[f["name"], f["sha256"]] for f in files]).encode()).hexdigest()
    same = [m for m in ctx.ledger.model_versions(ref) if m["manifest"] == manifest]
    if same:
        return Published(ref, same[-1]["version"], name, files, uploaded=False)

    instance = (owner, model, framework, variation)
    if not ctx.api.model_exists(owner, model):
        say(f"creating model {owner}/{model} (private)")
        ctx.api.create_model(owner, model, model.replace("-", " ").title())
    newest = ctx.api.model_version(instance)
    folder = ctx.run_dir(run)
    with tempfile.TemporaryDirectory(prefix="kr-model-") as tmp:
        uploads = _uploads(folder, [f["name"] for f in files], Path(tmp))
        tokens = [ctx.api.upload_file(path, upload, kind="MODEL") for upload, path in uploads]
        sent = sum(path.stat().st_size for _, path in uploads)
    notes = f"{name}: {run.message} [kr {manifest[:12]}]" if run.message else f"{name} [kr {manifest[:12]}]"
    version = ctx.api.create_model_version(
        instance, tokens, notes, before=newest, sent=[(f["name"], f["size"]) for f in files]
    )
    ctx.ledger.record_model_version(ref, version, run.id, manifest, files)
    return Published(ref, version, name, files, uploaded=True, bytes=sent)


def _chosen(ctx: Session, run: Run, patterns: list[str], say: Say) -> list[dict[str, Any]]:
    """The run's pulled outputs that go up (name, sha256, size), pulling them first if they are not here."""
    from kaggle_runner.loop import outputs

    folder = ctx.run_dir(run)
    rows = ctx.ledger.files(run.id)
    if not rows or not all((folder / r["path"]).is_file() for r in rows):
        outputs.pull(ctx, run, say)
        rows = ctx.ledger.files(run.id)
    everything = [{"name": r["path"], "sha256": r["sha256"], "size": r["size"]} for r in rows]
    if patterns:
        chosen = [f for f in everything if any(fnmatch(f["name"], p) for p in patterns)]
    else:
        chosen = [f for f in everything if f["name"] != PROGRESS]
    if not everything:
        raise UserError(f"{run.label} wrote no outputs to publish")
    if not chosen:
        names = ", ".join(f["name"] for f in everything)
        raise UserError(f"--files {' '.join(patterns)}: no output of {run.label} matches (its outputs: {names})")
    return chosen


def _uploads(folder: Path, names: list[str], tmp: Path) -> list[tuple[str, Path]]:
    """(upload name, file) for each top-level entry: a file as it is, a folder as one zip of its chosen files, which
    Kaggle unpacks into a folder of that name (as `kaggle models instances versions create -r zip` sends it)."""
    top: dict[str, list[str]] = {}
    for name in names:
        top.setdefault(name.split("/", 1)[0], []).append(name)
    uploads = []
    for head, members in sorted(top.items()):
        if members == [head]:
            uploads.append((head, folder / head))
            continue
        archive = tmp / f"{head}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:  # weights barely compress
            for member in members:
                zf.write(folder / member, member.split("/", 1)[1])
        uploads.append((archive.name, archive))
    return uploads


def model_sources(ctx: Session, kernel: str, refs: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """The model versions a run will read: each of kr.yaml's `model_sources` pinned to a version (the newest where
    none is named) so the run reads what kr records, and its record ({ref, version, label}) for `kr show`. Refuses a
    model with no version, before anything goes up: the session would fail at its start."""
    pinned, records = [], []
    for i, text in enumerate(refs):
        parsed = model_ref(text)
        if parsed is None:
            raise UserError(f"kr.yaml: kernels.{kernel}.model_sources[{i}]: {text!r} is not {REF_HELP}[/version]")
        owner, model, framework, variation, version = parsed
        ref = f"{owner}/{model}/{framework}/{variation}"
        if version is None:
            version = ctx.api.model_version((owner, model, framework, variation))
            if version is None:
                raise UserError(
                    f"kr.yaml: kernels.{kernel}.model_sources[{i}]: Kaggle has no version of {ref}; "
                    f"publish one (kr model publish vN --as {ref}); nothing was pushed"
                )
        ours = [m for m in ctx.ledger.model_versions(ref) if m["version"] == version and m["run_id"] is not None]
        made_by = f", from {label(ctx.ledger.run_by_id(ours[0]['run_id']), ctx.cfg.default_kernel)}" if ours else ""
        pinned.append("/".join([*text.strip().strip("/").split("/")[:4], str(version)]))  # as written: pyTorch
        records.append({"ref": ref, "version": version, "label": f"model {ref}/{version}{made_by}", "kind": "model"})
    return pinned, records
