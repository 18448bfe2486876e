"""`kr plot`: learning curves of runs, a metric against a param, and scores by version, drawn to a PNG.
The only module that imports matplotlib, and only when a plot is asked for."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaggle_runner.errors import UserError
from kaggle_runner.ledger.metrics import series

if TYPE_CHECKING:
    from kaggle_runner.ledger.reports import Row


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server or in CI
    import matplotlib.pyplot as plt

    return plt


STYLES = ["-", "--", ":", "-."]  # one per series (train.loss, validation.loss)
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LABELLED = 5  # points of `kr plot --by` named on the plot: the best few, never a smear of all


def curves(runs: list[tuple[str, list[dict[str, Any]]]], metric: str, out: Path | str) -> int:
    """One line per run and matching series: `metric` matches a series (validation.loss) or a name (loss, which
    draws every split's series and names them). Colours, dash styles and markers all cycle, and a curve equal to
    an earlier one is drawn slightly to the right and says so in the legend, so no line hides another."""
    out = _check_out(out)
    lines = []
    for run_index, (label, points) in enumerate(runs):
        by_series: dict[str, list[dict[str, Any]]] = {}
        for p in points:
            if metric in (series(p), p["name"]):
                by_series.setdefault(series(p), []).append(p)
        for name, pts in by_series.items():
            axis = "epoch" if all("epoch" in p for p in pts) else "step" if all("step" in p for p in pts) else None
            xs = [p[axis] for p in pts] if axis else list(range(1, len(pts) + 1))
            shown = f"{label} {name}" if len(by_series) > 1 or name != metric else label
            lines.append((shown, xs, [p["value"] for p in pts], axis or "point", name, run_index))
    if not lines:
        known = sorted({series(p) for _, pts in runs for p in pts})
        hint = f"series: {', '.join(known[:12])}" if known else "no metrics recorded; `kr pull` reads them from the log"
        raise UserError(f"--metric: no series '{metric}' in {', '.join(label for label, _ in runs)} ({hint})")
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    names = sorted({line[4] for line in lines})
    outside = len(lines) > 6  # a long legend goes beside the plot, not over its curves
    fig, ax = plt.subplots(figsize=(11 if outside else 8, 5))
    drawn: list[tuple[list[Any], list[float], str]] = []
    span = max((max(xs) - min(xs) for _, xs, *_ in lines if xs), default=1) or 1
    for label, xs, ys, _, name, run_index in lines:
        same = next((first for xs0, ys0, first in drawn if xs0 == xs and ys0 == ys), None)
        twins = sum(1 for xs0, ys0, _ in drawn if xs0 == xs and ys0 == ys)
        drawn.append((xs, ys, label))
        shifted = [x + twins * span * 0.006 for x in xs]  # equal curves side by side, not on top of each other
        ax.plot(
            shifted,
            ys,
            color=f"C{run_index % 10}",  # a run keeps its colour and marker; a series (train, validation) its dashes
            linestyle=STYLES[names.index(name) % len(STYLES)],
            marker=MARKERS[run_index % len(MARKERS)] if len(xs) < 40 else None,
            markersize=5,
            label=f"{label} (= {same.split(' ')[0]})" if same else label,
        )
    ax.set_xlabel(lines[0][3])
    if lines[0][3] in ("epoch", "step", "point"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{' and '.join(names)} of {_runs(label for label, _ in runs)}")
    ylabel = metric if len(names) == 1 else " / ".join(names)
    _finish(plt, fig, ax, ylabel, out, legend_cols=2 if len(lines) > 24 else 1, outside=outside)
    return len(lines)


def by_param(points: list[tuple[Any, float, str]], param: str, metric: str, out: Path | str) -> int:
    """A metric's last value of each run against one of its params (a sweep read along one axis); the best few
    runs are named (the lowest for a loss, else the highest)."""
    out = _check_out(out)
    if not points:
        raise UserError(f"--by {param}: no run has both the param {param!r} and a series {metric!r}")
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x, _, _ in points)
    order = sorted(points, key=lambda p: p[0] if numeric else str(p[0]))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [p[0] if numeric else str(p[0]) for p in order]
    ax.plot(xs, [p[1] for p in order], marker="o", linestyle="none", alpha=0.7, label=metric)
    lower = "loss" in metric.lower()
    best = sorted(range(len(order)), key=lambda i: order[i][1] if lower else -order[i][1])[:LABELLED]
    for rank, i in enumerate(best):
        ax.annotate(
            order[i][2], (xs[i], order[i][1]), textcoords="offset points", xytext=(5, 6 + 9 * (rank % 2)), fontsize=8
        )
    values = [float(p[0]) for p in order] if numeric else []
    if values and min(values) > 0 and max(values) / min(values) > 50:
        ax.set_xscale("log")  # learning rates and the like span decades
    ax.set_xlabel(param)
    which = "lowest" if lower else "highest"
    ax.set_title(f"{metric} against {param}: {len(points)} runs, the {min(LABELLED, len(points))} {which} named")
    _finish(plt, fig, ax, metric, out)
    return len(points)


def scores(rows: list[Row], out: Path | str) -> int:
    """Public (and, once known, private) score of every run and merge with one, in the order they were made: points
    over categorical labels, no line between them, the best public score marked."""
    out = _check_out(out)
    scored = sorted((r for r in rows if r.public is not None), key=lambda r: r.created)
    if not scored:
        raise UserError("no public scores in the ledger yet; `kr submit vN --wait` or `kr scores` records them")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6, len(scored) * 0.6) + 2, 5))
    xs = range(len(scored))
    for kind, marker, color in (("run", "o", "tab:blue"), ("merge", "D", "tab:orange")):
        pts = [(x, r.public) for x, r in zip(xs, scored) if r.kind == kind]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, color=color, label=f"{kind}s (public)", zorder=2)
        private = [(x, r.private) for x, r in zip(xs, scored) if r.kind == kind and r.private is not None]
        if private:
            ax.scatter(*zip(*private), marker=marker, facecolors="none", edgecolors=color, label=f"{kind}s (private)")
    top = max(range(len(scored)), key=lambda i: scored[i].public or 0.0)
    ax.scatter([top], [scored[top].public], marker="*", s=260, color="gold", edgecolors="black", zorder=3, label="best")
    ax.annotate(f"{scored[top].id} {scored[top].public:.5g}", (top, scored[top].public), textcoords="offset points",
                xytext=(8, -4), fontsize=9)  # fmt: skip
    ax.set_xticks(list(xs), [r.id for r in scored], rotation=45 if len(scored) > 8 else 0)
    ax.set_title(f"leaderboard scores of {len(scored)} runs and merges")
    _finish(plt, fig, ax, "score", out, outside=True)
    return len(scored)


def _runs(labels: Any) -> str:
    names = list(dict.fromkeys(str(label).split(" ")[0] for label in labels))
    return ", ".join(names) if len(names) <= 4 else f"{len(names)} runs ({names[0]} to {names[-1]})"


def _check_out(out: Path | str) -> Path:
    """The file to write: a folder (an existing one, or a name ending in /) is refused rather than becoming DIR.png."""
    if str(out).endswith(("/", "\\")) or Path(out).is_dir():
        raise UserError(f"-o: {out} is a folder; name the PNG file, e.g. {Path(out) / 'curves.png'}")
    return Path(out)


def _finish(plt: Any, fig: Any, ax: Any, ylabel: str, out: Path, legend_cols: int = 1, outside: bool = False) -> None:
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if outside:
        ax.legend(fontsize=8, ncols=legend_cols, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        ax.legend(fontsize=8, ncols=legend_cols)
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=120, format="png")  # exactly the name given: matplotlib would add .png to `curves`
    except OSError as e:
        raise UserError(f"{out}: cannot write ({e.strerror})") from e
    finally:
        plt.close(fig)
