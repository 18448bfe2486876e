"""The team's view, read back from its tracking server: every member's runs and merges (`kr ls --team`), a
teammate's run named alice/v21 for `kr compare`, and a teammate's submission fetched and checked for `kr merge`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kaggle_runner import layout
from kaggle_runner.errors import UserError
from kaggle_runner.ledger import reports
from kaggle_runner.ledger.addresses import TEAM_REF_RE, is_team_ref
from kaggle_runner.params import as_number
from kaggle_runner.project import Project
from kaggle_runner.team import tracking

SCORES = ("public_score", "private_score")


def _tracker(ctx: Project) -> tracking.Tracker:
    return tracking.Tracker(tracking.required(ctx.cfg), create=False)


def ls_rows(ctx: Project) -> list[reports.Row]:
    """Every member's runs and merges in the team's experiment, by member, then in the order they were made."""
    rows = [_row(r) for r in _tracker(ctx).search() if r.data.tags.get("kr.kind") in ("run", "merge")]
    return sorted(rows, key=lambda r: (r.user or "", r.created))


def _row(run: Any) -> reports.Row:
    tags, metrics = run.data.tags, run.data.metrics
    name = tags.get("kr.metric") or None
    start, end = run.info.start_time, run.info.end_time
    is_run = tags.get("kr.kind") == "run"
    return reports.Row(
        user=tags.get("kr.user", ""),
        id=tags.get("kr.label", ""),
        kind=tags.get("kr.kind", ""),
        kernel=tags.get("kr.kernel") if is_run else None,
        accelerator=tags.get("kr.accelerator") if is_run else None,
        status=tags.get("kr.status") if is_run else "MERGED",
        duration=round((end - start) / 1000, 1) if is_run and start and end else None,
        metric_name=name,
        metric=metrics.get(name) if name else None,
        public=metrics.get("public_score"),
        private=metrics.get("private_score"),
        message=tags.get("kr.message", ""),
        notes=json.loads(tags.get("kr.notes") or "[]"),
        created=(start or 0) / 1000,
        mlflow_run_id=run.info.run_id,
    )


def find(tracker: tracking.Tracker, ref: str) -> Any:
    """The MLflow run of a teammate's alice/v21 (or alice/m3)."""
    m = TEAM_REF_RE.match(ref.strip())
    if not m:
        raise UserError(f"{ref}: not a teammate's run; name one as USER/v21, USER/KERNEL:v21 or USER/m3")
    user, shown = m["user"], m["label"]
    found = tracker.search(f"tags.`kr.user` = '{user}' AND tags.`kr.label` = '{shown}'")
    if not found:
        theirs = tracker.search(f"tags.`kr.user` = '{user}'")
        known = ", ".join(sorted({r.data.tags.get("kr.label", "") for r in theirs})[:8])
        hint = f"{user} has sent: {known}" if known else f"nothing from {user} yet; they run `kr sync`"
        raise UserError(f"{ref}: not on the team's server ({hint})")
    if len({r.data.tags.get("kr.ledger") for r in found}) > 1:
        raise UserError(f"{ref}: {user} has sent {shown} from {len(found)} projects; ask them which, or merge files")
    return found[0]


def column(ctx: Project, ref: str) -> dict[str, Any]:
    """A teammate's run as `kr compare` shows it (reports.column's shape)."""
    run = find(_tracker(ctx), ref)
    params, config = {}, {}
    for k, v in run.data.params.items():
        if k.startswith("kr.yaml."):
            config[k[len("kr.yaml.") :]] = v
        elif not k.startswith("merge."):
            params[k] = as_number(v)
    metrics = {k: v for k, v in run.data.metrics.items() if k not in SCORES}
    return {
        "label": ref,
        "params": params,
        "metrics": metrics,
        "config": config,
        "public": run.data.metrics.get(SCORES[0]),
    }


def fetch_submission(ctx: Project, ref: str) -> tuple[Path, dict[str, Any]]:
    """A teammate's submission file, downloaded into .kr/team/ and checked against the sha256 they sent with it;
    returns the file and where it came from (recorded with a merge that uses it)."""
    tracker = _tracker(ctx)
    run = find(tracker, ref)
    tags = run.data.tags
    artifact, digest = tags.get("kr.submission.path"), tags.get("kr.submission.sha256")
    if not artifact or not digest:
        raise UserError(f"{ref}: no submission file on the team's server (the run was not pulled before it was sent)")
    user, shown = ref.split("/", 1)
    target = layout.team_file(ctx.cfg.root, user, shown, Path(artifact).name)
    if not (target.is_file() and layout.sha256_file(target) == digest):
        scratch = target.parent / ".download"
        got = tracker.download(run.info.run_id, artifact, scratch)
        actual = layout.sha256_file(got)
        if actual != digest:
            got.unlink()
            raise UserError(
                f"{ref}: {artifact} on the server has sha256 {actual[:12]}, not the {digest[:12]} {user} sent; "
                "not merged (ask them to run `kr sync` again)"
            )
        got.replace(target)
    origin = {"tracking": tracker.server.uri, "experiment": tracker.server.experiment, "run_id": run.info.run_id}
    return target, origin


def compare_targets(ctx: Project, targets: list[str]) -> dict[str, Any]:
    """`kr compare`: local runs, merges and sweeps, and teammates' runs (alice/v21) read from the team's server."""
    columns = []
    for t in targets:
        if is_team_ref(t):
            columns.append(column(ctx, t))
        else:
            default = ctx.cfg.default_kernel
            columns += [reports.column(ctx.ledger, i, default) for i in reports.expand(ctx.ledger, [t], default)]
    return reports.compare(columns)
