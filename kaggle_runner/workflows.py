"""The run loop's steps as sequences of kaggle_api and ledger calls: push, status, wait, cancel, logs, pull.
No printing of tables here: each step returns data, and reports progress through a `say` callback."""

from __future__ import annotations

import errno
import os
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from kaggle_runner import accelerators, bootstrap, control, layout
from kaggle_runner.context import Context
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle_api import KaggleError, poll_intervals
from kaggle_runner.kaggle_rules import FINAL_STATES
from kaggle_runner.ledger import Run
from kaggle_runner.logs import parse_log

Say = Callable[[str], None]
EXIT = {"COMPLETE": 0, "ERROR": 1, "CANCEL_ACKNOWLEDGED": 3}
MAX_PAGES = 1000  # of outputs, 500 a page: far beyond Kaggle's 20 GB working folder
CAP_RE = re.compile(r"Maximum batch \w+ session count of \d+ reached")  # SaveKernel's error (docs/kaggle-facts.md)


def _git(root: Path) -> tuple[str | None, bool]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None, False
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=10)
        return commit.stdout.strip(), bool(dirty.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        return None, False


def _current_version(ctx: Context, ref: str) -> int | None:
    owner, _, slug = ref.partition("/")
    k = ctx.api.get_kernel(owner, slug)
    return (k.metadata.current_version_number or None) if k is not None else None


def connect(url: str | None, say: Say) -> Context:
    """The project with the Kaggle API at `url` (default api.kaggle.com). A push cut off by a crash or Ctrl-C is
    finished here, so every command that talks to Kaggle starts from a true ledger."""
    from kaggle_runner import config
    from kaggle_runner.kaggle_api import KaggleApi, find_credentials
    from kaggle_runner.ledger import open_ledger

    cfg = config.load()
    creds = find_credentials()
    owner = cfg.owner or creds.username
    if not owner:
        raise UserError("kr.yaml: owner: missing and the credentials name no user; add `owner: <your Kaggle username>`")
    ctx = Context(cfg, KaggleApi(url, creds), open_ledger(cfg.root), owner)
    reconcile(ctx, say)
    return ctx


def reconcile(ctx: Context, say: Say) -> None:
    """Finish the record of pushes cut off between SaveKernel and the ledger write (crash, Ctrl-C, two at once).
    Versions are matched to ledger rows by the run id their source carries (the bootstrap's marker), never by
    order: the newest version's source comes from GetKernel, an older one's from the KR_RUN line of its log."""
    pending: dict[str, list[Run]] = {}
    for run in ctx.ledger.pending_pushes():
        pending.setdefault(run.ref, []).append(run)
    for ref, runs in pending.items():
        owner, _, slug = ref.partition("/")
        known = max((r.version or 0 for r in ctx.ledger.runs() if r.ref == ref), default=0)
        kernel = ctx.api.get_kernel(owner, slug)
        current = (kernel.metadata.current_version_number or 0) if kernel is not None else 0
        found, unknown = {}, 0
        for version in range(current, known, -1):
            run_id = _run_of_version(ctx, owner, slug, version, kernel.blob.source if version == current else None)
            if run_id is None:
                unknown += 1
            else:
                found[run_id] = version
            if all(r.id in found for r in runs):
                break  # older versions need not be read
        for run in runs:
            if run.id in found:
                ctx.ledger.finish_push(run.id, found[run.id])
                say(f"recovered an interrupted push: {run.kernel} v{found[run.id]}")
            elif not unknown:
                ctx.ledger.abandon_push(run.id, "the push never reached Kaggle")
            # else: a new version's session has not shown its marker yet; a later command settles it


def _run_of_version(ctx: Context, owner: str, slug: str, version: int, source: str | None) -> int | None:
    """The ledger run id a kernel version was pushed as (0: not pushed by kr); None while Kaggle does not show it:
    an older version's marker is in its log, and Kaggle keeps a session's log empty until the session ends."""
    if source is not None:
        marker = bootstrap.marker_in_source(source)
    else:
        events = parse_log(ctx.api.list_output(owner, slug, version, page_size=1).log or "")
        marker = bootstrap.find_marker("".join(str(e.get("data", "")) for e in events))
        if marker is None and ctx.api.kernel_status(owner, slug, version)[0] not in FINAL_STATES:
            return None
    run_id = (marker or {}).get("run")
    return run_id if isinstance(run_id, int) else 0


def push(
    ctx: Context,
    kernel: str | None,
    accel: str | None,
    message: str,
    say: Say,
    queue: bool = False,
    timeout: int | None = None,
    params: dict[str, Any] | None = None,
    sweep: tuple[int, int] | None = None,
) -> Run:
    """Package, push and record one version. Over Kaggle's session cap the push is refused; with `queue` kr waits
    for one of its own runs of that accelerator to end (polling them with the usual backoff) and pushes again.
    `timeout` (seconds) bounds the session instead of kr.yaml's `timeout:`; `params` (default kr.yaml's) reach the
    kernel as runtime.params(); `sweep` is (sweep id, point) for a point of `kr sweep`."""
    spec = ctx.cfg.kernel(kernel)
    params = dict(ctx.cfg.params if params is None else params)
    if timeout is not None:
        if timeout < 1:
            raise UserError(f"--timeout: {timeout} is not a number of seconds; give a positive integer")
        spec = replace(spec, timeout=timeout)
    accel = accel or spec.accelerator
    if accel not in accelerators.ALIASES:
        raise UserError(f"--accel: '{accel}' is unknown; use one of {', '.join(accelerators.ALIASES)}")
    shape_name = accelerators.ALIASES[accel]
    shape = accelerators.resolve(shape_name)
    if accel == "v3-8":
        say("note: TPU v3-8 is retired on Kaggle; it now runs on TPU v5e-8")

    from kaggle_runner.bundles import sync_code, sync_dataset

    bundles: dict[str, Any] = {}
    dataset_refs = []
    if ctx.cfg.code_slug:
        bundles["_code"] = sync_code(ctx.api, ctx.ledger, ctx.cfg, ctx.owner, ctx.cfg.code_slug, say)
        dataset_refs.append(bundles["_code"]["slug"])
    for name in spec.datasets:
        if "/" in name:
            dataset_refs.append(name)
            continue
        bundles[name] = sync_dataset(ctx.api, ctx.ledger, ctx.owner, ctx.cfg.datasets[name], say)
        dataset_refs.append(bundles[name]["slug"])

    ref = f"{ctx.owner}/{spec.slug}"
    commit, dirty = _git(ctx.cfg.root)
    try:
        source = (spec.folder / spec.entry).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(
            f"kr.yaml: kernels.{spec.name}.entry: {spec.entry} is not UTF-8 text (byte {e.start}); "
            "point it at a Python script or notebook"
        ) from e
    run_id = ctx.ledger.begin_push(
        spec.name, ref, accel, shape.name, message, commit, dirty, ctx.cfg.raw, bundles, params, sweep
    )
    marker = {
        "run": run_id,
        "kernel": spec.name,
        "kind": shape.kind,
        "label": shape.label,
        "bundles": {k: v["manifest"][:12] for k, v in bundles.items()},
        "code": bundles["_code"]["slug"] if ctx.cfg.code_slug else None,
        "competition": spec.competition_sources[0] if spec.competition_sources else None,
        "params": params,
    }
    if spec.internet:  # where the kernel can reach the API, `kr cancel` asks it to stop through the control channel
        poll = float(os.environ.get("KR_CONTROL_POLL_SECONDS") or control.POLL_SECONDS)
        marker.update(control=f"{ctx.owner}/{control.CONTROL_SLUG}", nonce=secrets.token_hex(8), poll=poll)
    text = bootstrap.notebook(source, marker) if spec.kernel_type == "notebook" else bootstrap.script(source, marker)
    body = {
        "slug": ref,
        "newTitle": spec.title,
        "text": text,
        "language": "python",
        "kernelType": spec.kernel_type,
        "isPrivate": True,
        "enableInternet": spec.internet,
        "enableGpu": shape.kind == "gpu",
        "enableTpu": shape.kind == "tpu",
        "datasetDataSources": dataset_refs,
        "competitionDataSources": spec.competition_sources,
        "kernelDataSources": spec.kernel_sources,
        "modelDataSources": spec.model_sources,
        "machineShape": shape_name or None,
        "sessionTimeoutSeconds": spec.timeout,
    }
    body = {k: v for k, v in body.items() if v is not None}
    while True:
        before = _current_version(ctx, ref) or 0

        def took_effect(before: int = before) -> Any:
            current = _current_version(ctx, ref) or 0
            return _Landed(current) if current > before else None

        # If SaveKernel raises (Ctrl-C, retries exhausted), the version may or may not exist on Kaggle: the
        # record stays 'pushing' and the next command's reconcile() decides, the one place that does.
        resp = ctx.api.save_kernel(body, took_effect)
        error = getattr(resp, "error", None)
        if not error:
            break
        held = _holders(ctx, shape.kind) if CAP_RE.search(error) else None
        if held is None or not queue:
            ctx.ledger.abandon_push(run_id, f"Kaggle refused the push: {error}", "REFUSED")  # kept, never a version
            raise KaggleError(f"Kaggle refused the push: {error}{_held_text(held)}")
        say(f"{error} Waiting for a slot{_held_text(held)}")
        _wait_for_a_slot(ctx, held)
    version = resp.version_number
    ctx.ledger.finish_push(run_id, version)
    invalid = [
        s
        for field in (
            "invalid_dataset_sources",
            "invalid_competition_sources",
            "invalid_kernel_sources",
            "invalid_model_sources",
        )
        for s in (getattr(resp, field, None) or [])
    ]
    if invalid:
        raise KaggleError(
            f"Kaggle saved {spec.name} v{version} but dropped unknown sources: {', '.join(invalid)}; "
            f"the run will not see them (kr cancel {spec.name}:v{version})"
        )
    return ctx.ledger.resolve(f"{spec.name}:v{version}", ctx.cfg.default_kernel)


def _holders(ctx: Context, kind: str) -> list[Run]:
    """kr's own runs in this project that hold a session of that accelerator now (their status asked afresh:
    the ledger's may be old)."""
    held = []
    for run in ctx.ledger.runs():
        if run.status in FINAL_STATES or run.accelerator not in accelerators.ALIASES:
            continue
        if accelerators.resolve(accelerators.ALIASES[run.accelerator]).kind != kind:
            continue
        if status(ctx, run)[0] not in FINAL_STATES:
            held.append(ctx.ledger.resolve(f"{run.kernel}:v{run.version}", run.kernel))
    return held


def _held_text(held: list[Run] | None) -> str:
    if held is None:
        return ""
    if not held:
        return " (none of them kr's runs in this project: see kaggle.com/code for the others)"
    names = ", ".join(f"{r.kernel} {r.label} ({r.status})" for r in held)
    return f" (held by {names}: `kr wait` for one to end, or cancel one)"


def _wait_for_a_slot(ctx: Context, held: list[Run]) -> None:
    """Until one of the runs holding the cap ends (seen on their log streams, else by polling); when none is kr's,
    one poll interval (someone else's may end)."""
    if not held:
        time.sleep(next(poll_intervals()))
        return
    from kaggle_runner.follow import Watch

    watch = Watch(ctx.api, lambda r: status(ctx, r)[0])
    while not any(s in FINAL_STATES for s in watch.poll(held, 1.0).values()):
        pass


@dataclass
class _Landed:
    version_number: int
    error: None = None


def push_dataset(ctx: Context, name: str, say: Say) -> dict[str, Any]:
    """`kr datasets push NAME`: prepare and upload one dataset spec (nothing when unchanged), READY on return."""
    from kaggle_runner.bundles import sync_dataset

    if name not in ctx.cfg.datasets:
        known = ", ".join(ctx.cfg.datasets) or "none yet: add datasets/NAME/dataset.yaml or kr.yaml datasets:"
        raise UserError(f"no dataset spec named '{name}' (specs: {known})")
    spec = ctx.cfg.datasets[name]
    before = ctx.ledger.last_bundle(f"{ctx.owner}/{spec.slug}")
    bundle = sync_dataset(ctx.api, ctx.ledger, ctx.owner, spec, say)
    uploaded = before is None or before["version"] != bundle["version"]
    return {
        "name": name,
        "ref": bundle["slug"],
        "version": bundle["version"],
        "uploaded": uploaded,
        "manifest": bundle["manifest"],
    }


def dataset_specs(ctx: Context) -> list[dict[str, Any]]:
    """Every dataset spec with where it is written and the last version kr uploaded."""
    rows = []
    for name, spec in ctx.cfg.datasets.items():
        ref = f"{ctx.owner}/{spec.slug}" if ctx.owner else spec.slug
        last = ctx.ledger.last_bundle(ref) if ctx.owner else None
        rows.append(
            {
                "name": name,
                "ref": ref,
                "spec": spec.where,
                "paths": spec.paths,
                "prepare": spec.prepare,
                "version": last["version"] if last else None,
                "files": last["files"] if last else None,
                "bytes": last["bytes"] if last else None,
            }
        )
    return rows


def status(ctx: Context, run: Run) -> tuple[str, str | None]:
    """The run's session status. Right after a push Kaggle can still answer with the previous version's final
    state (docs/kaggle-facts.md; PR #1177 guards it): a final state while the kernel's current version is older
    than this run's is taken as QUEUED, the version not yet known."""
    owner, slug = run.owner_slug
    state, failure = ctx.api.kernel_status(owner, slug, run.version)
    if state in FINAL_STATES and run.status not in FINAL_STATES:
        current = _current_version(ctx, run.ref)
        if current is not None and current < (run.version or 0):
            return "QUEUED", None
    ctx.ledger.set_status(run.id, state, failure)
    return state, failure


def wait(ctx: Context, run: Run, on_tick: Callable[[str, float], None], say: Say) -> dict[str, Any]:
    """Follow the run until it ends: its live log stream says when (follow.Watch), else polls of 5 s growing to
    60 s; `on_tick` gets its state about every second. A completed run is pulled, a failed one comes back with the
    tail of its log. `exit` is the command's exit code."""
    from kaggle_runner.follow import Watch

    started, last = time.time(), {"failure": None}

    def ask(r: Run) -> str:
        state, last["failure"] = status(ctx, r)
        return state

    watch = Watch(ctx.api, ask)
    state = run.status or "QUEUED"
    while True:
        state = watch.poll([run], 1.0).get(run.id, state)
        on_tick(state, time.time() - started)
        if state in FINAL_STATES:
            break
    out: dict[str, Any] = {"status": state, "failure": last["failure"], "exit": EXIT.get(state, 1)}
    stopped = state == "ERROR" and ended_on_request(ctx, run)
    if stopped:  # it stopped on `kr cancel`'s request: cancelled, with what it wrote by then
        out.update(exit=EXIT["CANCEL_ACKNOWLEDGED"], cancelled=stopped)
    if state == "COMPLETE" or stopped:
        out["folder"] = pull(ctx, run, say)
    elif state == "ERROR":
        _, events = log_text(ctx, run)
        out["log_tail"] = "".join(e.get("data", "") for e in events).splitlines()[-15:]
    return out


def wait_many(ctx: Context, runs: list[Run], on_tick: Callable[[list[dict[str, Any]]], None], say: Say) -> int:
    """Follow many runs until all have ended, pulling each as it completes (or stops on request); `on_tick` gets a
    row per run {run, status, elapsed, metric} about every second. Ends are learnt from the live log streams where
    they hold (follow.Watch), else by polling. Returns the exit code: 1 if any errored, else 3 if any was cancelled,
    else 0."""
    from kaggle_runner import reports
    from kaggle_runner.follow import Watch

    started = time.time()
    rows = {r.id: {"run": f"{r.kernel} {r.label}", "status": r.status, "elapsed": 0.0, "metric": None} for r in runs}
    ended: dict[int, str] = {}
    watch = Watch(ctx.api, lambda r: status(ctx, r)[0])
    while len(ended) < len(runs):
        live = [r for r in runs if r.id not in ended]
        asked = watch.poll(live, 1.0)
        for r in live:
            row = rows[r.id]
            row.update(elapsed=time.time() - started, metric=watch.metric(r) or row["metric"])
            state = asked.get(r.id)
            if state is None:
                continue
            row["status"] = state
            if state in FINAL_STATES:
                stopped = state == "ERROR" and ended_on_request(ctx, r)
                if state == "COMPLETE" or stopped:
                    pull(ctx, r, say)
                    top = reports.headline(ctx.ledger.metrics(r.id), ctx.cfg.metric)
                    row["metric"] = f"{top[0]} {top[1]:.5g}" if top else None
                ended[r.id] = "CANCELLED" if stopped or state == "CANCEL_ACKNOWLEDGED" else state
                if stopped:
                    row["status"] = "CANCELLED"
        on_tick(list(rows.values()))
    states = set(ended.values())
    return 1 if "ERROR" in states else 3 if "CANCELLED" in states else 0


def log_text(ctx: Context, run: Run) -> tuple[str, list[dict[str, Any]]]:
    owner, slug = run.owner_slug
    raw = ctx.api.list_output(owner, slug, run.version, page_size=1).log or ""
    return raw, parse_log(raw)


def cancel(ctx: Context, run: Run, say: Say) -> dict[str, Any]:
    """Stop a running run, and follow it until it has ended. Where the session id is known (the emulator's
    session_id_in_env), CancelKernelSession; on Kaggle, which exposes none, a request in the control dataset that
    the kernel's watcher reads when it has internet. Returns {how, status, ended_by}; raises where nothing can
    reach the run."""
    state, _ = status(ctx, run)
    if state in FINAL_STATES:
        raise UserError(f"{run.kernel} {run.label} has already ended ({state}); there is nothing to cancel")
    marker = None
    if state == "RUNNING":  # the persisted log is empty while a session runs: its marker is in the live stream
        owner, slug = run.owner_slug
        for n, event in enumerate(ctx.api.log_stream(owner, slug, run.version)):
            marker = bootstrap.find_marker(str(event.get("data", "")))
            if marker or n > 50:  # the bootstrap prints it first
                break
    if marker is None:
        raise UserError(
            f"{run.kernel} {run.label} is {state} and has not printed its KR_RUN marker yet; try again in a few seconds"
        )
    user = ctx.api.creds.username or ctx.owner
    if marker.get("session"):
        error = ctx.api.cancel(int(marker["session"]))
        if error:
            raise KaggleError(f"Kaggle did not cancel {run.kernel} {run.label}: {error}")
        ended_by = f"{user}: cancelled through CancelKernelSession (kr cancel)"
        ctx.ledger.record_end(run.id, ended_by)
        return {
            "how": f"session {marker['session']} cancelled",
            "status": _until_final(ctx, run, 60),
            "ended_by": ended_by,
        }
    if not marker.get("control"):  # no internet: nothing can reach the kernel, and Kaggle has no API cancel
        raise UserError(
            f"Kaggle offers no API cancel for {run.kernel} {run.label} (no session id is exposed, and without internet "
            f"the kernel cannot be asked); stop it at https://www.kaggle.com/code/{run.ref}, and bound later runs with "
            "`timeout:` in kr.yaml"
        )
    owner = marker["control"].partition("/")[0]
    control.request_cancel(ctx.api, owner, marker["nonce"], user)
    patience = 3 * float(marker.get("poll") or control.POLL_SECONDS) + 30
    say(f"asked {run.kernel} {run.label} to stop (it checks every {marker.get('poll')} s); following it")
    final = _until_final(ctx, run, patience)
    stopped = ended_on_request(ctx, run) if final in FINAL_STATES else None
    if stopped:
        return {"how": "cancelled on request", "status": final, "ended_by": stopped}
    if final in FINAL_STATES:
        return {"how": f"it ended first ({final})", "status": final, "ended_by": None}
    raise KaggleError(
        f"{run.kernel} {run.label} is still {final} {patience:.0f} s after the request: the kernel did not answer "
        f"(no API access from it?); stop it at https://www.kaggle.com/code/{run.ref}"
    )


def _until_final(ctx: Context, run: Run, patience: float) -> str:
    deadline = time.time() + patience
    for delay in poll_intervals():
        state, _ = status(ctx, run)
        if state in FINAL_STATES or time.time() > deadline:
            return state
        time.sleep(min(delay, max(0.1, deadline - time.time())))
    raise AssertionError("unreachable")


def ended_on_request(ctx: Context, run: Run) -> str | None:
    """Whether an ended run stopped on a cancel request (its log's KR_CANCELLED line); recorded in the ledger."""
    if run.ended_by:
        return run.ended_by
    _, events = log_text(ctx, run)
    line = control.cancelled_in("".join(str(e.get("data", "")) for e in events))
    if line is None:
        return None
    ended_by = f"{line.get('by') or 'someone'}: cancelled on request (kr cancel)"
    ctx.ledger.record_end(run.id, ended_by)
    return ended_by


def follow(ctx: Context, run: Run) -> Iterator[dict[str, Any]]:
    """Events of the live log; after a dropped connection, events already shown are not repeated."""
    owner, slug = run.owner_slug
    seen, failures = 0, 0
    while True:
        index = 0
        try:
            for event in ctx.api.log_stream(owner, slug, run.version):
                index += 1
                if index > seen:
                    seen = index
                    failures = 0
                    yield event
            return
        except KaggleError:  # the stream broke: reconnect, skip what was shown
            failures += 1
            if failures > 5:
                raise
            time.sleep(1.0)


def run_dir(ctx: Context, run: Run) -> Path:
    return layout.run_dir(ctx.cfg.root, run.kernel, run.version, ctx.cfg.default_kernel)


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


def pull(ctx: Context, run: Run, say: Say) -> Path:
    owner, slug = run.owner_slug
    folder = run_dir(ctx, run)
    folder.mkdir(parents=True, exist_ok=True)
    token, log, files, skipped, seen = "", None, [], [], set()
    while True:
        page = ctx.api.list_output(owner, slug, run.version, page_token=token, page_size=500)
        if log is None:
            log = page.log or ""
        for f in page.files or []:
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
    del log, page  # the points are read back from the file as a stream: a long log is not held twice
    from kaggle_runner.logs import extract_file

    ctx.ledger.record_metrics(run.id, extract_file(folder / f"{slug}.log"))
    ctx.ledger.record_files(run.id, [(name, layout.sha256_file(t), t.stat().st_size) for name, t in pulled], skipped)
    return folder
