"""A push cut off by a crash or Ctrl-C, finished from what Kaggle shows: connect() opens a Session and
reconciles the ledger first, so every command that talks to Kaggle starts from a true record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kaggle_runner.errors import UserError
from kaggle_runner.kaggle.log_events import parse_log
from kaggle_runner.kaggle.rules import FINAL_STATES
from kaggle_runner.ledger.db import Run
from kaggle_runner.loop import bootstrap
from kaggle_runner.project import Say, Session

# How long a push whose version Kaggle does not show yet stays PUSHING: a SaveKernel cut off by a kill may still be
# in flight or being processed, and the version appears a moment later (seconds on the emulator; more allowed here).
PUSH_GRACE_SECONDS = 120.0


def connect(url: str | None, say: Say) -> Session:
    """The project with the Kaggle API at `url` (default api.kaggle.com). A push cut off by a crash or Ctrl-C is
    finished here, so every command that talks to Kaggle starts from a true ledger."""
    from kaggle_runner import config
    from kaggle_runner.kaggle.api import KaggleApi, find_credentials
    from kaggle_runner.ledger.db import open_ledger

    cfg = config.load()
    creds = find_credentials()
    owner = cfg.owner or creds.username
    if not owner:
        raise UserError("kr.yaml: owner: missing and the credentials name no user; add `owner: <your Kaggle username>`")
    ctx = Session(cfg=cfg, ledger=open_ledger(cfg.root), owner=owner, api=KaggleApi(url, creds))
    reconcile(ctx, say)
    return ctx


@dataclass
class Seen:
    """What Kaggle shows of a kernel's versions above some number: the kr run each was pushed as, and how many
    cannot be told yet (a running session's log, which holds the marker of an older version, is empty)."""

    versions: dict[int, int] = field(default_factory=dict)  # ledger run id -> version
    unknown: int = 0


def versions_of_runs(ctx: Session, ref: str, above: int, wanted: set[int]) -> Seen:
    """The versions of kernel `ref` numbered above `above` that carry the marker of a run in `wanted`, read from the
    newest down until all are found. Decided by the run marker kr put in the source, never by a number or an order:
    another push, a version from the web editor or another project's run can land in between."""
    owner, _, slug = ref.partition("/")
    kernel = ctx.api.get_kernel(owner, slug)
    current = (kernel.metadata.current_version_number or 0) if kernel is not None else 0
    source = kernel.blob.source if kernel is not None else None
    seen = Seen()
    for version in range(current, above, -1):
        run_id = _run_of_version(ctx, owner, slug, version, source if version == current else None)
        if run_id is None:
            seen.unknown += 1
        elif run_id in wanted:
            seen.versions[run_id] = version
        if wanted <= seen.versions.keys():
            break  # older versions need not be read
    return seen


def reconcile(ctx: Session, say: Say) -> None:
    """Finish the record of pushes cut off between SaveKernel and the ledger write (crash, Ctrl-C, two at once).
    A row stays PUSHING until its version is seen, or until PUSH_GRACE_SECONDS have passed with every newer version
    accounted for; only then is it marked as never having reached Kaggle."""
    pending: dict[str, list[Run]] = {}
    for run in ctx.ledger.pending_pushes():
        pending.setdefault(run.ref, []).append(run)
    for ref, runs in pending.items():
        known = max((r.version or 0 for r in ctx.ledger.runs() if r.ref == ref), default=0)
        seen = versions_of_runs(ctx, ref, known, {r.id for r in runs})
        for run in runs:
            if run.id in seen.versions:
                ctx.ledger.finish_push(run.id, seen.versions[run.id])
                say(f"recovered an interrupted push: {run.kernel} v{seen.versions[run.id]}")
            elif not seen.unknown and time.time() - run.created > PUSH_GRACE_SECONDS:
                ctx.ledger.abandon_push(run.id, "the push never reached Kaggle")


def _refused(ctx: Session, marker: dict) -> bool:
    """Whether the marker names a run of this project that Kaggle refused (so no version carries it)."""
    run_id = marker.get("run")
    if marker.get("project") not in (None, ctx.name) or not isinstance(run_id, int):
        return False
    return ctx.ledger.refused(run_id)


def _run_of_version(ctx: Session, owner: str, slug: str, version: int, source: str | None) -> int | None:
    """The ledger run id a kernel version was pushed as (0: not pushed by kr); None while Kaggle does not show it:
    an older version's marker is in its log, and Kaggle keeps a session's log empty until the session ends."""
    marker = bootstrap.marker_in_source(source) if source is not None else None
    if marker is not None and _refused(ctx, marker):
        # a push refused at the cap still replaces the kernel's source (docs/kaggle-facts.md): the newest source is
        # that refused run's, not this version's, whose own marker is in its log
        source = None
    if source is None:
        events = parse_log(ctx.api.list_output(owner, slug, version, page_size=1).log or "")
        marker = bootstrap.find_marker("".join(str(e.get("data", "")) for e in events))
        if marker is None and ctx.api.kernel_status(owner, slug, version)[0] not in FINAL_STATES:
            return None
    if (marker or {}).get("project") not in (None, ctx.name):  # another project's run 5 is not this one's
        return 0
    run_id = (marker or {}).get("run")
    return run_id if isinstance(run_id, int) else 0
