"""Writes data/: a few hundred labelled sentences in three languages, the same bytes on every run.
Same input, same files: so an unchanged spec is not uploaded again."""

import csv
import os
import random

WORDS = {
    "en": ["good", "article", "thanks", "bad", "awful"],
    "es": ["bueno", "gracias", "malo", "horrible"],
    "fr": ["bon", "merci", "mauvais", "affreux"],
}
BAD = {"bad", "awful", "malo", "horrible", "mauvais", "affreux"}

rng = random.Random(0)
os.makedirs("data", exist_ok=True)
for split, n in (("train", 300), ("test", 100)):
    with open(os.path.join("data", f"{split}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "lang", "text", "label"])
        for i in range(n):
            lang = rng.choice(sorted(WORDS))
            words = [rng.choice(WORDS[lang]) for _ in range(rng.randint(3, 8))]
            w.writerow([f"{split}-{i:04d}", lang, " ".join(words), int(any(x in BAD for x in words))])
print("wrote data/train.csv and data/test.csv")
