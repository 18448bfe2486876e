"""Jigsaw Multilingual Toxic Comment Classification on a TPU v3-8: XLM-R fine-tuned on all 8 cores.
English training comments with label smoothing and the 5 auxiliary toxicity targets; multilingual validation AUC."""

import csv
import os
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from kaggle_runner import runtime as rt

csv.field_size_limit(sys.maxsize)  # some comments are longer than csv's default field limit
INPUT = os.environ.get("KAGGLE_INPUT_DIR", "/kaggle/input")
DATA = rt.input_dir("jigsaw-multilingual-toxic-comment-classification", "competitions")
TARGETS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]  # main target first

# The settings; environment variables override them only for local tests of this file.
S = {
    "MAX_LEN": 192,
    "BATCH": 16,  # per core: 128 per step on 8 cores
    "EPOCHS": 2,
    "LR": 1e-5,  # per core, scaled by the number of cores (scale_lr=True)
    "SMOOTHING": 0.05,
    "AUX_WEIGHT": 0.2,  # "aux loss /5"
    "NEGATIVES_PER_POSITIVE": 3,  # the English set is ~9% toxic: keep every positive and 3 negatives for each
    "PROCESSES": 1,  # CPU processes only; on a TPU every core runs one
}
S.update({k: type(v)(os.environ[f"JIGSAW_{k}"]) for k, v in S.items() if f"JIGSAW_{k}" in os.environ})


def read(name):
    with open(os.path.join(DATA, name), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def model_dir():
    """The XLM-R checkpoint attached as a Kaggle model or dataset: the folder holding its config.json."""
    found = []
    for root, dirs, files in os.walk(INPUT):
        dirs[:] = [d for d in dirs if d != os.path.basename(DATA)]
        if "config.json" in files and any(f.endswith((".safetensors", ".bin")) for f in files):
            found.append(root)
    if not found:
        raise SystemExit(
            f"no model under {INPUT}: attach XLM-R as a Kaggle model (model_sources in kr.yaml) or dataset"
        )
    found.sort(key=lambda d: ("xlm" not in d.lower(), "large" not in d.lower(), d))
    return found[0]


def balanced(rows):
    positives = [r for r in rows if float(r["toxic"]) >= 0.5]
    negatives = [r for r in rows if float(r["toxic"]) < 0.5]
    keep = negatives[: S["NEGATIVES_PER_POSITIVE"] * len(positives)]
    return sorted(positives + keep, key=lambda r: r["id"])  # a fixed order: every core must see the same list


def encode(tokenizer, texts):
    # padded to MAX_LEN: one shape for every batch, so XLA compiles the graph once
    enc = tokenizer(texts, truncation=True, max_length=S["MAX_LEN"], padding="max_length", return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def tensors(proc, tokenizer):
    """Tokenised once by the main process and shared through the working folder; the others wait and load."""
    path = "encoded.pt"
    if proc.is_main:
        train = balanced(read("jigsaw-toxic-comment-train.csv"))
        valid, test = read("validation.csv"), read("test.csv")
        torch.save(
            {
                "train": {
                    **encode(tokenizer, [r["comment_text"] for r in train]),
                    "labels": torch.tensor([[float(r[t]) for t in TARGETS] for r in train]),
                },
                "valid": {
                    **encode(tokenizer, [r["comment_text"] for r in valid]),
                    "labels": torch.tensor([[float(r["toxic"])] for r in valid]),
                },  # main target only
                "test": encode(tokenizer, [r["content"] for r in test]),
                "test_ids": [r["id"] for r in test],
            },
            path,
        )
    proc.barrier()
    return torch.load(path)


def main(proc):
    where = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(where)
    data = tensors(proc, tokenizer)
    if proc.is_main:
        print(f"model {where}; {len(data['train']['labels'])} training rows on {proc.kind} x{proc.world}", flush=True)
    # a checkpoint fine-tuned elsewhere may carry a head of another size: it is replaced, not an error
    model = AutoModelForSequenceClassification.from_pretrained(
        where, num_labels=len(TARGETS), ignore_mismatched_sizes=True
    )
    rt.fit(
        model,
        rt.Columns(**data["train"]),
        rt.Columns(**data["valid"]),
        epochs=S["EPOCHS"],
        batch_size=S["BATCH"],
        lr=S["LR"],
        scale_lr=True,
        loss=rt.losses.SmoothBCE(S["SMOOTHING"], S["AUX_WEIGHT"]),
        metrics={"auc": rt.metrics.auc},
        checkpoint="xlmr.pt",
        proc=proc,
    )
    predictions = rt.predict(model, rt.Columns(**data["test"]), batch_size=S["BATCH"] * 2, proc=proc)[:, 0]
    if rt.write_submission("submission.csv", data["test_ids"], predictions, ["id", "toxic"], proc=proc):
        os.remove("encoded.pt")
        print("wrote submission.csv with", len(predictions), "rows")


if __name__ == "__main__":
    rt.launch(main, processes=S["PROCESSES"])
