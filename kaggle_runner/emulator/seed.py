"""`kr emulator init DIR`: a ready state folder with one user (testuser) and two small competitions: tiny-toxic, and
tiny-toxic-code, the same synthetic text classification as a code competition (kernels re-run on a hidden test set)."""

from __future__ import annotations

import csv
import json
import random
import secrets
from pathlib import Path
from typing import Any

from kaggle_runner.emulator.store import DEFAULT_SETTINGS
from kaggle_runner.errors import UserError

COMPETITION = "tiny-toxic"
CODE_COMPETITION = "tiny-toxic-code"  # the same task as a code competition: kernels re-run on a hidden test set
PUBLIC_TEST_ROWS = 3  # what a code competition's kernels see of the test set outside a re-run, as on Kaggle
USERNAME = "testuser"
TOXIC = ["idiot", "stupid", "hate", "dumb", "moron", "awful", "loser", "trash", "pathetic", "disgusting"]
NEUTRAL = [
    "thanks",
    "article",
    "source",
    "edit",
    "page",
    "please",
    "agree",
    "history",
    "section",
    "good",
    "reference",
    "talk",
    "discussion",
    "update",
    "image",
    "link",
    "welcome",
    "question",
    "fact",
    "help",
]


class InitError(UserError):
    pass


def _comment(rng: random.Random, toxic: bool) -> str:
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(5, 12))]
    if toxic:  # one or two toxic words, so the task is learnable but not trivial
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randrange(len(words)), rng.choice(TOXIC))
    elif rng.random() < 0.1:
        words.insert(rng.randrange(len(words)), rng.choice(TOXIC))
    return " ".join(words)


def write_competition(
    root: Path, slug: str = COMPETITION, n_train: int = 400, n_test: int = 200, seed: int = 0, code: bool = False
) -> Path:
    """A competition folder; with `code`, data/ shows only a few test rows and hidden/ holds the whole test set
    that a code submission's re-run sees."""
    rng = random.Random(seed)
    comp = root / "competitions" / slug
    data = comp / "data"
    data.mkdir(parents=True, exist_ok=True)

    def rows(n: int, start: int) -> list[tuple[str, str, int]]:
        out = []
        for i in range(start, start + n):
            label = 1 if rng.random() < 0.3 else 0
            out.append((f"{i:06d}", _comment(rng, bool(label)), label))
        return out

    def write(path: Path, header: list[str], lines: Any) -> None:
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(lines)

    train, test = rows(n_train, 0), rows(n_test, n_train)
    folders = [(data, test[:PUBLIC_TEST_ROWS] if code else test)]
    if code:
        (comp / "hidden").mkdir(exist_ok=True)
        folders.append((comp / "hidden", test))
    for folder, shown in folders:
        write(folder / "train.csv", ["id", "comment_text", "toxic"], train)
        write(folder / "test.csv", ["id", "comment_text"], ((i, t) for i, t, _ in shown))
        write(folder / "sample_submission.csv", ["id", "toxic"], ((i, 0.5) for i, _, _ in shown))
    write(
        comp / "solution.csv",
        ["id", "toxic", "Usage"],
        ((i, y, "Public" if rng.random() < 0.5 else "Private") for i, _, y in test),
    )
    definition = {
        "slug": slug,
        "title": "Tiny Toxic Comments" + (" (code)" if code else ""),
        "metric": "auc",
        "idColumn": "id",
        "targetColumns": ["toxic"],
        "dailyLimit": 20,
        "description": "Synthetic toxic-comment classification made by `kr emulator init`.",
        "codeCompetition": code,
    }
    (comp / "competition.json").write_text(json.dumps(definition, indent=2) + "\n")
    return comp


def init_state(root: Path | str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create a state folder; returns the user's credentials. Refuses a folder that already holds one."""
    root = Path(root)
    if (root / "config.json").exists() or (root / "state.json").exists():
        raise InitError(f"{root} already holds an emulator state; choose an empty folder or delete it first")
    if root.exists() and not root.is_dir():
        raise InitError(f"{root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    creds = {"username": USERNAME, "key": secrets.token_hex(16)}
    config = {
        "users": [{**creds, "id": 1, "tokens": [f"KGAT_{secrets.token_hex(16)}"]}],
        "secret": secrets.token_hex(16),
        "settings": {**DEFAULT_SETTINGS, **(settings or {})},
    }
    (root / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (root / "config.json").chmod(0o600)  # holds the user's key
    kaggle_json = root / "kaggle.json"
    kaggle_json.write_text(json.dumps(creds) + "\n")
    kaggle_json.chmod(0o600)
    write_competition(root)
    write_competition(root, CODE_COMPETITION, code=True)
    return creds
