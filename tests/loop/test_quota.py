"""The one quota rule `kr quota` and `kr sweep` share: what is left, how many runs of the usual length fit, and
when a sweep must hold its next point."""

from __future__ import annotations

from types import SimpleNamespace

from kaggle_runner.loop import quota


def test_left_is_the_allowance_less_used_and_reserved_never_below_zero() -> None:
    assert quota.Meter(used=10, reserved=5, allowed=100, mean_run=None).left == 85
    assert quota.Meter(used=90, reserved=30, allowed=100, mean_run=None).left == 0


def test_runs_that_fit_and_the_hold_count_the_running_runs() -> None:
    m = quota.Meter(used=0, reserved=0, allowed=10 * 3600, mean_run=3 * 3600)  # 10 h left, 3 h a run
    assert m.runs_that_fit == 3
    assert not m.hold(running=2)  # a third run still fits beside two
    assert m.hold(running=3)
    assert not quota.Meter(0, 0, 3600, None).hold(running=50)  # no finished run yet: nothing to judge by


def test_the_usual_run_length_counts_finished_runs_of_that_kind_only() -> None:
    def run(accel: str, status: str, created: float, finished: float | None) -> SimpleNamespace:
        seconds = finished - created - 60 if finished else None  # the session's own time: less the queue
        return SimpleNamespace(accelerator=accel, status=status, created=created, finished=finished, seconds=seconds)

    runs = [
        run("gpu", "COMPLETE", 0, 3600),
        run("t4x2", "ERROR", 0, 7200),
        run("gpu", "RUNNING", 0, None),
        run("tpu", "COMPLETE", 0, 100),
    ]
    assert quota.mean_run(runs, "gpu") == 5340  # the T4 pair is a GPU too; the running one has no length yet
    assert quota.mean_run(runs, "tpu") == 40  # its session's 40 s, not the 100 s from push to when kr looked
    assert quota.mean_run(runs, "cpu") is None
