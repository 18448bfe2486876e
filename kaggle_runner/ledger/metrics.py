"""Metric points out of kernel logs: the five common shapes of docs/log-formats.md, read heuristically, and kr's own
structured lines (shape 6, see runtime/report.py), read exactly. Works on plain text or Kaggle's JSON log."""

from __future__ import annotations

import ast
import io
import json
import math
import os
import re
from collections.abc import Generator, Iterable, Iterator
from typing import Any, TextIO

Point = dict[str, Any]  # name, value, and where known split, epoch, step, line

KR_MARKERS = ("KR_RUN", "KR_CANCELLED")  # lines the bootstrap and the cancel watcher print
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
_SPLIT_WORDS = tuple(_SPLITS)  # the words _SPLIT matches, lowered


BLOCK = 1 << 20  # characters read at a time; Kaggle's JSON log is decoded a block of events per json.loads
MAX_LINE = 1 << 22  # a longer line is cut here: no metric line is that long, and memory stays bounded
LOOKAHEAD = 400  # lines a pretty-printed object may span
MAX_EVENT = 1 << 24  # a JSON event longer than this is not Kaggle's log: the rest is read as text
_ENDINGS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines() splits on
# Kaggle's events as it writes them, {"stream_name":..,"time":..,"data":".."} one per line and joined by "\n,": the
# start of the first, and the glue from one event's data to the next's. The glue holds a raw newline and bare quotes,
# which no JSON string can, so it only ever matches between events; its literal start keeps the search fast.
_EVENT_HEAD = r'\{"stream_name":"(?:stdout|stderr)","time":[-+0-9.eE]+,"data":"'
_FIRST_EVENT = re.compile(r"\s*" + _EVENT_HEAD)
_EVENT_GLUE = re.compile(r'"\}\n,' + _EVENT_HEAD)
# Every shape needs one of these in its line (the regexes below are the exact test): `{` objects, ` - ` Keras
# stats, `wandb:` summaries, `Epoch ` Keras epochs and LR, and case-blind `step`, `result]`, `summary`.
_NEEDLES = (b"{", b" - ", b"wandb:", b"Epoch ")
_NEEDLES_LOWER = (b"step", b"result]", b"summary")


def extract(text: str) -> list[Point]:
    """Every metric point in the log, in log order; `line` is 1-based in the (joined) text."""
    return list(points(io.StringIO(text)))


def extract_file(path: str | os.PathLike[str]) -> Iterator[Point]:
    """The points of a log file, read as a stream: linear time, memory bounded by the longest line."""
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        yield from points(f)


def points(f: TextIO) -> Iterator[Point]:
    """The points of an open log (plain text, or Kaggle's JSON log joined into its text)."""
    for p in _scan(_blocks(_texts(f))):
        if math.isfinite(p["value"]):  # JSON has no NaN; a NaN loss shows in the log
            yield p


def _texts(f: TextIO) -> Iterator[str]:
    """The log's text in pieces: the events' `data` for Kaggle's JSON log, else the file as it is."""
    head = f.read(BLOCK)
    while not head.lstrip()[1:].lstrip():  # read enough to tell the two kinds apart
        more = f.read(BLOCK)
        if not more:
            break
        head += more
    stripped = head.lstrip()
    if not (stripped.startswith("[") and stripped[1:].lstrip().startswith("{")):
        while head:
            yield head
            head = f.read(BLOCK)
        return
    rest = yield from _events(f, stripped[1:])
    if rest:  # not events after all, or cut short: what could not be decoded is read as text
        yield rest
        while chunk := f.read(BLOCK):
            yield chunk


def _events(f: TextIO, buf: str) -> Generator[str, None, str]:
    """Decode `{...}\n,{...}\n,...]` a block of events at a time; returns what it could not decode ('' at a clean
    end). A raw newline never falls inside a JSON string, so a block cut after one ends between two events."""
    decoder, eof = json.JSONDecoder(), False
    while True:
        buf = buf.lstrip(" \t\r\n,")
        if not eof and len(buf) < BLOCK:
            more = f.read(BLOCK)
            eof, buf = not more, buf + more
            continue
        if buf.startswith("]") or not buf:  # the end, or a log cut short after its last whole event
            return ""
        cut = len(buf) if eof else buf.rfind("\n") + 1
        text = _data_of(buf[:cut]) if cut else None
        if text is not None:
            yield text
            buf = buf[cut:]
            continue
        try:
            events = json.loads("[" + buf[:cut].rstrip(" \t\r\n,]") + "]") if cut else None
        except ValueError:
            events = None
        if events is None:  # no newline in the block, or not Kaggle's layout: one event at a time
            try:
                event, cut = decoder.raw_decode(buf)
                events = [event]
            except ValueError:
                if eof or len(buf) > MAX_EVENT:
                    return buf
                more = f.read(BLOCK)
                eof, buf = not more, buf + more
                continue
        try:
            text = "".join([e.get("data", "") for e in events])
        except AttributeError:  # an element that is not an event: this is no Kaggle log
            return buf
        except TypeError:  # a `data` that is not text
            text = "".join([str(e.get("data", "")) for e in events])
        yield text
        buf = buf[cut:]


def _data_of(chunk: str) -> str | None:
    """The joined `data` of a run of whole events in Kaggle's layout, decoded as one JSON string: the glue between
    events taken out, what is left is one string's escaped text. About 10x faster than decoding each event into a
    dict; None when the chunk is not exactly that layout (the caller then decodes the events one by one)."""
    first = _FIRST_EVENT.match(chunk)
    body = chunk.rstrip(" \t\r\n,]")
    if first is None or not body.endswith('"}'):
        return None
    try:
        text = json.loads('"' + _EVENT_GLUE.sub("", body[first.end() : -2]) + '"')
    except ValueError:  # another key, another order, or not JSON at all
        return None
    return text if isinstance(text, str) else None


def _blocks(texts: Iterable[str]) -> Iterator[list[str]]:
    """Lists of the lines `str.splitlines()` gives of the whole text, from its pieces; ANSI escapes removed."""
    pending = ""
    for text in texts:
        text = pending + text
        if "\x1b" in text:
            text = _ANSI.sub("", text)
        lines = text.splitlines()
        ends = text[-1:]
        # The last line may go on in the next piece (and a \r may be half of a \r\n): it waits for it.
        pending = ""
        if lines and ends == "\r":
            pending = lines.pop() + "\r"
        elif lines and ends not in _ENDINGS:
            pending = lines.pop()[:MAX_LINE]
        if lines:
            yield lines
    if pending:
        yield pending.splitlines()


def _candidates(lines: list[str]) -> list[int]:
    """The indices of the lines that hold a needle: a line with none is no shape's, whatever the state.
    bytes.find does the reading, so a log of mostly progress bars and chatter costs little more than reading it. The
    search runs on UTF-8, where lower() is ASCII's and costs a pass (no other letter lowers to a needle's)."""
    text = "\n".join(lines).encode("utf-8", "surrogatepass")  # a JSON log can hold lone surrogates
    starts: set[int] = set()
    for hay, needles in ((text, _NEEDLES), (text.lower(), _NEEDLES_LOWER)):
        for needle in needles:
            pos = hay.find(needle)
            while pos >= 0:
                starts.add(hay.rfind(b"\n", 0, pos) + 1)
                end = hay.find(b"\n", pos)
                pos = -1 if end < 0 else hay.find(needle, end + 1)
    found, line, prev = [], 0, 0
    for start in sorted(starts):
        line += text.count(b"\n", prev, start)
        prev = start
        found.append(line)
    return found


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


def _point(name: str, value: float, line: int, split: Any = None, epoch: Any = None, step: Any = None) -> Point:
    p: Point = {"name": name.strip(), "value": value}
    if split is not None:
        p["split"] = split
    if epoch is not None:
        p["epoch"] = epoch
    if step is not None:
        p["step"] = step
    p["line"] = line
    return p


def _scan(blocks: Iterator[list[str]]) -> Iterator[Point]:
    reader = _Reader()
    base, lines = 0, list[str]()  # lines[0] is line base + 1
    upcoming = next(blocks, None)
    while upcoming is not None:
        block, upcoming = upcoming, next(blocks, None)
        lines = lines + block if lines else block
        # A `{` near the end may open an object that goes on in the next block: those lines wait for it.
        stop = len(lines) if upcoming is None else max(0, len(lines) - LOOKAHEAD)
        for k in _candidates(lines[:stop]):
            yield from reader.line(lines, k, base + k + 1)
        base, lines = base + stop, lines[stop:]


class _Reader:
    """The state of a scan across lines: the Keras epoch, an open W&B summary, what an object has consumed."""

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.in_wandb_summary = False
        self.last = 0  # the number of the last line read as a shape (or inside an object)
        self.blind_until = 0  # no lookahead for a `{` up to this line: a window already read found no object

    def line(self, lines: list[str], k: int, n: int) -> Iterator[Point]:
        """The points of lines[k], line n of the log; only lines that hold a needle come here."""
        if n <= self.last:
            return  # inside an object already read
        if n != self.last + 1:  # a line of no shape came between: it closed any W&B summary
            self.in_wandb_summary = False
        self.last = n
        raw = lines[k]
        low = raw.lower()
        # shape 5: the W&B run summary, up to the first line that is not `wandb: name value`
        w = _WANDB.search(raw) if "wandb:" in raw else None
        if w:
            rest = raw[w.end() :].strip()
            if rest.lower().startswith("run summary"):
                self.in_wandb_summary = True
                return
            if self.in_wandb_summary:
                parts = rest.rsplit(None, 1)
                if not parts:  # a bare `wandb:` line closes the summary
                    self.in_wandb_summary = False
                    return
                value = _number(parts[1]) if len(parts) == 2 else None
                if value is not None:
                    yield _point(parts[0].rstrip(":"), value, n)
                return  # string entries (model names, paths) are labels
        elif "summary" in low and _RUN_SUMMARY.search(raw):
            self.in_wandb_summary = True
            return
        else:
            self.in_wandb_summary = False

        # shapes 3, 4, 6: a JSON or Python-literal object, on one line or pretty-printed over several
        brace = raw.find("{")
        if brace >= 0 and any(marker in raw[:brace] for marker in KR_MARKERS):
            return  # kr's own lines (the run marker, a cancel acknowledged) hold ids and times, not metrics
        if brace >= 0:
            head = raw[brace:].strip()
            if head == "{" and n > self.blind_until:
                body = _closing(lines, k, brace)
                obj = _literal("\n".join([raw[brace:], *body])) if body is not None else None
                if obj is not None and body is not None:
                    yield from _from_object(obj, n)
                    self.last = n + len(body)
                    return
                self.blind_until = n + LOOKAHEAD
            elif head.endswith("}"):
                obj = _literal(head)
                if obj is not None:
                    yield from _from_object(obj, n)
                    return

        # shape 1: Keras
        m = _KERAS_EPOCH.search(raw) if "Epoch " in raw else None
        if m:
            self.epoch = int(m.group(1))
            return
        m = _KERAS_STATS.search(raw) if " - " in raw else None
        if m and (m.group(1) is None or m.group(1) == m.group(2)):
            yield _point("epoch_seconds", float(m.group(3)), n, epoch=self.epoch)
            for name, value in _KERAS_PAIR.findall(m.group(4)):
                split = "validation" if name.startswith("val_") else "train"
                yield _point(name, float(value), n, split=split, epoch=self.epoch)
            return
        m = _KERAS_LR.search(raw) if "ReduceLROnPlateau" in raw else None
        if m:
            yield _point("lr", float(m.group(2)), n, epoch=int(m.group(1)))
            return

        # shape 2: [RESULT]: Split. Epoch: N, k: v ...   and   Split Step N, k: v ...
        m = _RESULT.search(raw) if "result]" in low else None
        if m:
            split = _SPLITS[m.group(1).lower()]
            pairs = [(k, v) for k, v in _PAIR.findall(m.group(2))]
            index = {k.lower(): v for k, v in pairs if k.lower() in ("epoch", "step")}
            for key, v in pairs:
                if key.lower() not in ("epoch", "step"):
                    yield _point(
                        key, float(v), n, split=split, epoch=_int(index.get("epoch")), step=_int(index.get("step"))
                    )
            return
        m = _STEP.search(raw) if _split_before_step(low) else None
        if m:
            split = _SPLITS[m.group(1).lower()]
            for key, v in _PAIR.findall(m.group(3)):
                yield _point(key, float(v), n, split=split, step=int(m.group(2)))


def _split_before_step(low: str) -> bool:
    """Whether a split's name comes right before a ` step` in the lowered line: the cheap half of _STEP, which lines
    like `accumulating at step 100` (many in a log) fail without the regex's slower scan."""
    pos = low.find(" step")
    while pos >= 0:
        if low.endswith(_SPLIT_WORDS, 0, pos):
            return True
        pos = low.find(" step", pos + 1)
    return False


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    value = float(text)
    return int(value) if value.is_integer() else None


def _closing(lines: list[str], start: int, column: int) -> list[str] | None:
    """The lines after lines[start], which opens a pretty-printed object at `column`, up to the one that closes it;
    None when LOOKAHEAD lines do not close it."""
    depth = lines[start][column:].count("{") - lines[start][column:].count("}")
    body = lines[start + 1 : start + 1 + LOOKAHEAD]
    for j, line in enumerate(body):
        depth += line.count("{") - line.count("}")
        if depth <= 0:
            return body[: j + 1]
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


def read_progress(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A pulled kr_progress.json (runtime/report.py), checked: None when it is not one (the kernel wrote it, so it
    may be anything). Its `metrics` keep only numbers."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.loads(f.read(1 << 20))
    except (OSError, ValueError):
        return None
    if not isinstance(obj, dict) or obj.get("kr_progress") != 1:
        return None
    if not all(isinstance(obj.get(k), int) and not isinstance(obj.get(k), bool) for k in ("epoch", "step")):
        return None
    metrics = obj.get("metrics")
    obj["metrics"] = {
        str(split): {str(k): v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        for split, values in (metrics.items() if isinstance(metrics, dict) else [])
        if isinstance(values, dict)
    }
    return obj


def from_progress(progress: dict[str, Any]) -> list[Point]:
    """The last values a kr_progress.json holds, as points (line 0: not from the log), for a run whose log is empty."""
    return [
        p
        for split, values in progress["metrics"].items()
        for p in _from_object(
            {MARKER: 1, "split": split, "epoch": progress["epoch"], "step": progress["step"], "metrics": values}, 0
        )
        if math.isfinite(p["value"])
    ]
