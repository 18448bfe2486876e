"""A run's outputs brought home: every file Kaggle lists, under names that stay inside the run's folder, then
the log and the metric points read from it (or from kr_progress.json, when the log is empty) into the ledger."""

from __future__ import annotations

import errno
import itertools
import re
from pathlib import Path, PurePosixPath

from kaggle_runner import layout
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle.api import KaggleError
from kaggle_runner.kaggle.in_kernel import PROGRESS
from kaggle_runner.kaggle.log_events import session_seconds
from kaggle_runner.ledger.db import Run
from kaggle_runner.project import Say, Session

MAX_PAGES = 1000  # of outputs, 500 a page: far beyond Kaggle's 20 GB working folder


def safe_target(folder: Path, name: str) -> Path:
    """Where a file named by Kaggle goes; refuses names that would land outside `folder`."""
    p = PurePosixPath(name.replace("\\", "/"))
    if (
        not name
        or not p.parts
        or p.is_absolute()
        or ".." in p.parts
        or "\x00" in name
        or (p.parts and ":" in p.parts[0])
    ):
        raise KaggleError(f"refusing output file name '{name}': it would be written outside {folder}")
    return folder.joinpath(*p.parts)


def pull(ctx: Session, run: Run, say: Say, folder: Path | None = None, pattern: str | None = None) -> Path:
    """Download the run's outputs and log into its folder (.kr/runs/vN, or `folder`), then record their hashes and
    the metric points. `pattern` (a regular expression, as the kaggle CLI's --file-pattern) picks the outputs by
    name. A name that would escape the folder, or cannot be written here, is skipped with a warning; a full disk
    fails the pull."""
    owner, slug = run.owner_slug
    try:
        wanted = re.compile(pattern) if pattern else None
    except re.error as e:
        raise UserError(f"--file-pattern: {pattern!r} is not a regular expression ({e})") from e
    whole = folder is None and wanted is None  # every output into the run's folder: what the ledger records
    folder = folder or ctx.run_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    token, log, seen = "", None, set[str]()
    files: list[tuple[str, Path, str]] = []
    skipped: list[dict[str, str]] = []
    while True:
        page = ctx.api.list_output(owner, slug, run.number, page_token=token, page_size=500)
        if log is None:
            log = page.log or ""
        for f in page.files or []:
            if wanted is not None and not wanted.search(f.file_name):
                continue
            try:
                files.append((f.file_name, safe_target(folder, f.file_name), f.url))
            except KaggleError:  # one bad name must not keep submission.csv from coming back
                skipped.append({"name": f.file_name, "why": "its name would be written outside the run's folder"})
        token = page.next_page_token or ""
        if not token:
            break
        if token in seen or len(seen) >= MAX_PAGES:  # a server that never stops paging must not hold kr for ever
            raise KaggleError(
                f"listing {run.label}'s outputs: Kaggle kept answering with another page ({len(seen) + 1} pages, "
                f"page token {token[:40]!r} {'again' if token in seen else 'and more'}); nothing was pulled"
            )
        seen.add(token)
    pulled = []
    for name, target, url in files:
        try:
            if not target.is_file():  # downloads land atomically, so an existing file is complete: pulls resume
                if target.exists():
                    raise IsADirectoryError(errno.EISDIR, "another output made a folder of that name")
                target.parent.mkdir(parents=True, exist_ok=True)
                say(f"downloading {name}")
                ctx.api.download(url, target)
        except KaggleError as e:
            if e.status != 404:  # listed but not served (a link in the outputs); a 403 may be an expired URL
                raise
            skipped.append({"name": name, "why": f"Kaggle listed it but answered {e.status} for it"})
            continue
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):  # a full disk fails the pull, whatever the file
                raise
            # `a` beside `a\b.txt`, or a name longer than this disk allows: that file only, never the run
            skipped.append({"name": name, "why": f"it cannot be written here ({e.strerror or e})"})
            continue
        pulled.append((name, target))
    for s in skipped:
        say(f"warning: skipped output {s['name']!r}: {s['why']}")
    (folder / f"{slug}.log").write_text(log, encoding="utf-8")
    ctx.ledger.record_seconds(run.id, session_seconds(log))
    del log, page  # the points are read back from the file as a stream: a long log is not held twice
    from kaggle_runner.ledger.metrics import extract_file, from_progress, read_progress

    progress = read_progress(folder / PROGRESS) if any(name == PROGRESS for name, _ in pulled) else None
    points = extract_file(folder / f"{slug}.log")
    first = next(points, None)
    if first is None and progress:  # a session killed at its time cap leaves an empty log, but its outputs
        ctx.ledger.record_metrics(run.id, from_progress(progress))
    else:
        ctx.ledger.record_metrics(run.id, itertools.chain([first] if first else [], points))
    if whole or progress is not None:
        ctx.ledger.record_progress(run.id, progress)
    if whole:  # a partial pull, or one elsewhere, leaves the record of the run's outputs as it was
        ctx.ledger.record_files(
            run.id, [(name, layout.sha256_file(t), t.stat().st_size) for name, t in pulled], skipped
        )
    return folder
