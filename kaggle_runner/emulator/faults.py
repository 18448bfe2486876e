"""Injected failures for tests and dry runs: 429 with Retry-After, 500/503, dropped connections, slow answers.
Rules are matched per route with fnmatch; a seeded generator makes a faulty run reproducible."""

from __future__ import annotations

import fnmatch
import json
import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaggle_runner.errors import UserError

KINDS = ("429", "500", "503", "reset", "reset_after", "slow")


@dataclass
class Rule:
    route: str = "*"  # e.g. "kernels.KernelsApiService/SaveKernel", "blobs/upload", "files", "*"
    fault: str = "500"  # one of KINDS; reset_after handles the request, then drops the answer
    rate: float = 1.0  # chance that a matching request gets the fault
    times: int | None = None  # at most this many injections (None: no limit)
    retry_after: float = 1.0  # seconds, for 429
    delay: float = 1.0  # seconds, for slow
    injected: int = 0


class FaultError(UserError):
    pass


def parse_rules(spec: Any) -> list[Rule]:
    """Rules from a list of dicts (as in a faults JSON file)."""
    if isinstance(spec, dict):
        spec = spec.get("rules", [])
    if not isinstance(spec, list):
        raise FaultError('faults: expected a list of rules or {"seed": N, "rules": [...]}')
    rules = []
    for i, item in enumerate(spec):
        if not isinstance(item, dict):
            raise FaultError(f"faults: rule {i} must be an object")
        unknown = set(item) - {"route", "fault", "rate", "times", "retry_after", "delay"}
        if unknown:
            raise FaultError(f"faults: rule {i} has unknown keys {sorted(unknown)}")
        rule = Rule(**item)
        if rule.fault not in KINDS:
            raise FaultError(f"faults: rule {i}: fault must be one of {', '.join(KINDS)}")
        if not 0 <= float(rule.rate) <= 1:
            raise FaultError(f"faults: rule {i}: rate must be between 0 and 1")
        rules.append(rule)
    return rules


class Faults:
    def __init__(self, rules: list[Rule] | None = None, seed: int = 0):
        self.rules = list(rules or [])
        self.random = random.Random(seed)
        self.lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path | str) -> Faults:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise FaultError(f"{path}: cannot read faults file ({e})") from e
        seed = data.get("seed", 0) if isinstance(data, dict) else 0
        return cls(parse_rules(data), seed=seed)

    def pick(self, route: str) -> Rule | None:
        """The fault to inject on this request, if any."""
        with self.lock:
            for rule in self.rules:
                if not fnmatch.fnmatchcase(route, rule.route):
                    continue
                if rule.times is not None and rule.injected >= rule.times:
                    continue
                if self.random.random() < rule.rate:
                    rule.injected += 1
                    return rule
        return None
