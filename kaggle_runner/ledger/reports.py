"""What `kr ls`, `kr show`, `kr compare` and `kr plot` say, as plain data read from the ledger (the CLI renders it).
Also picks each run's headline validation metric: kr.yaml's `metric:`, else the first validation score in its log."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kaggle_runner.errors import UserError
from kaggle_runner.ledger.db import Ledger, Merge, Run, label
from kaggle_runner.ledger.metrics import series

_VALIDATION = re.compile(r"^(val|valid|validation|dev|eval|best_val|best_validation)[._]", re.I)
_LOSS = re.compile(r"loss|error|time|seconds|lr$|memory", re.I)
SORT_KEYS = ("id", "kernel", "status", "duration", "metric", "public", "created")


@dataclass(frozen=True)
class Row:
    """One line of `kr ls`: a run or a merge as the ledger knows it. `kr ls --team` fills `user` and
    `mlflow_run_id` instead of the git and params fields, which stay local."""

    id: str
    kind: str  # run | merge
    status: str | None
    message: str
    created: float
    kernel: str | None = None
    version: int | None = None
    accelerator: str | None = None
    duration: float | None = None
    metric_name: str | None = None
    metric: float | None = None
    public: float | None = None
    private: float | None = None
    notes: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    git_commit: str | None = None
    git_dirty: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    sweep: str | None = None
    user: str | None = None
    mlflow_run_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The row for --json: every field, less the team's two where they are empty."""
        out = asdict(self)
        for key in ("user", "mlflow_run_id"):
            if out[key] is None:
                del out[key]
        return out


def headline(points: list[dict[str, Any]], preferred: str | None = None) -> tuple[str, float] | None:
    """(series, last value) of the run's headline validation metric, or None."""
    last: dict[str, float] = {}
    for p in points:
        last[series(p)] = p["value"]
    if preferred:
        return (preferred, last[preferred]) if preferred in last else None
    names = list(last)
    validation = [n for n in names if _VALIDATION.match(n) or n.split(".")[0] in ("validation", "dev")]
    for pool in ([n for n in validation if not _LOSS.search(n)], validation):
        if pool:
            return pool[0], last[pool[0]]
    return None


def _score(subs: list[dict[str, Any]]) -> dict[str, Any] | None:
    scored = [s for s in subs if s["status"] == "COMPLETE" and s["public_score"] is not None]
    return scored[-1] if scored else None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def run_row(ledger: Ledger, run: Run, default_kernel: str, metric: str | None) -> Row:
    """A run as one row of `kr ls`: label, status, headline metric, score, message."""
    top = headline(ledger.metrics(run.id), metric)
    sub = _score(ledger.submissions(run_id=run.id))
    skipped = f" ({len(run.skipped)} output{'s' if len(run.skipped) > 1 else ''} skipped)" if run.skipped else ""
    status = "CANCELLED" if run.ended_by else run.status  # stopped by `kr cancel`: Kaggle says ERROR
    return Row(
        id=label(run, default_kernel),
        kind="run",
        kernel=run.kernel,
        version=run.version,
        accelerator=run.accelerator,
        # outputs a pull had to leave behind show in the status, so that a missing file is never a surprise
        status=f"{status}{skipped}" if run.skipped else status,
        skipped=run.skipped,
        duration=round(run.seconds, 1) if run.seconds is not None else None,  # the session's, where its log tells
        metric_name=top[0] if top else None,
        metric=top[1] if top else None,
        public=_float(sub["public_score"]) if sub else None,
        private=_float(sub["private_score"]) if sub else None,
        message=run.message or "",
        git_commit=run.git_commit,
        git_dirty=run.git_dirty,
        created=run.created,
        notes=ledger.notes(run_id=run.id),
        params=run.params,
        sweep=f"s{run.sweep_id}" if run.sweep_id else None,
    )


def merge_row(ledger: Ledger, m: Merge) -> Row:
    """A merge as one row of `kr ls`: label, method, inputs, score."""
    sub = _score(ledger.submissions(merge_id=m.id))
    weights = f" w={','.join(f'{w:g}' for w in m.weights)}" if m.weights else ""
    power = f" K={m.power:g}" if m.power is not None else ""
    return Row(
        id=m.label,
        kind="merge",
        status="MERGED",
        public=_float(sub["public_score"]) if sub else None,
        private=_float(sub["private_score"]) if sub else None,
        message=f"{m.method}({' + '.join(i['source'] for i in m.inputs)}){weights}{power}",
        created=m.created,
        notes=ledger.notes(merge_id=m.id),
    )


def ls_rows(
    ledger: Ledger, default_kernel: str, metric: str | None, sort: str = "id", sweep: str | None = None
) -> list[Row]:
    """One row per run and merge (with `sweep`, only that sweep's runs). `sort` is a key of SORT_KEYS, optionally
    with :asc or :desc."""
    key, _, direction = sort.partition(":")
    if key not in SORT_KEYS or direction not in ("", "asc", "desc"):
        raise UserError(
            f"--sort: '{sort}' is unknown; use one of {', '.join(SORT_KEYS)}, optionally with :asc or :desc"
        )
    # a push in flight, or cut off before the ledger learnt its version, shows as PUSHING until a command that
    # talks to Kaggle settles it (loop/recovery.reconcile)
    pending = [replace(run_row(ledger, r, default_kernel, metric), status="PUSHING") for r in ledger.pending_pushes()]
    rows = [run_row(ledger, r, default_kernel, metric) for r in ledger.runs()] + pending
    rows += [merge_row(ledger, m) for m in ledger.merges()]
    if sweep is not None:
        label = ledger.sweep(sweep)["label"]
        rows = [r for r in rows if r.sweep == label]
    numeric = key in ("duration", "metric", "public")
    descending = direction == "desc" or (numeric and direction != "asc")  # scores: best (highest) first by default
    sort_key = "created" if key == "id" else key
    present = [r for r in rows if getattr(r, sort_key) is not None]
    absent = [r for r in rows if getattr(r, sort_key) is None]
    present.sort(key=lambda r: getattr(r, sort_key), reverse=descending)
    return present + absent


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config -> {"kernels.main.accelerator": "tpu", ...}."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def summary(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per series: last, min, max and the number of points, in order of first appearance."""
    out: dict[str, dict[str, Any]] = {}
    for p in points:
        s = out.setdefault(series(p), {"series": series(p), "points": 0, "min": p["value"], "max": p["value"]})
        s["points"] += 1
        s["last"] = p["value"]
        s["min"], s["max"] = min(s["min"], p["value"]), max(s["max"], p["value"])
    return list(out.values())


def show(ledger: Ledger, item: Run | Merge, default_kernel: str, metric: str | None) -> dict[str, Any]:
    """Everything the ledger knows of one run or merge (`kr show`)."""
    if isinstance(item, Merge):
        out = merge_row(ledger, item).as_json()
        out.update(
            inputs=item.inputs,
            output=item.output,
            output_sha256=item.output_sha256,
            rows=item.rows,
            weights=item.weights,
            power=item.power,
            method=item.method,
            id_column=item.id_column,
            correlation=item.correlation,
            submissions=ledger.submissions(merge_id=item.id),
        )
        return out
    out = run_row(ledger, item, default_kernel, metric).as_json()
    previous = ledger.previous_run(item)
    out.update(
        ref=item.ref,
        params_diff=_params_diff(previous, item) if previous is not None else {},
        failure=item.failure,
        ended_by=item.ended_by,
        progress=item.progress,
        sources=item.sources,
        previous=previous.label if previous else None,
        config_diff=_config_diff(previous, item, n=1) if previous is not None else [],
        metrics=summary(ledger.metrics(item.id)),
        files=[dict(r) for r in ledger.files(item.id)],
        submissions=ledger.submissions(run_id=item.id),
        published=[{"ref": m["ref"], "version": m["version"]} for m in ledger.model_versions(run_id=item.id)],
    )
    return out


def _params_diff(a: Run, b: Run) -> dict[str, list[Any]]:
    """The params whose values differ between two runs: {name: [a's, b's]}."""
    both = {k: [a.params.get(k), b.params.get(k)] for k in sorted({*a.params, *b.params})}
    return {k: v for k, v in both.items() if v[0] != v[1]}


def _config_diff(a: Run, b: Run, n: int = 3) -> list[str]:
    """A unified diff of the two runs' kr.yaml snapshots (empty when they are the same)."""
    import yaml

    old = yaml.safe_dump(a.config, sort_keys=False).splitlines()
    new = yaml.safe_dump(b.config, sort_keys=False).splitlines()
    return list(difflib.unified_diff(old, new, f"{a.label}/kr.yaml", f"{b.label}/kr.yaml", lineterm="", n=n))


def diff(ledger: Ledger, a: Run, b: Run, default_kernel: str) -> dict[str, Any]:
    """What changed from run `a` to run `b` (`kr diff`): the code as pushed (a unified diff per file), the params
    and the kr.yaml snapshot. `unkept` names a run pushed before kr kept sources, whose code cannot be compared."""
    code_a, code_b = ledger.source(a.id), ledger.source(b.id)
    name_a, name_b = label(a, default_kernel), label(b, default_kernel)
    code: list[str] = []
    if code_a is not None and code_b is not None:
        for path in sorted({*code_a, *code_b}):
            old, new = code_a.get(path), code_b.get(path)
            if old == new:
                continue
            code += difflib.unified_diff(
                (old or "").splitlines(),
                (new or "").splitlines(),
                f"{name_a}/{path}" if old is not None else "/dev/null",
                f"{name_b}/{path}" if new is not None else "/dev/null",
                lineterm="",
            )
    return {
        "a": name_a,
        "b": name_b,
        "code": code,
        "unkept": [label(r, default_kernel) for r, c in ((a, code_a), (b, code_b)) if c is None],
        "params": _params_diff(a, b),
        "config": _config_diff(a, b),
    }


def column(ledger: Ledger, item: Run | Merge, default_kernel: str) -> dict[str, Any]:
    """One run or merge as `kr compare` shows it: params, each series' last value, kr.yaml flattened, public score."""
    if isinstance(item, Run):
        config = flatten(item.config)
        sub = _score(ledger.submissions(run_id=item.id))
        last = {s["series"]: s["last"] for s in summary(ledger.metrics(item.id))}
        params = item.params
    else:
        config = {
            "merge.method": item.method,
            "merge.inputs": " + ".join(i["source"] for i in item.inputs),
            "merge.weights": item.weights,
            "merge.power": item.power,
        }
        sub = _score(ledger.submissions(merge_id=item.id))
        last, params = {}, {}
    public = _float(sub["public_score"]) if sub else None
    return {"label": label(item, default_kernel), "params": params, "metrics": last, "config": config, "public": public}


def compare(columns: list[dict[str, Any]]) -> dict[str, Any]:
    """Side by side: the params, each series' last value, the public score, and the config keys that differ."""
    names = sorted({k for c in columns for k in c["params"]})
    metrics: dict[str, list[Any]] = {}
    for n, c in enumerate(columns):
        for name, value in c["metrics"].items():
            metrics.setdefault(name, [None] * len(columns))[n] = value
    configs = [c["config"] for c in columns]
    keys = sorted(set().union(*configs)) if configs else []
    # a teammate's values come back from the server as text: 0.05 and "0.05" are the same setting. A merge has no
    # kr.yaml and a run no merge method: each key is compared among the items that can have it
    differ = {
        k: [c.get(k) for c in configs]
        for k in keys
        if len({_same(c.get(k)) for c in configs if k.startswith("merge.") == ("merge.method" in c)}) > 1
    }
    return {
        "columns": [c["label"] for c in columns],
        "params": {k: [c["params"].get(k) for c in columns] for k in names},
        "public": [c["public"] for c in columns],
        "metrics": metrics,
        "config": differ,
    }


def _same(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def expand(ledger: Ledger, targets: list[str], default_kernel: str) -> list[Run | Merge]:
    """Runs and merges named by v23, KERNEL:v23, latest, m3, or a sweep sK (its runs, in grid order)."""
    from kaggle_runner.ledger.addresses import SWEEP_RE

    items: list[Run | Merge] = []
    for t in targets:
        if SWEEP_RE.match(t.strip()):
            items += ledger.sweep_runs(ledger.sweep(t)["id"])
        else:
            items.append(ledger.resolve_any(t, default_kernel))
    return items


def curves(ledger: Ledger, targets: list[str], default_kernel: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(label, metric points) of each run named (a sweep sK names its runs), for `kr plot --metric`; the label
    adds the params whose values differ among them (`v12 lr=2e-05`)."""
    runs = [i for i in expand(ledger, targets, default_kernel) if isinstance(i, Run)]
    # the params that tell the runs apart name them too: a sweep's legend is its points
    keys = sorted({k for r in runs for k in r.params if len({_same(x.params.get(k)) for x in runs}) > 1})
    named = [" ".join([label(run, default_kernel), *(f"{k}={run.params.get(k)}" for k in keys)]) for run in runs]
    return [(name, ledger.metrics(run.id)) for name, run in zip(named, runs)]


def by_param(
    ledger: Ledger, targets: list[str], default_kernel: str, metric: str, param: str
) -> list[tuple[Any, float, str]]:
    """(param value, last value of the metric, label) of each run named that has both, for `kr plot --by`."""
    out = []
    for run in (i for i in expand(ledger, targets, default_kernel) if isinstance(i, Run)):
        last = [p["value"] for p in ledger.metrics(run.id) if metric in (series(p), p["name"])]
        if param in run.params and last:
            out.append((run.params[param], last[-1], label(run, default_kernel)))
    return out
