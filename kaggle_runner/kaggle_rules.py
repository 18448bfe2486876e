"""Rules of Kaggle's that both `kr` and its emulator follow: the slug pattern, the final session states.
One definition each, so the client and the local Kaggle cannot drift apart."""

from __future__ import annotations

import re

# Kaggle's URL slugs for kernels and datasets: 3-50 lowercase letters, digits and hyphens (kaggle-api.md §2.3)
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
SLUG_RULE = "3-50 lowercase letters, digits and hyphens, starting and ending with a letter or digit"

# GetKernelSessionStatus states after which a session changes no more (kaggle-api.md §2.4)
FINAL_STATES = ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED")
