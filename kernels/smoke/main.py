"""Smoke kernel: logistic regression on word counts for the emulator's tiny-toxic competition.
Dependency-free so it runs anywhere in seconds; writes submission.csv and prints per-epoch results."""

import csv
import math
import os
import random

INPUT = os.environ.get("KAGGLE_INPUT_DIR", "/kaggle/input")
DATA = os.path.join(INPUT, "tiny-toxic")


def read(name):
    with open(os.path.join(DATA, name), newline="") as f:
        return list(csv.DictReader(f))


def features(text, vocab):
    return [vocab[w] for w in set(text.split()) if w in vocab]


def auc(y, p):
    pos = [s for s, t in zip(p, y) if t == 1]
    neg = [s for s, t in zip(p, y) if t == 0]
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


train, test = read("train.csv"), read("test.csv")
random.Random(0).shuffle(train)
split = int(len(train) * 0.8)
fit_rows, val_rows = train[:split], train[split:]
vocab = {w: i for i, w in enumerate(sorted({w for r in train for w in r["comment_text"].split()}))}
LR = 0.5
weights, bias = [0.0] * len(vocab), 0.0


def predict(text):
    z = bias + sum(weights[i] for i in features(text, vocab))
    return 1 / (1 + math.exp(-z))


for epoch in range(5):
    loss = 0.0
    for r in fit_rows:
        y, p = int(r["toxic"]), predict(r["comment_text"])
        loss -= y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12)
        g = p - y
        for i in features(r["comment_text"], vocab):
            weights[i] -= LR * g
        bias -= LR * g
    val_p = [predict(r["comment_text"]) for r in val_rows]
    val_y = [int(r["toxic"]) for r in val_rows]
    print(f"[RESULT]: Train. Epoch: {epoch}, loss: {loss / len(fit_rows):.5f}")
    print(f"[RESULT]: Validation. Epoch: {epoch}, auc: {auc(val_y, val_p):.5f}")

with open("submission.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "toxic"])
    for r in test:
        w.writerow([r["id"], f"{predict(r['comment_text']):.6f}"])
print("wrote submission.csv with", len(test), "rows")
