"""The ledger: SQLite at .kr/ledger.sqlite holding every run, its files and the uploaded bundles.
WAL, foreign keys, numbered migrations; every write is one transaction, so a crash leaves it consistent."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from kaggle_runner.errors import UserError

MIGRATIONS = [
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        kernel TEXT NOT NULL,            -- the kernel's name in kr.yaml
        ref TEXT NOT NULL,               -- owner/slug on Kaggle
        version INTEGER,                 -- NULL while the push is in flight (state 'pushing')
        state TEXT NOT NULL CHECK (state IN ('pushing', 'pushed', 'abandoned')),
        status TEXT,                     -- Kaggle's session status, last seen
        accelerator TEXT, machine_shape TEXT, message TEXT,
        git_commit TEXT, git_dirty INTEGER, config TEXT, bundles TEXT,
        failure TEXT,
        created REAL NOT NULL, finished REAL, pulled REAL,
        UNIQUE (ref, version)
    );
    CREATE TABLE files (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
        PRIMARY KEY (run_id, path)
    );
    CREATE TABLE bundles (
        slug TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
        manifest_sha256 TEXT NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL, created REAL NOT NULL,
        PRIMARY KEY (slug, version)
    );
    """,
]
FINAL = ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED")
REF_RE = re.compile(r"^(?:(?P<kernel>[A-Za-z0-9_.-]+):)?(?:v(?P<version>\d+)|(?P<latest>latest))$")


class LedgerError(UserError):
    pass


@dataclass
class Run:
    id: int
    kernel: str
    ref: str
    version: int | None
    state: str
    status: str | None
    accelerator: str | None
    machine_shape: str | None
    message: str | None
    git_commit: str | None
    git_dirty: bool
    config: dict[str, Any]
    bundles: dict[str, Any]
    failure: str | None
    created: float
    finished: float | None
    pulled: float | None

    @property
    def label(self) -> str:
        return f"v{self.version}" if self.version else f"(push #{self.id} in flight)"

    @property
    def owner_slug(self) -> tuple[str, str]:
        owner, _, slug = self.ref.partition("/")
        return owner, slug


class Ledger:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA foreign_keys=ON")
            # Switching to WAL needs an exclusive lock, and SQLite answers BUSY for it without waiting on the
            # busy timeout: two kr processes opening a new ledger at once must take turns, not fail.
            deadline = time.time() + 30
            while True:
                try:
                    self.db.execute("PRAGMA journal_mode=WAL")
                    self._migrate()
                    break
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) or time.time() > deadline:
                        raise
                    time.sleep(0.05)
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"{path}: not a usable ledger ({e}); move it aside and run the command again") from e

    def _migrate(self) -> None:
        with self.transaction():
            current = self.db.execute("PRAGMA user_version").fetchone()[0]
            if current > len(MIGRATIONS):
                raise LedgerError(f"the ledger's schema ({current}) is newer than this kr knows; upgrade kr")
            for n in range(current, len(MIGRATIONS)):
                # statement by statement: executescript would commit, and a half-migrated ledger must not exist
                for statement in MIGRATIONS[n].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={n + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")  # take the write lock up front: two kr processes queue, not fail
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- runs ------------------------------------------------------------------------------------
    def begin_push(self, kernel: str, ref: str, accelerator: str, machine_shape: str, message: str,
                   git_commit: str | None, git_dirty: bool, config: dict[str, Any], bundles: dict[str, Any]) -> int:
        """Record a push before SaveKernel is sent, so a crash in between can be reconciled."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (kernel, ref, state, accelerator, machine_shape, message, git_commit, git_dirty,"
                " config, bundles, created) VALUES (?, ?, 'pushing', ?, ?, ?, ?, ?, ?, ?, ?)",
                (kernel, ref, accelerator, machine_shape, message, git_commit, int(git_dirty),
                 json.dumps(config, sort_keys=True), json.dumps(bundles, sort_keys=True), time.time()))
            return int(cur.lastrowid)

    def finish_push(self, run_id: int, version: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET version = ?, state = 'pushed', status = 'QUEUED' WHERE id = ?", (version, run_id))

    def abandon_push(self, run_id: int, reason: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET state = 'abandoned', failure = ? WHERE id = ?", (reason, run_id))

    def pending_pushes(self) -> list[Run]:
        return [self._run(r) for r in self.db.execute("SELECT * FROM runs WHERE state = 'pushing' ORDER BY id")]

    def set_status(self, run_id: int, status: str, failure: str | None = None) -> None:
        with self.transaction() as db:
            finished = time.time() if status in FINAL else None
            db.execute("UPDATE runs SET status = ?, failure = COALESCE(?, failure),"
                       " finished = COALESCE(finished, ?) WHERE id = ?", (status, failure, finished, run_id))

    def record_files(self, run_id: int, files: list[tuple[str, str, int]]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM files WHERE run_id = ?", (run_id,))
            db.executemany("INSERT INTO files (run_id, path, sha256, size) VALUES (?, ?, ?, ?)",
                           [(run_id, p, h, s) for p, h, s in files])
            db.execute("UPDATE runs SET pulled = ? WHERE id = ?", (time.time(), run_id))

    def files(self, run_id: int) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT path, sha256, size FROM files WHERE run_id = ? ORDER BY path", (run_id,)))

    def runs(self) -> list[Run]:
        return [self._run(r) for r in self.db.execute("SELECT * FROM runs WHERE state = 'pushed' ORDER BY id")]

    def resolve(self, text: str, default_kernel: str) -> Run:
        """'v23' (default kernel), 'KERNEL:v23', 'latest' or 'KERNEL:latest' -> the run."""
        m = REF_RE.match(text.strip())
        if not m:
            raise LedgerError(f"'{text}' is not a version; use v23, KERNEL:v23 or latest")
        kernel = m.group("kernel") or default_kernel
        if m.group("latest"):
            row = self.db.execute("SELECT * FROM runs WHERE kernel = ? AND state = 'pushed' ORDER BY version DESC LIMIT 1",
                                  (kernel,)).fetchone()
        else:
            row = self.db.execute("SELECT * FROM runs WHERE kernel = ? AND version = ? AND state = 'pushed'",
                                  (kernel, int(m.group("version")))).fetchone()
        if row is None:
            known = [f"v{r[0]}" for r in self.db.execute(
                "SELECT version FROM runs WHERE kernel = ? AND state = 'pushed' ORDER BY version", (kernel,))]
            hint = f"known: {', '.join(known[-5:])}" if known else "nothing pushed yet; run `kr push`"
            raise LedgerError(f"no run {text} of kernel '{kernel}' in the ledger ({hint})")
        return self._run(row)

    def _run(self, r: sqlite3.Row) -> Run:
        return Run(r["id"], r["kernel"], r["ref"], r["version"], r["state"], r["status"], r["accelerator"],
                   r["machine_shape"], r["message"], r["git_commit"], bool(r["git_dirty"]),
                   json.loads(r["config"] or "{}"), json.loads(r["bundles"] or "{}"), r["failure"], r["created"],
                   r["finished"], r["pulled"])

    # -- bundles ---------------------------------------------------------------------------------
    def last_bundle(self, slug: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM bundles WHERE slug = ? ORDER BY version DESC LIMIT 1", (slug,)).fetchone()

    def record_bundle(self, slug: str, version: int, name: str, manifest_sha256: str, files: int, size: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO bundles VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (slug, version, name, manifest_sha256, files, size, time.time()))


def open_ledger(root: Path) -> Ledger:
    return Ledger(root / ".kr" / "ledger.sqlite")
