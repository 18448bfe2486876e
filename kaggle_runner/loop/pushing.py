"""One version pushed: bundles synced, the bootstrap put in front of the entry, SaveKernel, the ledger row;
a push over Kaggle's session cap refused, or queued until one of kr's own runs of that accelerator ends."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from kaggle_runner.config import KernelSpec
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle import accelerators
from kaggle_runner.kaggle.api import KaggleError, KernelPush, Saved
from kaggle_runner.kaggle.pacing import poll_intervals
from kaggle_runner.kaggle.rules import FINAL_STATES, SESSION_CAPS
from kaggle_runner.ledger.db import Run
from kaggle_runner.loop import bootstrap, control, packaging, prechecks, publishing, recovery, wheels
from kaggle_runner.loop.watching import status, wait
from kaggle_runner.project import Project, Say, Session

CAP_RE = re.compile(r"Maximum batch \w+ session count of \d+ reached")  # SaveKernel's error (docs/kaggle-facts.md)


def _git(root: Path, sent: list[Path]) -> tuple[str | None, bool]:
    """The commit, and whether the code that goes up differs from it: a change to a tracked file, or an untracked
    file among `sent` (the entry, the kernels' folders' files, code.packages). A plot or a merge CSV written into
    the project does not make a run dirty."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None, False
        status = ["git", "status", "--porcelain", "--untracked-files=no"]
        tracked = subprocess.run(status, cwd=root, capture_output=True, text=True, timeout=10)
        others = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard", "-z"], cwd=root, capture_output=True, timeout=10
        )
        untracked = [(root / p.decode(errors="replace")).resolve() for p in others.stdout.split(b"\0") if p]
        goes_up = [p.resolve() for p in sent]
        new = any(u == p or u.is_relative_to(p) for u in untracked for p in goes_up)
        return commit.stdout.strip(), bool(tracked.stdout.strip()) or new
    except (OSError, subprocess.TimeoutExpired):
        return None, False


def push(
    ctx: Session,
    kernel: str | None,
    accel: str | None,
    message: str,
    say: Say,
    queue: bool = False,
    timeout: int | None = None,
    params: dict[str, Any] | None = None,
    sweep: tuple[int, int] | None = None,
    check: bool = True,
    after: Run | None = None,
    on_tick: Callable[[str, float], None] = lambda state, elapsed: None,
) -> Run:
    """Package, push and record one version. Over Kaggle's session cap the push is refused; with `queue` kr waits
    for one of its own runs of that accelerator to end (polling them with the usual backoff) and pushes again.
    `timeout` (seconds) bounds the session instead of kr.yaml's `timeout:`; `params` (default kr.yaml's) reach the
    kernel as runtime.params(); `sweep` is (sweep id, point) for a point of `kr sweep`. Unless `check` is False,
    code that would fail at once is refused before anything is uploaded (loop/prechecks); so is a kernel slug
    another kr project pushes to. With `after`, that run is followed to its end first (`on_tick` gets its state),
    and unless it completed nothing is pushed."""
    # 1. what is pushed, and to which machine; refused here, before anything is uploaded
    spec = ctx.cfg.kernel(kernel)
    params = dict(ctx.cfg.params if params is None else params)
    if timeout is not None:
        if timeout < 1:
            raise UserError(f"--timeout: {timeout} is not a number of seconds; give a positive integer")
        spec = replace(spec, timeout=timeout)
    accel = accel or spec.accelerator
    shape_name, shape = _machine(spec, accel, say)
    source = _entry_source(spec)
    shipped = packaging.kernel_files(ctx.cfg)
    house = wheels.resolve(ctx.cfg, say) if ctx.cfg.requirements else None
    if check:
        prechecks.kernel_ready(ctx.cfg, spec, source, shipped, house.modules if house else [])
    ref = f"{ctx.owner}/{spec.slug}"
    _refuse_another_projects(ctx, spec.name, ref)

    # 2. its turn: after the run it follows, in a free slot
    if after is not None:
        _wait_upstream(ctx, after, on_tick, say)
    _wait_for_its_turn(ctx, spec.name, shape.kind, queue, sweep is not None, say)

    # 3. what it reads: other kernels' and models' versions, and the bundles uploaded where they changed
    kernel_refs = [s if "/" in s else f"{ctx.owner}/{ctx.cfg.kernels[s].slug}" for s in spec.kernel_sources]
    sources = [_source_version(ctx, spec.name, s) for s in kernel_refs]
    model_refs, models_read = publishing.model_sources(ctx, spec.name, spec.model_sources)
    sources += models_read
    bundles, dataset_refs = _sync_bundles(ctx, spec, shipped, house, say)

    # 4. recorded as PUSHING, then sent with its run marker, which is how a lost answer is told apart
    sent = [spec.folder / spec.entry, *shipped.values(), *(ctx.cfg.root / p for p in ctx.cfg.packages)]
    commit, dirty = _git(ctx.cfg.root, sent)
    run_id = ctx.ledger.begin_push(
        spec.name, ref, accel, shape.name, message, commit, dirty, ctx.cfg.raw, bundles, params, sweep, sources
    )
    ctx.ledger.keep_source(run_id, _kept_source(ctx.cfg.root, spec.folder, spec.entry, source, shipped))
    marker = _marker(ctx, spec, shape, run_id, bundles, bool(shipped), params)
    text = bootstrap.notebook(source, marker) if spec.kernel_type == "notebook" else bootstrap.script(source, marker)
    request = KernelPush(
        ref=ref,
        title=spec.title,
        text=text,
        kernel_type=spec.kernel_type,
        kind=shape.kind,
        internet=spec.internet,
        datasets=dataset_refs,
        competitions=spec.competition_sources,
        kernels=kernel_refs,
        models=model_refs,
        machine_shape=shape_name or None,
        docker_image=spec.docker_image,
        timeout=spec.timeout,
    )
    version, dropped = _save(ctx, request, run_id, spec.name, shape.kind, queue, say)
    ctx.ledger.finish_push(run_id, version)
    if dropped:
        raise KaggleError(
            f"Kaggle saved {spec.name} v{version} but dropped unknown sources: {', '.join(dropped)}; "
            f"the run will not see them (kr cancel {spec.name}:v{version})"
        )
    return ctx.ledger.resolve(f"{spec.name}:v{version}", ctx.cfg.default_kernel)


def _machine(spec: KernelSpec, accel: str, say: Say) -> tuple[str, accelerators.Shape]:
    """The machine an accelerator name asks for: (Kaggle's shape name, "" for the kind's default; the
    machine it runs on). A retired one is said; a docker image with a TPU is refused, as Kaggle would ignore it."""
    try:
        shape_name = accelerators.machine_shape(accel)
    except ValueError as e:
        raise UserError(f"--accel: {e}") from None
    shape = accelerators.resolve(shape_name)
    asked = accelerators.lookup(shape_name or "Cpu")
    if asked is not None and asked.retired_to:
        say(f"note: {asked.label} is retired on Kaggle; it now runs on {shape.label}")
    if spec.docker_image and shape.kind == "tpu":  # Kaggle would run it on the CPU, silently (docs/kaggle-facts.md)
        raise UserError(
            f"kr.yaml: kernels.{spec.name}.docker_image: a TPU runs without a docker image; push without --accel "
            f"{accel}, or drop docker_image"
        )
    return shape_name, shape


def _entry_source(spec: KernelSpec) -> str:
    try:
        return (spec.folder / spec.entry).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(
            f"kr.yaml: kernels.{spec.name}.entry: {spec.entry} is not UTF-8 text (byte {e.start}); "
            "point it at a Python script or notebook"
        ) from e


def _wait_for_its_turn(ctx: Session, kernel: str, kind: str, queue: bool, in_sweep: bool, say: Say) -> None:
    """With `queue`, wait while kr's own runs fill Kaggle's cap (rather than be refused first); and say when an
    earlier push of this kernel is still queued, since it runs its own code, not this push's."""
    if queue:
        holding = _holders(ctx, kind)
        cap = SESSION_CAPS.get(kind, 1)
        if len(holding) >= cap:
            names = ", ".join(f"{r.kernel} {r.label}" for r in holding)
            say(f"Kaggle's cap of {cap} {kind.upper()} sessions is held by {names}; waiting for one to end")
            _wait_for_a_slot(ctx, holding)
    if in_sweep:  # a sweep's points queue behind one another by design: the note is for a push by hand
        return
    waiting = [r for r in ctx.ledger.runs() if r.kernel == kernel and r.status == "QUEUED"]
    waiting = [r for r in waiting if status(ctx, r)[0] == "QUEUED"]  # the ledger's may be old
    if waiting:  # docs/kaggle-facts.md: a queued run's code is fixed when it enters the queue
        names = ", ".join(f"{r.kernel} {r.label}" for r in waiting)
        say(f"note: {names} still queued; it runs the code it was pushed with, not this push's")


def _sync_bundles(
    ctx: Session, spec: KernelSpec, shipped: dict[str, Path], house: wheels.Wheelhouse | None, say: Say
) -> tuple[dict[str, Any], list[str]]:
    """The kernel's wheels, code and data bundles made current on Kaggle: ({bundle: its sync result}, the dataset
    refs the kernel reads, its own and others')."""
    from kaggle_runner.loop.bundles import sync_code, sync_dataset, sync_wheels

    bundles: dict[str, Any] = {}
    dataset_refs = []
    if house is not None:
        bundles["_wheels"] = sync_wheels(ctx.api, ctx.ledger, ctx.cfg, ctx.owner, house, say)
        dataset_refs.append(bundles["_wheels"]["slug"])
    if ctx.cfg.ships_packages or shipped:
        bundles["_code"] = sync_code(ctx.api, ctx.ledger, ctx.cfg, ctx.owner, shipped, say)
        dataset_refs.append(bundles["_code"]["slug"])
    for name in spec.datasets:
        if "/" in name:
            dataset_refs.append(name)
            continue
        bundles[name] = sync_dataset(ctx.api, ctx.ledger, ctx.owner, ctx.cfg.datasets[name], say)
        dataset_refs.append(bundles[name]["slug"])
    return bundles, dataset_refs


def _marker(
    ctx: Session,
    spec: KernelSpec,
    shape: accelerators.Shape,
    run_id: int,
    bundles: dict[str, Any],
    ships_src: bool,
    params: dict[str, Any],
) -> dict[str, Any]:
    """The run marker the bootstrap carries into the kernel: which run this is, what it installs and reads, and,
    where the kernel can reach the API, how `kr cancel` asks it to stop (the control channel)."""
    marker = {
        "run": run_id,
        "project": ctx.name,
        "kernel": spec.name,
        "kind": shape.kind,
        "label": shape.label,
        "bundles": {k: v["manifest"][:12] for k, v in bundles.items()},
        "code": bundles["_code"]["slug"] if "_code" in bundles else None,
        "wheels": bundles["_wheels"]["slug"] if "_wheels" in bundles else None,
        "src": spec.folder.relative_to(ctx.cfg.root).as_posix() if "_code" in bundles and ships_src else None,
        "competition": spec.competition_sources[0] if spec.competition_sources else None,
        "params": params,
    }
    if spec.internet:
        poll = float(os.environ.get("KR_CONTROL_POLL_SECONDS") or control.POLL_SECONDS)
        marker.update(control=f"{ctx.owner}/{control.CONTROL_SLUG}", nonce=secrets.token_hex(8), poll=poll)
    return marker


def _save(
    ctx: Session, request: KernelPush, run_id: int, kernel: str, kind: str, queue: bool, say: Say
) -> tuple[int, tuple[str, ...]]:
    """SaveKernel until Kaggle makes the version: (its number, the sources Kaggle dropped). Refused over the session
    cap, it waits for a slot when `queue`; any other refusal ends the run's record as REFUSED."""
    while True:
        before = ctx.api.current_version(request.ref) or 0

        def took_effect(before: int = before) -> Saved | None:
            seen = recovery.versions_of_runs(ctx, request.ref, before, {run_id})
            if run_id in seen.versions:
                return Saved(version=seen.versions[run_id])
            return Saved(unsure=True) if seen.unknown else None  # sending again could make a second version

        # If SaveKernel raises (Ctrl-C, retries exhausted), the version may or may not exist on Kaggle: the
        # record stays 'pushing' and the next command's reconcile() decides, the one place that does.
        saved = ctx.api.save_kernel(request, took_effect)
        if saved.unsure:
            raise KaggleError(
                f"the answer to the push of {kernel} was lost and Kaggle cannot tell yet whether it took it; "
                "the next kr command records it (kr ls)"
            )
        if saved.version is not None and not saved.error:
            return saved.version, saved.dropped
        error = saved.error or "no version"
        held = _holders(ctx, kind) if CAP_RE.search(error) else None
        if held is None or not queue:
            ctx.ledger.abandon_push(run_id, f"Kaggle refused the push: {error}", "REFUSED")  # never a version
            raise KaggleError(f"Kaggle refused the push: {error}{_held_text(held)}")
        say(f"{error} Waiting for a slot{_held_text(held)}")
        _wait_for_a_slot(ctx, held)


KEPT_FILE_BYTES = 2**20  # a text file of the kernel's folder kept with the run; bigger ones are data, not code


def _kept_source(root: Path, folder: Path, entry: str, source: str, shipped: dict[str, Path]) -> dict[str, str]:
    """What `kr diff` compares: the entry as the user wrote it (no bootstrap) and the text files of its folder that
    went up with it, by their path from the project root."""
    where = folder.relative_to(root).as_posix()
    kept = {(folder / entry).relative_to(root).as_posix(): source}
    for rel, path in shipped.items():
        if (where == "." or rel.startswith(where + "/")) and path.stat().st_size <= KEPT_FILE_BYTES:
            try:
                kept[rel] = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue  # a binary file: not code to diff
    return kept


def _wait_upstream(ctx: Session, upstream: Run, on_tick: Callable[[str, float], None], say: Say) -> None:
    """Follow the run this push reads (`kr push infer --after train:v23`) to its end; unless it completed, refuse."""
    say(f"waiting for {upstream.kernel} {upstream.label} to complete before pushing")
    ended = wait(ctx, upstream, on_tick, say)
    if ended.status != "COMPLETE" or ended.cancelled:
        why = f" ({ended.failure})" if ended.failure else ""
        raise UserError(
            f"{upstream.kernel} {upstream.label} ended {ended.status}{why}; nothing was pushed, as the run would read "
            "its output"
        )


SOURCE_LOOKBACK = 20  # versions read back to find a kernel source's newest completed one


def _source_version(ctx: Session, kernel: str, ref: str) -> dict[str, Any]:
    """The version of kernel source `ref` the run will read: Kaggle mounts the newest version whose session
    completed (docs/kaggle-facts.md), so its versions are read from the newest back. Refuses a source without one:
    the session would fail at its start, after its time in the queue."""
    owner, _, slug = ref.partition("/")
    current = ctx.api.current_version(ref)
    if current is None:
        raise UserError(f"kr.yaml: kernels.{kernel}.kernel_sources: Kaggle has no kernel {ref}; nothing was pushed")
    for version in range(current, max(0, current - SOURCE_LOOKBACK), -1):
        try:
            state = ctx.api.kernel_status(owner, slug, version)[0]
        except KaggleError:  # another user's kernel may not show its sessions: Kaggle picks, kr cannot say which
            return {"ref": ref, "version": None, "label": f"{ref} (its newest completed version)"}
        if state == "COMPLETE":
            ours = [r for r in ctx.ledger.runs() if r.ref == ref and r.version == version]
            label = f"{ours[0].kernel}:v{version}" if ours else f"{ref} v{version}"
            return {"ref": ref, "version": version, "label": label}
    raise UserError(
        f"kr.yaml: kernels.{kernel}.kernel_sources: {ref} has no completed version among its last "
        f"{min(current, SOURCE_LOOKBACK)} for this run to read; push it (or `kr push {kernel} --after ...`); "
        "nothing was pushed"
    )


def _refuse_another_projects(ctx: Session, kernel: str, ref: str) -> None:
    """Refuse, before anything goes up, a push to a kernel whose newest version another kr project pushed: two
    projects with a kernel of one name (`infer`) would take turns retitling one Kaggle kernel and mixing their runs."""
    owner, _, slug = ref.partition("/")
    found = ctx.api.get_kernel(owner, slug)
    marker = bootstrap.marker_in_source(found.blob.source or "") if found is not None and found.blob else None
    other = (marker or {}).get("project")
    if other is not None and other != ctx.name:
        own = re.sub(r"[^a-z0-9]+", "-", f"{ctx.name}-{slug}".lower()).strip("-")[:50].strip("-")
        raise UserError(
            f"{ref} was last pushed by another kr project ('{other}'); give this one a slug of its own: "
            f"kernels.{kernel}.slug in kr.yaml (e.g. slug: {own}); nothing was pushed"
        )


def _holders(ctx: Session, kind: str) -> list[Run]:
    """kr's own runs in this project that hold a session of that accelerator now (their status asked afresh:
    the ledger's may be old)."""
    held = []
    for run in ctx.ledger.runs():
        if run.status in FINAL_STATES or accelerators.kind_of(run.accelerator) != kind:
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


def _wait_for_a_slot(ctx: Session, held: list[Run]) -> None:
    """Until one of the runs holding the cap ends (seen on their log streams, else by polling); when none is kr's,
    one poll interval (someone else's may end)."""
    if not held:
        time.sleep(next(poll_intervals()))
        return
    from kaggle_runner.loop.streams import Watch

    watch = Watch(ctx.api, lambda r: status(ctx, r)[0])
    while not any(s in FINAL_STATES for s in watch.poll(held, 1.0).values()):
        pass


def push_dataset(ctx: Session, name: str, say: Say) -> dict[str, Any]:
    """`kr datasets push NAME`: prepare and upload one dataset spec (nothing when unchanged), READY on return."""
    from kaggle_runner.loop.bundles import sync_dataset

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


def dataset_specs(ctx: Project) -> list[dict[str, Any]]:
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
