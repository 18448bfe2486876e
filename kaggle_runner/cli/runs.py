"""Commands of the run loop: init, push, status, wait, cancel, logs, pull, metrics.
Each calls one function of the loop (or scaffold, ledger/metrics) and renders what it returns."""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import typer

from kaggle_runner.cli.app import app, connect, on_interrupt
from kaggle_runner.cli.render import LogWriter, as_json, as_json_list, clock, err, live_table, metrics_table, spinner
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle.rules import FINAL_STATES

VERSION_HELP = "v23, KERNEL:v23 or latest."


def _resolve(ctx: Any, version: str) -> Any:
    return ctx.ledger.resolve(version, ctx.cfg.default_kernel)


@app.command()
def init(
    competition: Optional[str] = typer.Option(
        None, "--competition", help="Competition slug the kernel reads and submits to."
    ),
    owner: Optional[str] = typer.Option(None, "--owner", help="Your Kaggle username (default: from credentials)."),
) -> None:
    """Start a project here: kr.yaml and a starter kernel in kernels/main/."""
    from kaggle_runner.scaffold import init_project

    for line in init_project(Path.cwd(), competition, owner):
        typer.echo(line)


@app.command()
def push(
    kernel: Optional[str] = typer.Argument(None, help="Kernel name from kr.yaml (default: the first)."),
    accel: Optional[str] = typer.Option(None, "--accel", help="tpu | gpu | t4x2 | p100 | cpu (default: kr.yaml's)."),
    message: str = typer.Option("", "-m", "--message", help="What changed in this version."),
    wait_: bool = typer.Option(False, "--wait", help="Wait for the run to end and pull its outputs."),
    queue: bool = typer.Option(
        False, "--queue", help="At Kaggle's session cap, wait for a slot instead of failing, then push."
    ),
    timeout: Optional[int] = typer.Option(
        None, "--timeout", help="Seconds after which Kaggle ends the session (default: kr.yaml timeout:, else 12 h)."
    ),
    sets: list[str] = typer.Option(
        [], "--set", help="key=value over kr.yaml params: (repeatable; values read as YAML: 1e-5, true, cosine)."
    ),
    set_new: bool = typer.Option(False, "--set-new", help="Allow --set keys that kr.yaml params: lacks."),
    no_check: bool = typer.Option(
        False, "--no-check", help="Push even if the code does not compile here or an import resolves nowhere."
    ),
    after: Optional[str] = typer.Option(
        None, "--after", help="Wait for this run (train:v23) to complete first; push nothing if it fails."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts (with --wait: how it ended, too)."),
) -> None:
    """Package datasets, push a new kernel version, record it in the ledger."""
    from kaggle_runner.loop import pushing
    from kaggle_runner.params import apply_sets

    ctx = connect()
    params = apply_sets(ctx.cfg.params, sets, set_new)
    upstream = _resolve(ctx, after) if after else None
    with spinner("") if upstream else contextlib.nullcontext() as live:
        name = f"{upstream.kernel} {upstream.label}" if upstream else ""
        run = pushing.push(
            ctx,
            kernel,
            accel,
            message,
            err,
            queue=queue,
            timeout=timeout,
            params=params,
            check=not no_check,
            after=upstream,
            on_tick=lambda st, t: live.update(f"{name}: {st}  {int(t) // 60}:{int(t) % 60:02d}") if live else None,
        )
    pushed = {"kernel": run.kernel, "version": run.version, "ref": run.ref, "accelerator": run.accelerator}
    if not json_:
        typer.echo(f"pushed {run.kernel} v{run.version} ({run.accelerator}) as {_page(ctx, run)}")
    if wait_:
        _wait(ctx, run, pushed if json_ else None)
    elif json_:
        as_json(pushed)


def _page(ctx: Any, run: Any) -> str:
    """The kernel's web page on the server kr talks to, or what it is where there is none (an emulator)."""
    return ctx.api.page(run.ref) or f"{run.ref} on {ctx.api.url} (the emulator has no web pages)"


@app.command()
def status(
    version: str = typer.Argument("latest", help=VERSION_HELP),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """The session status of a run."""
    from kaggle_runner.loop import watching

    ctx = connect()
    run = _resolve(ctx, version)
    state, failure = watching.status(ctx, run)
    if json_:
        from kaggle_runner.ledger import reports

        row = reports.run_row(ctx.ledger, ctx.ledger.run_by_id(run.id), ctx.cfg.default_kernel, ctx.cfg.metric)
        head = {"kernel": run.kernel, "version": run.version, "status": state, "failure": failure, "ref": run.ref}
        as_json(head | {"duration": row.duration, "metric_name": row.metric_name, "metric": row.metric})
    else:
        typer.echo(f"{run.kernel} v{run.version}: {state}" + (f" ({failure})" if failure else ""))


def _wait(ctx: Any, run: Any, json_: dict[str, Any] | None = None) -> None:
    """Follow one run with a spinner, then say how it ended; `json_` (what to print with it) prints JSON instead."""
    from kaggle_runner.loop import watching

    name = f"{run.kernel} v{run.version}"
    on_interrupt(lambda: f"{name} goes on on Kaggle; `kr wait {run.kernel}:v{run.version}` follows it again")
    with spinner(f"{name}: waiting") as live:
        out = watching.wait(ctx, run, lambda st, t: live.update(f"{name}: {st}  {int(t) // 60}:{int(t) % 60:02d}"), err)
    folder = out.folder.relative_to(ctx.cfg.root) if out.folder else None
    if json_ is not None:
        ended = {"status": out.status, "exit": out.exit, "failure": out.failure, "cancelled": out.cancelled}
        ended["metric"] = out.metric
        as_json({**json_, **ended, "folder": str(folder) if folder else None, "log_tail": out.log_tail})
    elif out.cancelled:
        err(f"{name}: {out.cancelled}; outputs so far in {folder}")
    elif out.status == "COMPLETE":
        typer.echo(f"{name}: COMPLETE" + (f" ({out.metric})" if out.metric else "") + f"; outputs in {folder}")
    elif out.status == "ERROR":
        err(f"{name}: ERROR: {out.failure or 'no failure message'}")
        for line in out.log_tail:
            err(f"  | {line}")
    else:
        err(f"{name}: {out.status}")
    raise typer.Exit(out.exit)


@app.command()
def wait(
    versions: list[str] = typer.Argument(None, help="v23, KERNEL:v23, latest, or a sweep s3; several at once."),
    running: bool = typer.Option(False, "--running", help="Every run of this project that has not ended."),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts (one run)."),
) -> None:
    """Follow the runs until they end (exit 0 all COMPLETE, 1 any ERROR, 3 any cancelled); pull each as it completes."""
    from kaggle_runner.loop import watching

    ctx = connect()
    runs = watching.targets(ctx, versions, running)
    if not runs:
        typer.echo("no run of this project is running" if running else "nothing to wait for")
        return
    if len(runs) == 1 and not running:
        _wait(ctx, runs[0], {"kernel": runs[0].kernel, "version": runs[0].version} if json_ else None)
        return
    if json_:
        raise UserError("kr wait --json follows one run; give one version")
    from rich.console import Console
    from rich.live import Live

    def view(rows: list[dict[str, Any]]) -> Any:
        return live_table(
            ["run", "status", "elapsed", "metric"],
            [
                [
                    r["run"],
                    (f"{r['status']}: {r['failure']}" if r["status"] == "ERROR" and r["failure"] else r["status"])
                    or "",
                    clock(r["elapsed"]),
                    r["metric"] or "",
                ]
                for r in rows
            ],
        )

    on_interrupt(lambda: "the runs go on on Kaggle; `kr wait --running` follows them again")
    with Live(view([]), console=Console(stderr=True), transient=False) as live:
        code = watching.wait_many(ctx, runs, lambda rows: live.update(view(rows)), err)
    raise typer.Exit(code)


@app.command()
def cancel(
    version: str = typer.Argument(..., help=VERSION_HELP),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Stop a running run and follow it until it has ended (on Kaggle: a request the kernel reads, if it has
    internet; see the README)."""
    from kaggle_runner.loop import watching

    ctx = connect()
    run = _resolve(ctx, version)
    with spinner(f"{run.kernel} {run.label}: cancelling, then following it to its end"):
        out = watching.cancel(ctx, run, err)
    if json_:
        as_json({"kernel": run.kernel, "version": run.version, **asdict(out)})
    else:
        typer.echo(f"{run.kernel} v{run.version}: {out.how}; now {out.status}")


def _json_line(event: dict[str, Any]) -> None:
    """One log event as a line of JSON (JSON Lines), flushed so that a script reading `kr logs -f --json` sees it."""
    print(json.dumps(event, ensure_ascii=False), flush=True)


@app.command()
def logs(
    version: str = typer.Argument("latest", help=VERSION_HELP),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Stream the live log until the run ends; exit as kr wait does (0, 1, 3)."
    ),
    raw: bool = typer.Option(False, "--raw", help="Print Kaggle's JSON log as it is."),
    stderr: bool = typer.Option(False, "--stderr", help="Write the kernel's stderr to stderr (default: stdout)."),
    metrics_: bool = typer.Option(False, "--metrics", help="Show the metric points found in the log as a table."),
    json_: bool = typer.Option(False, "--json", help="One JSON event per line (stream_name, time, data)."),
) -> None:
    """A run's log as readable text: stdout and stderr in order, progress bars at their last state."""
    from kaggle_runner.loop import watching

    ctx = connect()
    run = _resolve(ctx, version)
    write = _json_line if json_ else None
    if metrics_:
        from kaggle_runner.ledger.metrics import extract

        metrics_table(extract(watching.log_text(ctx, run)[0]), f"{run.kernel} {run.label}")
        return
    if follow:
        writer = LogWriter(split=stderr, live=sys.stdout.isatty())
        for event in watching.follow(ctx, run):
            (write or writer.write)(event)
        writer.close()
        state, code = watching.ending(ctx, run)
        if code:
            err(f"{run.kernel} {run.label}: {state}")
        raise typer.Exit(code)
    text, events = watching.log_text(ctx, run)
    state, failure = watching.status(ctx, run) if not events else ("", None)
    if not events and state not in FINAL_STATES:
        err(
            f"{run.kernel} {run.label} is {state}: Kaggle keeps a session's log empty until it ends; "
            f"`kr logs {run.kernel}:{run.label} --follow` streams it live"
        )
    elif not events and state == "ERROR":  # it failed before printing anything: the reason is all there is
        err(f"{run.kernel} {run.label} ended ERROR with an empty log: {failure or 'Kaggle gave no reason'}")
        raise typer.Exit(1)
    elif not events:  # a session Kaggle killed at its time cap comes back with no log
        err(
            f"{run.kernel} {run.label} ended {state} with an empty log (as a session killed at Kaggle's time cap "
            f"does); `kr show {run.kernel}:{run.label}` says how far it got, from kr_progress.json if it wrote one"
        )
        raise typer.Exit(1)
    if raw:
        typer.echo(text)
        return
    writer = LogWriter(split=stderr)
    for event in events:
        (write or writer.write)(event)
    writer.close()


@app.command()
def pull(
    version: str = typer.Argument("latest", help=VERSION_HELP),
    path: Optional[Path] = typer.Option(None, "--path", "-p", help="Folder to download into (default .kr/runs/vN)."),
    file_pattern: Optional[str] = typer.Option(
        None, "--file-pattern", help="Only the outputs whose name matches this regular expression."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts: the folder and each file pulled."),
) -> None:
    """Download a run's outputs and log into .kr/runs/vN/ and record their hashes."""
    from kaggle_runner.loop import outputs

    ctx = connect()
    run = _resolve(ctx, version)
    folder = outputs.pull(ctx, run, err, path.resolve() if path else None, file_pattern)
    shown = folder.relative_to(ctx.cfg.root) if folder.is_relative_to(ctx.cfg.root) else folder
    if json_:
        files = [dict(f) for f in ctx.ledger.files(run.id)]
        skipped = ctx.ledger.run_by_id(run.id).skipped
        as_json(
            {"kernel": run.kernel, "version": run.version, "folder": str(shown), "files": files, "skipped": skipped}
        )
    else:
        typer.echo(f"{run.kernel} v{run.version}: outputs in {shown}")


@app.command()
def metrics(
    file: Path = typer.Argument(..., help="A log: plain text or Kaggle's JSON log (e.g. .kr/runs/v3/NAME.log)."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON list of points in log order."),
) -> None:
    """Metric points in any log file: Keras epochs, [RESULT]/Step lines, JSON dicts, W&B summaries, kr's lines."""
    from kaggle_runner.ledger.metrics import extract_file

    try:
        points = extract_file(file)
        first = next(points, None)  # opens the file: a missing or unreadable one fails here, before any output
    except OSError as e:
        from kaggle_runner.ledger.addresses import is_reference

        if not file.exists() and is_reference(str(file)):  # `kr metrics v3`: a run, named where a file goes
            raise UserError(f"{file}: no such file; for a run's metrics use `kr logs {file} --metrics`") from e
        raise UserError(f"{file}: cannot read ({e.strerror})") from e
    found = itertools.chain([first] if first else [], points)
    if json_:
        as_json_list(found)
    else:
        metrics_table(found, str(file))


@app.command("open")
def open_(version: str = typer.Argument("latest", help=VERSION_HELP)) -> None:
    """Open the run's kernel page on Kaggle in a browser (or print it where there is no browser)."""
    import webbrowser

    ctx = connect()
    run = _resolve(ctx, version)
    page = ctx.api.page(run.ref)
    if page is None:
        raise UserError(
            f"{ctx.api.url} is an emulator, which has no web pages; `kr logs {run.kernel}:{run.label}` and "
            f"`kr show {run.kernel}:{run.label}` show the run"
        )
    try:
        webbrowser.get()
    except webbrowser.Error:  # a server or a container: the address is what the user can use
        typer.echo(f"{page} ({run.kernel} {run.label}: its Versions tab)")
        return
    webbrowser.open(page)
    typer.echo(f"opened {page} ({run.kernel} {run.label}: its Versions tab)")
