"""Metric points out of kernel logs: the five common shapes of log-formats.md, read heuristically, and kr's own
structured lines (shape 6, see runtime/report.py), read exactly. Works on plain text or Kaggle's JSON log."""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterator
from typing import Any

Point = dict[str, Any]  # name, value, and where known split, epoch, step, line

MARKER = "kr_metric"  # shape 6: {"kr_metric": 1, "split": ..., "epoch": ..., "step": ..., "metrics": {...}}
NUMBER = r"(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf))"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_WANDB = re.compile(r"wandb:\s?")
_RUN_SUMMARY = re.compile(r"(?:^|\s)Run summary:?\s*$", re.I)  # the header, when pasted without its `wandb:`
_KERAS_EPOCH = re.compile(r"(?:^|\s)Epoch (\d+)/(\d+)\s*$")
_KERAS_STATS = re.compile(
    r"(?:^|[\s:])(?:(\d+)/(\d+) (?:\[[=>.]*\]|━+) (?:- )?|- )(\d+(?:\.\d+)?)s\b(?: \S+/step)?((?: - [^:]+: "
    + NUMBER
    + r")+)\s*$"
)
_KERAS_PAIR = re.compile(r" - ([^:]+?): (" + NUMBER + ")")
_KERAS_LR = re.compile(r"Epoch (\d+): ReduceLROnPlateau reducing learning rate to (" + NUMBER + r")")
_SPLIT = r"(Train(?:ing)?|Valid(?:ation)?|Val|Eval(?:uation)?|Test|Dev)"
_RESULT = re.compile(r"\[RESULT\]:?\s*" + _SPLIT + r"\b\.?\s*(.*)$", re.I)
_STEP = re.compile(r"(?:^|[\s:])" + _SPLIT + r" Step:? (\d+),?\s*(.*)$", re.I)
_PAIR = re.compile(r"([A-Za-z_][\w.-]*)\s*:\s*(" + NUMBER + r")(?![\w.])")
_DURATION = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)$")
_SPLITS = {
    "train": "train",
    "training": "train",
    "valid": "validation",
    "validation": "validation",
    "val": "validation",
    "eval": "validation",
    "evaluation": "validation",
    "test": "test",
    "dev": "dev",
}


def parse_log(text: str) -> list[dict[str, Any]]:
    """Kaggle's persisted log (a JSON array of {stream_name, time, data}); other text as one event per line."""
    if not text.strip():
        return []
    try:
        events = json.loads(text)
        if isinstance(events, dict):
            events = [events]
        if isinstance(events, list) and all(isinstance(e, dict) for e in events):
            return events
    except json.JSONDecodeError:
        pass
    return [{"stream_name": "stdout", "data": line} for line in text.splitlines(keepends=True)]


def lines_of(text: str) -> list[str]:
    """A log's text lines: Kaggle's JSON log (events) is joined first; carriage returns split progress bars."""
    stripped = text.lstrip()
    if stripped.startswith("[") and stripped[1:].lstrip().startswith("{"):
        text = "".join(str(e.get("data", "")) for e in parse_log(text))
    return [_ANSI.sub("", line) for line in text.splitlines()]


def extract(text: str) -> list[Point]:
    """Every metric point in the log, in log order; `line` is 1-based in the (joined) text."""
    return [
        p for p in _scan(lines_of(text)) if math.isfinite(p["value"])
    ]  # JSON has no NaN; a NaN loss shows in the log


def series(point: Point) -> str:
    """The name a series is shown and looked up by: `validation.loss` where the split is not already in the name."""
    name, split = point["name"], point.get("split")
    if not split or name.startswith(("val_", "valid_", f"{split}.", f"{split}_")):
        return name
    return f"{split}.{name}"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def _point(name: str, value: float, line: int, **where: Any) -> Point:
    p: Point = {"name": name.strip(), "value": value}
    p.update({k: v for k, v in where.items() if v is not None})
    p["line"] = line
    return p


def _scan(lines: list[str]) -> Iterator[Point]:
    epoch: int | None = None
    in_wandb_summary = False
    i = 0
    while i < len(lines):
        raw = lines[i]
        n = i + 1
        i += 1
        # shape 5: the W&B run summary, up to the first line that is not `wandb: name value`
        w = _WANDB.search(raw)
        if w:
            rest = raw[w.end() :].strip()
            if rest.lower().startswith("run summary"):
                in_wandb_summary = True
                continue
            if in_wandb_summary:
                parts = rest.rsplit(None, 1)
                if not parts:  # a bare `wandb:` line closes the summary
                    in_wandb_summary = False
                    continue
                value = _number(parts[1]) if len(parts) == 2 else None
                if value is not None:
                    yield _point(parts[0].rstrip(":"), value, n)
                continue  # string entries (model names, paths) are labels
        elif _RUN_SUMMARY.search(raw):
            in_wandb_summary = True
            continue
        else:
            in_wandb_summary = False

        # shapes 3, 4, 6: a JSON or Python-literal object, on one line or pretty-printed over several
        brace = raw.find("{")
        if brace >= 0 and "KR_RUN" not in raw[:brace]:
            head = raw[brace:].strip()
            if head == "{":
                end = _closing(lines, i - 1, brace)
                if end is not None:
                    obj = _literal("\n".join([raw[brace:], *lines[i : end + 1]]))
                    if obj is not None:
                        yield from _from_object(obj, n)
                        i = end + 1
                        continue
            elif head.endswith("}"):
                obj = _literal(head)
                if obj is not None:
                    yield from _from_object(obj, n)
                    continue

        # shape 1: Keras
        m = _KERAS_EPOCH.search(raw)
        if m:
            epoch = int(m.group(1))
            continue
        m = _KERAS_STATS.search(raw)
        if m and (m.group(1) is None or m.group(1) == m.group(2)):
            yield _point("epoch_seconds", float(m.group(3)), n, epoch=epoch)
            for name, value in _KERAS_PAIR.findall(m.group(4)):
                split = "validation" if name.startswith("val_") else "train"
                yield _point(name, float(value), n, split=split, epoch=epoch)
            continue
        m = _KERAS_LR.search(raw)
        if m:
            yield _point("lr", float(m.group(2)), n, epoch=int(m.group(1)))
            continue

        # shape 2: [RESULT]: Split. Epoch: N, k: v ...   and   Split Step N, k: v ...
        m = _RESULT.search(raw)
        if m:
            split = _SPLITS[m.group(1).lower()]
            pairs = [(k, v) for k, v in _PAIR.findall(m.group(2))]
            index = {k.lower(): v for k, v in pairs if k.lower() in ("epoch", "step")}
            for k, v in pairs:
                if k.lower() not in ("epoch", "step"):
                    yield _point(
                        k, float(v), n, split=split, epoch=_int(index.get("epoch")), step=_int(index.get("step"))
                    )
            continue
        m = _STEP.search(raw)
        if m:
            split = _SPLITS[m.group(1).lower()]
            for k, v in _PAIR.findall(m.group(3)):
                yield _point(k, float(v), n, split=split, step=int(m.group(2)))


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    value = float(text)
    return int(value) if value.is_integer() else None


def _closing(lines: list[str], start: int, column: int, limit: int = 5000) -> int | None:
    """The index of the line that closes a pretty-printed object opened at lines[start][column]."""
    depth = 0
    for j in range(start, min(len(lines), start + limit)):
        text = lines[j][column:] if j == start else lines[j]
        depth += text.count("{") - text.count("}")
        if depth <= 0:
            return j
    return None


def _literal(text: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(text)
    except ValueError:
        try:
            obj = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            return None
    return obj if isinstance(obj, dict) else None


def _from_object(obj: dict[str, Any], line: int) -> Iterator[Point]:
    if MARKER in obj:  # shape 6, the contract: exact fields, nothing guessed
        metrics = obj.get("metrics")
        if not isinstance(metrics, dict):
            return
        where = {k: obj.get(k) for k in ("split", "epoch", "step")}
        where = {k: v for k, v in where.items() if isinstance(v, (str, int)) and not isinstance(v, bool)}
        for name, value in metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                yield _point(str(name), float(value), line, **where)
        return
    yield from _flatten(obj, "", None, line)


def _flatten(obj: dict[str, Any], prefix: str, split: str | None, line: int) -> Iterator[Point]:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            if isinstance(value, float) and math.isnan(value):
                continue
            yield _point(name, float(value), line, split=split)
        elif isinstance(value, str):
            m = _DURATION.match(value.strip())
            if m:  # "1:02:03.500000" -> seconds; other strings are labels, not metrics
                days, h, mi, s = m.groups()
                yield _point(name, int(days or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s), line, split=split)
        elif isinstance(value, dict):
            yield from _flatten(value, f"{name}.", split or str(key), line)
