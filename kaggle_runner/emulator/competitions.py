"""Competitions service: listing, leaderboard, submission upload, asynchronous scoring and the daily limit.
Each is a folder in the state: competition.json, data/ (what kernels see), solution.csv, and hidden/ (re-runs see)."""

from __future__ import annotations

import json
import shutil
import threading
import time
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kaggle_runner.emulator.archives import files_under, zip_folder
from kaggle_runner.emulator.blobs import Blobs
from kaggle_runner.emulator.responses import FileResponse, FileUrls, Raw, Redirect
from kaggle_runner.emulator.scoring import (
    F1_AVERAGES,
    METRICS,
    ScoreError,
    check_solution,
    higher_is_better,
    known,
    score,
)
from kaggle_runner.emulator.store import Store
from kaggle_runner.emulator.wire import ApiError, Body, clean, now, timestamp
from kaggle_runner.errors import UserError

# The wording is a guess: Kaggle's answer to a CSV sent to a code competition is not in its client source.
CODE_ONLY = "Submission not allowed: {slug} is a code competition; submit a notebook version (CreateCodeSubmission)"


ALL_FILES = "_all"  # the signed path of the zip of every data file


# ListCompetitions' filters (kagglesdk's CompetitionListTab, HostSegment, CompetitionSortBy), as their wire names
GROUPS = ("GENERAL", "ENTERED", "COMMUNITY", "HOSTED", "UNLAUNCHED", "UNLAUNCHED_COMMUNITY", "EVERYTHING")
CATEGORIES = {  # competition.json's `category` (any case) -> what the API calls it
    "FEATURED": "Featured",
    "RESEARCH": "Research",
    "RECRUITMENT": "Recruitment",
    "GETTING_STARTED": "Getting Started",
    "MASTERS": "Masters",
    "PLAYGROUND": "Playground",
    "COMMUNITY": "Community",
    "ANALYTICS": "Analytics",
}
SORTS = (
    "GROUPED",
    "BEST",
    "PRIZE",
    "EARLIEST_DEADLINE",
    "LATEST_DEADLINE",
    "NUMBER_OF_TEAMS",
    "RELEVANCE",
    "RECENTLY_CREATED",
)


def team(comp: dict[str, Any], user: str) -> tuple[str, set[str]]:
    """The user's team in a competition (competition.json's `teams`): its name and members. Alone, a user is a team
    of one named after them, as on Kaggle."""
    for name, members in comp.get("teams", {}).items():
        if user in members:
            return name, set(members)
    return user, {user}


def _prize(comp: dict[str, Any]) -> float:
    """The money in `reward` ("$50,000" -> 50000); 0 for Knowledge, Swag and the like."""
    digits = "".join(c for c in str(comp.get("reward", "")) if c.isdigit() or c == ".")
    try:
        return float(digits)
    except ValueError:
        return 0.0


class Competitions:
    def __init__(self, store: Store, blobs: Blobs, urls: FileUrls):
        self.store, self.blobs, self.urls = store, blobs, urls
        self.dir = self.store.root / "competitions"
        self._zip_lock = threading.Lock()

    def routes(self) -> dict[str, tuple[Any, bool]]:
        s = "competitions.CompetitionApiService/"
        return {
            s + "StartSubmissionUpload": (self.start_upload, True),
            s + "CreateSubmission": (self.create_submission, True),
            s + "ListSubmissions": (self.list_submissions, True),
            s + "GetSubmission": (self.get_submission, True),
            s + "GetSubmissionLimits": (self.limits, True),
            s + "DownloadSubmission": (self.download_submission, True),
            s + "DownloadDataFile": (self.download_file, True),
            s + "ListDataFiles": (self.list_data_files, True),
            s + "DownloadDataFiles": (self.download_all, True),
            s + "ListCompetitions": (self.list_competitions, True),
            s + "GetLeaderboard": (self.leaderboard, True),
            s + "DownloadLeaderboard": (self.download_leaderboard, True),
        }

    # -- definitions -----------------------------------------------------------------------------
    def exists(self, slug: str) -> bool:
        return bool(slug) and "/" not in slug and (self.dir / slug / "competition.json").is_file()

    def definition(self, slug: str) -> dict[str, Any]:
        if not self.exists(slug):
            raise ApiError(404, f"competition '{slug}' not found")
        path = self.dir / slug / "competition.json"
        try:
            comp = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ApiError(500, f"{path}: invalid JSON ({e})") from e
        if not known(str(comp.get("metric"))):
            raise ApiError(500, f"{path}: metric must be one of {', '.join(METRICS)}")
        if comp.get("f1Average", "binary") not in F1_AVERAGES:
            raise ApiError(500, f"{path}: f1Average must be one of {', '.join(F1_AVERAGES)}")
        teams = comp.get("teams", {})
        if not isinstance(teams, dict) or not all(
            isinstance(m, list) and all(isinstance(u, str) for u in m) for m in teams.values()
        ):
            raise ApiError(500, f"{path}: teams must map a team's name to its members' usernames")
        return comp

    def check(self) -> None:
        """Refuse (UserError) a state with a competition Kaggle could not run: a broken competition.json, or a
        solution without a Public or a Private part. `kr emulator serve` says so at its start, not at the first
        submission."""
        for folder in sorted(self.dir.iterdir()) if self.dir.is_dir() else []:
            if not (folder / "competition.json").is_file():
                continue
            try:
                comp = self.definition(folder.name)
                targets = list(comp.get("targetColumns", ["target"]))
                check_solution(folder / "solution.csv", comp.get("idColumn", "id"), targets)
            except ApiError as e:
                raise UserError(f"competition {folder.name}: {e.message}") from None
            except ScoreError as e:
                raise UserError(f"competition {folder.name}: {e}") from None

    def data_dir(self, slug: str, rerun: bool = False) -> Path:
        """What kernels see; a code competition's re-run sees hidden/ (the hidden test set) instead, when it has one."""
        hidden = self.dir / slug / "hidden"
        return hidden if rerun and hidden.is_dir() else self.dir / slug / "data"

    def download_file(self, req: Any) -> Any:
        """One file of the competition's data (what kernels see), as a redirect to a signed URL."""
        body = Body(req.body_json())
        slug, name = body.str("competitionName"), body.str("fileName")
        self.definition(slug)
        path = (self.data_dir(slug) / name).resolve()
        if not name or self.data_dir(slug).resolve() not in path.parents or not path.is_file():
            raise ApiError(404, f"competition '{slug}' has no data file '{name}'")
        return Redirect(self.urls.url(req.base_url, f"competitions/{slug}/{name}"))

    def list_data_files(self, req: Any) -> dict[str, Any]:
        """What `kaggle competitions files` lists: the data kernels see (never the solution or hidden data)."""
        body = Body(req.body_json())
        slug = body.str("competitionName")
        self.definition(slug)
        root = self.data_dir(slug)
        files = [
            {
                "ref": rel,
                "name": rel,
                "totalBytes": (root / rel).stat().st_size,
                "creationDate": timestamp((root / rel).stat().st_mtime),
            }
            for rel in files_under(root)
        ]
        return {"files": files, "nextPageToken": ""}

    def download_all(self, req: Any) -> Any:
        """Every data file as one zip (`kaggle competitions download -c SLUG`), as a redirect to a signed URL."""
        slug = Body(req.body_json()).str("competitionName")
        self.definition(slug)
        return Redirect(self.urls.url(req.base_url, f"competitions/{slug}/{ALL_FILES}/{slug}.zip"))

    def _data_zip(self, slug: str) -> Path:
        with self._zip_lock:
            return zip_folder(self.data_dir(slug), self.dir / slug / ".data.zip")

    def file_path(self, rest: str) -> Any:
        """Resolve a signed 'slug/<file>' to a data file to serve."""
        slug, _, name = rest.partition("/")
        if not self.exists(slug):
            raise ApiError(404, "no such competition")
        if name == f"{ALL_FILES}/{slug}.zip":
            return FileResponse(self._data_zip(slug), "application/zip")
        path = (self.data_dir(slug) / name).resolve()
        if self.data_dir(slug).resolve() not in path.parents or not path.is_file():
            raise ApiError(404, "no such file")
        return FileResponse(path, "text/csv" if name.endswith(".csv") else "application/octet-stream")

    # -- listing and leaderboard -----------------------------------------------------------------
    def api_competition(self, slug: str, comp: dict[str, Any], user: str) -> dict[str, Any]:
        return clean(
            {
                "id": zlib.crc32(slug.encode()) % 10**6,
                "ref": f"https://www.kaggle.com/competitions/{slug}",
                "title": comp.get("title", slug),
                "url": f"https://www.kaggle.com/competitions/{slug}",
                "description": comp.get("description", ""),
                "category": CATEGORIES[self._category(comp)],
                "reward": comp.get("reward", "Knowledge"),
                "deadline": timestamp(self._deadline(slug, comp)),
                "teamCount": len({team(comp, s["user"])[0] for s in self._all(slug)}),
                "userHasEntered": bool(self._mine(slug, comp, user)),
                "maxDailySubmissions": self._limit(comp),
                "maxTeamSize": 5,
                "evaluationMetric": comp["metric"],
                "isKernelsSubmissionsOnly": bool(comp.get("codeCompetition")),
            }
        )

    def _category(self, comp: dict[str, Any]) -> str:
        category = str(comp.get("category", "playground")).upper()
        return category if category in CATEGORIES else "PLAYGROUND"

    def _deadline(self, slug: str, comp: dict[str, Any]) -> float:
        """competition.json's `deadline` (an ISO date), else 90 days after the competition was written."""
        try:
            return datetime.fromisoformat(str(comp["deadline"])).replace(tzinfo=UTC).timestamp()
        except (KeyError, ValueError):
            return (self.dir / slug / "competition.json").stat().st_mtime + 90 * 86400

    def list_competitions(self, req: Any) -> dict[str, Any]:
        """The competitions of the state as `kaggle competitions list` asks: `search` (in the slug or title), `group`
        (entered: the user's team has submitted), `category` and `sortBy`, 20 to a page."""
        body = Body(req.body_json())
        search = body.str("search").lower()
        group = body.enum("group", GROUPS, "COMPETITION_LIST_TAB_")
        category = body.enum("category", ("UNSPECIFIED", *CATEGORIES), "HOST_SEGMENT_")
        sort = body.enum("sortBy", SORTS, "COMPETITION_SORT_BY_")
        user = req.user["username"]
        slugs = sorted(p.name for p in self.dir.iterdir() if self.exists(p.name)) if self.dir.is_dir() else []
        chosen = []
        for slug in slugs:
            comp = self.definition(slug)
            if search not in slug.lower() and search not in str(comp.get("title", "")).lower():
                continue
            if category != "UNSPECIFIED" and self._category(comp) != category:
                continue
            if group in ("HOSTED", "UNLAUNCHED", "UNLAUNCHED_COMMUNITY"):  # a user here hosts none
                continue
            if (group == "ENTERED" and not self._mine(slug, comp, user)) or (
                group == "COMMUNITY" and self._category(comp) != "COMMUNITY"
            ):
                continue
            chosen.append((slug, comp))
        order: dict[str, Any] = {
            "PRIZE": lambda sc: -_prize(sc[1]),
            "EARLIEST_DEADLINE": lambda sc: self._deadline(*sc),
            "LATEST_DEADLINE": lambda sc: -self._deadline(*sc),
            "NUMBER_OF_TEAMS": lambda sc: -len({team(sc[1], s["user"])[0] for s in self._all(sc[0])}),
            "RECENTLY_CREATED": lambda sc: -(self.dir / sc[0] / "competition.json").stat().st_mtime,
        }
        if sort in order:
            chosen.sort(key=order[sort])
        found = [self.api_competition(slug, comp, user) for slug, comp in chosen]
        size = body.int("pageSize") or 20
        token = body.str("pageToken")
        offset = int(token) if token.isdigit() else (max(1, body.int("page") or 1) - 1) * size
        more = offset + size < len(found)
        return {"competitions": found[offset : offset + size], "nextPageToken": str(offset + size) if more else ""}

    def _all(self, slug: str) -> list[dict[str, Any]]:
        return [s for s in self.store.state["submissions"].values() if s["competition"] == slug]

    def _standings(self, slug: str) -> list[dict[str, Any]]:
        """Each team's best public score, best first; ties go to the earlier submission."""
        comp = self.definition(slug)
        lower_is_better = not higher_is_better(comp["metric"])
        best: dict[str, dict[str, Any]] = {}
        for s in self._all(slug):
            if s["status"] != "COMPLETE" or s["publicScore"] is None:
                continue
            name = team(comp, s["user"])[0]
            mine = best.get(name)
            value = float(s["publicScore"]) * (-1 if lower_is_better else 1)
            if mine is None or value > mine["value"] or (value == mine["value"] and s["date"] < mine["date"]):
                best[name] = {"value": value, "date": s["date"], "score": s["publicScore"], "user": name}
        return sorted(best.values(), key=lambda b: (-b["value"], b["date"]))

    def leaderboard(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        rows = [
            {
                "teamId": 1000 + i,
                "teamName": b["user"],
                "submissionDate": timestamp(b["date"]),
                "score": b["score"],
            }
            for i, b in enumerate(self._standings(body.str("competitionName")))
        ]
        size = body.int("pageSize") or 50
        token = body.str("pageToken")
        offset = int(token) if token.isdigit() else 0
        more = offset + size < len(rows)
        return {"submissions": rows[offset : offset + size], "nextPageToken": str(offset + size) if more else ""}

    def download_leaderboard(self, req: Any) -> Raw:
        """The public leaderboard as a zip of one CSV, as Kaggle serves it."""
        import io

        slug = Body(req.body_json()).str("competitionName")
        lines = ["Rank,TeamId,TeamName,LastSubmissionDate,Score"]
        for i, b in enumerate(self._standings(slug)):
            date = datetime.fromtimestamp(b["date"], UTC).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{i + 1},{1000 + i},{b['user']},{date},{b['score']}")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(f"{slug}-publicleaderboard.csv", "\n".join(lines) + "\n")
        return Raw(200, buf.getvalue(), {"Content-Type": "application/zip"})

    # -- submissions -----------------------------------------------------------------------------
    def _mine(self, slug: str, comp: dict[str, Any], user: str) -> list[dict[str, Any]]:
        """The submissions of the user's team, newest first: Kaggle lists a team's and counts its daily limit."""
        members = team(comp, user)[1]
        subs = [s for s in self._all(slug) if s["user"] in members]
        return sorted(subs, key=lambda s: s["date"], reverse=True)

    def _today(self, subs: list[dict[str, Any]]) -> int:
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return sum(1 for s in subs if s["date"] >= midnight)

    def _limit(self, comp: dict[str, Any]) -> int:
        return int(comp.get("dailyLimit", self.store.settings["daily_submissions"]))

    def start_upload(self, req: Any) -> dict[str, str]:
        body = Body(req.body_json())
        self.definition(body.str("competitionName"))
        return self.blobs.create(req.user, body.str("fileName"), body.int("contentLength"), "SUBMISSION", req.base_url)

    def create_submission(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        slug = body.str("competitionName")
        comp = self.definition(slug)
        if comp.get("codeCompetition"):
            raise ApiError(400, CODE_ONLY.format(slug=slug))
        tokens = body.data.get("blobFileTokens")
        token = tokens[0] if isinstance(tokens, list) and tokens else tokens
        if not isinstance(token, str) or not token:
            raise ApiError(400, "blobFileTokens must hold the upload token")
        user = req.user["username"]
        with self.store.lock:
            self.check_limit(slug, comp, user)
            blob, path = self.blobs.take(token, user)
            sub = self.new_submission(slug, user, blob["name"], body.str("submissionDescription"))
            dest = self.store.root / "submissions" / str(sub["ref"]) / blob["name"]
            shutil.copyfile(path, dest)
            sub["totalBytes"] = dest.stat().st_size
            self.store.save()
        threading.Thread(target=self.score_file, args=(sub, comp, dest), daemon=True).start()
        return {"message": f"Successfully submitted to {comp.get('title', slug)}", "ref": sub["ref"]}

    def check_limit(self, slug: str, comp: dict[str, Any], user: str) -> None:
        if self._today(self._mine(slug, comp, user)) >= self._limit(comp):
            raise ApiError(
                400, f"daily submission limit reached for {slug} ({self._limit(comp)} a day); try again after 00:00 UTC"
            )

    def new_submission(self, slug: str, user: str, file_name: str, description: str) -> dict[str, Any]:
        """A PENDING submission recorded in the state (under the store's lock), with its folder made."""
        ref = self.store.next_id("submission", 40000)
        (self.store.root / "submissions" / str(ref)).mkdir(parents=True)
        sub = {
            "ref": ref,
            "competition": slug,
            "user": user,
            "fileName": file_name,
            "date": now(),
            "description": description,
            "status": "PENDING",
            "totalBytes": 0,
            "publicScore": None,
            "privateScore": None,
            "errorDescription": None,
        }
        self.store.state["submissions"][str(ref)] = sub
        self.store.save()
        return sub

    def fail(self, sub: dict[str, Any], message: str) -> None:
        with self.store.lock:
            sub.update(status="ERROR", errorDescription=message)
            self.store.save()

    def score_file(self, sub: dict[str, Any], comp: dict[str, Any], path: Path) -> None:
        """Score a submitted file against the hidden solution; whatever goes wrong, it ends COMPLETE or ERROR."""
        time.sleep(self.store.settings["scoring_seconds"])
        try:
            public, private = score(
                self.dir / sub["competition"] / "solution.csv",
                path,
                comp["metric"],
                comp.get("idColumn", "id"),
                list(comp.get("targetColumns", ["target"])),
                comp.get("f1Average", "binary"),
                str(comp.get("positiveLabel", "1")),
            )
            update = {"status": "COMPLETE", "publicScore": f"{public:.5f}", "privateScore": f"{private:.5f}"}
        except ScoreError as e:
            update = {"status": "ERROR", "errorDescription": str(e)}
        except OSError as e:
            update = {"status": "ERROR", "errorDescription": f"cannot read the submission ({e})"}
        except Exception as e:  # whatever goes wrong, no submission stays PENDING
            update = {
                "status": "ERROR",
                "errorDescription": f"the emulator could not score it ({type(e).__name__}: {e})",
            }
        with self.store.lock:
            sub.update(update)
            self.store.save()

    def recover(self) -> None:
        """Submissions left PENDING when the emulator last stopped are scored again from their file."""
        with self.store.lock:
            pending = [s for s in self.store.state["submissions"].values() if s["status"] == "PENDING"]
        for sub in pending:
            if "rerun" in sub:
                continue  # CodeSubmissions.recover's
            path = self.store.root / "submissions" / str(sub["ref"]) / sub["fileName"]
            try:
                comp = self.definition(sub["competition"])
            except ApiError as e:
                self.fail(sub, e.message)
                continue
            threading.Thread(target=self.score_file, args=(sub, comp, path), daemon=True).start()

    def api_submission(self, s: dict[str, Any], comp: dict[str, Any]) -> dict[str, Any]:
        return clean(
            {
                "ref": s["ref"],
                "totalBytes": s["totalBytes"],
                "date": timestamp(s["date"]),
                "description": s["description"],
                "errorDescription": s["errorDescription"],
                "fileName": s["fileName"],
                "publicScore": s["publicScore"],
                "privateScore": s["privateScore"],
                "status": s["status"],
                "submittedBy": s["user"],
                "teamName": team(comp, s["user"])[0],
                "url": f"https://www.kaggle.com/competitions/{s['competition']}/submissions#{s['ref']}",
            }
        )

    def list_submissions(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        slug = body.str("competitionName")
        comp = self.definition(slug)
        subs = self._mine(slug, comp, req.user["username"])
        size = body.int("pageSize") or 20
        token = body.str("pageToken")
        offset = int(token) if token.isdigit() else (max(1, body.int("page") or 1) - 1) * size
        chunk = subs[offset : offset + size]
        more = offset + size < len(subs)
        return {
            "submissions": [self.api_submission(s, comp) for s in chunk],
            "nextPageToken": str(offset + size) if more else "",
        }

    def _teams(self, ref: int | None, user: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Submission `ref` and its competition's definition if the user's team made it; else a 404, as for one that
        does not exist."""
        sub = self.store.state["submissions"].get(str(ref))
        comp = self.definition(sub["competition"]) if sub is not None else {}
        if sub is None or sub["user"] not in team(comp, user)[1]:
            raise ApiError(404, f"submission {ref} not found")
        return sub, comp

    def get_submission(self, req: Any) -> dict[str, Any]:
        return self.api_submission(*self._teams(Body(req.body_json()).int("ref"), req.user["username"]))

    def download_submission(self, req: Any) -> Any:
        """The file a team member submitted (`kaggle competitions submission-download REF`), as a redirect to a signed
        URL; a code submission's is its re-run's output."""
        sub, _ = self._teams(Body(req.body_json()).int("submissionId"), req.user["username"])
        if self._submitted_file(sub) is None:
            raise ApiError(404, f"submission {sub['ref']} has no file (yet)")
        return Redirect(self.urls.url(req.base_url, f"submissions/{sub['ref']}/{sub['fileName']}"))

    def _submitted_file(self, sub: dict[str, Any]) -> Path | None:
        folder = self.store.root / "submissions" / str(sub["ref"])
        for path in (folder / sub["fileName"], folder / "run" / "working" / sub["fileName"]):  # a file; a re-run's
            if path.is_file():
                return path
        return None

    def submission_path(self, rest: str) -> Any:
        """Resolve a signed '<ref>/<file>' to a submitted file to serve."""
        ref, _, name = rest.partition("/")
        sub = self.store.state["submissions"].get(ref)
        path = self._submitted_file(sub) if sub is not None and name == sub["fileName"] else None
        if path is None:
            raise ApiError(404, "no such file")
        return FileResponse(path, "text/csv" if name.endswith(".csv") else "application/octet-stream")

    def limits(self, req: Any) -> dict[str, Any]:
        slug = Body(req.body_json()).str("competitionName")
        comp = self.definition(slug)
        mine = self._mine(slug, comp, req.user["username"])
        today = self._today(mine)
        return {"numToday": today, "numTotal": len(mine), "numAllowedNow": max(0, self._limit(comp) - today)}
