"""The kernels/ templates run as written: jigsaw_xlmr's CPU path with a tiny XLM-R-shaped model and data."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from pathlib import Path

from kaggle_runner.ledger import metrics

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
TOXIC, NEUTRAL = (
    ["idiot", "stupid", "hate", "dumb"],
    ["merci", "gracias", "thanks", "article", "page", "source", "edit"],
)


def comment(rng: random.Random, toxic: bool) -> str:
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(4, 9))]
    if toxic:
        words.insert(rng.randrange(len(words)), rng.choice(TOXIC))
    text = " ".join(words)
    return text.replace(" ", '\n"', 1) if rng.random() < 0.2 else text  # multi-line and quoted, as in the real files


def write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def tiny_xlmr(folder: Path) -> None:
    """An XLM-R-shaped model with a word-level tokenizer, saved the way a Kaggle model folder holds one."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaForMaskedLM

    vocab = {w: i for i, w in enumerate(["<s>", "<pad>", "</s>", "<unk>", *TOXIC, *NEUTRAL, '"'])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    ).save_pretrained(folder)
    config = XLMRobertaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=40,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    XLMRobertaForMaskedLM(config).save_pretrained(folder)  # as xlm-roberta-large is published: no classifier yet


def test_jigsaw_xlmr_cpu_path(tmp_path: Path) -> None:
    rng = random.Random(0)
    data = tmp_path / "input" / "competitions" / "jigsaw-multilingual-toxic-comment-classification"  # 2026 layout
    data.mkdir(parents=True)
    train = []
    for i in range(160):
        toxic = rng.random() < 0.3
        train.append(
            [f"e{i:05d}", comment(rng, toxic), int(toxic), *(int(toxic and rng.random() < 0.5) for _ in TARGETS[1:])]
        )
    write(data / "jigsaw-toxic-comment-train.csv", ["id", "comment_text", *TARGETS], train)
    valid = [[i, comment(rng, t := rng.random() < 0.3), rng.choice(["es", "fr", "tr"]), int(t)] for i in range(60)]
    write(data / "validation.csv", ["id", "comment_text", "lang", "toxic"], valid)
    test = [[i, comment(rng, rng.random() < 0.3), "es"] for i in range(37)]
    write(data / "test.csv", ["id", "content", "lang"], test)
    tiny_xlmr(tmp_path / "input" / "datasets" / "testuser" / "xlm-roberta-tiny")
    work = tmp_path / "working"
    work.mkdir()

    env = {
        **os.environ,
        "KAGGLE_INPUT_DIR": str(tmp_path / "input"),
        "JIGSAW_MAX_LEN": "16",
        "JIGSAW_EPOCHS": "2",
        "JIGSAW_LR": "5e-3",
        "JIGSAW_BATCH": "8",
        "JIGSAW_PROCESSES": "2",
    }
    r = subprocess.run(
        [sys.executable, str(ROOT / "kernels" / "jigsaw_xlmr" / "main.py")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, r.stderr
    assert "xlm-roberta-tiny; 160 training rows on cpu x2" in r.stdout  # 48 toxic + 112 others (3 per toxic > all)

    with open(work / "submission.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "toxic"] and [r[0] for r in rows[1:]] == [str(i) for i in range(37)]
    assert all(0 < float(r[1]) < 1 for r in rows[1:])
    outputs = sorted(p.name for p in work.iterdir())
    assert outputs == ["kr_progress.json", "submission.csv", "xlmr.pt"]  # the shared encoding is gone

    points = metrics.extract(r.stdout)
    auc = [p for p in points if p.get("split") == "validation" and p["name"] == "auc"]
    loss = [p for p in points if p.get("split") == "train" and p["name"] == "loss"]
    assert [p["epoch"] for p in auc] == [0, 1] and all(0 <= p["value"] <= 1 for p in auc)
    assert [p["epoch"] for p in loss] == [0, 1]


def test_jigsaw_xlmr_says_when_no_model_is_attached(tmp_path: Path) -> None:
    (tmp_path / "input" / "jigsaw-multilingual-toxic-comment-classification").mkdir(parents=True)
    r = subprocess.run(
        [sys.executable, str(ROOT / "kernels" / "jigsaw_xlmr" / "main.py")],
        cwd=tmp_path,
        env={**os.environ, "KAGGLE_INPUT_DIR": str(tmp_path / "input")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1].startswith("no model under ")
