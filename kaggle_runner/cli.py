"""The `kr` command line: parses arguments, calls one function, renders the result. No logic lives here.
Heavy modules are imported inside the commands so that `kr --help` starts fast."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from kaggle_runner.errors import UserError

app = typer.Typer(help="kr: run your Kaggle experiment loop from the command line.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
emulator_app = typer.Typer(help="A local Kaggle for dry runs and tests.", no_args_is_help=True)
app.add_typer(emulator_app, name="emulator")

_state: dict = {"debug": False, "url": None}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    kaggle_url: Optional[str] = typer.Option(None, "--kaggle-url", envvar="KR_KAGGLE_URL",
                                             help="Talk to this Kaggle API (e.g. an emulator) instead of api.kaggle.com."),
) -> None:
    _state["debug"] = debug
    _state["url"] = kaggle_url


def _context():  # -> workflows.Context; heavy imports stay out of `kr --help`
    from kaggle_runner import config, workflows
    from kaggle_runner.kaggle_api import KaggleApi, find_credentials
    from kaggle_runner.ledger import open_ledger

    cfg = config.load()
    creds = find_credentials()
    owner = cfg.owner or creds.username
    if not owner:
        raise UserError("kr.yaml: owner: missing and the credentials name no user; add `owner: <your Kaggle username>`")
    ctx = workflows.Context(cfg, KaggleApi(_state["url"], creds), open_ledger(cfg.root), owner)
    workflows.reconcile(ctx, _err)  # a push cut off by a crash or Ctrl-C is finished by the next command
    return ctx


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _resolve(ctx, version: str):
    return ctx.ledger.resolve(version, ctx.cfg.default_kernel)


@app.command()
def init(competition: Optional[str] = typer.Option(None, "--competition", help="Competition slug the kernel reads and submits to."),
         owner: Optional[str] = typer.Option(None, "--owner", help="Your Kaggle username (default: from credentials).")) -> None:
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
) -> None:
    """Package datasets, push a new kernel version, record it in the ledger."""
    from kaggle_runner import workflows

    ctx = _context()
    run = workflows.push(ctx, kernel, accel, message, _err)
    typer.echo(f"pushed {run.kernel} v{run.version} ({run.accelerator}) as https://www.kaggle.com/code/{run.ref}")
    if wait_:
        _wait(ctx, run)


@app.command()
def status(version: str = typer.Argument("latest", help="v23, KERNEL:v23 or latest."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """The session status of a run."""
    import json

    from kaggle_runner import workflows

    ctx = _context()
    run = _resolve(ctx, version)
    state, failure = workflows.status(ctx, run)
    if as_json:
        typer.echo(json.dumps({"kernel": run.kernel, "version": run.version, "status": state, "failure": failure}))
    else:
        typer.echo(f"{run.kernel} v{run.version}: {state}" + (f" ({failure})" if failure else ""))


def _wait(ctx, run) -> None:
    from rich.console import Console

    from kaggle_runner import workflows

    console = Console(stderr=True)
    with console.status(f"{run.kernel} v{run.version}: waiting") as live:
        state, failure = workflows.wait(
            ctx, run, lambda st, t: live.update(f"{run.kernel} v{run.version}: {st}  {int(t) // 60}:{int(t) % 60:02d}"))
    if state == "COMPLETE":
        folder = workflows.pull(ctx, run, _err)
        typer.echo(f"{run.kernel} v{run.version}: COMPLETE; outputs in {folder.relative_to(ctx.cfg.root)}")
    elif state == "ERROR":
        _, events = workflows.log_text(ctx, run)
        tail = "".join(e.get("data", "") for e in events).splitlines()[-15:]
        _err(f"{run.kernel} v{run.version}: ERROR: {failure or 'no failure message'}")
        for line in tail:
            _err(f"  | {line}")
    else:
        _err(f"{run.kernel} v{run.version}: {state}")
    raise typer.Exit(workflows.EXIT.get(state, 1))


@app.command()
def wait(version: str = typer.Argument("latest", help="v23, KERNEL:v23 or latest.")) -> None:
    """Poll until the run ends (exit 0 COMPLETE, 1 ERROR, 3 cancelled); pull outputs on success."""
    ctx = _context()
    _wait(ctx, _resolve(ctx, version))


@app.command()
def cancel(version: str = typer.Argument(..., help="v23, KERNEL:v23 or latest.")) -> None:
    """Cancel a running session."""
    from kaggle_runner import workflows

    ctx = _context()
    run = _resolve(ctx, version)
    session = workflows.cancel(ctx, run)
    typer.echo(f"cancel requested for {run.kernel} v{run.version} (session {session})")


@app.command()
def logs(version: str = typer.Argument("latest", help="v23, KERNEL:v23 or latest."),
         follow: bool = typer.Option(False, "--follow", "-f", help="Stream the live log until the run ends."),
         raw: bool = typer.Option(False, "--raw", help="Print Kaggle's JSON log as it is.")) -> None:
    """A run's log as readable text."""
    from kaggle_runner import workflows

    ctx = _context()
    run = _resolve(ctx, version)
    if follow:
        for event in workflows.follow(ctx, run):
            (sys.stderr if event.get("stream_name") == "stderr" else sys.stdout).write(event.get("data", ""))
            sys.stdout.flush()
        return
    text, events = workflows.log_text(ctx, run)
    if raw:
        typer.echo(text)
        return
    for event in events:
        (sys.stderr if event.get("stream_name") == "stderr" else sys.stdout).write(event.get("data", ""))


@app.command()
def pull(version: str = typer.Argument("latest", help="v23, KERNEL:v23 or latest.")) -> None:
    """Download a run's outputs and log into .kr/runs/vN/ and record their hashes."""
    from kaggle_runner import workflows

    ctx = _context()
    run = _resolve(ctx, version)
    folder = workflows.pull(ctx, run, _err)
    typer.echo(f"{run.kernel} v{run.version}: outputs in {folder.relative_to(ctx.cfg.root)}")


@emulator_app.command("init")
def emulator_init(directory: Path = typer.Argument(..., help="Folder to create the emulator state in.")) -> None:
    """Write a state folder with user `testuser` (credentials in DIR/kaggle.json) and a small competition."""
    from kaggle_runner.emulator.seed import COMPETITION, init_state

    creds = init_state(directory)
    typer.echo(f"Emulator state written to {directory}")
    typer.echo(f"  user:        {creds['username']} (credentials in {directory / 'kaggle.json'})")
    typer.echo(f"  competition: {COMPETITION}")
    typer.echo(f"Start it with: kr emulator serve --state {directory}")


@emulator_app.command("serve")
def emulator_serve(
    state: Path = typer.Option(Path(".emulator"), "--state", help="State folder (created with a demo competition if missing)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(7777, "--port", help="Port; 0 picks a free one."),
    fallback_cpu: bool = typer.Option(False, "--fallback-cpu", help="Run kernels that ask for a GPU/TPU this machine lacks on the CPU."),
    faults: Optional[Path] = typer.Option(None, "--faults", help="JSON file of injected faults (see README)."),
    python: Optional[str] = typer.Option(None, "--python", help="Python interpreter that runs kernels (default: this one)."),
    verbose: bool = typer.Option(False, "--verbose", help="Log every request to stderr."),
) -> None:
    """Serve the Kaggle API locally. The first line printed is the URL it listens on."""
    from kaggle_runner.emulator.faults import Faults
    from kaggle_runner.emulator.seed import init_state
    from kaggle_runner.emulator.server import Emulator, serve

    if not (state / "config.json").exists():
        init_state(state)
        print(f"kr: new emulator state in {state}; credentials in {state / 'kaggle.json'}", file=sys.stderr)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"kr: warning: listening on {host}: anyone who can reach it and has the key can run code here",
              file=sys.stderr)
    em = Emulator(state, host=host, port=port, fallback_cpu=fallback_cpu,
                  faults=Faults.from_file(faults) if faults else None, python=python, quiet=not verbose)

    def announce(url: str) -> None:
        print(url, flush=True)
        mapping = "mapped" if em.kernels.executor.mappable else "NOT mapped (kernels get $KAGGLE_INPUT_DIR)"
        print(f"kr: emulator on {url}, state {state.resolve()}, /kaggle paths {mapping}; Ctrl-C stops it",
              file=sys.stderr, flush=True)

    try:
        serve(em, announce)
    except OSError as e:
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


def main() -> None:
    """Console entry point: user errors become one line on stderr (tracebacks only with --debug)."""
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of exiting
        sys.exit(code if isinstance(code, int) else 0)
    except UserError as e:
        if _state["debug"]:
            raise
        print(f"kr: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("kr: interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # click's own usage errors arrive here too
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(130)
        if _state["debug"]:
            raise
        print(f"kr: internal error: {type(e).__name__}: {e} (run with --debug for the traceback)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
