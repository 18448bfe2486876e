"""`kr emulator init|serve`: a local Kaggle for dry runs and tests.
Calls emulator.seed and emulator.server and prints where things are."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Optional

import typer

from kaggle_runner.cli.app import app, no_deadline
from kaggle_runner.errors import UserError

emulator_app = typer.Typer(help="A local Kaggle for dry runs and tests.", no_args_is_help=True)
app.add_typer(emulator_app, name="emulator")


@emulator_app.command("init")
def init(directory: Path = typer.Argument(..., help="Folder to create the emulator state in.")) -> None:
    """Write a state folder with user `testuser` (credentials in DIR/kaggle.json) and two small competitions."""
    from kaggle_runner.emulator.seed import CODE_COMPETITION, COMPETITION, init_state

    creds = init_state(directory)
    typer.echo(f"Emulator state written to {directory}")
    typer.echo(f"  user:        {creds['username']} (credentials in {directory / 'kaggle.json'})")
    typer.echo(f"  competition: {COMPETITION} (submit a CSV)")
    typer.echo(f"  competition: {CODE_COMPETITION} (a code competition: kernel versions re-run on hidden data)")
    typer.echo(f"Start it with: kr emulator serve --state {directory}")


@emulator_app.command("env")
def env(
    state: Path = typer.Option(Path(".emulator"), "--state", help="State folder the environment belongs to."),
    packages: str = typer.Option(
        "kaggle", "--packages", help="`kaggle` (the stack's packages at Kaggle's versions: see README), names, or both."
    ),
    stack: str = typer.Option(
        "kaggle", "--stack", help="`kaggle`: Kaggle's CPU/GPU image; `tpu`: its TPU stack (torch + torch_xla 2.8)."
    ),
) -> None:
    """Build the Python that kernels run in (STATE/python) from the package registry; serve uses it when present."""
    from kaggle_runner.emulator.kernel_env import build

    python = build(state, packages, lambda line: print(f"kr: {line}", file=sys.stderr), stack)
    runs = " (--accel tpu sessions run on XLA's CPU device)" if stack == "tpu" else ""
    typer.echo(f"kernels' Python ready: {python}; `kr emulator serve --state {state}` runs kernels with it{runs}")


@emulator_app.command("serve")
def serve(
    state: Path = typer.Option(
        Path(".emulator"), "--state", help="State folder (created with a demo competition if missing)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(7777, "--port", help="Port; 0 picks a free one."),
    fallback_cpu: bool = typer.Option(
        False, "--fallback-cpu", help="Run kernels that ask for a GPU/TPU this machine lacks on the CPU."
    ),
    faults: Optional[Path] = typer.Option(None, "--faults", help="JSON file of injected faults (see README)."),
    python: Optional[str] = typer.Option(
        None, "--python", help="Python that runs kernels (default: STATE/python from `kr emulator env`, else this one)."
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Log every request to stderr."),
    unconfined: bool = typer.Option(
        False, "--unconfined", help="Run kernels on the host as your user where namespaces are not allowed."
    ),
) -> None:
    """Serve the Kaggle API locally. The first line printed is the URL it listens on."""
    from kaggle_runner.emulator.faults import Faults
    from kaggle_runner.emulator.kernel_env import python_of
    from kaggle_runner.emulator.seed import init_state
    from kaggle_runner.emulator.server import Emulator
    from kaggle_runner.emulator.server import serve as run_server

    no_deadline()  # it serves until stopped
    if not (state / "config.json").exists():
        init_state(state)
        print(f"kr: new emulator state in {state}; credentials in {state / 'kaggle.json'}", file=sys.stderr)
    if python is None and python_of(state).exists():
        python = str(python_of(state))
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"kr: warning: listening on {host}: anyone who can reach it and has the key can run code here",
            file=sys.stderr,
        )
    em = Emulator(
        state,
        host=host,
        port=port,
        fallback_cpu=fallback_cpu,
        faults=Faults.from_file(faults) if faults else None,
        python=python,
        quiet=not verbose,
        unconfined=unconfined,
    )

    def announce(url: str) -> None:
        print(url, flush=True)
        kernels = "UNCONFINED (on the host, as you)" if unconfined else "confined like a Kaggle container"
        print(
            f"kr: emulator on {url}, state {state.resolve()}, kernels {kernels} with {em.kernels.executor.python}; "
            "Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )
        # absolute, so the line works from any folder (a relative KAGGLE_CONFIG_DIR only from this one)
        print(f"kr: to use it: export KR_KAGGLE_URL={url} KAGGLE_CONFIG_DIR={state.resolve()}", file=sys.stderr)

    try:
        run_server(em, announce)
    except OSError as e:
        taken = " (another emulator?); --port 0 picks a free port" if e.errno == errno.EADDRINUSE else ""
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e}{taken}") from e
