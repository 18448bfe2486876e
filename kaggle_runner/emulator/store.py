"""The emulator's state on disk: settings, users and every kernel, dataset, blob and submission.
One JSON document rewritten atomically under a lock, so a restart (or a crash) finds it whole."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any

from kaggle_runner.errors import UserError

DEFAULT_SETTINGS: dict[str, Any] = {
    "dataset_ready_seconds": 1.0,  # a new dataset version passes through processing states for this long
    "scoring_seconds": 0.5,  # submissions stay PENDING at least this long
    "session_timeout_seconds": 43200,  # Kaggle: 12 h for CPU/GPU sessions
    "max_session_timeout_seconds": 43200,
    "max_sessions": {"cpu": 5, "gpu": 2, "tpu": 1},  # an owner's batch sessions per accelerator; more are refused
    "session_id_in_env": False,  # leniency: give kernels KAGGLE_KERNEL_SESSION_ID, so `kr cancel` can find them
    "refused_push_keeps_source": True,  # a push refused at the cap still replaces the kernel's source (a 2026 note)
    "queue_over_cap": False,  # leniency: queue pushes over the cap instead of refusing them as Kaggle does
    "input_layout": "2026",  # /kaggle/input/{competitions,datasets,notebooks}/...; "legacy": flat /kaggle/input/<slug>
    "max_blob_bytes": 100 * 2**30,
    "blob_ttl_seconds": 86400,  # an upload not used by then is dropped, finished or not (a guess: Kaggle's is unstated)
    "max_dataset_bytes": 200 * 2**30,  # unpacked size of one dataset version
    "gpu_quota_hours": 30,
    "tpu_quota_hours": 20,
    "daily_submissions": 5,
    "output_page_size": 20,
    "kernel_memory_bytes": 30 * 2**30,  # Kaggle's sessions: 29-30 GB of RAM (docs/kaggle-facts.md)
    "kernel_max_processes": 4096,  # processes and threads of one session
    "kernel_working_bytes": 20 * 2**30,  # /kaggle/working holds about 20 GB on Kaggle
    "kernel_scratch_bytes": 64 * 2**30,  # /tmp, /kaggle/temp and the home folder (Kaggle's is unstated: a guess)
    "file_url_seconds": 600,  # signed file URLs expire, as Kaggle's do (their lifetime is unstated: a guess)
}


INPUT_LAYOUTS = ("2026", "legacy")


class StateError(UserError):
    """The state folder cannot be used; the message names the file and the fix."""


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()
        self.lock = threading.RLock()
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("blobs", "datasets", "kernels", "competitions", "submissions"):
            (self.root / sub).mkdir(exist_ok=True)
        self.config = self._load_config()
        self.settings = {**DEFAULT_SETTINGS, **self.config.get("settings", {})}
        if self.settings["input_layout"] not in INPUT_LAYOUTS:
            raise StateError(
                f"{self.root / 'config.json'}: settings.input_layout must be one of {', '.join(INPUT_LAYOUTS)}"
            )
        self.state = self._load_state()
        self.session_tokens: dict[str, str] = {}  # a live session's API token -> its owner; never written to disk

    # -- loading ---------------------------------------------------------------------------------
    def _load_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise StateError(f"{path}: not valid JSON ({e}); fix it or run `kr emulator init` on a new folder") from e

    def _load_config(self) -> dict[str, Any]:
        path = self.root / "config.json"
        if not path.exists():
            cfg = {"users": [], "secret": secrets.token_hex(16)}
            _atomic_write(path, json.dumps(cfg, indent=2))
            return cfg
        cfg = self._load_json(path)
        if not isinstance(cfg, dict) or not isinstance(cfg.get("users", []), list):
            raise StateError(f"{path}: expected an object with a 'users' list")
        for i, u in enumerate(cfg.get("users", [])):
            if not isinstance(u, dict) or not isinstance(u.get("username"), str) or not isinstance(u.get("key"), str):
                raise StateError(f"{path}: users[{i}] needs string 'username' and 'key'")
        if "secret" not in cfg:
            cfg["secret"] = secrets.token_hex(16)
            _atomic_write(path, json.dumps(cfg, indent=2))
        return cfg

    def _load_state(self) -> dict[str, Any]:
        path = self.root / "state.json"
        fresh: dict[str, Any] = {
            "counters": {},
            "kernels": {},
            "datasets": {},
            "blobs": {},
            "submissions": {},
            "models": {},
        }
        if not path.exists():
            return fresh
        state = self._load_json(path)
        if not isinstance(state, dict):
            raise StateError(f"{path}: expected a JSON object")
        for key, value in fresh.items():
            state.setdefault(key, value)
        return state

    # -- writing ---------------------------------------------------------------------------------
    def save(self) -> None:
        with self.lock:
            _atomic_write(self.root / "state.json", json.dumps(self.state, indent=1, sort_keys=True))

    def next_id(self, name: str, start: int = 1) -> int:
        with self.lock:
            value = self.state["counters"].get(name, start - 1) + 1
            self.state["counters"][name] = value
            return value

    # -- users -----------------------------------------------------------------------------------
    def user_by_key(self, username: str, key: str) -> dict[str, Any] | None:
        for u in self.config.get("users", []):
            if u["username"] == username and secrets.compare_digest(u["key"], key):
                return u
        return None

    def user_by_token(self, token: str) -> dict[str, Any] | None:
        for u in self.config.get("users", []):
            for t in u.get("tokens", []):
                if isinstance(t, str) and secrets.compare_digest(t, token):
                    return u
        for t, owner in list(self.session_tokens.items()):
            if secrets.compare_digest(t, token):
                return next((u for u in self.config.get("users", []) if u["username"] == owner), None)
        return None

    @property
    def secret(self) -> str:
        return self.config["secret"]
