"""Smoke kernel: a tiny BERT, built from a config in code (no download), fine-tuned on the emulator's tiny-toxic.
It runs through kaggle_runner.runtime in seconds on a CPU: metric lines each epoch, then one submission.csv."""

import csv
import os
import time

import torch

from kaggle_runner import runtime as rt

DATA = rt.input_dir("tiny-toxic", "competitions")  # /kaggle/input/competitions/tiny-toxic, or the flat layout's
LR = 1e-2
EPOCHS = int(rt.params(epochs=1)["epochs"])  # `kr push --set epochs=3`
MAX_LEN = 24
PROCESSES = int(os.environ.get("SMOKE_PROCESSES", "1"))  # CPU processes; a GPU or TPU run uses every device


def read(name):
    with open(os.path.join(DATA, name), newline="") as f:
        return list(csv.DictReader(f))


def encode(texts, vocab):
    """Word-level ids: [CLS] + words, padded; the vocabulary is the training set's words."""
    ids = torch.zeros(len(texts), MAX_LEN, dtype=torch.long)
    for i, text in enumerate(texts):
        row = [vocab["[CLS]"]] + [vocab.get(w, vocab["[UNK]"]) for w in text.split()][: MAX_LEN - 1]
        ids[i, : len(row)] = torch.tensor(row)
    return {"input_ids": ids, "attention_mask": (ids != 0).long()}


def main(proc):
    train, test = read("train.csv"), read("test.csv")
    split = int(len(train) * 0.8)  # the files are in random order already: the last fifth validates
    words = sorted({w for r in train for w in r["comment_text"].split()})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", *words])}
    labels = torch.tensor([float(r["toxic"]) for r in train])
    x = encode([r["comment_text"] for r in train], vocab)
    fit_rows = rt.Columns(**{k: v[:split] for k, v in x.items()}, labels=labels[:split])
    val_rows = rt.Columns(**{k: v[split:] for k, v in x.items()}, labels=labels[split:])
    test_rows = rt.Columns(**encode([r["comment_text"] for r in test], vocab))

    torch.manual_seed(0)
    model = rt.tiny_bert(len(vocab), MAX_LEN)
    started = time.time()
    rt.fit(
        model,
        fit_rows,
        val_rows,
        epochs=EPOCHS,
        batch_size=16,
        lr=LR,
        warmup=0.0,
        metrics={"auc": rt.metrics.auc},
        proc=proc,
    )
    if proc.is_main:
        per_second = len(fit_rows) * EPOCHS / (time.time() - started)
        print(f"trained on {proc.kind} x{proc.world}: {per_second:.0f} samples/s (training and validation)")
    predictions = rt.predict(model, test_rows, proc=proc)
    if rt.write_submission("submission.csv", [r["id"] for r in test], predictions, ["id", "toxic"], proc=proc):
        print("wrote submission.csv with", len(test), "rows")


if __name__ == "__main__":
    rt.launch(main, processes=PROCESSES)
