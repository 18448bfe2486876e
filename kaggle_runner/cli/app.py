"""The typer app every command group registers on, the global options (--debug, --kaggle-url), sharing with the
team's server after a command, and `main()`, which turns a UserError into one line on stderr and a non-zero exit."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

import typer

from kaggle_runner.errors import UserError

if TYPE_CHECKING:
    from kaggle_runner.project import Project, Session

app = typer.Typer(
    help="kr: run your Kaggle experiment loop from the command line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state: dict = {"debug": False, "url": None}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    kaggle_url: Optional[str] = typer.Option(
        None,
        "--kaggle-url",
        envvar="KR_KAGGLE_URL",
        help="Talk to this Kaggle API (e.g. an emulator) instead of api.kaggle.com.",
    ),
) -> None:
    _state["debug"] = debug
    _state["url"] = kaggle_url


def connect() -> Session:
    """The project and the Kaggle API, for commands that talk to Kaggle."""
    from kaggle_runner.cli.render import err
    from kaggle_runner.loop import recovery

    return recovery.connect(_state["url"], err)


def share(ctx: Project) -> None:
    """What a command just recorded goes to the team's MLflow server too, when kr.yaml names one; a server that
    does not answer is one warning line, and the next `kr sync` catches up."""
    from kaggle_runner.cli.render import err
    from kaggle_runner.team import syncing

    syncing.send_quietly(ctx, err)


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
    except OSError as e:  # a full disk, a read-only folder: the system's words and the file
        if _state["debug"]:
            raise
        where = f": {e.filename}" if e.filename else ""
        print(f"kr: error: {e.strerror or e}{where}; nothing recorded was lost", file=sys.stderr)
        sys.exit(1)
    except Exception as e:
        # click's usage errors arrive here too; newer typer vendors click, so they are recognised by shape
        if callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, typer.Abort) or type(e).__name__ == "Abort":
            sys.exit(130)
        if "database or disk is full" in str(e):  # sqlite3.OperationalError; the transaction was rolled back
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
