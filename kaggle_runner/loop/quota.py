"""The accelerator quota as kr reads it: Kaggle's GPU and TPU hours used, reserved and allowed this week, what is
left, and how many runs of the usual length still fit. One rule for `kr quota` and for `kr sweep`'s hold."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from kaggle_runner.kaggle import accelerators
from kaggle_runner.kaggle.rules import FINAL_STATES, SESSION_CAPS
from kaggle_runner.ledger.db import Run
from kaggle_runner.project import Session

METERED = ("gpu", "tpu")  # CPU sessions are not counted against a quota
RECENT = 14 * 86400  # finished runs younger than this set the usual run length


@dataclass(frozen=True)
class Meter:
    """One accelerator's week, in seconds: Kaggle's figures, what is left, and the usual length of kr's runs."""

    used: float
    reserved: float
    allowed: float
    mean_run: float | None  # of the finished runs it was given; None when there are none

    @property
    def left(self) -> float:
        """What this week still allows: Kaggle's allowance less what is used and what running sessions reserve."""
        return max(0.0, self.allowed - self.used - self.reserved)

    @property
    def runs_that_fit(self) -> int | None:
        """How many more runs of the usual length the time left covers; None without a usual length."""
        return int(self.left // self.mean_run) if self.mean_run else None

    def hold(self, running: int) -> bool:
        """Whether one more run must wait: the time left covers no run beyond the `running` ones."""
        fit = self.runs_that_fit
        return fit is not None and fit <= running


@dataclass(frozen=True)
class Quota:
    """The week's GPU and TPU meters, when Kaggle refreshes them, and kr's runs holding a session of each kind."""

    gpu: Meter
    tpu: Meter
    refresh: dt.datetime | None
    running: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """`kr quota --json`: each meter in hours (three decimals), with what is left and the runs that fit."""

        def hours(m: Meter) -> dict[str, Any]:
            h = {k: round(v / 3600, 3) for k, v in asdict(m).items() if k != "mean_run"}
            mean = round(m.mean_run / 3600, 3) if m.mean_run else None
            return {**h, "left": round(m.left / 3600, 3), "mean_run": mean, "runs_that_fit": m.runs_that_fit}

        refresh = self.refresh.isoformat() + "Z" if self.refresh else None
        return {
            "refresh": refresh,
            "running": self.running,
            "session_caps": SESSION_CAPS,
            "gpu": hours(self.gpu),
            "tpu": hours(self.tpu),
        }


def mean_run(runs: list[Run], kind: str) -> float | None:
    """The mean session length of the finished runs of that kind whose log told it, in seconds."""
    ended = [r for r in runs if r.status in FINAL_STATES and accelerators.kind_of(r.accelerator) == kind]
    lengths = [r.seconds for r in ended if r.seconds]
    return sum(lengths) / len(lengths) if lengths else None


def read(ctx: Session, sample: list[Run] | None = None) -> Quota:
    """The quota now (GetAcceleratorQuotaStatistics), with the usual run length taken from `sample` (default: the
    ledger's runs that finished in the last 14 days) and kr's runs that hold a session now."""
    q = ctx.api.quota()
    runs = ctx.ledger.runs()
    if sample is None:
        sample = [r for r in runs if r.finished and time.time() - r.finished < RECENT]
    running: dict[str, list[str]] = {"gpu": [], "tpu": [], "cpu": []}
    for run in runs:
        kind = accelerators.kind_of(run.accelerator)
        if kind is not None and run.status not in FINAL_STATES:
            running[kind].append(f"{run.kernel} {run.label}")
    gpu, tpu = (Meter(**q[kind], mean_run=mean_run(sample, kind)) for kind in METERED)
    return Quota(gpu=gpu, tpu=tpu, refresh=q["refresh"], running=running)
