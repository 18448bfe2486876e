"""Metric extraction: every shape of docs/log-formats.md alone, with logging prefixes, mixed in one log, and inside
Kaggle's JSON log; plus `kr metrics FILE --json` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaggle_runner.ledger.metrics import extract, series

KERAS = """Train on 80000 samples, validate on 20000 samples
Epoch 1/12
 - 41s - loss: 0.2210 - F1: 0.3871 - val_loss: 0.1984 - val_F1: 0.4402
Epoch 2/12
 - 39s - loss: 0.1876 - F1: 0.4550 - val_loss: 0.1931 - val_F1: 0.4711

Epoch 00002: ReduceLROnPlateau reducing learning rate to 0.00030000001.
"""
KERAS_NEW = (
    "Epoch 3/12\n1/1250 [..............................] - ETA: 10s - loss: 0.9000\r"
    "1250/1250 [==============================] - 41s 33ms/step - loss: 0.2210 - val_loss: 0.1984\n"
)
RESULT = """[RESULT]: Train. Epoch: 0, loss: 0.61022, final_score: 0.91244, mc_score: 0.70113, time: 1980.11234
[RESULT]: Validation. Epoch: 0, loss: 0.66871, final_score: 0.90127, mc_score: 0.52019, time: 31.00412
Train Step 25, loss: 0.60311, final_score: 0.93002, time: 28.51230
[DEBUG]2026-03-02 10:36:46,579:utils:Train Step 1, loss: 0.95281, lr: 5e-06 final_score: 0.43590, mc_score: 0.17949, time: 21.57958
"""
STATS = """{
  "best_epoch": 3,
  "peak_gpu_0_memory_MB": 2048.5,
  "training_duration": "1:02:03.500000",
  "training_accuracy": 0.9712,
  "validation_accuracy": 0.8811,
  "best_validation_accuracy": 0.8904,
  "best_validation_loss": 0.3120
}
"""
EVAL = """{'prec': 0.9031, 'rec': 0.7112, 'f1': 0.7958, 'bacc': 0.8420}
{"testdic": {"prec": 0.91, "rec": 0.74, "f1": 0.816, "bacc": 0.86}, "devdic": {"prec": 0.70, "rec": 0.49, "f1": 0.577, "bacc": 0.73}, "desc": "mean pooling, 2 epochs"}
"""
WANDB = """wandb: Run history:
wandb:       Sentence Precision ▁▃▆█
wandb:
wandb: Run summary:
wandb:       Sentence Precision 0.59375
wandb:  Train Sentence F1 Score 0.61020
wandb:                      lr: 0.002
wandb:          train Totalloss 0.09210
wandb:               model_name bert-base
wandb:
wandb: Synced 5 W&B files
"""
KR_LINE = '{"kr_metric": 1, "split": "validation", "epoch": 1, "step": 120, "metrics": {"loss": 0.31, "auc": 0.93}}\n'


def _slim(points: list[dict]) -> list[tuple]:
    return [(p["name"], p["value"], p.get("split"), p.get("epoch"), p.get("step")) for p in points]


def test_keras_epochs_and_lr_changes() -> None:
    assert _slim(extract(KERAS)) == [
        ("epoch_seconds", 41.0, None, 1, None),
        ("loss", 0.221, "train", 1, None),
        ("F1", 0.3871, "train", 1, None),
        ("val_loss", 0.1984, "validation", 1, None),
        ("val_F1", 0.4402, "validation", 1, None),
        ("epoch_seconds", 39.0, None, 2, None),
        ("loss", 0.1876, "train", 2, None),
        ("F1", 0.455, "train", 2, None),
        ("val_loss", 0.1931, "validation", 2, None),
        ("val_F1", 0.4711, "validation", 2, None),
        ("lr", 0.00030000001, None, 2, None),
    ]


def test_keras_progress_bar_form_keeps_only_the_finished_bar() -> None:
    assert _slim(extract(KERAS_NEW)) == [
        ("epoch_seconds", 41.0, None, 3, None),
        ("loss", 0.221, "train", 3, None),
        ("val_loss", 0.1984, "validation", 3, None),
    ]


def test_result_and_step_lines_with_prefix_and_missing_comma() -> None:
    points = extract(RESULT)
    assert _slim(points)[:4] == [
        ("loss", 0.61022, "train", 0, None),
        ("final_score", 0.91244, "train", 0, None),
        ("mc_score", 0.70113, "train", 0, None),
        ("time", 1980.11234, "train", 0, None),
    ]
    assert ("final_score", 0.90127, "validation", 0, None) in _slim(points)
    assert ("loss", 0.60311, "train", None, 25) in _slim(points)
    debug = [p for p in points if p["line"] == 4]
    assert [(p["name"], p["value"]) for p in debug] == [
        ("loss", 0.95281),
        ("lr", 5e-06),
        ("final_score", 0.4359),
        ("mc_score", 0.17949),
        ("time", 21.57958),
    ]
    assert all(p["step"] == 1 and p["split"] == "train" for p in debug)
    assert series(points[4]) == "validation.loss"


def test_pretty_printed_json_stats_with_duration() -> None:
    got = {p["name"]: p["value"] for p in extract("some text before\n" + STATS)}
    assert got == {
        "best_epoch": 3.0,
        "peak_gpu_0_memory_MB": 2048.5,
        "training_duration": 3723.5,
        "training_accuracy": 0.9712,
        "validation_accuracy": 0.8811,
        "best_validation_accuracy": 0.8904,
        "best_validation_loss": 0.312,
    }
    assert {p["line"] for p in extract("some text before\n" + STATS)} == {2}
    one_line = json.dumps(json.loads(STATS))
    assert {p["name"]: p["value"] for p in extract(f"[INFO] stats: {one_line}\n")} == got


def test_eval_dicts_python_and_nested_json() -> None:
    points = extract(EVAL)
    assert _slim(points)[:4] == [
        ("prec", 0.9031, None, None, None),
        ("rec", 0.7112, None, None, None),
        ("f1", 0.7958, None, None, None),
        ("bacc", 0.842, None, None, None),
    ]
    nested = [(p["name"], p["split"], p["value"]) for p in points[4:]]
    assert nested[:4] == [
        ("testdic.prec", "testdic", 0.91),
        ("testdic.rec", "testdic", 0.74),
        ("testdic.f1", "testdic", 0.816),
        ("testdic.bacc", "testdic", 0.86),
    ]
    assert ("devdic.f1", "devdic", 0.577) in nested
    assert not any("desc" in p["name"] for p in points)  # a string field is a label
    twice = extract(EVAL + EVAL)
    assert [p["value"] for p in twice if p["name"] == "testdic.f1"] == [0.816, 0.816]  # repeated records kept in order


def test_wandb_summary_names_with_spaces() -> None:
    assert [(p["name"], p["value"]) for p in extract(WANDB)] == [
        ("Sentence Precision", 0.59375),
        ("Train Sentence F1 Score", 0.6102),
        ("lr", 0.002),
        ("train Totalloss", 0.0921),
    ]


def test_kr_structured_lines_are_exact() -> None:
    assert _slim(extract(KR_LINE)) == [("loss", 0.31, "validation", 1, 120), ("auc", 0.93, "validation", 1, 120)]
    assert extract('KR_RUN {"run": 3, "kernel": "main"}\n') == []  # kr's run marker is not a metric
    cancelled = 'KR_CANCELLED {"run": 14, "nonce": "0000", "by": "testuser", "at": 1796570000.5}\n'
    assert extract(cancelled) == [] and extract("2026-12-06 12:00:01 " + cancelled) == []  # nor its cancel line


def test_every_shape_mixed_in_one_log_and_in_kaggles_json_log() -> None:
    parts = [KERAS, KERAS_NEW, RESULT, STATS, EVAL, WANDB, KR_LINE]
    alone = [_slim(extract(p)) for p in parts]
    text = "booting\n" + "noise line: 12 apples\n".join(parts)
    mixed = _slim(extract(text))
    assert mixed == [p for points in alone for p in points]
    events = [
        {"stream_name": "stdout" if i % 2 else "stderr", "time": i * 0.1, "data": line}
        for i, line in enumerate(text.splitlines(keepends=True))
    ]
    assert _slim(extract(json.dumps(events))) == mixed
    assert [p["line"] for p in extract(json.dumps(events))] == [p["line"] for p in extract(text)]


def test_nan_values_and_plain_text_yield_nothing_to_break_json() -> None:
    assert extract("[RESULT]: Train. Epoch: 0, loss: nan, auc: 0.5\nhello world\n") == [
        {"name": "auc", "value": 0.5, "split": "train", "epoch": 0, "line": 1}
    ]


@pytest.mark.parametrize("as_json", [True, False])
def test_kr_metrics_command(tmp_path: Path, as_json: bool, make_kr) -> None:
    log = tmp_path / "run.log"
    log.write_text(RESULT + KR_LINE)
    kr = make_kr(tmp_path)
    r = kr("metrics", str(log), *(["--json"] if as_json else []))
    if as_json:
        points = json.loads(r.stdout)
        assert points[0] == {"name": "loss", "value": 0.61022, "split": "train", "epoch": 0, "line": 1}
        assert points[-1] == {"name": "auc", "value": 0.93, "split": "validation", "epoch": 1, "step": 120, "line": 5}
    else:
        assert "validation.final_score" in r.stdout and "0.90127" in r.stdout
    missing = kr("metrics", str(tmp_path / "nope.log"), check=None)
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1 and "nope.log" in missing.stderr
    run = kr("metrics", "v3", check=2)  # a run named where a file goes: pointed at the command that reads runs
    assert run.stderr == "kr: error: v3: no such file; for a run's metrics use `kr logs v3 --metrics`\n"


def test_wandb_summary_pasted_without_the_prefix_on_its_header() -> None:
    # seen in a real log: the header line had lost its `wandb:` (copied from a notebook's output cell)
    text = "Run summary:\nwandb:       Sentence Precision 0.59375\nwandb:                      lr: 0.002\nwandb:\n"
    assert [(p["name"], p["value"]) for p in extract(text)] == [("Sentence Precision", 0.59375), ("lr", 0.002)]
    assert extract("Run summary:\nnothing 1.0\n") == []  # the summary is only what follows with `wandb:`


def _mixed_events() -> tuple[str, list[dict]]:
    parts = [KERAS, KERAS_NEW, RESULT, STATS, EVAL, WANDB, KR_LINE]
    text = "booting\n" + "progress 45%|████▌ | 450/1000\rnoise line: 12 apples\n".join(parts)
    pieces = [text[i : i + 37] for i in range(0, len(text), 37)]  # events cut mid-line, as a pipe delivers them
    return text, [{"stream_name": "stdout", "time": i * 0.1, "data": p} for i, p in enumerate(pieces)]


@pytest.mark.parametrize("block", [3, 64, 1 << 20])
def test_a_log_file_is_read_as_a_stream_with_the_same_points(tmp_path: Path, monkeypatch, block: int) -> None:
    from kaggle_runner.ledger import metrics

    text, events = _mixed_events()
    expected = extract(text)
    monkeypatch.setattr(metrics, "BLOCK", block)  # blocks end mid-event, mid-line and inside pretty-printed objects
    kaggle_log = tmp_path / "kaggle.log"
    kaggle_log.write_text("[" + "\n,".join(json.dumps(e) for e in events) + "]")
    compact = tmp_path / "compact.log"  # as Kaggle (and the emulator) write it: the layout decoded in one go
    compact.write_text("[" + "\n,".join(json.dumps(e, separators=(",", ":")) for e in events) + "]")
    one_line = tmp_path / "one-line.log"
    one_line.write_text(json.dumps(events))
    plain = tmp_path / "plain.log"
    plain.write_text(text)
    for path in (kaggle_log, compact, one_line, plain):
        assert list(metrics.extract_file(path)) == expected, path.name


@pytest.mark.parametrize("seed", range(12))
def test_kaggles_layout_decoded_in_one_go_gives_what_each_event_decoded_gives(tmp_path: Path, seed: int) -> None:
    """The fast path (the glue between events taken out, the rest decoded as one JSON string) against decoding each
    event, on random logs: quotes, backslashes, escaped and raw non-ASCII, every line break splitlines() knows,
    lines cut across events, stderr among stdout, and some events in another layout."""
    import random

    from kaggle_runner.ledger import metrics

    rng = random.Random(seed)
    text, _ = _mixed_events()
    alphabet = ['"', "\\", "\\n", "é", "█", "\u2028", "\r", "\r\n", "\x0c", "\t", "}", "\n,{", "data"]
    mixed = "".join(c if rng.random() > 0.005 else rng.choice(alphabet) for c in text)
    pieces, i = [], 0
    while i < len(mixed):
        n = rng.randint(1, 60)
        pieces.append(mixed[i : i + n])
        i += n
    events = [
        {"stream_name": rng.choice(["stdout", "stdout", "stderr"]), "time": round(k * 0.013, 6), "data": d}
        for k, d in enumerate(pieces)
    ]
    ascii_ = rng.random() < 0.5

    def dump(e: dict) -> str:
        if rng.random() < 0.02:  # another layout now and then: that block is decoded event by event
            return json.dumps(e, ensure_ascii=ascii_)
        return json.dumps(e, separators=(",", ":"), ensure_ascii=ascii_)

    log = tmp_path / "kernel.log"
    log.write_text("[" + "\n,".join(dump(e) for e in events) + "]", encoding="utf-8")
    for block in (97, 4096, 1 << 20):
        metrics.BLOCK, fast = block, list(metrics.extract_file(log))
        saved, metrics._data_of = metrics._data_of, lambda chunk: None
        try:
            slow = list(metrics.extract_file(log))
        finally:
            metrics._data_of, metrics.BLOCK = saved, 1 << 20
        assert fast == slow == extract("".join(pieces)) and len(fast) > 10, (seed, block)


def test_a_log_cut_short_keeps_the_points_of_its_whole_events(tmp_path: Path) -> None:
    from kaggle_runner.ledger import metrics

    text, events = _mixed_events()
    whole = "[" + "\n,".join(json.dumps(e) for e in events) + "]"
    cut = tmp_path / "cut.log"
    cut.write_text(whole[: len(whole) * 2 // 3])  # the download stopped mid-event
    kept = len("".join(e["data"] for e in json.loads(whole[: whole.rfind("\n,", 0, len(whole) * 2 // 3)] + "]")))
    before = [p for p in extract(text[:kept]) if p["line"] < text[:kept].count("\n")]
    got = list(metrics.extract_file(cut))
    assert got[: len(before)] == before and len(before) > 5


def test_points_come_before_the_whole_log_is_read(monkeypatch) -> None:
    import io

    from kaggle_runner.ledger import metrics

    class Counting(io.StringIO):
        read_chars = 0

        def read(self, n: int = -1) -> str:
            out = super().read(n)
            Counting.read_chars += len(out)
            return out

    monkeypatch.setattr(metrics, "BLOCK", 1 << 16)
    body = "chatter\n" * 2_000_000 + "[RESULT]: Train. Epoch: 1, loss: 0.5\n"  # 16 MB of a line at a time
    log = Counting("[RESULT]: Validation. Epoch: 0, auc: 0.75\n" + body)
    points = metrics.points(log)
    assert next(points)["value"] == 0.75
    assert Counting.read_chars <= 3 * (1 << 16)  # a few blocks, not 16 MB
    assert [p["value"] for p in points] == [0.5]


def test_a_huge_log_shows_one_row_per_series(tmp_path: Path, make_kr) -> None:
    log = tmp_path / "long.log"
    log.write_text(
        "".join(f"[RESULT]: Validation. Epoch: {i}, loss: {1 / (i + 1):.6f}, auc: 0.5\n" for i in range(3000))
    )
    kr = make_kr(tmp_path)
    r = kr("metrics", str(log))
    assert "6000 points in 2 series" in r.stdout and "one row per series; --json lists every point" in r.stderr
    row = next(line for line in r.stdout.splitlines() if line.startswith("validation.loss"))
    assert [c.strip() for c in row.split("│")[1:6]] == ["3000", "1", "0.000333", "0.000333", "1"]
    whole = kr("metrics", str(log), "--json")
    assert len(json.loads(whole.stdout)) == 6000


def test_lone_surrogates_and_letters_that_lower_longer_do_not_hide_metric_lines(tmp_path: Path) -> None:
    from kaggle_runner.ledger import metrics

    # `\ud800` in Kaggle's JSON decodes to a lone surrogate; `İ` lowers to two characters
    data = [
        "bad byte \ud800 in a path\n",
        "İSTANBUL shard\n",
        "Train Step 3, loss: 0.25\n",
        "[RESULT]: Validation. auc: 0.5\n",
    ]
    log = tmp_path / "kernel.log"
    log.write_text("[" + "\n,".join(json.dumps({"stream_name": "stdout", "time": 1, "data": d}) for d in data) + "]")
    assert [(p["name"], p["value"], p["line"]) for p in metrics.extract_file(log)] == [
        ("loss", 0.25, 3),
        ("auc", 0.5, 4),
    ]
