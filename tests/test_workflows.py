"""Pieces of the run loop that need no server: output names from Kaggle, the bootstrap, following a log."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaggle_runner import bootstrap
from kaggle_runner.kaggle_api import KaggleError
from kaggle_runner.workflows import safe_target


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", "a/../../b", "C:evil", "", ".", "x\x00y"])
def test_names_that_would_escape_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(KaggleError, match="outside"):
        safe_target(tmp_path, name)


def test_nested_names_stay_inside(tmp_path: Path) -> None:
    assert safe_target(tmp_path, "models/fold0/w.bin") == tmp_path / "models" / "fold0" / "w.bin"


def test_bootstrap_keeps_future_imports_first_and_marks_the_run() -> None:
    text = bootstrap.script(
        "from __future__ import annotations\nprint('hi')\n", {"run": 4, "kind": "cpu", "label": "CPU"}
    )
    assert text.startswith("from __future__ import annotations\n")
    compile(text, "kernel.py", "exec")
    assert bootstrap.find_marker('noise\nKR_RUN {"run": 4, "session": "12"}\n') == {"run": 4, "session": "12"}


def test_follow_does_not_repeat_events_after_a_mid_stream_drop() -> None:
    from kaggle_runner.workflows import Context, follow

    class FlakyApi:
        calls = 0

        def log_stream(self, owner: str, slug: str, version: int):
            FlakyApi.calls += 1
            events = [{"data": f"e{i}\n"} for i in range(4)]
            if FlakyApi.calls == 1:
                yield from events[:2]
                raise KaggleError("the log stream broke (ChunkedEncodingError)")  # as KaggleApi.log_stream says
            yield from events  # the server replays the log from the start after a reconnect

    class FakeRun:
        owner_slug, version = ("testuser", "k"), 1

    ctx = Context(cfg=None, api=FlakyApi(), ledger=None, owner="testuser")
    assert [e["data"] for e in follow(ctx, FakeRun())] == ["e0\n", "e1\n", "e2\n", "e3\n"]
    assert FlakyApi.calls == 2


def test_bootstrap_runs_with_json_only_values(capsys) -> None:
    marker = {"run": 1, "kind": "cpu", "label": "CPU", "code": None, "bundles": {}, "flag": True}
    exec(compile(bootstrap.script("print('user code')\n", marker), "kernel.py", "exec"), {})
    out = capsys.readouterr().out
    assert bootstrap.find_marker(out)["code"] is None and out.rstrip().endswith("user code")


def test_a_final_state_of_the_previous_version_right_after_a_push_reads_as_queued(tmp_path: Path) -> None:
    """Kaggle can answer GetKernelSessionStatus for v7 with v6's COMPLETE until it knows v7 (PR #1177)."""
    from kaggle_runner.ledger import Ledger
    from kaggle_runner.workflows import Context, status

    class LaggingApi:
        current = 6  # GetKernel's currentVersionNumber: the push of v7 is not known yet

        def kernel_status(self, owner: str, slug: str, version: int):
            return "COMPLETE", None  # the previous version's final state

        def get_kernel(self, owner: str, slug: str):
            return type("K", (), {"metadata": type("M", (), {"current_version_number": LaggingApi.current})()})()

    ledger = Ledger(tmp_path / "ledger.sqlite")
    run_id = ledger.begin_push("main", "testuser/k", "cpu", "Cpu", "", None, False, {}, {})
    ledger.finish_push(run_id, 7)
    run = ledger.resolve("v7", "main")
    ctx = Context(cfg=None, api=LaggingApi(), ledger=ledger, owner="testuser")
    assert status(ctx, run) == ("QUEUED", None)
    assert ledger.resolve("v7", "main").status == "QUEUED"  # nothing final recorded
    LaggingApi.current = 7
    assert status(ctx, run) == ("COMPLETE", None)


@pytest.mark.parametrize("tokens", ["always new", "the same again"])
def test_a_server_that_never_stops_paging_outputs_is_one_line(tmp_path: Path, tokens: str) -> None:
    """kr followed nextPageToken for ever; it now stops at a repeated token or after MAX_PAGES pages."""
    from types import SimpleNamespace

    from kaggle_runner.ledger import Ledger
    from kaggle_runner.workflows import MAX_PAGES, Context, pull

    asked: list[str] = []

    class EndlessApi:
        def list_output(self, owner: str, slug: str, version: int, page_token: str = "", page_size: int = 500):
            asked.append(page_token)
            token = f"p{len(asked)}" if tokens == "always new" else "p"
            return SimpleNamespace(files=[], log="", next_page_token=token)

    ledger = Ledger(tmp_path / "ledger.sqlite")
    run_id = ledger.begin_push("main", "testuser/k", "cpu", "Cpu", "", None, False, {}, {})
    ledger.finish_push(run_id, 3)
    cfg = SimpleNamespace(root=tmp_path, default_kernel="main")
    ctx = Context(cfg=cfg, api=EndlessApi(), ledger=ledger, owner="testuser")
    with pytest.raises(KaggleError, match="listing v3's outputs: Kaggle kept answering with another page"):
        pull(ctx, ledger.resolve("v3", "main"), print)
    assert len(asked) == (MAX_PAGES + 1 if tokens == "always new" else 2)
