"""The typer app every command group registers on, the global options (--debug, --kaggle-url), the project a
command opens, and `main()`: one line on stderr for a user error, and the team told of whatever the ledger gained."""

from __future__ import annotations

import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Optional

import typer

from kaggle_runner.errors import UserError

if TYPE_CHECKING:
    from kaggle_runner.project import Project, Session

app = typer.Typer(
    help="kr: run your Kaggle experiment loop from the command line.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion bash|zsh|fish, --show-completion
    pretty_exceptions_enable=False,
    # click's plain help: typer's rich help imports rich's markdown and traceback modules, which took `kr --help`
    # from 0.09 s to 0.19 s (bench/startup_bench.py holds it to half of `kaggle --help`)
    rich_markup_mode=None,
)

_state: dict = {"debug": False, "url": None, "opened": None, "resume": None, "deadline": None}
DEADLINE_SECONDS = 24 * 3600.0  # longer than any Kaggle session (12 h) with its queue; a user's bound on a command


def on_interrupt(say: Callable[[], str]) -> None:
    """What Ctrl-C should tell the user from here on: the runs go on on Kaggle, and the command that follows them."""
    _state["resume"] = say


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"kr {version('kaggle-runner')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("kr (not installed: run from a source tree)")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print kr's version and exit."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or spinners."),
    kaggle_url: Optional[str] = typer.Option(
        None,
        "--kaggle-url",
        envvar="KR_KAGGLE_URL",
        help="Talk to this Kaggle API (e.g. an emulator) instead of api.kaggle.com.",
    ),
    deadline: float = typer.Option(
        DEADLINE_SECONDS,
        "--deadline",
        envvar="KR_DEADLINE",
        help="Give up after this many seconds, whatever the command waits for (runs on Kaggle go on).",
        show_default="24 h",
    ),
) -> None:
    from kaggle_runner.cli.render import QUIET

    _state["debug"] = debug
    _state["url"] = kaggle_url
    QUIET["on"] = quiet
    if not 0 < deadline < float("inf"):
        raise typer.BadParameter(f"{deadline} is not a number of seconds", param_hint="--deadline")
    _state["deadline"] = deadline
    if threading.current_thread() is threading.main_thread():  # signals go to the main thread only
        signal.signal(signal.SIGALRM, _past_deadline)
        signal.setitimer(signal.ITIMER_REAL, deadline)


def no_deadline() -> None:
    """For a command that serves until it is stopped (`kr emulator serve`): kr's deadline does not apply."""
    if threading.current_thread() is threading.main_thread():
        signal.setitimer(signal.ITIMER_REAL, 0)


def _past_deadline(signum: int, frame: object) -> None:
    resume = _state["resume"]
    hint = f"; {resume()}" if resume else "; what was recorded stays, and the next command settles the rest"
    raise PastDeadline(f"gave up after {_state['deadline']:g} s (kr --deadline){hint}")


class PastDeadline(UserError):
    """The command ran past kr's --deadline."""

    exit_code = 1


def connect() -> Session:
    """The project and the Kaggle API, for commands that talk to Kaggle."""
    from kaggle_runner.cli.render import Transfers, Waits, err, showing_progress
    from kaggle_runner.loop import recovery

    _state["opened"] = session = recovery.connect(_state["url"], err)
    if showing_progress():
        session.api.on_bytes = Transfers()
        session.api.on_wait = Waits()
    return session


def project(owner_from_credentials: bool = False) -> Project:
    """The project without Kaggle, for commands that read or write only the ledger (project.open_project)."""
    from kaggle_runner.project import open_project

    _state["opened"] = opened = open_project(owner_from_credentials)
    return opened


def _share() -> None:
    """After a command: what it recorded goes to the team's MLflow server too, when kr.yaml names one. A server that
    does not answer is one warning line, and the next `kr sync` catches up."""
    opened = _state["opened"]
    if opened is None or not opened.ledger.changed:
        return
    from kaggle_runner.team import tracking

    if tracking.server_for(opened.cfg) is None:  # no team: nothing more is imported
        return
    from kaggle_runner.cli.render import err
    from kaggle_runner.team import syncing

    syncing.send_quietly(opened, err)


def _interrupted() -> None:
    resume = _state["resume"]
    hint = f"; {resume()}" if resume else ""
    print(f"kr: interrupted{hint}", file=sys.stderr)
    sys.exit(130)


def main() -> None:
    """Console entry point: user errors become one line on stderr (tracebacks only with --debug)."""
    _state["opened"], _state["resume"] = None, None
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of exiting
        if code == 130:  # Ctrl-C, as click reports it without standalone mode
            _interrupted()
        _share()
        sys.exit(code if isinstance(code, int) else 0)
    except UserError as e:
        if _state["debug"]:
            raise
        print(f"kr: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit:
        raise
    except OSError as e:  # a full disk, a read-only folder: the system's words and the file
        if _state["debug"]:
            raise
        where = f": {e.filename}" if e.filename else ""
        print(f"kr: error: {e.strerror or e}{where}; nothing recorded was lost", file=sys.stderr)
        sys.exit(1)
    except Exception as e:
        if _usage_error(e):
            e.show()  # type: ignore[attr-defined]
            sys.exit(e.exit_code)  # type: ignore[attr-defined]
        if isinstance(e, typer.Abort) or type(e).__name__ == "Abort":  # click's word for Ctrl-C
            _interrupted()
        if _disk_full(e):  # the transaction was rolled back
            print(
                "kr: error: the disk is full, so the ledger could not be written; free some space and run the "
                "command again (nothing recorded was lost)",
                file=sys.stderr,
            )
            sys.exit(1)
        if _state["debug"]:
            raise
        print(f"kr: internal error: {type(e).__name__}: {e} (run with --debug for the traceback)", file=sys.stderr)
        sys.exit(1)


def _usage_error(e: Exception) -> bool:
    """click's usage errors; newer typer vendors click, so they are recognised by shape."""
    return callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int)


def _disk_full(e: Exception) -> bool:
    """SQLite's SQLITE_FULL (its own code, as errno is for the system): the disk, not the ledger, is at fault."""
    return isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
