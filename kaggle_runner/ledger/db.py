"""The ledger: SQLite at .kr/ledger.sqlite holding every run, its files and the uploaded bundles.
WAL, foreign keys, numbered migrations; every write is one transaction, so a crash leaves it consistent."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaggle_runner import layout
from kaggle_runner.errors import UserError
from kaggle_runner.kaggle.rules import FINAL_STATES
from kaggle_runner.ledger.addresses import MERGE_RE, REF_RE, SWEEP_RE

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
    """
    CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,            -- order in the log
        name TEXT NOT NULL, split TEXT, epoch INTEGER, step INTEGER, value REAL NOT NULL, line INTEGER,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE merges (
        id INTEGER PRIMARY KEY,          -- shown as mK
        method TEXT NOT NULL, weights TEXT, power REAL, id_column TEXT NOT NULL,
        inputs TEXT NOT NULL,            -- JSON: [{"source", "path", "sha256"}]
        output TEXT NOT NULL, output_sha256 TEXT NOT NULL, rows INTEGER NOT NULL,
        correlation TEXT, created REAL NOT NULL
    );
    CREATE TABLE submissions (
        competition TEXT NOT NULL, ref INTEGER NOT NULL,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        merge_id INTEGER REFERENCES merges(id) ON DELETE SET NULL,
        file_name TEXT, file_sha256 TEXT, description TEXT, date TEXT,
        status TEXT, public_score TEXT, private_score TEXT, error TEXT,   -- scores as Kaggle prints them
        PRIMARY KEY (competition, ref)
    );
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
        merge_id INTEGER REFERENCES merges(id) ON DELETE CASCADE,
        text TEXT NOT NULL, created REAL NOT NULL
    );
    """,
    # skipped: JSON [{"name", "why"}], the outputs a pull could not bring back (an SQL comment here would end up
    # inside the table's stored definition and break it)
    "ALTER TABLE runs ADD COLUMN skipped TEXT",
    # ended_by: who ended a run before it finished, and how ("testuser: cancelled on request (kr cancel)")
    "ALTER TABLE runs ADD COLUMN ended_by TEXT",
    # params: JSON {name: value}, the run's resolved parameters; a sweep's runs name it and their point in its grid
    """
    ALTER TABLE runs ADD COLUMN params TEXT;
    ALTER TABLE runs ADD COLUMN sweep_id INTEGER REFERENCES sweeps(id);
    ALTER TABLE runs ADD COLUMN sweep_point INTEGER;
    CREATE TABLE sweeps (
        id INTEGER PRIMARY KEY,
        kernel TEXT NOT NULL, accelerator TEXT, message TEXT,
        axes TEXT NOT NULL, points TEXT NOT NULL,
        max_parallel INTEGER, created REAL NOT NULL
    )
    """,
    # meta.uid names this ledger on a team's tracking server; team_sync maps each run and merge to its MLflow run
    # there (server: URI and experiment) and what of it has been sent, so that a sync is idempotent
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('uid', lower(hex(randomblob(8))));
    CREATE TABLE team_sync (
        kind TEXT NOT NULL CHECK (kind IN ('run', 'merge')), item_id INTEGER NOT NULL, server TEXT NOT NULL,
        mlflow_run_id TEXT NOT NULL, sent TEXT NOT NULL, fingerprint TEXT,
        PRIMARY KEY (kind, item_id, server)
    )
    """,
    "ALTER TABLE runs ADD COLUMN progress TEXT",  # the run's kr_progress.json as pulled (runtime/report.py)
    "ALTER TABLE runs ADD COLUMN sources TEXT",  # the version of each kernel source the run reads, found at push
    "ALTER TABLE runs ADD COLUMN seconds REAL",  # how long its session ran, from its log's last event
    "ALTER TABLE runs ADD COLUMN code BLOB",  # the source as pushed, without the bootstrap: zlib of {path: text}
    # submitted_by: the team member who made it (Kaggle's submittedBy); path: where its file is kept, for a teammate's
    "ALTER TABLE submissions ADD COLUMN submitted_by TEXT; ALTER TABLE submissions ADD COLUMN path TEXT",
    # a run's outputs published as a Kaggle Model instance version (kr model publish): ref is
    # owner/model/framework/variation; manifest the sha256 over the files (JSON [{"name", "sha256", "size"}])
    """
    CREATE TABLE model_versions (
        ref TEXT NOT NULL, version INTEGER NOT NULL,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        manifest TEXT NOT NULL, files TEXT NOT NULL, created REAL NOT NULL,
        PRIMARY KEY (ref, version)
    )
    """,
]


def label(item: Run | Merge, default_kernel: str) -> str:
    """How a run or merge is named to the user: v23 (default kernel), KERNEL:v23, m3."""
    if isinstance(item, Merge) or item.kernel == default_kernel:
        return item.label
    return f"{item.kernel}:{item.label}"


class LedgerError(UserError):
    """The ledger cannot answer: an unknown version or merge, or a ledger file that is not usable."""


@dataclass
class Run:
    """One push as the ledger records it: the kernel version, its state on Kaggle, and what it ran with."""

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
    skipped: list[dict[str, str]] = field(default_factory=list)
    ended_by: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    sweep_id: int | None = None
    sweep_point: int | None = None
    progress: dict[str, Any] | None = None  # how far it got (kr_progress.json), when the runtime wrote one
    sources: list[dict[str, Any]] = field(default_factory=list)  # kernel versions it reads: ref, version, label
    seconds: float | None = None  # the session's own length, where its log tells it (never push-to-look time)

    @property
    def label(self) -> str:
        """v23, or the push in flight when it has no version yet."""
        return f"v{self.version}" if self.version else f"(push #{self.id} in flight)"

    @property
    def number(self) -> int:
        """The kernel version Kaggle gave this run; a push still in flight has none yet."""
        if self.version is None:
            raise LedgerError(f"{self.kernel} push #{self.id} is still in flight; it has no version on Kaggle yet")
        return self.version

    @property
    def owner_slug(self) -> tuple[str, str]:
        """(owner, slug) of the kernel on Kaggle."""
        owner, _, slug = self.ref.partition("/")
        return owner, slug


@dataclass
class Merge:
    """One recorded merge mK: its method, inputs with their sha256, output and correlation."""

    id: int
    method: str
    weights: list[float] | None
    power: float | None
    id_column: str
    inputs: list[dict[str, Any]]
    output: str
    output_sha256: str
    rows: int
    correlation: dict[str, Any]
    created: float

    @property
    def label(self) -> str:
        """mK."""
        return f"m{self.id}"


class Ledger:
    """The project's SQLite record of runs, metrics, merges, scores, notes, bundles and team links."""

    def __init__(self, path: Path, root: Path | None = None):
        self.root = root or path.parent  # the project's folder, for the locks kept beside the ledger (bundles.py)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _create(path)
        elif path.stat().st_size == 0:
            # kr never leaves an empty ledger (it builds a new one aside), and SQLite would take this one for a
            # new ledger: every recorded run would seem gone
            raise LedgerError(
                f"{path}: the ledger file is empty (0 bytes), as after a full disk or a bad copy; "
                "restore it from a backup, or move it aside to start a new one"
            )
        self._open(path)

    def _open(self, path: Path) -> None:
        try:
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA foreign_keys=ON")
            # Switching to WAL needs an exclusive lock, and SQLite answers BUSY for it without waiting on the
            # busy timeout: two kr processes opening a ledger at once must take turns, not fail.
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
            self._changes_at_open = self.db.total_changes
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"{path}: not a usable ledger ({e}); move it aside and run the command again") from e

    @property
    def changed(self) -> bool:
        """Whether this process wrote to the ledger since opening it (the team's server then hears of it)."""
        return self.db.total_changes > self._changes_at_open

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
        """A write transaction holding the write lock from the start; rolled back on any error."""
        self.db.execute("BEGIN IMMEDIATE")  # take the write lock up front: two kr processes queue, not fail
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    # -- runs ------------------------------------------------------------------------------------
    def begin_push(
        self,
        kernel: str,
        ref: str,
        accelerator: str,
        machine_shape: str,
        message: str,
        git_commit: str | None,
        git_dirty: bool,
        config: dict[str, Any],
        bundles: dict[str, Any],
        params: dict[str, Any] | None = None,
        sweep: tuple[int, int] | None = None,
        sources: list[dict[str, Any]] | None = None,
    ) -> int:
        """Record a push before SaveKernel is sent, so a crash in between can be reconciled. `sweep` is
        (sweep id, point index) for a run of `kr sweep`; `sources` the kernel versions it reads (pushing.py)."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (kernel, ref, state, accelerator, machine_shape, message, git_commit, git_dirty,"
                " config, bundles, created, params, sweep_id, sweep_point, sources)"
                " VALUES (?, ?, 'pushing', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kernel,
                    ref,
                    accelerator,
                    machine_shape,
                    message,
                    git_commit,
                    int(git_dirty),
                    json.dumps(config, sort_keys=True),
                    json.dumps(bundles, sort_keys=True),
                    time.time(),
                    json.dumps(params or {}, sort_keys=True),
                    *(sweep or (None, None)),
                    json.dumps(sources) if sources else None,
                ),
            )
            return _id(cur)

    def finish_push(self, run_id: int, version: int) -> None:
        """The push landed as that version: the run is pushed and QUEUED."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET version = ?, state = 'pushed', status = 'QUEUED' WHERE id = ?", (version, run_id)
            )

    def abandon_push(self, run_id: int, reason: str, status: str | None = None) -> None:
        """A push that made no version: kept with its reason (status REFUSED where Kaggle refused it)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET state = 'abandoned', failure = ?, status = ? WHERE id = ?", (reason, status, run_id)
            )

    def record_end(self, run_id: int, ended_by: str) -> None:
        """Who ended a run before it finished, and how; the first record stands."""
        with self.transaction() as db:
            db.execute("UPDATE runs SET ended_by = ? WHERE id = ? AND ended_by IS NULL", (ended_by, run_id))

    def refused(self, run_id: int) -> bool:
        """Whether Kaggle refused that run's push (abandon_push with status REFUSED): no version carries it."""
        row = self.db.execute("SELECT status FROM runs WHERE id = ? AND state = 'abandoned'", (run_id,)).fetchone()
        return row is not None and row[0] == "REFUSED"

    def pending_pushes(self) -> list[Run]:
        """Runs whose push was cut off before kr knew its version (loop/recovery settles them)."""
        return [self._run(r) for r in self.db.execute("SELECT * FROM runs WHERE state = 'pushing' ORDER BY id")]

    def set_status(self, run_id: int, status: str, failure: str | None = None) -> None:
        """Record the session status (and the failure message); a final status also records when it ended."""
        with self.transaction() as db:
            finished = time.time() if status in FINAL_STATES else None
            # a status asked again and unchanged writes nothing: the team's server hears only of what changed
            db.execute(
                "UPDATE runs SET status = ?, failure = COALESCE(?, failure), finished = COALESCE(finished, ?)"
                " WHERE id = ? AND (status IS NOT ? OR failure IS NOT COALESCE(?, failure)"
                " OR (finished IS NULL AND ? IS NOT NULL))",
                (status, failure, finished, run_id, status, failure, finished),
            )

    def keep_source(self, run_id: int, files: dict[str, str]) -> None:
        """The run's source as it went up ({path from the project root: text}), compressed: `kr diff` reads it."""
        blob = zlib.compress(json.dumps(files, sort_keys=True).encode(), 9)
        with self.transaction() as db:
            db.execute("UPDATE runs SET code = ? WHERE id = ?", (blob, run_id))

    def source(self, run_id: int) -> dict[str, str] | None:
        """The source a run was pushed with; None for a run pushed before kr kept sources."""
        row = self.db.execute("SELECT code FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        files: dict[str, str] = json.loads(zlib.decompress(row[0]))
        return files

    def record_files(
        self, run_id: int, files: list[tuple[str, str, int]], skipped: list[dict[str, str]] | None = None
    ) -> None:
        """The pulled outputs (path, sha256, size), and those the pull had to leave behind."""
        with self.transaction() as db:
            db.execute("DELETE FROM files WHERE run_id = ?", (run_id,))
            db.executemany(
                "INSERT INTO files (run_id, path, sha256, size) VALUES (?, ?, ?, ?)",
                [(run_id, p, h, s) for p, h, s in files],
            )
            db.execute(
                "UPDATE runs SET pulled = ?, skipped = ? WHERE id = ?",
                (time.time(), json.dumps(skipped) if skipped else None, run_id),
            )

    def files(self, run_id: int) -> list[sqlite3.Row]:
        """The pulled outputs of a run: path, sha256, size."""
        return list(self.db.execute("SELECT path, sha256, size FROM files WHERE run_id = ? ORDER BY path", (run_id,)))

    def runs(self) -> list[Run]:
        """Every pushed run, oldest first."""
        return [self._run(r) for r in self.db.execute("SELECT * FROM runs WHERE state = 'pushed' ORDER BY id")]

    def resolve(self, text: str, default_kernel: str) -> Run:
        """'v23' (default kernel), 'KERNEL:v23', 'latest' or 'KERNEL:latest' -> the run."""
        m = REF_RE.match(text.strip())
        if not m:
            raise LedgerError(f"'{text}' is not a version; use v23, KERNEL:v23 or latest")
        kernel = m.group("kernel") or default_kernel
        if m.group("latest"):
            row = self.db.execute(
                "SELECT * FROM runs WHERE kernel = ? AND state = 'pushed' ORDER BY version DESC LIMIT 1", (kernel,)
            ).fetchone()
        else:
            row = self.db.execute(
                "SELECT * FROM runs WHERE kernel = ? AND version = ? AND state = 'pushed'",
                (kernel, int(m.group("version"))),
            ).fetchone()
        if row is None:
            known = [
                f"v{r[0]}"
                for r in self.db.execute(
                    "SELECT version FROM runs WHERE kernel = ? AND state = 'pushed' ORDER BY version", (kernel,)
                )
            ]
            hint = f"known: {', '.join(known[-5:])}" if known else "nothing pushed yet; run `kr push`"
            raise LedgerError(f"no run {text} of kernel '{kernel}' in the ledger ({hint})")
        return self._run(row)

    def _run(self, r: sqlite3.Row) -> Run:
        return Run(
            r["id"],
            r["kernel"],
            r["ref"],
            r["version"],
            r["state"],
            r["status"],
            r["accelerator"],
            r["machine_shape"],
            r["message"],
            r["git_commit"],
            bool(r["git_dirty"]),
            json.loads(r["config"] or "{}"),
            json.loads(r["bundles"] or "{}"),
            r["failure"],
            r["created"],
            r["finished"],
            r["pulled"],
            json.loads(r["skipped"] or "[]"),
            r["ended_by"],
            json.loads(r["params"] or "{}"),
            r["sweep_id"],
            r["sweep_point"],
            json.loads(r["progress"]) if r["progress"] else None,
            json.loads(r["sources"] or "[]"),
            r["seconds"],
        )

    def run_by_id(self, run_id: int) -> Run:
        """The run with that ledger id."""
        return self._run(self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())

    def previous_run(self, run: Run) -> Run | None:
        """The same kernel's run before this one, if any."""
        row = self.db.execute(
            "SELECT * FROM runs WHERE kernel = ? AND state = 'pushed' AND version < ? ORDER BY version DESC LIMIT 1",
            (run.kernel, run.version),
        ).fetchone()
        return self._run(row) if row else None

    def resolve_any(self, text: str, default_kernel: str) -> Run | Merge:
        """A run (v23, KERNEL:v23, latest) or a merge (m3)."""
        m = MERGE_RE.match(text.strip())
        if m:
            return self.merge(int(m.group("id")))
        return self.resolve(text, default_kernel)

    # -- sweeps ----------------------------------------------------------------------------------
    def create_sweep(
        self,
        kernel: str,
        accelerator: str | None,
        message: str,
        axes: dict[str, list[Any]],
        points: list[dict[str, Any]],
        max_parallel: int | None,
    ) -> int:
        """Record a sweep (its axes and points) and return its id."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO sweeps (kernel, accelerator, message, axes, points, max_parallel, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kernel, accelerator, message, json.dumps(axes), json.dumps(points), max_parallel, time.time()),
            )
            return _id(cur)

    def latest_sweep(self) -> int | None:
        """The id of the newest sweep (None: no sweep yet)."""
        return self.db.execute("SELECT max(id) FROM sweeps").fetchone()[0]

    def sweep(self, text: str) -> dict[str, Any]:
        """'s3' -> the sweep: {id, label, kernel, accelerator, message, axes, points, max_parallel, created}."""
        m = SWEEP_RE.match(text.strip())
        row = self.db.execute("SELECT * FROM sweeps WHERE id = ?", (int(m.group("id")),)).fetchone() if m else None
        if row is None:
            known = ", ".join(f"s{r['id']}" for r in self.db.execute("SELECT id FROM sweeps ORDER BY id")) or "none"
            raise LedgerError(f"'{text}' is not a sweep (sweeps: {known})")
        out = dict(row)
        out.update(label=f"s{row['id']}", axes=json.loads(row["axes"]), points=json.loads(row["points"]))
        return out

    def sweep_runs(self, sweep_id: int) -> list[Run]:
        """The sweep's pushed runs, by point."""
        rows = self.db.execute(
            "SELECT * FROM runs WHERE sweep_id = ? AND state = 'pushed' ORDER BY sweep_point, id", (sweep_id,)
        )
        return [self._run(r) for r in rows]

    # -- metrics ---------------------------------------------------------------------------------
    def record_seconds(self, run_id: int, seconds: float | None) -> None:
        """How long the run's session ran, from its log (None: the log does not tell)."""
        if seconds is not None:
            with self.transaction() as db:
                db.execute("UPDATE runs SET seconds = ? WHERE id = ?", (seconds, run_id))

    def record_progress(self, run_id: int, progress: dict[str, Any] | None) -> None:
        """How far the run got, from its kr_progress.json (None: it wrote none)."""
        with self.transaction() as db:
            value = json.dumps(progress) if progress is not None else None
            db.execute("UPDATE runs SET progress = ? WHERE id = ?", (value, run_id))

    def record_metrics(self, run_id: int, points: Iterable[dict[str, Any]]) -> None:
        """Replace the run's metric points with these (in log order)."""
        with self.transaction() as db:
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            db.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (run_id, i, p["name"], p.get("split"), p.get("epoch"), p.get("step"), p["value"], p.get("line"))
                    for i, p in enumerate(points)
                ),
            )

    def metrics(self, run_id: int) -> list[dict[str, Any]]:
        """The run's metric points in log order, without empty fields."""
        rows = self.db.execute(
            "SELECT name, split, epoch, step, value, line FROM metrics WHERE run_id = ? ORDER BY seq", (run_id,)
        )
        return [{k: r[k] for k in r.keys() if r[k] is not None} for r in rows]

    # -- merges ----------------------------------------------------------------------------------
    def add_merge(
        self,
        method: str,
        weights: list[float] | None,
        power: float | None,
        id_column: str,
        inputs: list[dict[str, Any]],
        output: str,
        output_sha256: str,
        rows: int,
        correlation: dict[str, Any],
    ) -> int:
        """Record a merge and return its id."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO merges (method, weights, power, id_column, inputs, output, output_sha256, rows,"
                " correlation, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    method,
                    json.dumps(weights) if weights else None,
                    power,
                    id_column,
                    json.dumps(inputs),
                    output,
                    output_sha256,
                    rows,
                    json.dumps(correlation),
                    time.time(),
                ),
            )
            return _id(cur)

    def set_merge_output(self, merge_id: int, output: str) -> None:
        """Where the merge's file was written."""
        with self.transaction() as db:
            db.execute("UPDATE merges SET output = ? WHERE id = ?", (output, merge_id))

    def merge(self, merge_id: int) -> Merge:
        """Merge mK; refuses an unknown id, naming the known ones."""
        row = self.db.execute("SELECT * FROM merges WHERE id = ?", (merge_id,)).fetchone()
        if row is None:
            known = [f"m{r[0]}" for r in self.db.execute("SELECT id FROM merges ORDER BY id")]
            hint = f"known: {', '.join(known[-5:])}" if known else "no merges yet; run `kr merge`"
            raise LedgerError(f"no merge m{merge_id} in the ledger ({hint})")
        return self._merge(row)

    def merges(self) -> list[Merge]:
        """Every recorded merge, oldest first."""
        return [self._merge(r) for r in self.db.execute("SELECT * FROM merges ORDER BY id")]

    def _merge(self, r: sqlite3.Row) -> Merge:
        return Merge(
            r["id"],
            r["method"],
            json.loads(r["weights"]) if r["weights"] else None,
            r["power"],
            r["id_column"],
            json.loads(r["inputs"]),
            r["output"],
            r["output_sha256"],
            r["rows"],
            json.loads(r["correlation"] or "{}"),
            r["created"],
        )

    # -- submissions -----------------------------------------------------------------------------
    def record_submission(self, competition: str, ref: int, **fields: Any) -> None:
        """Insert or update by (competition, ref); fields left out keep what is recorded."""
        cols = (
            "run_id",
            "merge_id",
            "file_name",
            "file_sha256",
            "description",
            "date",
            "status",
            "public_score",
            "private_score",
            "error",
            "submitted_by",
            "path",
        )
        unknown = set(fields) - set(cols)
        if unknown:
            raise ValueError(f"unknown submission fields {unknown}")
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO submissions (competition, ref) VALUES (?, ?)", (competition, ref))
            if fields:
                db.execute(
                    f"UPDATE submissions SET {', '.join(f'{k} = ?' for k in fields)} WHERE competition = ? AND ref = ?",
                    (*fields.values(), competition, ref),
                )

    def submissions(self, run_id: int | None = None, merge_id: int | None = None) -> list[dict[str, Any]]:
        """Submissions of a run or a merge (or all), oldest first."""
        where, args = "", tuple[int, ...]()
        if run_id is not None:
            where, args = "WHERE run_id = ?", (run_id,)
        elif merge_id is not None:
            where, args = "WHERE merge_id = ?", (merge_id,)
        return [dict(r) for r in self.db.execute(f"SELECT * FROM submissions {where} ORDER BY date, ref", args)]

    # -- model versions --------------------------------------------------------------------------
    def record_model_version(
        self, ref: str, version: int, run_id: int | None, manifest: str, files: list[dict[str, Any]]
    ) -> None:
        """A Kaggle Model instance version kr published (`ref` owner/model/framework/variation) from a run."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO model_versions (ref, version, run_id, manifest, files, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (ref, version, run_id, manifest, json.dumps(files), time.time()),
            )

    def model_versions(self, ref: str | None = None, run_id: int | None = None) -> list[dict[str, Any]]:
        """Published model versions, of an instance or of a run (or all), oldest first; files decoded."""
        where, args = "", tuple[Any, ...]()
        if ref is not None:
            where, args = "WHERE ref = ?", (ref,)
        elif run_id is not None:
            where, args = "WHERE run_id = ?", (run_id,)
        rows = self.db.execute(f"SELECT * FROM model_versions {where} ORDER BY created, version", args)
        return [{**dict(r), "files": json.loads(r["files"])} for r in rows]

    def owner_of_file(self, sha256: str) -> tuple[int | None, int | None]:
        """(run_id, merge_id) of a pulled output or merge with this content, so `kr submit FILE` is linked."""
        row = self.db.execute(
            "SELECT id FROM merges WHERE output_sha256 = ? ORDER BY id DESC LIMIT 1", (sha256,)
        ).fetchone()
        if row:
            return None, row[0]
        row = self.db.execute(
            "SELECT run_id FROM files WHERE sha256 = ? ORDER BY run_id DESC LIMIT 1", (sha256,)
        ).fetchone()
        return (row[0], None) if row else (None, None)

    # -- notes -----------------------------------------------------------------------------------
    def note(self, item: Run | Merge, text: str) -> None:
        """Attach a note to a run or merge."""
        run_id, merge_id = (None, item.id) if isinstance(item, Merge) else (item.id, None)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO notes (run_id, merge_id, text, created) VALUES (?, ?, ?, ?)",
                (run_id, merge_id, text, time.time()),
            )

    def notes(self, run_id: int | None = None, merge_id: int | None = None) -> list[str]:
        """The notes of a run or merge, oldest first."""
        column, value = ("run_id", run_id) if run_id is not None else ("merge_id", merge_id)
        return [r[0] for r in self.db.execute(f"SELECT text FROM notes WHERE {column} = ? ORDER BY id", (value,))]

    # -- the team's tracking server ----------------------------------------------------------------
    def uid(self) -> str:
        """This ledger's name on a tracking server: random, made once, so two ledgers of one user never collide."""
        return str(self.db.execute("SELECT value FROM meta WHERE key = 'uid'").fetchone()[0])

    def team_links(self, server: str) -> dict[tuple[str, int], dict[str, Any]]:
        """(kind, id) -> {mlflow_run_id, sent, fingerprint} for the runs and merges already on `server`."""
        rows = self.db.execute("SELECT * FROM team_sync WHERE server = ?", (server,))
        return {
            (r["kind"], r["item_id"]): {
                "mlflow_run_id": r["mlflow_run_id"],
                "sent": json.loads(r["sent"]),
                "fingerprint": r["fingerprint"],
            }
            for r in rows
        }

    def record_team_link(
        self, kind: str, item_id: int, server: str, mlflow_run_id: str, sent: dict[str, Any], fingerprint: str | None
    ) -> None:
        """What was sent to the team's server for a run or merge, so the next sync sends only what changed. A record of
        what was shared is not itself news for the team: it does not count in `changed`."""
        before = self.db.total_changes
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO team_sync VALUES (?, ?, ?, ?, ?, ?)",
                (kind, item_id, server, mlflow_run_id, json.dumps(sent, sort_keys=True), fingerprint),
            )
        self._changes_at_open += self.db.total_changes - before

    # -- bundles ---------------------------------------------------------------------------------
    def last_bundle(self, slug: str) -> sqlite3.Row | None:
        """The last version kr uploaded of that dataset, with its manifest digest."""
        return self.db.execute("SELECT * FROM bundles WHERE slug = ? ORDER BY version DESC LIMIT 1", (slug,)).fetchone()

    def record_bundle(self, slug: str, version: int, name: str, manifest_sha256: str, files: int, size: int) -> None:
        """Record an uploaded dataset version and its manifest digest."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO bundles VALUES (?, ?, ?, ?, ?, ?, ?)",
                (slug, version, name, manifest_sha256, files, size, time.time()),
            )


def _create(path: Path) -> None:
    """A new ledger, built aside and linked into place whole, so that `path` is never an empty file; when two kr
    processes race, the first link wins and the other opens it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        fresh = Ledger.__new__(Ledger)
        fresh._open(tmp)
        fresh.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: a rename, which a racing process may overwrite
            if not path.exists():
                os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


def open_ledger(root: Path) -> Ledger:
    """The ledger of the project at `root`, created and migrated as needed."""
    return Ledger(layout.ledger_file(root), root)


def _id(cur: sqlite3.Cursor) -> int:
    """The row id an INSERT gave (an INSERT always sets it)."""
    assert cur.lastrowid is not None
    return cur.lastrowid
