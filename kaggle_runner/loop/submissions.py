"""`kr submit` and `kr scores`: which file a run or merge stands for, the checks before upload, the upload,
polling for the score, and the ledger's copy of the competition's submission list."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kaggle_runner import layout
from kaggle_runner.ensembles.align import Index
from kaggle_runner.ensembles.table import CsvError, read, same_columns
from kaggle_runner.errors import UserError
from kaggle_runner.layout import sha256_file
from kaggle_runner.ledger.addresses import is_reference
from kaggle_runner.ledger.db import Ledger, Merge, Run, label
from kaggle_runner.project import Project, Session

SAMPLE = "sample_submission.csv"
CUT_OFF = "an earlier kr submit of {what} was cut off after Kaggle took it; recorded, not sent again"
TAG_HEX = 12  # hex digits of a file's sha256 kept in its submission's description
NOT_A_SOURCE = "no such file, and not a version (v23, KERNEL:v23, latest), merge (m3) or submission (sub40012)"


def source_of(ctx: Any, target: str, file_name: str = "submission.csv") -> tuple[Path, Run | Merge | None]:
    """The file that `target` (v23, KERNEL:v23, latest, m3 or a path) stands for, and its run or merge; a run's is
    its output `file_name`. A run that finished but was never pulled is pulled first."""
    if not is_reference(target):
        path = Path(target)
        if not path.is_file():
            raise UserError(f"{target}: {NOT_A_SOURCE}")
        return path, None
    item = ctx.ledger.resolve_any(target, ctx.cfg.default_kernel)
    if isinstance(item, Merge):
        path = layout.merge_file(ctx.cfg.root, item.id)
        if not path.is_file() or sha256_file(path) != item.output_sha256:
            raise UserError(f"{path}: missing or changed since {item.label} was recorded; run the merge again")
        return path, item
    from kaggle_runner.loop import outputs, watching

    folder = ctx.run_dir(item)
    path = folder / file_name
    if not path.is_file() and item.pulled is None:
        if ctx.api is None:
            raise UserError(f"{item.kernel} {item.label} has not been pulled; run `kr pull {target}` first")
        state, _ = watching.status(ctx, item)
        if state != "COMPLETE":
            raise UserError(
                f"{item.kernel} {item.label} is {state}; it has no outputs to submit yet (kr wait {target})"
            )
        outputs.pull(ctx, item, lambda _: None)
    if not path.is_file():
        csvs = sorted(p.name for p in folder.glob("*.csv"))
        hint = f"its CSV outputs: {', '.join(csvs)}; submit one by path" if csvs else "it wrote no CSV file"
        raise UserError(f"{item.kernel} {item.label} has no {file_name} ({hint})")
    return path, item


def sample_for(ctx: Any, competition: str) -> Path | None:
    """The competition's sample submission, downloaded once into .kr/competitions/<slug>/."""
    path = layout.competition_file(ctx.cfg.root, competition, SAMPLE)
    if path.is_file():
        return path
    return path if ctx.api.download_competition_file(competition, SAMPLE, path) else None


def check(path: Path, sample: Path | None) -> int:
    """Refuse a file Kaggle would reject or score wrongly; returns its row count."""
    table = read(path, labels=True)  # blanks and NaN refused in every column, numbers or labels
    Index(table)  # refuses a repeated id
    if sample is None:
        return len(table)
    ref = read(sample, labels=True)
    index = Index(ref)
    if table.header[0] != ref.header[0]:
        raise CsvError(
            f"{path}: line 1: the first column is '{table.header[0]}'; the sample submission's is "
            f"'{ref.header[0]}' ({', '.join(ref.header)})"
        )
    same_columns(ref, table)
    index.positions(table)  # every id of the sample exactly once, nothing else
    return len(table)


def submit(
    ctx: Any,
    target: str,
    message: str,
    competition: str,
    say: Callable[[str], None],
    file_name: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Send `target` to the competition: a file upload, or for a code competition the run's kernel version, which
    Kaggle re-runs on its hidden test set and scores by its output `file_name` (default: kr.yaml `submission:`).
    Refused in one line when no submission is left today, and (unless `force`) when the same file or kernel version
    was already submitted there; after it, `left` says how many remain today."""
    file_name = file_name or ctx.cfg.submission
    left = ctx.api.submissions_left(competition)
    if left is not None and left[0] <= 0:
        raise UserError(f"no submissions left today to {competition} ({left[1]} made); Kaggle's day {_resets()}")
    if ctx.api.is_code_competition(competition):
        out = _submit_code(ctx, target, message, competition, file_name, say, force)
    else:
        out = _submit_file(ctx, target, message, competition, file_name, say, force)
    if left is not None and out["sent"]:
        out["left"] = left[0] - 1
        noun = "submission" if out["left"] == 1 else "submissions"
        say(f"{out['left']} {noun} left today to {competition}; Kaggle's day {_resets()}")
    return out


def _resets() -> str:
    """When Kaggle's submission day ends: 00:00 UTC, and how long until then."""
    now = time.gmtime()
    seconds = 86400 - (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec)
    return f"resets at 00:00 UTC, in {seconds // 3600} h {seconds // 60 % 60} min"


def _refuse_repeat(ctx: Any, competition: str, tag: str, what: str, digest: str | None = None) -> None:
    """One line naming the earlier submission of the same file (or kernel version) and its score."""
    for s in ctx.ledger.submissions():
        same = tag in (s["description"] or "") or (digest is not None and s["file_sha256"] == digest)
        if s["competition"] == competition and same:
            score = f"public {s['public_score']}" if s["public_score"] else (s["status"] or "PENDING").lower()
            raise UserError(
                f"{what} was already submitted to {competition} as #{s['ref']} ({score}); it would score the same "
                "and spend one of today's submissions; --force sends it again"
            )


def _submit_file(
    ctx: Any,
    target: str,
    message: str,
    competition: str,
    file_name: str,
    say: Callable[[str], None],
    force: bool,
) -> dict[str, Any]:
    path, item = source_of(ctx, target, file_name)
    sample = sample_for(ctx, competition)
    rows = check(path, sample)
    say(
        f"{path.name}: {rows} rows"
        + (f", ids and columns match {SAMPLE}" if sample else f" (the competition has no {SAMPLE} to check against)")
    )
    digest = sha256_file(path)
    run_id = item.id if isinstance(item, Run) else None
    merge_id = item.id if isinstance(item, Merge) else None
    if item is None:
        run_id, merge_id = ctx.ledger.owner_of_file(digest)
    source = _label(ctx, run_id, merge_id)
    tag = _tag(digest[:TAG_HEX])

    def create(description: str, took_effect: Callable[[], Any]) -> Any:
        start = ctx.api.start_submission_upload(competition, path)
        ctx.api.put_file(start.create_url, path, path.name)
        return ctx.api.create_submission(competition, start.token, description, took_effect)

    what = f"{path.name} (sha256 {digest[:TAG_HEX]})"
    known, sent = _once(
        ctx, competition, " ".join(x for x in (source, message, tag) if x), tag, what, say, force, create, digest
    )
    ref = known["ref"]
    ctx.ledger.record_submission(
        competition, ref, run_id=run_id, merge_id=merge_id, file_name=path.name, file_sha256=digest
    )
    reads = [s["label"] for s in ctx.ledger.run_by_id(run_id).sources] if run_id is not None else []
    return {
        "ref": ref,
        "competition": competition,
        "source": source,
        "file": str(path),
        "reads": reads,
        **known,
        "sent": sent,
    }


def _accepted_ref(resp: Any) -> int:
    ref = int(resp.ref or 0)
    if not ref:
        raise UserError(f"Kaggle did not accept the submission: {getattr(resp, 'message', '') or 'no reason given'}")
    return ref


def _once(
    ctx: Any,
    competition: str,
    description: str,
    tag: str,
    what: str,
    say: Callable[[str], None],
    force: bool,
    create: Callable[[str, Callable[[], Any]], Any],
    digest: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Send a submission once: one Kaggle lists with `tag` that the ledger never recorded (a `kr submit` cut off
    after Kaggle took it) is recorded instead; one already recorded refuses a repeat unless `force`; else
    `create(description, took_effect)` sends it, recorded PENDING. Returns (what the ledger has of it, sent?)."""
    listed = ctx.api.list_submissions(competition)
    cut_off = _cut_off(ctx, competition, listed, tag)
    if cut_off is not None:
        say(f"#{cut_off.ref}: {CUT_OFF.format(what=what)}")
        return _record(ctx.ledger, competition, cut_off), False
    if not force:
        _refuse_repeat(ctx, competition, tag, what, digest)
    ref = _accepted_ref(create(description, _landed(ctx, competition, description, listed)))
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ctx.ledger.record_submission(competition, ref, description=description, status="PENDING", date=date)
    return {"ref": ref, "status": "PENDING"}, True


def _tag(key: str) -> str:
    """What kr adds to a submission's description to know it again: the file's sha256 (its first TAG_HEX digits), or
    the kernel version of a code submission. A repeated `kr submit` after one cut off finds it by this."""
    return f"[kr {key}]"


def _cut_off(ctx: Any, competition: str, listed: list[Any], tag: str) -> Any | None:
    """A submission Kaggle lists with this tag that the ledger never recorded: a `kr submit` killed during
    CreateSubmission, whose submission landed all the same."""
    recorded = {s["ref"] for s in ctx.ledger.submissions() if s["competition"] == competition}
    return next((s for s in listed if tag in (s.description or "") and int(s.ref) not in recorded), None)


def _landed(ctx: Any, competition: str, description: str, listed: list[Any]) -> Callable[[], Any]:
    """took_effect for a submission: a submission not listed before that carries this description."""
    before = {s.ref for s in listed}

    def took_effect() -> Any:
        for s in ctx.api.list_submissions(competition):
            if s.ref not in before and (s.description or "") == description:
                return s
        return None

    return took_effect


def _submit_code(
    ctx: Any, target: str, message: str, competition: str, file_name: str, say: Callable[[str], None], force: bool
) -> dict[str, Any]:
    """A code competition: the run's kernel version, after checking that its own run wrote `file_name` with the
    sample's columns (the re-run's rows are the hidden test set's, so ids are not compared)."""
    from kaggle_runner.loop import watching

    item = ctx.ledger.resolve_any(target, ctx.cfg.default_kernel) if is_reference(target) else None
    if not isinstance(item, Run) or not item.version:
        raise UserError(
            f"{competition} is a code competition: Kaggle scores a kernel version re-run on its hidden test set, "
            f"not a file; submit a run (kr submit v23)"
        )
    state, _ = watching.status(ctx, item)
    if state != "COMPLETE":
        raise UserError(f"{item.kernel} {item.label} is {state}; Kaggle re-runs only a completed version")
    path, _ = source_of(ctx, target, file_name)
    sample = sample_for(ctx, competition)
    table = read(path, labels=True)
    if sample is not None:
        same_columns(read(sample, labels=True), table)
    say(f"{item.kernel} {item.label} wrote {file_name} with the sample's columns; Kaggle re-runs it on hidden data")
    owner, slug = item.owner_slug
    tag = _tag(f"{slug}/v{item.version}")

    def create(description: str, took_effect: Callable[[], Any]) -> Any:
        kernel = (owner, slug, item.version)
        return ctx.api.create_code_submission(competition, kernel, file_name, description, took_effect)

    description = " ".join(x for x in (label(item, ctx.cfg.default_kernel), message, tag) if x)
    known, sent = _once(ctx, competition, description, tag, f"{item.kernel} {item.label}", say, force, create)
    ref = known["ref"]
    ctx.ledger.record_submission(competition, ref, run_id=item.id, file_name=file_name)
    source = label(item, ctx.cfg.default_kernel)
    reads = [s["label"] for s in item.sources]  # the training runs whose output it read
    return {
        "ref": ref,
        "competition": competition,
        "source": source,
        "file": file_name,
        "reads": reads,
        **known,
        "sent": sent,
    }


def _label(ctx: Any, run_id: int | None, merge_id: int | None) -> str:
    if merge_id is not None:
        return label(ctx.ledger.merge(merge_id), ctx.cfg.default_kernel)
    if run_id is not None:
        return label(ctx.ledger.run_by_id(run_id), ctx.cfg.default_kernel)
    return ""


def _record(ledger: Ledger, competition: str, s: Any) -> dict[str, Any]:
    status = getattr(s.status, "name", str(s.status))
    fields = {
        "status": status,
        "public_score": s.public_score or None,
        "private_score": s.private_score or None,
        "error": s.error_description or None,
        "description": s.description or "",
        "file_name": s.file_name,
        "submitted_by": getattr(s, "submitted_by", None) or None,
    }
    if s.date:
        fields["date"] = s.date.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(s.date, "strftime") else str(s.date)
    ledger.record_submission(competition, int(s.ref), **fields)
    return {"ref": int(s.ref), **fields}


def wait_score(ctx: Any, competition: str, ref: int, on_tick: Callable[[str, float], None]) -> dict[str, Any]:
    """Poll GetSubmission until Kaggle has scored (COMPLETE) or refused (ERROR) the submission."""
    from kaggle_runner.kaggle.pacing import poll_intervals

    started = time.time()
    for delay in poll_intervals():
        s = ctx.api.get_submission(ref)
        status = getattr(s.status, "name", "PENDING") if s is not None else "PENDING"
        on_tick(status, time.time() - started)
        if s is not None and status in ("COMPLETE", "ERROR"):
            return _record(ctx.ledger, competition, s)
        time.sleep(delay)
    raise AssertionError("unreachable")


def refresh(ctx: Session, competition: str, download: bool = False) -> list[dict[str, Any]]:
    """Bring every submission's status and scores up to date, including ones made outside kr and by teammates (a
    Kaggle team's submissions are listed to each member). With `download`, or with a team's tracking server named in
    kr.yaml, a teammate's submitted file is fetched once into .kr/submissions/, so `kr merge subN` can use it."""
    for s in ctx.api.list_submissions(competition):
        _record(ctx.ledger, competition, s)
    subs = [s for s in ctx.ledger.submissions() if s["competition"] == competition]
    if download or ctx.cfg.tracking:
        for s in subs:
            if s["submitted_by"] not in (None, ctx.owner) and not (s["path"] and Path(s["path"]).is_file()):
                _fetch(ctx, s)
        subs = [s for s in ctx.ledger.submissions() if s["competition"] == competition]
    return [_with_source(ctx, s) for s in subs]


def _fetch(ctx: Session, s: dict[str, Any]) -> None:
    dest = layout.submission_file(ctx.cfg.root, s["competition"], s["ref"], s["file_name"] or "submission.csv")
    if ctx.api.download_submission(s["ref"], dest):
        ctx.ledger.record_submission(s["competition"], s["ref"], path=str(dest), file_sha256=sha256_file(dest))


def kept_submission(ctx: Project, ref: int) -> Path:
    """The file of submission `ref` as kept in .kr/ (`kr merge sub40012`): a teammate's fetched by `kr scores`."""
    found = [s for s in ctx.ledger.submissions() if s["ref"] == ref]
    if not found:
        raise UserError(f"sub{ref}: no submission {ref} in the ledger; `kr scores` lists your team's")
    path = found[0]["path"]
    if not path or not Path(path).is_file():
        raise UserError(f"sub{ref}: its file is not kept here; `kr scores --download` fetches your teammates' files")
    return Path(path)


def _with_source(ctx: Any, s: dict[str, Any]) -> dict[str, Any]:
    out = dict(s)
    # a file kr sent that matched no run or merge is still kr's: named by its file, not "(outside kr)"
    out["source"] = _label(ctx, s["run_id"], s["merge_id"]) or (s["file_name"] if s["file_sha256"] else None)
    if s["submitted_by"] not in (None, ctx.owner):  # a teammate's: merged by its ref when its file is kept
        out["source"] = f"{s['submitted_by']}: sub{s['ref']}" if s["path"] else f"{s['submitted_by']}: {s['file_name']}"
    return out
