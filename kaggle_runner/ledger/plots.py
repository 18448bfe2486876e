"""`kr plot`: learning curves of runs and public scores by version, drawn to a PNG with matplotlib.
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


def curves(runs: list[tuple[str, list[dict[str, Any]]]], metric: str, out: Path | str) -> int:
    """One line per run and matching series: `metric` matches a series (validation.loss) or a name (loss)."""
    out = _check_out(out)
    lines = []
    for label, points in runs:
        by_series: dict[str, list[dict[str, Any]]] = {}
        for p in points:
            if metric in (series(p), p["name"]):
                by_series.setdefault(series(p), []).append(p)
        for name, pts in by_series.items():
            axis = "epoch" if all("epoch" in p for p in pts) else "step" if all("step" in p for p in pts) else None
            xs = [p[axis] for p in pts] if axis else list(range(1, len(pts) + 1))
            lines.append(
                (
                    f"{label} {name}" if len(by_series) > 1 or name != metric else label,
                    xs,
                    [p["value"] for p in pts],
                    axis or "point",
                )
            )
    if not lines:
        known = sorted({series(p) for _, pts in runs for p in pts})
        hint = f"series: {', '.join(known[:12])}" if known else "no metrics recorded; `kr pull` reads them from the log"
        raise UserError(f"--metric: no series '{metric}' in {', '.join(label for label, _ in runs)} ({hint})")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, xs, ys, _ in lines:
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, label=label)
    ax.set_xlabel(lines[0][3])
    _finish(plt, fig, ax, metric, out)
    return len(lines)


def by_param(points: list[tuple[Any, float, str]], param: str, metric: str, out: Path | str) -> int:
    """A metric's last value of each run against one of its params (a sweep read along one axis)."""
    out = _check_out(out)
    if not points:
        raise UserError(f"--by {param}: no run has both the param {param!r} and a series {metric!r}")
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x, _, _ in points)
    order = sorted(points, key=lambda p: p[0] if numeric else str(p[0]))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [p[0] if numeric else str(p[0]) for p in order]
    ax.plot(xs, [p[1] for p in order], marker="o", linestyle="none", label=metric)
    for x, (_, y, label) in zip(xs, order):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    values = [float(p[0]) for p in order] if numeric else []
    if values and min(values) > 0 and max(values) / min(values) > 50:
        ax.set_xscale("log")  # learning rates and the like span decades
    ax.set_xlabel(param)
    _finish(plt, fig, ax, metric, out)
    return len(points)


def scores(rows: list[Row], out: Path | str) -> int:
    """Public score of every run and merge with one, in the order they were made; merges drawn apart."""
    out = _check_out(out)
    scored = sorted((r for r in rows if r.public is not None), key=lambda r: r.created)
    if not scored:
        raise UserError("no public scores in the ledger yet; `kr submit vN --wait` or `kr scores` records them")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6, len(scored) * 0.6), 5))
    xs = range(len(scored))
    ax.plot(xs, [r.public for r in scored], color="0.7", zorder=1)
    for kind, marker, color in (("run", "o", "tab:blue"), ("merge", "D", "tab:orange")):
        pts = [(x, r.public) for x, r in zip(xs, scored) if r.kind == kind]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, color=color, label=kind + "s", zorder=2)
    ax.set_xticks(list(xs), [r.id for r in scored], rotation=45 if len(scored) > 8 else 0)
    _finish(plt, fig, ax, "public score", out)
    return len(scored)


def _check_out(out: Path | str) -> Path:
    """The file to write: a folder (an existing one, or a name ending in /) is refused rather than becoming DIR.png."""
    if str(out).endswith(("/", "\\")) or Path(out).is_dir():
        raise UserError(f"-o: {out} is a folder; name the PNG file, e.g. {Path(out) / 'curves.png'}")
    return Path(out)


def _finish(plt: Any, fig: Any, ax: Any, ylabel: str, out: Path) -> None:
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=120, format="png")  # exactly the name given: matplotlib would add .png to `curves`
    except OSError as e:
        raise UserError(f"{out}: cannot write ({e.strerror})") from e
    finally:
        plt.close(fig)
