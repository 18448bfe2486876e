"""Kernels service: SaveKernel, session status, outputs and logs, cancel, GetKernel, ListKernels, quota.
Each pushed version gets its own session, run by the executor; versions are addressed as versionLabel "vN"."""

from __future__ import annotations

import base64
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from kaggle_runner.emulator.archives import files_under, zip_folder
from kaggle_runner.emulator.competitions import Competitions
from kaggle_runner.emulator.datasets import Datasets
from kaggle_runner.emulator.executor import Executor
from kaggle_runner.emulator.models import Models
from kaggle_runner.emulator.records import Kernel, KernelVersion
from kaggle_runner.emulator.responses import FileResponse, FileUrls, Raw, Redirect, Stream
from kaggle_runner.emulator.store import Store
from kaggle_runner.emulator.wire import ApiError, Body, clean, duration, now, timestamp
from kaggle_runner.kaggle import accelerators
from kaggle_runner.kaggle.rules import FINAL_STATES, SLUG_RE

LANGUAGES = ("python", "r", "rmarkdown")
KERNEL_TYPES = ("script", "notebook")
EXECUTION_TYPES = ("KERNEL_EXECUTION_TYPE_UNSPECIFIED", "SAVE_AND_RUN_ALL", "INTER_ACTIVE", "QUICK_SAVE")
LABEL_RE = re.compile(r"^v(\d+)$")


# SaveKernel's source lists, and the field of its answer that names the sources Kaggle dropped from each
INVALID_FIELDS = {
    "datasetDataSources": "invalidDatasetSources",
    "competitionDataSources": "invalidCompetitionSources",
    "kernelDataSources": "invalidKernelSources",
    "modelDataSources": "invalidModelSources",
}


@dataclass(frozen=True)
class _Push:
    """A SaveKernel request as checked: whose kernel, its source and settings, the machine, the inputs kept."""

    owner: str
    slug: str
    kernel: Kernel | None  # None: the push makes it
    text: str
    title: str
    language: str
    kernel_type: str
    shape_name: str
    shape: accelerators.Shape
    timeout: int
    execution: str
    sources: dict[str, list[str]]
    invalid: dict[str, list[str]]
    settings: dict[str, Any]


ALL_OUTPUT = "_all"  # a signed URL's marker for a version's whole output as one zip


class Kernels:
    def __init__(
        self,
        store: Store,
        datasets: Datasets,
        competitions: Competitions,
        models: Models,
        urls: FileUrls,
        fallback_cpu: bool,
        python: str,
        unconfined: bool = False,
    ):
        self.store, self.datasets, self.competitions, self.urls = store, datasets, competitions, urls
        self.models = models
        self.dir = self.store.root / "kernels"
        self._zip_lock = threading.Lock()
        self.executor = Executor(store, self.resolve_inputs, self.run_dir, fallback_cpu, python, unconfined)

    def routes(self) -> dict[str, tuple[Any, bool]]:
        s = "kernels.KernelsApiService/"
        return {
            s + "SaveKernel": (self.save_kernel, True),
            s + "GetKernelSessionStatus": (self.get_status, True),
            s + "ListKernelSessionOutput": (self.list_output, True),
            s + "DownloadKernelOutput": (self.download_output, True),
            s + "GetKernel": (self.get_kernel, True),
            s + "ListKernels": (self.list_kernels, True),
            s + "CancelKernelSession": (self.cancel, True),
            s + "DeleteKernel": (self.delete_kernel, True),
            s + "GetAcceleratorQuotaStatistics": (self.quota, True),
            s + "ListKernelFiles": (self.list_files, True),
        }

    # -- lookups ---------------------------------------------------------------------------------
    def run_dir(self, kernel: Kernel, number: int) -> Path:
        return self.dir / kernel["owner"] / kernel["slug"] / str(number)

    def find(self, owner: str, slug: str, user: dict[str, Any] | None) -> Kernel:
        k: Kernel | None = self.store.state["kernels"].get(f"{owner}/{slug}")
        if k is None or (k["isPrivate"] and (user is None or user["username"] != owner)):
            raise ApiError(404, f"kernel {owner}/{slug} not found")
        return k

    def version(self, kernel: Kernel, label: str) -> KernelVersion:
        if not kernel["versions"]:
            raise ApiError(404, f"kernel {kernel['owner']}/{kernel['slug']} has no versions")
        if not label:
            return kernel["versions"][-1]
        m = LABEL_RE.match(label)
        if not m:
            raise ApiError(404, f"version label '{label}' must look like v3")
        n = int(m.group(1))
        if not 1 <= n <= len(kernel["versions"]):
            raise ApiError(404, f"kernel {kernel['owner']}/{kernel['slug']} has no version {n}")
        return kernel["versions"][n - 1]

    def _target(self, req: Any) -> tuple[Kernel, KernelVersion, Body]:
        body = Body(req.body_json())
        kernel = self.find(body.str("userName"), body.str("kernelSlug"), req.user)
        return kernel, self.version(kernel, body.str("versionLabel")), body

    # -- SaveKernel ------------------------------------------------------------------------------
    def save_kernel(self, req: Any) -> dict[str, Any]:
        """SaveKernel: a new version of the kernel, queued as a session (a quick save only stores it). A request
        Kaggle would refuse comes back as `error`; sources it does not know are dropped and named (`invalid*`)."""
        push = self._push_of(req)
        if isinstance(push, str):
            return {"error": push}
        with self.store.lock:
            refused = self._over_cap(push.owner, push.shape.kind) if push.execution != "QUICK_SAVE" else None
            if refused:
                self._keep_draft(push)
                return {"error": refused}
            kernel, version, run = self._record(push)
        if push.execution != "QUICK_SAVE":
            self.executor.submit(kernel, version, run)
        resp: dict[str, Any] = {
            "ref": f"{push.owner}/{push.slug}",
            "url": f"https://www.kaggle.com/code/{push.owner}/{push.slug}",
            "versionNumber": version["number"],
            "kernelId": kernel["id"],
        }
        for key, bad in push.invalid.items():
            resp[INVALID_FIELDS[key]] = bad
        return resp

    def _push_of(self, req: Any) -> _Push | str:
        """SaveKernel's request checked as Kaggle checks it; what Kaggle would say when it refuses the push."""
        body = Body(req.body_json())
        user = req.user["username"]
        kernel: Kernel | None = None
        if body.int("id", None) is not None:
            kernel = next((k for k in self.store.state["kernels"].values() if k["id"] == body.int("id")), None)
            if kernel is None:
                return f"no kernel with id {body.int('id')}"
            owner, slug = kernel["owner"], kernel["slug"]
        else:
            ref = body.str("slug")
            owner, _, slug = ref.partition("/")
            if not slug:
                owner, slug = user, ref
            if not SLUG_RE.match(slug):
                return f"invalid kernel slug '{ref}': 3-50 lowercase letters, digits and hyphens"
            kernel = self.store.state["kernels"].get(f"{owner}/{slug}")
        if owner != user:
            raise ApiError(403, f"user {user} cannot push kernels for '{owner}'")

        text = body.str("text")
        title = body.str("newTitle")
        language = body.str("language") or (kernel or {}).get("language") or "python"
        kernel_type = body.str("kernelType") or (kernel or {}).get("kernelType") or "script"
        if not text:
            return "the kernel has no source text"
        if kernel is None and not title:
            return "a new kernel needs a title"
        if title and len(title) < 5:
            return "title must be at least 5 characters"
        if language not in LANGUAGES:
            return f"language must be one of {', '.join(LANGUAGES)}"
        if kernel_type not in KERNEL_TYPES:
            return f"kernelType must be one of {', '.join(KERNEL_TYPES)}"
        if kernel and kernel_type != kernel["kernelType"]:
            return f"kernelType cannot change after creation (it is {kernel['kernelType']})"
        if kernel_type == "notebook":
            try:
                json.loads(text)
            except json.JSONDecodeError:
                return "kernelType is notebook but the text is not notebook JSON"
        shape_name = body.str("machineShape")
        asked = accelerators.lookup(shape_name) if shape_name else None
        if shape_name and asked is None:
            known = ", ".join(s.name for s in accelerators.SHAPES.values())
            return f"unknown machineShape '{shape_name}' (known: {known})"
        if asked is not None and asked.admin_only:  # Kaggle's internal pool (PR #1198); its refusal's words: a guess
            return f"machineShape {asked.name} is not available to this account"
        gpu, tpu = bool(body.bool("enableGpu")), bool(body.bool("enableTpu"))
        timeout = body.int("sessionTimeoutSeconds", None)
        limit = self.store.settings["max_session_timeout_seconds"]
        if timeout is not None and not 0 < timeout <= limit:
            return f"sessionTimeoutSeconds must be between 1 and {limit}"

        sources = {key: body.str_list(key) for key in INVALID_FIELDS}
        invalid = self._invalid_sources(sources, req.user)
        for key, bad in invalid.items():  # Kaggle saves the kernel without the sources it rejects
            sources[key] = [s for s in sources[key] if s not in bad]
        return _Push(
            owner=owner,
            slug=slug,
            kernel=kernel,
            text=text,
            title=title,
            language=language,
            kernel_type=kernel_type,
            shape_name=shape_name,
            shape=_landing(accelerators.resolve(shape_name, gpu, tpu), body.str("dockerImage")),
            timeout=timeout or self.store.settings["session_timeout_seconds"],
            execution=body.enum("kernelExecutionType", EXECUTION_TYPES),
            sources=sources,
            invalid=invalid,
            settings={
                "isPrivate": body.bool("isPrivate", (kernel or {}).get("isPrivate", True)),
                "enableGpu": gpu,
                "enableTpu": tpu,
                "enableInternet": bool(body.bool("enableInternet", True)),
                "categoryIds": body.str_list("categoryIds"),
                "dockerImage": body.str("dockerImage"),
            },
        )

    def _keep_draft(self, push: _Push) -> None:
        """A push refused at the cap still replaces an existing kernel's source, while its versions (a queued one
        included) keep theirs; a refused first push makes nothing (docs/kaggle-facts.md). GetKernel then answers
        with this source beside the unchanged version number. `refused_push_keeps_source` turns it off."""
        kernel = push.kernel
        if kernel is None or not self.store.settings["refused_push_keeps_source"]:
            return
        draft = "draft.ipynb" if push.kernel_type == "notebook" else "draft.py"
        folder = self.run_dir(kernel, 1).parent
        folder.mkdir(parents=True, exist_ok=True)
        (folder / draft).write_text(push.text, encoding="utf-8")
        kernel["draft"] = draft
        self.store.save()

    def _record(self, push: _Push) -> tuple[Kernel, KernelVersion, Path]:
        """The kernel (made on its first push) with its settings from this push, and the new version with its
        source in the version's folder. The store's lock is held."""
        kernel = push.kernel
        if kernel is None:
            kernel = Kernel(id=self.store.next_id("kernel", 5000), owner=push.owner, slug=push.slug, created=now())
            kernel["versions"] = []
            self.store.state["kernels"][f"{push.owner}/{push.slug}"] = kernel
        kernel.update(push.settings)  # type: ignore[typeddict-item]  # the keys _push_of sets, all Kernel's
        kernel["title"] = push.title or kernel.get("title", "")
        kernel["language"], kernel["kernelType"], kernel["machineShape"] = (
            push.language,
            push.kernel_type,
            push.shape_name,
        )
        kernel.update(push.sources)  # type: ignore[typeddict-item]  # the four *DataSources keys
        kernel.pop("draft", None)  # this version's source is the kernel's now
        number = len(kernel["versions"]) + 1
        run = self.run_dir(kernel, number)
        shutil.rmtree(run, ignore_errors=True)  # left by a crash before the state was saved
        run.mkdir(parents=True)
        source_file = "source.ipynb" if push.kernel_type == "notebook" else "source.py"
        (run / source_file).write_text(push.text, encoding="utf-8")
        version = KernelVersion(
            number=number,
            sessionId=self.store.next_id("session", 700000),
            status="NEW_SCRIPT" if push.execution == "QUICK_SAVE" else "QUEUED",
            failureMessage=None,
            created=now(),
            started=None,
            ended=None,
            machineShape=push.shape.name,
            requestedShape=push.shape_name,
            shapeLabel=push.shape.label,
            kind=push.shape.kind,
            internet=kernel["enableInternet"],
            timeout=push.timeout,
            language=push.language,
            kernelType=push.kernel_type,
            sourceFile=source_file,
            sources=push.sources,
        )
        kernel["versions"].append(version)
        self.store.save()
        return kernel, version, run

    def _over_cap(self, owner: str, kind: str) -> str | None:
        """Kaggle refuses a push while the owner's batch sessions of that accelerator are at the cap (it queues
        nothing: docs/kaggle-facts.md); `queue_over_cap` is the named leniency that queues instead."""
        if self.store.settings["queue_over_cap"]:
            return None
        cap = int(self.store.settings["max_sessions"].get(kind, 1))
        live = sum(
            1
            for k in self.store.state["kernels"].values()
            if k["owner"] == owner
            for v in k["versions"]
            if v["kind"] == kind and v["status"] in ("QUEUED", "RUNNING", "CANCEL_REQUESTED")
        )
        return f"Maximum batch {kind.upper()} session count of {cap} reached." if live >= cap else None

    def _invalid_sources(self, sources: dict[str, list[str]], user: dict[str, Any]) -> dict[str, list[str]]:
        bad: dict[str, list[str]] = {}
        for ref in sources["datasetDataSources"]:
            owner, _, rest = ref.partition("/")
            ds = self.store.state["datasets"].get(f"{owner}/{rest.split('/')[0]}")
            if ds is None or (ds["isPrivate"] and ds["owner"] != user["username"]):
                bad.setdefault("datasetDataSources", []).append(ref)
        for slug in sources["competitionDataSources"]:
            if not self.competitions.exists(slug):
                bad.setdefault("competitionDataSources", []).append(slug)
        for ref in sources["kernelDataSources"]:
            k = self.store.state["kernels"].get(ref.strip("/"))
            if k is None or (k["isPrivate"] and k["owner"] != user["username"]):
                bad.setdefault("kernelDataSources", []).append(ref)
        for ref in sources["modelDataSources"]:
            if self.models.ready_dir(ref, user) is None:  # unknown, another user's private one, or not ready
                bad.setdefault("modelDataSources", []).append(ref)
        return bad

    def resolve_inputs(self, version: KernelVersion) -> dict[str, Path]:
        """Mount point under /kaggle/input -> folder, resolved when the session starts; the 2026 layout, or the flat
        one with the setting input_layout: legacy (docs/kaggle-facts.md, "Inputs and outputs"). Raises ValueError."""
        flat = self.store.settings["input_layout"] == "legacy"
        inputs: dict[str, Path] = {}

        def mount(where: str, slug: str, path: Path) -> None:
            inputs[slug if flat else where] = path

        src = version["sources"]
        for ref in src["datasetDataSources"]:
            path = self.datasets.ready_dir(ref)
            if path is None:
                raise ValueError(f"Dataset {ref} has no READY version")
            owner, slug = ref.split("/")[:2]
            mount(f"datasets/{owner}/{slug}", slug, path)
        for slug in src["competitionDataSources"]:
            mount(f"competitions/{slug}", slug, self.competitions.data_dir(slug, rerun=bool(version.get("rerun"))))
        for ref in src["kernelDataSources"]:
            k = self.store.state["kernels"].get(ref.strip("/"))
            done = [v for v in (k or {}).get("versions", []) if v["status"] == "COMPLETE"]
            if not done:
                raise ValueError(f"Kernel {ref} has no completed version to read output from")
            mount(f"notebooks/{k['owner']}/{k['slug']}", k["slug"], self.run_dir(k, done[-1]["number"]) / "working")
        for ref in src["modelDataSources"]:
            found = self.models.ready_dir(ref)  # whether its owner may read it was settled at SaveKernel
            if found is None:
                raise ValueError(f"Model {ref} has no version ready to read")
            path, number = found
            parts = ref.strip("/").split("/")[:4]  # owner/model/framework/variation, the version from what was found
            parts[2] = path.parent.parent.name  # the framework as the mount point writes it (pytorch)
            mount("models/" + "/".join([*parts, str(number)]), "/".join([*parts[1:], str(number)]), path)
        return inputs

    # -- status, outputs, logs -------------------------------------------------------------------
    def get_status(self, req: Any) -> dict[str, Any]:
        _, v, _ = self._target(req)
        return clean({"status": v["status"], "failureMessage": v["failureMessage"] or None})

    def _events(self, kernel: Kernel, v: KernelVersion) -> str:
        """The persisted log of a session that has ended."""
        path = self.run_dir(kernel, v["number"]) / "log.json"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def list_output(self, req: Any) -> dict[str, Any]:
        kernel, v, body = self._target(req)
        size = body.int("pageSize") or self.store.settings["output_page_size"]
        if not 1 <= size <= 1000:
            raise ApiError(400, "pageSize must be between 1 and 1000")
        token = body.str("pageToken")
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, f"bad pageToken '{token}'") from e
        files: list[dict[str, str]] = []
        names: list[str] = []
        if v["status"] in FINAL_STATES:
            root = self.run_dir(kernel, v["number"]) / "working"
            names = files_under(root)
            prefix = f"kernels/{kernel['owner']}/{kernel['slug']}/{v['number']}"
            for name in names[offset : offset + size]:
                files.append({"url": self.urls.url(req.base_url, f"{prefix}/{name}"), "fileName": name})
        more = offset + size < len(names)
        resp: dict[str, Any] = {
            "files": files,
            "nextPageToken": base64.urlsafe_b64encode(str(offset + size).encode()).decode() if more else "",
        }
        if not token:  # as on Kaggle, the persisted log is empty until the session ends: the live log is the stream
            resp["log"] = self._events(kernel, v) if v["status"] in FINAL_STATES else ""
        return resp

    def download_output(self, req: Any) -> Any:
        """DownloadKernelOutput (kagglehub's notebook_output_download): one output file of a version (`filePath`),
        or all of them as one zip, as a redirect to a signed URL. Without `versionNumber`, the newest version."""
        body = Body(req.body_json())
        kernel = self.find(body.str("ownerSlug"), body.str("kernelSlug"), req.user)
        number = body.int("versionNumber")
        v = self.version(kernel, f"v{number}" if number else "")
        if v["status"] not in FINAL_STATES:
            raise ApiError(404, f"{kernel['owner']}/{kernel['slug']} v{v['number']} has no output yet ({v['status']})")
        prefix = f"kernels/{kernel['owner']}/{kernel['slug']}/{v['number']}"
        name = body.str("filePath").strip("/")
        if not name:
            return Redirect(self.urls.url(req.base_url, f"{prefix}/{ALL_OUTPUT}/{kernel['slug']}.zip"))
        root = (self.run_dir(kernel, v["number"]) / "working").resolve()
        path = (root / name).resolve()
        if root not in path.parents or not path.is_file():
            raise ApiError(404, f"{kernel['owner']}/{kernel['slug']} v{v['number']} has no output '{name}'")
        return Redirect(self.urls.url(req.base_url, f"{prefix}/{name}"))

    def output_path(self, rest: str) -> Any:
        parts = rest.split("/")
        if len(parts) < 4 or not parts[2].isdigit():
            raise ApiError(404, "no such file")
        kernel = self.store.state["kernels"].get(f"{parts[0]}/{parts[1]}")
        if kernel is None:
            raise ApiError(404, "no such kernel")
        root = (self.run_dir(kernel, int(parts[2])) / "working").resolve()
        if parts[3] == ALL_OUTPUT and len(parts) == 5:
            with self._zip_lock:
                return FileResponse(zip_folder(root, root.with_name(".output.zip")), "application/zip")
        path = (root / "/".join(parts[3:])).resolve()
        if root not in path.parents or not path.is_file():
            raise ApiError(404, "no such file")
        return FileResponse(path)

    def logs_stream(self, req: Any) -> Any:
        """GET /v1/kernels/logs/stream/{owner}/{slug}: SSE while the session lives, the JSON log after."""
        parts = [p for p in req.path.split("/") if p]
        kernel = self.find(parts[-2], parts[-1], req.user)
        v = self.version(kernel, (req.query.get("versionLabel") or [""])[0])
        s = self.executor.live.get(v["sessionId"])
        if s is None:
            return Raw(200, self._events(kernel, v).encode() or b"[]", {"Content-Type": "application/json"})

        def events() -> Iterator[bytes]:
            sent = 0
            while True:
                with s.cond:
                    s.cond.wait_for(partial(s.has_news, sent), timeout=15)
                    batch, done = s.events[sent:], s.finished
                sent += len(batch)
                for e in batch:
                    yield f"data: {json.dumps(e)}\n\n".encode()
                if not batch and not done:
                    yield b": keep-alive\n\n"
                if done and sent == len(s.events):
                    yield b"data: END_OF_LOG\n\n"
                    return

        return Stream(events())

    # -- cancel / delete -------------------------------------------------------------------------
    def cancel(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        sid = body.int("kernelSessionId") or 0
        for kernel in self.store.state["kernels"].values():
            for v in kernel["versions"]:
                if v["sessionId"] == sid:
                    if kernel["owner"] != req.user["username"]:
                        raise ApiError(403, f"session {sid} belongs to another user")
                    if v["status"] in FINAL_STATES:
                        return {"errorMessage": f"session {sid} already ended ({v['status']})"}
                    err = self.executor.cancel(sid)
                    return clean({"errorMessage": err})
        raise ApiError(404, f"no kernel session {sid}")

    def delete_kernel(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        kernel = self.find(body.str("userName"), body.str("kernelSlug"), req.user)
        if kernel["owner"] != req.user["username"]:
            raise ApiError(403, "only the owner can delete a kernel")
        for v in kernel["versions"]:
            if v["status"] not in FINAL_STATES:
                self.executor.cancel(v["sessionId"], wait=5.0)
        with self.store.lock:
            del self.store.state["kernels"][f"{kernel['owner']}/{kernel['slug']}"]
            self.store.save()
        shutil.rmtree(self.dir / kernel["owner"] / kernel["slug"], ignore_errors=True)
        return {}

    # -- metadata --------------------------------------------------------------------------------
    def metadata(self, k: Kernel) -> dict[str, Any]:
        last: dict[str, Any] = dict(k["versions"][-1]) if k["versions"] else {}
        return clean(
            {
                "id": k["id"],
                "ref": f"{k['owner']}/{k['slug']}",
                "title": k["title"],
                "author": k["owner"],
                "slug": k["slug"],
                "lastRunTime": timestamp(last.get("started") or last.get("created")),
                "language": k["language"],
                "kernelType": k["kernelType"],
                "isPrivate": k["isPrivate"],
                "enableGpu": k["enableGpu"],
                "enableTpu": k["enableTpu"],
                "enableInternet": k["enableInternet"],
                "categoryIds": k["categoryIds"],
                "datasetDataSources": k["datasetDataSources"],
                "kernelDataSources": k["kernelDataSources"],
                "competitionDataSources": k["competitionDataSources"],
                "modelDataSources": k["modelDataSources"],
                "totalVotes": 0,
                "currentVersionNumber": len(k["versions"]),
                "dockerImage": k["dockerImage"] or None,
                "machineShape": k["machineShape"] or None,
            }
        )

    def list_files(self, req: Any) -> dict[str, Any]:
        """A version's source files (what `kernels files` lists); outputs are ListKernelSessionOutput's."""
        kernel, v, _ = self._target(req)
        path = self.run_dir(kernel, v["number"]) / v["sourceFile"]
        return {
            "files": [{"name": v["sourceFile"], "size": path.stat().st_size, "creationDate": timestamp(v["created"])}],
            "nextPageToken": "",
        }

    def get_kernel(self, req: Any) -> dict[str, Any]:
        kernel, v, body = self._target(req)
        path = self.run_dir(kernel, v["number"]) / v["sourceFile"]
        if kernel.get("draft") and not body.str("versionLabel"):  # the source a refused push left
            path = self.run_dir(kernel, 1).parent / kernel["draft"]
        source = path.read_text(encoding="utf-8")
        blob = {"source": source, "language": v["language"], "kernelType": v["kernelType"], "slug": kernel["slug"]}
        return {"metadata": self.metadata(kernel), "blob": blob}

    def list_kernels(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        me = req.user["username"]
        group = (body.str("group") or "EVERYONE").upper()
        search, user = body.str("search").lower(), body.str("user")
        language, kernel_type = body.str("language").lower(), body.str("kernelType").lower()
        output_type = body.str("outputType").lower()
        page, size = body.int("page") or 1, body.int("pageSize") or 20
        if page < 1 or not 1 <= size <= 100:
            raise ApiError(400, "page must be >= 1 and pageSize between 1 and 100")
        found = []
        for k in self.store.state["kernels"].values():
            if k["isPrivate"] and k["owner"] != me:
                continue
            if group == "PROFILE" and k["owner"] != (user or me):
                continue
            if user and k["owner"] != user:
                continue
            if search and search not in f"{k['slug']} {k['title']}".lower():
                continue
            if body.str("competition") and body.str("competition") not in k["competitionDataSources"]:
                continue
            if body.str("dataset") and body.str("dataset") not in k["datasetDataSources"]:
                continue
            if body.str("parentKernel"):
                continue  # kernels here are never forks, so none has that parent
            if language not in ("", "all") and k["language"] != language:
                continue
            if kernel_type not in ("", "all") and k["kernelType"] != kernel_type:
                continue
            if output_type not in ("", "all") and self._output_type(k) != output_type:
                continue
            found.append(k)
        found.sort(key=lambda k: k["versions"][-1]["created"] if k["versions"] else k["created"], reverse=True)
        chunk = found[(page - 1) * size : page * size]
        more = page * size < len(found)
        return {"kernels": [self.metadata(k) for k in chunk], "nextPageToken": str(page + 1) if more else ""}

    def _output_type(self, k: Kernel) -> str:
        """Kaggle's output type, guessed from the newest completed version's files: pictures or pages make a
        visualization, other files data, none nothing."""
        done = [v for v in k["versions"] if v["status"] == "COMPLETE"]
        if not done:
            return ""
        root = self.run_dir(k, done[-1]["number"]) / "working"
        names = [n.rsplit("/", 1)[-1].lower() for n in files_under(root)]
        if any(n.endswith((".png", ".jpg", ".jpeg", ".svg", ".gif", ".html")) for n in names):
            return "visualization"
        return "data" if names else ""

    # -- quota -----------------------------------------------------------------------------------
    def quota(self, req: Any) -> dict[str, Any]:
        """Accelerator time this week (Kaggle's quota resets on Saturday 00:00 UTC), from real run times."""
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        since = today - timedelta(days=(today.weekday() - 5) % 7)
        refresh = since + timedelta(days=7)
        used = {"gpu": 0.0, "tpu": 0.0}
        me = req.user["username"]
        t = time.time()
        for k in self.store.state["kernels"].values():
            if k["owner"] != me:
                continue
            for v in k["versions"]:
                if v["kind"] in used and v.get("started"):
                    start = max(v["started"], since.timestamp())
                    used[v["kind"]] += max(0.0, (v.get("ended") or t) - start)
        settings = self.store.settings

        def q(kind: str, hours: float) -> dict[str, Any]:
            return {
                "timeUsed": duration(used[kind]),
                "timeReserved": "0s",
                "totalTimeAllowed": duration(hours * 3600),
                "minimumTimeAllowed": duration(hours * 3600),
                "hasEverRun": used[kind] > 0,
            }

        return {
            "quotaRefreshTime": timestamp(refresh.timestamp()),
            "gpuQuota": q("gpu", settings["gpu_quota_hours"]),
            "tpuQuota": q("tpu", settings["tpu_quota_hours"]),
        }


def _landing(shape: accelerators.Shape, docker_image: str | None) -> accelerators.Shape:
    """Where a session runs: a TPU VM has no docker image, so a TPU request that pins one lands on the CPU image,
    silently, as on Kaggle (docs/kaggle-facts.md, "Machines")."""
    return accelerators.resolve("Cpu") if shape.kind == "tpu" and docker_image else shape
