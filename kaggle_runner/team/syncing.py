"""`kr sync`: each run and merge of the ledger as one MLflow run on the team's server (params, tags, metric series,
scores, files), sending only what changed since the last sync; one cut off half-way is finished by the next."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaggle_runner import layout
from kaggle_runner.ledger import reports
from kaggle_runner.ledger.db import Merge, Run, label
from kaggle_runner.ledger.metrics import series
from kaggle_runner.project import Project
from kaggle_runner.team import tracking

ARTIFACT_MB = 20  # outputs larger than this stay local unless tracking.max_artifact_mb says otherwise
# kr.yaml values under keys like these never leave the machine, whatever they hold
SECRET_KEY_RE = re.compile(r"key|token|secret|passw|credential|auth", re.I)
STATUS = {"COMPLETE": "FINISHED", "ERROR": "FAILED", "CANCEL_ACKNOWLEDGED": "KILLED", "CANCEL_REQUESTED": "KILLED"}
METRIC_KEY_RE = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass
class Record:
    """What one run or merge looks like on the server. Files are named by a cheap identity (the ledger's sha256,
    when the log was pulled) and written out only when they must be sent."""

    kind: str
    item_id: int
    uid: str
    name: str
    start_ms: int
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[tuple[str, float, int, int]]
    files: dict[str, str] = field(default_factory=dict)  # artifact path -> identity of its content
    build: Callable[[str, Path], Path] = lambda name, scratch: Path(name)  # artifact path -> a local file to send
    status: str | None = None  # MLflow's terminal status, once the run has ended
    end_ms: int | None = None

    def metrics_digest(self) -> str:
        """A digest of the metric points, to tell whether they changed since the last sync."""
        return _digest(self.metrics)

    def fingerprint(self) -> str:
        """A digest of everything sent, to skip a record that has not changed."""
        return _digest([self.tags, self.params, self.metrics_digest(), self.files, self.status, self.end_ms])


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def sync(ctx: Project, say: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Send every run and merge not yet on the server as it now is. Returns counts and the experiment's URL.
    TrackingUnavailable when the server stops answering: what was sent is recorded, the next sync sends the rest."""
    server = tracking.required(ctx.cfg)
    if not ctx.owner:
        raise tracking.TrackingError(
            "the team's server names each run by its member: set `owner:` in kr.yaml or Kaggle credentials"
        )
    tracker = tracking.Tracker(server)
    links = ctx.ledger.team_links(server.key)
    uid = ctx.ledger.uid()
    secrets = secret_values()
    on_server: dict[str, str] | None = None
    counts = {"sent": 0, "unchanged": 0, "requests": 0}
    skipped: list[str] = []
    todo: list[Run | Merge] = [*ctx.ledger.runs(), *ctx.ledger.merges()]
    with tempfile.TemporaryDirectory(prefix="kr-sync-") as scratch:
        for item in todo:
            rec = record(ctx, item, uid, secrets)
            link = links.get((rec.kind, rec.item_id))
            if link and link["fingerprint"] == rec.fingerprint():
                counts["unchanged"] += 1
                continue
            if link is None:
                # a run created by a sync that was cut off before the ledger learnt its id is found by its uid,
                # so that no run is ever created twice
                if on_server is None:
                    on_server = {
                        r.data.tags.get("kr.uid", ""): r.info.run_id
                        for r in tracker.search(f"tags.`kr.ledger` = '{uid}'")
                    }
                    counts["requests"] += 1
                run_id = on_server.get(rec.uid)
                if run_id is None:
                    run_id = tracker.create_run(rec.name, rec.tags, rec.start_ms)
                    counts["requests"] += 1
                sent: dict[str, Any] = {}
                ctx.ledger.record_team_link(rec.kind, rec.item_id, server.key, run_id, sent, None)
            else:
                run_id, sent = link["mlflow_run_id"], link["sent"]
            counts["requests"] += _send(ctx, tracker, server.key, run_id, rec, sent, Path(scratch), skipped)
            counts["sent"] += 1
            say(f"sent {rec.name}")
    return {
        "server": server.uri,
        "experiment": server.experiment,
        "url": tracker.experiment_url,
        "items": len(todo),
        **counts,
        "skipped": skipped,
    }


def _send(
    ctx: Project,
    tracker: tracking.Tracker,
    server: str,
    run_id: str,
    rec: Record,
    sent: dict[str, Any],
    scratch: Path,
    skipped: list[str],
) -> int:
    """Bring the server's copy of one record up to date, noting each step in the ledger as it is confirmed. A file
    that cannot be read here is named in `skipped` and the rest is sent; the record is then left to the next sync."""
    # MLflow params are write-once (a changed value is refused): a run's are sent once, whatever changes later
    params = {} if sent.get("params") else rec.params
    metrics = [] if sent.get("metrics") == rec.metrics_digest() else rec.metrics
    requests = tracker.log_batch(run_id, metrics, params, rec.tags)
    sent.update(params=_digest(rec.params), metrics=rec.metrics_digest())
    ctx.ledger.record_team_link(rec.kind, rec.item_id, server, run_id, sent, None)
    files = sent.setdefault("files", {})
    missing = False
    for name, identity in rec.files.items():
        if files.get(name) != identity:
            folder, _, _ = name.rpartition("/")
            try:
                tracker.upload(run_id, rec.build(name, scratch), folder)
            except (OSError, tracking.LocalFileError) as e:  # gone or unreadable here: name it, send the rest
                why = f"{e.strerror or type(e).__name__} ({e.filename})" if isinstance(e, OSError) else str(e)
                skipped.append(f"{rec.name}: {name}: {why}")
                missing = True
                continue
            requests += 1
            files[name] = identity
            ctx.ledger.record_team_link(rec.kind, rec.item_id, server, run_id, sent, None)
    if rec.status and sent.get("status") != rec.status:
        tracker.end(run_id, rec.status, rec.end_ms)
        requests += 1
        sent["status"] = rec.status
    ctx.ledger.record_team_link(rec.kind, rec.item_id, server, run_id, sent, None if missing else rec.fingerprint())
    return requests


def secret_values() -> list[str]:
    """Every credential kr can see (Kaggle's key and token, MLflow's password and token): none may reach the server."""
    import os

    values = [os.environ.get(n, "") for n in ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "KAGGLE_KEY")]
    try:
        from kaggle_runner.kaggle.api import find_credentials

        creds = find_credentials()
        values += [creds.key or "", creds.token or ""]
    except Exception:  # no credentials at all: nothing of theirs to keep out
        pass
    return [v for v in values if len(v) >= 8]


@functools.lru_cache(maxsize=8)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """Every credential as it may be printed: in any case, and base64 (standard or URL-safe, padded or not) or
    URL-quoted; None where there is none."""
    import base64
    from urllib.parse import quote

    forms: set[str] = set()
    for secret in secrets:
        forms |= {secret, quote(secret, safe="")}
        for encoded in (base64.b64encode(secret.encode()), base64.urlsafe_b64encode(secret.encode())):
            forms |= {encoded.decode(), encoded.decode().rstrip("=")}
    longest_first = sorted(forms, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, longest_first)), re.IGNORECASE) if forms else None


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every credential in `secrets` replaced by [redacted], in any case or encoding (_pattern)."""
    pattern = _pattern(tuple(secrets))
    return pattern.sub("[redacted]", text) if pattern else text


def redact_log(text: str, secrets: list[str]) -> str:
    """A pulled log with every credential taken out. Kaggle's JSON log cuts a long line into several events, so a
    key can start in one event's data and end in the next: the data is searched as one text, as a reader sees it,
    and each event loses its share of every match. A log that is not Kaggle's JSON is redacted as text."""
    pattern = _pattern(tuple(secrets))
    if pattern is None:
        return text
    try:
        events = json.loads(text)
    except ValueError:
        events = None
    if not isinstance(events, list) or not all(isinstance(e, dict) and isinstance(e.get("data"), str) for e in events):
        return pattern.sub("[redacted]", text)
    spans = [m.span() for m in pattern.finditer("".join(e["data"] for e in events))]
    if not spans:
        return text  # nothing to take out: the log goes as Kaggle wrote it
    start = 0
    for event in events:
        data, end, kept, at = event["data"], start + len(event["data"]), [], start
        for lo, hi in spans:
            if hi <= at or lo >= end:
                continue
            kept += [data[at - start : max(lo, at) - start], "[redacted]"]
            at = min(hi, end)
        event["data"] = "".join(kept) + data[at - start :]
        start = end
    return json.dumps(events)


def _config_params(config: dict[str, Any], secrets: list[str]) -> dict[str, str]:
    flat = reports.flatten(scrub(config, secrets))
    return {f"kr.yaml.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in flat.items()}


def _ms(seconds: float | None) -> int | None:
    return int(seconds * 1000) if seconds else None


def record(ctx: Project, item: Run | Merge, uid: str, secrets: list[str]) -> Record:
    """The MLflow run a kr run or merge becomes: tags say who, what and how it went; params are the run's params
    and its kr.yaml; metrics are its series (step: epoch or step) and scores; files what a teammate may merge."""
    default = ctx.cfg.default_kernel
    shown = label(item, default)
    user = ctx.owner
    base = {
        "kr.user": user,
        "mlflow.user": user,
        "kr.ledger": uid,
        "kr.label": shown,
        "kr.competition": ctx.cfg.competition or "",
    }
    if isinstance(item, Merge):
        row = reports.merge_row(ctx.ledger, item)
        kind = "merge"
        merged = layout.merge_file(ctx.cfg.root, item.id)
        files = {f"outputs/{merged.name}": item.output_sha256} if merged.is_file() else {}

        def merged_file(name: str, scratch: Path) -> Path:
            return merged

        build: Callable[[str, Path], Path] = merged_file

        tags = {
            **base,
            "kr.kind": kind,
            "kr.method": item.method,
            "kr.inputs": json.dumps([{k: i.get(k) for k in ("source", "sha256", "origin")} for i in item.inputs]),
            "kr.submission.path": f"outputs/{merged.name}",
            "kr.submission.sha256": item.output_sha256,
        }
        params = {"merge.method": item.method, "merge.id_column": item.id_column}
        if item.weights:
            params["merge.weights"] = json.dumps(item.weights)
        if item.power is not None:
            params["merge.power"] = str(item.power)
        metrics: list[tuple[str, float, int, int]] = []
        status: str | None = "FINISHED"
        end_ms, start_ms = _ms(item.created), _ms(item.created) or 0
        subs = ctx.ledger.submissions(merge_id=item.id)
        notes = ctx.ledger.notes(merge_id=item.id)
    else:
        row = reports.run_row(ctx.ledger, item, default, ctx.cfg.metric)
        kind = "run"
        tags = {
            **base,
            "kr.kind": kind,
            "kr.kernel": item.kernel,
            "kr.ref": item.ref,
            "kr.version": str(item.version or ""),
            "kr.accelerator": item.accelerator or "",
            "kr.status": item.status or "",
            "kr.git_commit": item.git_commit or "",
            "kr.git_dirty": str(bool(item.git_dirty)).lower(),
            "kr.metric": row.metric_name or "",
        }
        if item.sweep_id:
            tags["kr.sweep"] = f"s{item.sweep_id}"
        if item.ended_by:
            tags["kr.ended_by"] = item.ended_by
        if item.failure:
            tags["kr.failure"] = item.failure
        run_params = scrub(item.params, secrets)
        params = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in run_params.items()}
        params.update(_config_params(item.config, secrets))
        start_ms = _ms(item.created) or 0
        metrics = []
        for seq, p in enumerate(ctx.ledger.metrics(item.id)):
            step = p.get("step", p.get("epoch", seq))
            metrics.append((METRIC_KEY_RE.sub("_", series(p)), float(p["value"]), start_ms + seq, int(step)))
        files, build = _run_files(ctx, item, secrets)
        submitted = f"outputs/{ctx.cfg.submission}"
        if submitted in files:
            tags["kr.submission.path"], tags["kr.submission.sha256"] = submitted, files[submitted]
        status = STATUS.get(item.status or "")
        end_ms = _ms(item.finished) if status else None
        subs = ctx.ledger.submissions(run_id=item.id)
        notes = ctx.ledger.notes(run_id=item.id)
    tags["kr.uid"] = f"{uid}:{kind}{item.id}"
    tags["kr.message"] = row.message
    tags["kr.notes"] = json.dumps(notes)
    tags["mlflow.note.content"] = "\n".join([row.message, *notes]).strip()
    for n, s in enumerate(subs):
        when = _submission_ms(s.get("date")) or start_ms
        for key in ("public_score", "private_score"):
            value = reports._float(s.get(key))
            if s.get("status") == "COMPLETE" and value is not None:
                metrics.append((key, value, when, n))
    tags = {k: redact(v, secrets) for k, v in tags.items()}
    name = f"{user}/{shown}"
    return Record(kind, item.id, tags["kr.uid"], name, start_ms, tags, params, metrics, files, build, status, end_ms)


def _submission_ms(date: str | None) -> int | None:
    from datetime import datetime

    if not date:
        return None
    try:
        return int(datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def scrub(value: Any, secrets: list[str]) -> Any:
    """A kr.yaml snapshot with the values under secret-looking keys, and any credential kr knows, taken out."""
    if isinstance(value, dict):
        return {k: "[redacted]" if SECRET_KEY_RE.search(str(k)) else scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    return redact(value, secrets) if isinstance(value, str) else value


def _run_files(ctx: Project, run: Run, secrets: list[str]) -> tuple[dict[str, str], Callable[[str, Path], Path]]:
    """A pulled run's outputs under the size limit (the submission file always), its log and its kr.yaml."""
    limit = float(ctx.cfg.tracking.get("max_artifact_mb", ARTIFACT_MB)) * 2**20
    folder = ctx.run_dir(run)
    files, local = {"kr.yaml": _digest(run.config)}, {}
    for f in ctx.ledger.files(run.id):
        if f["size"] <= limit or f["path"] == ctx.cfg.submission:
            files[f"outputs/{f['path']}"] = f["sha256"]
            local[f"outputs/{f['path']}"] = folder / f["path"]
    log = folder / f"{run.owner_slug[1]}.log"
    if run.pulled and log.is_file() and log.stat().st_size <= limit:
        files[f"log/{log.name}"] = f"pulled {run.pulled}"

    def build(name: str, scratch: Path) -> Path:
        import yaml

        if name in local:
            return local[name]
        out = scratch / f"run{run.id}" / name.rpartition("/")[2]
        out.parent.mkdir(parents=True, exist_ok=True)
        if name == "kr.yaml":
            out.write_text(yaml.safe_dump(scrub(run.config or {}, secrets), sort_keys=False), encoding="utf-8")
        else:  # the log, with any credential a kernel printed taken out
            out.write_text(redact_log(log.read_text(encoding="utf-8", errors="replace"), secrets), encoding="utf-8")
        return out

    return files, build


def send_quietly(ctx: Project, warn: Callable[[str], None]) -> None:
    """After pull, wait, submit, merge or note: send what changed, when a server is configured. A failure is one
    warning, never a failed command; the next `kr sync` catches up."""
    if tracking.server_for(ctx.cfg) is None:
        return
    try:
        sync(ctx)
    except tracking.TrackingError as e:
        warn(f"not sent to the team's server ({e}); `kr sync` sends it later")
