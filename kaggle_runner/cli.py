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
datasets_app = typer.Typer(help="Dataset specs (datasets/NAME/dataset.yaml or kr.yaml datasets:) as Kaggle datasets.",
                           no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")

_state: dict = {"debug": False, "url": None}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    kaggle_url: Optional[str] = typer.Option(None, "--kaggle-url", envvar="KR_KAGGLE_URL",
                                             help="Talk to this Kaggle API (e.g. an emulator) instead of api.kaggle.com."),
) -> None:
    _state["debug"] = debug
    _state["url"] = kaggle_url


def _context():  # -> Context; heavy imports stay out of `kr --help`
    from kaggle_runner import config, workflows
    from kaggle_runner.context import Context
    from kaggle_runner.kaggle_api import KaggleApi, find_credentials
    from kaggle_runner.ledger import open_ledger

    cfg = config.load()
    creds = find_credentials()
    owner = cfg.owner or creds.username
    if not owner:
        raise UserError("kr.yaml: owner: missing and the credentials name no user; add `owner: <your Kaggle username>`")
    ctx = Context(cfg, KaggleApi(_state["url"], creds), open_ledger(cfg.root), owner)
    workflows.reconcile(ctx, _err)  # a push cut off by a crash or Ctrl-C is finished by the next command
    return ctx


def _project():  # -> Context without Kaggle: for commands that read or write only the ledger
    from kaggle_runner import config
    from kaggle_runner.context import Context
    from kaggle_runner.ledger import open_ledger

    cfg = config.load()
    return Context(cfg, None, open_ledger(cfg.root), cfg.owner or "")


def _json(obj) -> None:
    import json

    typer.echo(json.dumps(obj, indent=1, default=str))


def _table(title: Optional[str], columns: list[str], rows: list[list], right: tuple = ()) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
    for c in columns:
        table.add_column(c, justify="right" if c in right else "left", overflow="fold")
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    # a terminal gets its own width; piped output (files, grep) is not folded at rich's default of 80 columns
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def _num(v, digits: int = 5) -> str:
    return "" if v is None else f"{v:.{digits}g}" if isinstance(v, float) else str(v)


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
         raw: bool = typer.Option(False, "--raw", help="Print Kaggle's JSON log as it is."),
         metrics_: bool = typer.Option(False, "--metrics", help="Show the metric points found in the log as a table.")) -> None:
    """A run's log as readable text."""
    from kaggle_runner import workflows

    ctx = _context()
    run = _resolve(ctx, version)
    if metrics_:
        from kaggle_runner.logs import extract

        _metrics_table(extract(workflows.log_text(ctx, run)[0]), f"{run.kernel} {run.label}")
        return
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


def _metrics_table(points: list, title: str) -> None:
    if not points:
        _err(f"{title}: no metric lines found (see `kr metrics --help` for the shapes kr reads)")
        return
    from kaggle_runner.logs import series

    _table(title, ["line", "series", "split", "epoch", "step", "value"],
           [[p.get("line"), series(p), p.get("split"), p.get("epoch"), p.get("step"), _num(p["value"], 6)] for p in points],
           right=("line", "epoch", "step", "value"))


@app.command()
def metrics(file: Path = typer.Argument(..., help="A log: plain text or Kaggle's JSON log (e.g. .kr/runs/v3/NAME.log)."),
            as_json: bool = typer.Option(False, "--json", help="Print a JSON list of points in log order.")) -> None:
    """Metric points in any log file: Keras epochs, [RESULT]/Step lines, JSON dicts, W&B summaries, kr's lines."""
    from kaggle_runner.logs import extract

    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UserError(f"{file}: cannot read ({e.strerror})") from e
    points = extract(text)
    if as_json:
        _json(points)
    else:
        _metrics_table(points, str(file))


@app.command()
def submit(target: str = typer.Argument(..., help="v23, KERNEL:v23, latest, m3 (a merge) or a CSV file."),
           message: str = typer.Option("", "-m", "--message", help="Description shown on Kaggle (after the version)."),
           wait_: bool = typer.Option(False, "--wait", help="Wait for the score and record it."),
           competition: Optional[str] = typer.Option(None, "--competition", "-c", help="Default: kr.yaml's competition."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Check a submission file against the sample submission, upload it, and record it (and its score)."""
    from kaggle_runner import submissions

    ctx = _context()
    comp = _competition(ctx, competition)
    result = submissions.submit(ctx, target, message, comp, _err)
    label = result["source"] or result["file"]
    if wait_:
        from rich.console import Console

        with Console(stderr=True).status(f"{label}: scoring") as live:
            scored = submissions.wait_score(ctx, comp, result["ref"],
                                            lambda st, t: live.update(f"{label}: {st.lower()} {int(t)}s"))
        result.update(scored)
    if as_json:
        _json(result)
    elif result["status"] == "COMPLETE":
        private = f", private {result['private_score']}" if result.get("private_score") else ""
        typer.echo(f"{label}: public {result['public_score']}{private} (submission {result['ref']} to {comp})")
    elif result["status"] == "ERROR":
        _err(f"{label}: Kaggle could not score submission {result['ref']}: {result.get('error') or 'no reason given'}")
    else:
        typer.echo(f"{label}: submitted to {comp} as {result['ref']}; `kr scores` shows its score once ready")
    if result["status"] == "ERROR":
        raise typer.Exit(1)


def _competition(ctx, competition: Optional[str]) -> str:
    comp = competition or ctx.cfg.competition
    if not comp:
        raise UserError("no competition: add `competition: <slug>` to kr.yaml or pass --competition")
    return comp


@app.command()
def scores(competition: Optional[str] = typer.Option(None, "--competition", "-c", help="Default: kr.yaml's competition."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Refresh every submission's status and scores from Kaggle, including ones made outside kr."""
    from kaggle_runner import submissions

    ctx = _context()
    comp = _competition(ctx, competition)
    subs = submissions.refresh(ctx, comp)
    if as_json:
        _json(subs)
        return
    _table(f"{comp}: {len(subs)} submissions", ["ref", "date", "from", "status", "public", "private", "description"],
           [[s["ref"], (s["date"] or "")[:16].replace("T", " "), s["source"] or "(outside kr)", s["status"],
             s["public_score"], s["private_score"], s["description"]] for s in subs], right=("ref", "public", "private"))


@app.command("ls")
def ls_(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
        sort: str = typer.Option("id", "--sort", help="id, kernel, status, duration, metric, public or created; "
                                 "scores sort best (highest) first; add :asc or :desc to choose.")) -> None:
    """Every run and merge: status, duration, headline validation metric, public score, message, commit."""
    from kaggle_runner import reports

    ctx = _project()
    rows = reports.ls_rows(ctx.ledger, ctx.cfg.default_kernel, ctx.cfg.metric, sort)
    if as_json:
        _json(rows)
        return
    names = {r["metric_name"] for r in rows if r["metric_name"]}
    metric_title = names.pop() if len(names) == 1 else "val metric"
    _table(None, ["id", "kernel", "accel", "status", "time", metric_title, "public", "message", "commit"],
           [[r["id"], r["kernel"], r["accelerator"], r["status"], _duration(r["duration"]),
             _num(r["metric"]) + (f" {r['metric_name']}" if len(names) > 0 and r["metric_name"] != metric_title else ""),
             _num(r["public"]), r["message"] + "".join(f"  [{n}]" for n in r["notes"]),
             (r["git_commit"] or "")[:7] + ("*" if r["git_dirty"] else "")] for r in rows],
           right=("time", metric_title, "public"))


def _duration(seconds) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


@app.command()
def show(target: str = typer.Argument("latest", help="v23, KERNEL:v23, latest or m3."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """One run or merge: what changed in kr.yaml since the previous version, metrics, files, submissions, notes."""
    from kaggle_runner import reports

    ctx = _project()
    item = ctx.ledger.resolve_any(target, ctx.cfg.default_kernel)
    info = reports.show(ctx.ledger, item, ctx.cfg.default_kernel, ctx.cfg.metric)
    if as_json:
        _json(info)
        return
    typer.echo(f"{info['id']}  {info['message']}")
    if info["kind"] == "run":
        commit = (info["git_commit"] or "no git")[:12] + (" (uncommitted changes)" if info["git_dirty"] else "")
        typer.echo(f"  {info['ref']}  {info['accelerator']}  {info['status']}  {_duration(info['duration'])}  {commit}")
        if info["failure"]:
            typer.echo(f"  failure: {info['failure']}")
        if info["previous"]:
            typer.echo(f"\nkr.yaml since {info['previous']}:" + ("" if info["config_diff"] else " unchanged"))
            for line in info["config_diff"][2:]:
                typer.echo(f"  {line}")
        if info["metrics"]:
            _table("metrics", ["series", "last", "min", "max", "points"],
                   [[m["series"], _num(m["last"], 6), _num(m["min"], 6), _num(m["max"], 6), m["points"]]
                    for m in info["metrics"]], right=("last", "min", "max", "points"))
        if info["files"]:
            _table("files", ["path", "bytes", "sha256"], [[f["path"], f["size"], f["sha256"][:12]] for f in info["files"]],
                   right=("bytes",))
    else:
        typer.echo(f"  {info['rows']} rows -> {info['output']} (sha256 {info['output_sha256'][:12]})")
        for i in info["inputs"]:
            typer.echo(f"  input {i['source']}: {i['path']} (sha256 {i['sha256'][:12]})")
        for column, matrix in info["correlation"].items():
            _correlation_table(column, [i["source"] for i in info["inputs"]], matrix, info["method"])
    if info["submissions"]:
        _table("submissions", ["ref", "date", "status", "public", "private", "description"],
               [[s["ref"], (s["date"] or "")[:16].replace("T", " "), s["status"], s["public_score"], s["private_score"],
                 s["description"]] for s in info["submissions"]], right=("ref", "public", "private"))
    for note in info["notes"]:
        typer.echo(f"note: {note}")


def _correlation_table(column: str, labels: list[str], matrix: list, method: str) -> None:
    what = "agreement" if method == "vote" else "correlation"
    _table(f"{column}: {what}", ["", *labels], [[a, *[_num(v, 4) for v in row]] for a, row in zip(labels, matrix)],
           right=tuple(labels))


@app.command()
def compare(targets: list[str] = typer.Argument(..., help="Two or more of v23, KERNEL:v23, latest, m3."),
            as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Runs and merges side by side: each metric's last value, the public score, and the kr.yaml keys that differ."""
    from kaggle_runner import reports

    ctx = _project()
    items = [ctx.ledger.resolve_any(t, ctx.cfg.default_kernel) for t in targets]
    labels = [i.label if not hasattr(i, "kernel") else ctx.ledger.run_label(i, ctx.cfg.default_kernel) for i in items]
    info = reports.compare(ctx.ledger, items, labels)
    if as_json:
        _json(info)
        return
    rows = [["public score", *[_num(v) for v in info["public"]]]]
    rows += [[k, *[_num(v, 6) for v in vs]] for k, vs in info["metrics"].items()]
    rows += [[f"kr.yaml {k}", *[_num(v) for v in vs]] for k, vs in info["config"].items()]
    _table(None, ["", *labels], rows, right=tuple(labels))


@app.command()
def plot(targets: list[str] = typer.Argument(None, help="Runs to draw (v21 v22 ...)."),
         metric: Optional[str] = typer.Option(None, "--metric", help="Series or name to draw, e.g. validation.auc or loss."),
         scores_: bool = typer.Option(False, "--scores", help="Draw the public score of every run and merge instead."),
         out: Path = typer.Option(..., "-o", "--output", help="PNG file to write.")) -> None:
    """Learning curves of runs (--metric), or public score by version (--scores), as a PNG."""
    from kaggle_runner import plots, reports

    ctx = _project()
    if scores_:
        n = plots.scores(reports.ls_rows(ctx.ledger, ctx.cfg.default_kernel, ctx.cfg.metric), out)
        typer.echo(f"{out}: public scores of {n} runs and merges")
        return
    if not targets or not metric:
        raise UserError("kr plot needs runs and --metric (kr plot v1 v2 --metric validation.auc -o curves.png), or --scores")
    runs = []
    for t in targets:
        run = ctx.ledger.resolve(t, ctx.cfg.default_kernel)
        runs.append((ctx.ledger.run_label(run, ctx.cfg.default_kernel), ctx.ledger.metrics(run.id)))
    n = plots.curves(runs, metric, out)
    typer.echo(f"{out}: {n} curves of {metric}")


@app.command()
def note(target: str = typer.Argument(..., help="v23, KERNEL:v23, latest or m3."),
         text: str = typer.Argument(..., help="The note, e.g. 'smooth 0.05 helps; try 0.1'.")) -> None:
    """Attach a note to a run or merge (shown by kr ls and kr show)."""
    from kaggle_runner.ledger import Merge

    ctx = _project()
    item = ctx.ledger.resolve_any(target, ctx.cfg.default_kernel)
    if isinstance(item, Merge):
        ctx.ledger.add_note(text, merge_id=item.id)
    else:
        ctx.ledger.add_note(text, run_id=item.id)
    typer.echo(f"noted on {target}")


@app.command()
def merge(inputs: list[str] = typer.Argument(..., help="Two or more runs (v21), merges (m2) or CSV files."),
          out: Optional[Path] = typer.Option(None, "-o", "--output", help="Where to write the merged CSV "
                                             "(it is also kept as .kr/merges/mK.csv)."),
          method: str = typer.Option("mean", "--method", help="mean | weighted | rank | geo | power | vote."),
          weights: Optional[str] = typer.Option(None, "--weights", help="One weight per input, e.g. 0.6,0.4."),
          power: Optional[float] = typer.Option(None, "--power", help="K for --method power: (mean of x^K)^(1/K)."),
          id_column: Optional[str] = typer.Option(None, "--id", help="The id column (default: the first)."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Ensemble submissions: rows aligned on the id column, each target column combined, recorded as mK."""
    import os

    # pyarrow's allocator (mimalloc) hands freed pages back to the OS after 10 ms. A merge frees and allocates the
    # same few hundred MB file after file, and faulting them back in cost a fifth of its time on a VM. Read when
    # pyarrow loads, which is below.
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "1000")
    from kaggle_runner import config, merge as merging

    w = merging.parse_weights(weights)
    merging.check_options(method, w, power, len(inputs))
    try:
        ctx = _project()
    except config.ConfigError:
        ctx = None  # outside a project: plain files merge fine, there is just no ledger to record in
    paths, sources = _merge_inputs(ctx, inputs)
    result = merging.merge(paths, method, w, power, id_column)
    if ctx is None:
        if out is None:
            raise UserError("-o: where should the merge go? (outside a kr project nothing is kept in .kr/merges)")
        try:
            merging.write(result, out)
        except OSError as e:
            raise UserError(f"{out}: cannot write ({e.strerror})") from e
        info = {"id": None, "output": str(out), "rows": result.rows, "correlation": result.correlation}
    else:
        info = _record_merge(ctx, result, paths, sources, method, w, power, out)
    if as_json:
        _json(info)
        return
    name = info["id"] or "merge"
    typer.echo(f"{name}: {method} of {' + '.join(sources)} -> {info['output']} ({result.rows} rows)")
    for column, matrix in result.correlation.items():
        _correlation_table(column, sources, matrix, method)
        high = [(sources[i], sources[j], matrix[i][j]) for i in range(len(sources)) for j in range(i + 1, len(sources))
                if matrix[i][j] is not None and matrix[i][j] > 0.98]
        for a, b, r in high:
            _err(f"note: {a} and {b} agree at {r:.4f} on {column}; merging near-copies gains little")


def _merge_inputs(ctx, inputs: list[str]) -> tuple[list[Path], list[str]]:
    from kaggle_runner.ledger import is_reference

    paths, sources = [], []
    for text in inputs:
        if is_reference(text):
            if ctx is None:
                raise UserError(f"{text}: versions and merges need a kr project (kr.yaml); outside one, pass files")
            from kaggle_runner.submissions import source_of

            path, item = source_of(ctx, text)
            label = item.label if not hasattr(item, "kernel") else ctx.ledger.run_label(item, ctx.cfg.default_kernel)
            paths.append(path)
            sources.append(label)
        else:
            if not Path(text).is_file():
                raise UserError(f"{text}: no such file, and not a version (v23, KERNEL:v23, latest) or merge (m3)")
            paths.append(Path(text))
            sources.append(text)
    return paths, sources


def _record_merge(ctx, result, paths, sources, method, weights, power, out) -> dict:
    import os
    import shutil

    from kaggle_runner import merge as merging
    from kaggle_runner.packaging import sha256_file
    from kaggle_runner.submissions import merge_file

    folder = ctx.cfg.root / ".kr" / "merges"
    staged = folder / f".staged-{os.getpid()}.csv"
    merging.write(result, staged)
    try:
        digest = sha256_file(staged)
        inputs = [{"source": s, "path": str(p), "sha256": sha256_file(p)} for s, p in zip(sources, paths)]
        merge_id = ctx.ledger.add_merge(method, weights, power, result.id_column, inputs, str(out or ""), digest,
                                        result.rows, result.correlation)
        kept = merge_file(ctx.cfg.root, merge_id)
        os.replace(staged, kept)
    finally:
        if staged.exists():
            staged.unlink()
    target = out or kept
    if out is not None:
        tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
        try:
            try:
                os.link(kept, tmp)  # same bytes as the ledger's copy without a second write
            except OSError:
                shutil.copyfile(kept, tmp)
            os.replace(tmp, out)
        except OSError as e:
            raise UserError(f"{out}: cannot write ({e.strerror}); the merge is kept as m{merge_id} in {kept}") from e
    ctx.ledger.set_merge_output(merge_id, str(target))
    return {"id": f"m{merge_id}", "output": str(target), "kept": str(kept), "rows": result.rows, "sha256": digest,
            "inputs": inputs, "correlation": result.correlation}


@datasets_app.command("push")
def datasets_push(name: str = typer.Argument(..., help="The spec's name: datasets/NAME/ or a kr.yaml datasets: key."),
                  as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Run the spec's prepare step, upload its files as a new dataset version if they changed, wait until READY."""
    from kaggle_runner import workflows

    out = workflows.push_dataset(_context(), name, _err)
    if as_json:
        _json(out)
    else:
        typer.echo(f"{out['ref']} v{out['version']} {'uploaded' if out['uploaded'] else 'unchanged'}")


@datasets_app.command("ls")
def datasets_ls(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """The project's dataset specs and the version of each that kr last uploaded."""
    from kaggle_runner import workflows

    ctx = _project()
    if not ctx.owner:  # the ledger names datasets owner/slug; the owner defaults to the credentials' user
        from kaggle_runner.kaggle_api import find_credentials

        try:
            ctx.owner = find_credentials().username or ""
        except UserError:
            pass
    rows = workflows.dataset_specs(ctx)
    if as_json:
        _json(rows)
        return
    _table(None, ["name", "dataset", "spec", "paths", "prepare", "version"],
           [[r["name"], r["ref"], r["spec"], " ".join(r["paths"]), r["prepare"] or "",
             f"v{r['version']}" if r["version"] else "never pushed"] for r in rows])


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
    except Exception as e:
        # click's usage errors arrive here too; newer typer vendors click, so they are recognised by shape
        if callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, typer.Abort) or type(e).__name__ == "Abort":
            sys.exit(130)
        if _state["debug"]:
            raise
        print(f"kr: internal error: {type(e).__name__}: {e} (run with --debug for the traceback)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
