"""Datasets service: create, version, status, metadata and download, as in docs/wire-protocol.md §3.
A new version is unpacked in the background and passes through Kaggle's processing states before READY."""

from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path
from typing import Any

from kaggle_runner.emulator.archives import ArchiveError, assemble, files_under, zip_folder
from kaggle_runner.emulator.blobs import Blobs
from kaggle_runner.emulator.responses import FileResponse, FileUrls, Redirect
from kaggle_runner.emulator.store import Store
from kaggle_runner.emulator.wire import ApiError, Body, clean, now, timestamp, visible
from kaggle_runner.kaggle.rules import SLUG_RE

PROCESSING = ("BLOBS_RECEIVED", "BLOBS_DECOMPRESSED", "BLOBS_COPIED_TO_SDS", "INDIVIDUAL_BLOBS_COMPRESSED")


class Datasets:
    def __init__(self, store: Store, blobs: Blobs, urls: FileUrls):
        self.store, self.blobs, self.urls = store, blobs, urls
        self.dir = self.store.root / "datasets"
        self._zip_lock = threading.Lock()

    def routes(self) -> dict[str, tuple[Any, bool]]:
        s = "datasets.DatasetApiService/"
        return {
            s + "CreateDataset": (self.create_dataset, True),
            s + "CreateDatasetVersion": (self.create_version, True),
            s + "CreateDatasetVersionById": (self.create_version_by_id, True),
            s + "GetDatasetStatus": (self.get_status, True),
            s + "GetDataset": (self.get_dataset, True),
            s + "GetDatasetMetadata": (self.get_metadata, True),
            s + "DownloadDataset": (self.download, True),
            s + "ListDatasetFiles": (self.list_files, True),
            s + "ListTreeDatasetFiles": (self.list_tree, True),
            s + "ListDatasets": (self.list_datasets, True),
            s + "UpdateDatasetMetadata": (self.update_metadata, True),
            s + "DeleteDataset": (self.delete_dataset, True),
        }

    # -- lookups ---------------------------------------------------------------------------------
    def find(self, owner: str, slug: str, user: dict[str, Any] | None) -> dict[str, Any]:
        return visible(self.store.state["datasets"].get(f"{owner}/{slug}"), user, f"dataset {owner}/{slug}")

    def version(self, ds: dict[str, Any], number: int | None = None) -> dict[str, Any]:
        versions = ds["versions"]
        if number is None:
            return versions[-1]
        for v in versions:
            if v["number"] == number:
                return v
        raise ApiError(404, f"dataset {ds['owner']}/{ds['slug']} has no version {number}")

    def status_of(self, v: dict[str, Any]) -> str:
        if v["state"] == "failed":
            return "FAILED"
        delay = self.store.settings["dataset_ready_seconds"]
        elapsed = now() - v["created"]
        if v["state"] == "processing" or elapsed < delay:
            step = int(len(PROCESSING) * min(elapsed / delay, 0.999)) if delay > 0 else len(PROCESSING) - 1
            return PROCESSING[step]
        return "READY"

    def files_dir(self, ds: dict[str, Any], number: int) -> Path:
        return self.dir / ds["owner"] / ds["slug"] / str(number)

    def ready_dir(self, ref: str) -> Path | None:
        """The folder of a dataset version a kernel may read ('owner/slug[/N]'), if READY."""
        owner, _, rest = ref.partition("/")
        slug, _, num = rest.partition("/")
        ds = self.store.state["datasets"].get(f"{owner}/{slug}")
        if ds is None:
            return None
        try:
            v = self.version(ds, int(num) if num.isdigit() else None)
        except ApiError:
            return None
        return self.files_dir(ds, v["number"]) if self.status_of(v) == "READY" else None

    # -- create / version ------------------------------------------------------------------------
    def create_dataset(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        owner, slug, title = body.str("ownerSlug"), body.str("slug"), body.str("title")
        if owner != req.user["username"]:
            raise ApiError(403, f"user {req.user['username']} cannot create datasets for '{owner}'")
        if not SLUG_RE.match(slug):
            return {
                "status": "Error",
                "error": f"invalid dataset slug '{slug}': 3-50 lowercase letters, digits and hyphens",
            }
        if not title.strip() or len(title) > 50:
            return {"status": "Error", "error": "title must be 1-50 characters"}
        files = self.blobs.take_files(body, req.user, "dataset")
        with self.store.lock:
            if f"{owner}/{slug}" in self.store.state["datasets"]:
                return {"status": "Error", "error": f'The requested slug "{slug}" is already in use by a dataset.'}
            ds = {
                "id": self.store.next_id("dataset", 1000),
                "owner": owner,
                "slug": slug,
                "title": title,
                "subtitle": body.str("subtitle"),
                "description": body.str("description"),
                "licenseName": body.str("licenseName") or "unknown",
                "isPrivate": bool(body.bool("isPrivate")),
                "categoryIds": body.str_list("categoryIds"),
                "created": now(),
                "versions": [],
            }
            self.store.state["datasets"][f"{owner}/{slug}"] = ds
            self._add_version(ds, files, "Initial release", req.user)
        return self._ok(ds)

    def create_version(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        ds = self.find(body.str("ownerSlug"), body.str("datasetSlug"), req.user)
        return self._new_version(ds, Body(body.data.get("body") or {}), req.user)

    def create_version_by_id(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        ident = body.int("id")
        for ds in self.store.state["datasets"].values():
            # another user's private dataset is not there for this user: a 403 would name it
            if ds["id"] == ident and not (ds["isPrivate"] and ds["owner"] != req.user["username"]):
                return self._new_version(ds, Body(body.data.get("body") or {}), req.user)
        raise ApiError(404, f"no dataset with id {ident}")

    def _new_version(self, ds: dict[str, Any], body: Body, user: dict[str, Any]) -> dict[str, Any]:
        if ds["owner"] != user["username"]:
            raise ApiError(403, f"user {user['username']} cannot version {ds['owner']}/{ds['slug']}")
        files = self.blobs.take_files(body, user, "dataset")
        with self.store.lock:
            for key in ("subtitle", "description"):
                if body.str(key):
                    ds[key] = body.str(key)
            self._add_version(ds, files, body.str("versionNotes"), user)
        return self._ok(ds)

    def _ok(self, ds: dict[str, Any]) -> dict[str, Any]:
        ref = f"{ds['owner']}/{ds['slug']}"
        return {"ref": ref, "url": f"https://www.kaggle.com/datasets/{ref}", "status": "Ok"}

    def _add_version(self, ds: dict[str, Any], files: list, notes: str, user: dict[str, Any]) -> None:
        number = len(ds["versions"]) + 1
        v = {"number": number, "notes": notes, "created": now(), "state": "processing", "error": None, "bytes": 0}
        ds["versions"].append(v)
        self.store.save()
        threading.Thread(target=self._assemble, args=(ds, v, files), daemon=True).start()

    def _assemble(self, ds: dict[str, Any], v: dict[str, Any], files: list) -> None:
        """Lay out the version folder from its blobs; archives become folders. All or nothing."""
        total, error = 0, None
        try:
            total = assemble(files, self.files_dir(ds, v["number"]), self.store.settings["max_dataset_bytes"])
        except (ArchiveError, OSError) as e:
            error = str(e)
            print(
                f"emulator: dataset {ds['owner']}/{ds['slug']} version {v['number']} FAILED: {error}", file=sys.stderr
            )
        with self.store.lock:
            v["state"] = "failed" if error else "ok"
            v["error"] = error
            v["bytes"] = total
            self.store.save()

    # -- reads -----------------------------------------------------------------------------------
    def get_status(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        ds = self.find(body.str("ownerSlug"), body.str("datasetSlug"), req.user)
        return {"status": self.status_of(self.version(ds))}

    def get_dataset(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        ds = self.find(body.str("ownerSlug"), body.str("datasetSlug"), req.user)
        return self.api_dataset(ds)

    def api_dataset(self, ds: dict[str, Any]) -> dict[str, Any]:
        ref = f"{ds['owner']}/{ds['slug']}"
        v = self.version(ds)
        return clean(
            {
                "id": ds["id"],
                "ref": ref,
                "title": ds["title"],
                "subtitle": ds["subtitle"] or None,
                "description": ds["description"] or None,
                "creatorName": ds["owner"],
                "ownerName": ds["owner"],
                "ownerRef": ds["owner"],
                "url": f"https://www.kaggle.com/datasets/{ref}",
                "isPrivate": ds["isPrivate"],
                "licenseName": ds["licenseName"],
                "currentVersionNumber": v["number"],
                "totalBytes": v["bytes"],
                "lastUpdated": timestamp(v["created"]),
                "versions": [
                    {
                        "versionNumber": old["number"],
                        "versionNotes": old["notes"],
                        "creationDate": timestamp(old["created"]),
                        "creatorName": ds["owner"],
                        "creatorRef": ds["owner"],
                        "status": self.status_of(old),
                    }
                    for old in reversed(ds["versions"])
                ],
            }
        )

    def list_datasets(self, req: Any) -> dict[str, Any]:
        """Datasets a user may see: the public ones, `user`'s, or (group MY) the caller's own, matching `search`."""
        body = Body(req.body_json())
        me = req.user["username"]
        group = body.str("group") or "DATASET_SELECTION_GROUP_PUBLIC"
        owner = me if group in ("DATASET_SELECTION_GROUP_MY", "1") else body.str("user")
        search = body.str("search").lower()
        found = [
            ds
            for ds in sorted(self.store.state["datasets"].values(), key=lambda d: d["id"], reverse=True)
            if (not ds["isPrivate"] or ds["owner"] == me)
            and (not owner or ds["owner"] == owner)
            and (search in f"{ds['owner']}/{ds['slug']}".lower() or search in ds["title"].lower())
        ]
        size = body.int("pageSize") or 20
        token = body.str("pageToken")
        offset = int(token) if token.isdigit() else (max(1, body.int("page") or 1) - 1) * size
        more = offset + size < len(found)
        page = [self.api_dataset(ds) for ds in found[offset : offset + size]]
        return {"datasets": page, "nextPageToken": str(offset + size) if more else ""}

    def _own(self, req: Any, body: Body) -> dict[str, Any]:
        ds = self.find(body.str("ownerSlug"), body.str("datasetSlug"), req.user)
        if ds["owner"] != req.user["username"]:
            raise ApiError(403, f"only {ds['owner']} can change {ds['owner']}/{ds['slug']}")
        return ds

    def update_metadata(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        ds = self._own(req, body)
        settings = body.data.get("settings") or {}
        if not isinstance(settings, dict):
            raise ApiError(400, "settings must be an object")
        title = settings.get("title")
        if title is not None and not (isinstance(title, str) and 6 <= len(title) <= 50):
            return {"errors": ["title must be 6-50 characters"]}
        licenses = settings.get("licenses") or []
        with self.store.lock:
            for key, field in (("title", "title"), ("subtitle", "subtitle"), ("description", "description")):
                if isinstance(settings.get(key), str):
                    ds[field] = settings[key]
            if isinstance(settings.get("isPrivate"), bool):
                ds["isPrivate"] = settings["isPrivate"]
            if isinstance(settings.get("keywords"), list):
                ds["categoryIds"] = [str(k) for k in settings["keywords"]]
            if isinstance(licenses, list) and licenses and isinstance(licenses[0], dict) and licenses[0].get("name"):
                ds["licenseName"] = str(licenses[0]["name"])
            self.store.save()
        return {"errors": []}

    def delete_dataset(self, req: Any) -> dict[str, Any]:
        ds = self._own(req, Body(req.body_json()))
        with self.store.lock:
            del self.store.state["datasets"][f"{ds['owner']}/{ds['slug']}"]
            self.store.save()
        shutil.rmtree(self.dir / ds["owner"] / ds["slug"], ignore_errors=True)
        return {}

    def get_metadata(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        ds = self.find(body.str("ownerSlug"), body.str("datasetSlug"), req.user)
        info = {
            "datasetId": ds["id"],
            "datasetSlug": ds["slug"],
            "ownerUser": ds["owner"],
            "title": ds["title"],
            "subtitle": ds["subtitle"],
            "description": ds["description"],
            "isPrivate": ds["isPrivate"],
            "keywords": ds["categoryIds"],
            "licenses": [{"name": ds["licenseName"]}],
        }
        return {"info": info}

    def _ready_version(self, ds: dict[str, Any], number: int | None) -> dict[str, Any]:
        v = self.version(ds, number or None)
        status = self.status_of(v)
        if status != "READY":
            raise ApiError(409 if status != "FAILED" else 410, f"dataset version {v['number']} is {status}")
        return v

    def list_files(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        ds = self.find(body.str("ownerSlug"), body.str("datasetSlug"), req.user)
        v = self._ready_version(ds, body.int("datasetVersionNumber"))
        root = self.files_dir(ds, v["number"])
        ref = f"{ds['owner']}/{ds['slug']}"
        files = []
        for rel in files_under(root):
            st = (root / rel).stat()
            files.append(
                {
                    "ref": rel,
                    "name": rel,
                    "datasetRef": ref,
                    "totalBytes": st.st_size,
                    "creationDate": timestamp(st.st_mtime),
                }
            )
        return {"datasetFiles": files, "nextPageToken": ""}

    def list_tree(self, req: Any) -> dict[str, Any]:
        """One folder of a version (`path`, "" for the top), folders first (kagglehub's folder downloads): each child
        with its path from the version's top as `relativeUrl`."""
        body = Body(req.body_json())
        ds = self.find(body.str("ownerSlug"), body.str("datasetSlug"), req.user)
        v = self._ready_version(ds, body.int("datasetVersionNumber"))
        root = self.files_dir(ds, v["number"]).resolve()
        where = body.str("path").strip("/")
        folder = (root / where).resolve() if where else root
        if (folder != root and root not in folder.parents) or not folder.is_dir():
            raise ApiError(404, f"dataset {ds['owner']}/{ds['slug']} has no folder '{where}'")
        children = sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name))
        children = [c for c in children if not c.is_symlink()]
        size = body.int("pageSize") or 200
        token = body.str("pageToken")
        offset = int(token) if token.isdigit() else 0
        page = children[offset : offset + size]

        def rel(p: Path) -> str:
            return p.relative_to(root).as_posix()

        directories, files = [], []
        for c in page:
            if c.is_dir():
                inner = list(c.iterdir())
                dirs = sum(1 for i in inner if i.is_dir())
                directories.append(
                    {
                        "name": c.name,
                        "relativeUrl": rel(c),
                        "totalDirectories": dirs,
                        "totalFiles": len(inner) - dirs,
                        "totalChildren": len(inner),
                    }
                )
            else:
                st = c.stat()
                files.append(
                    {
                        "name": c.name,
                        "relativeUrl": rel(c),
                        "totalBytes": st.st_size,
                        "creationDate": timestamp(st.st_mtime),
                    }
                )
        total_dirs = sum(1 for c in children if c.is_dir())
        return {
            "directories": directories,
            "files": files,
            "totalChildren": len(children),
            "totalDirectories": total_dirs,
            "totalFiles": len(children) - total_dirs,
            "nextPageToken": str(offset + size) if offset + size < len(children) else "",
        }

    def download(self, req: Any) -> Any:
        body = Body(req.body_json())
        ds = self.find(body.str("ownerSlug"), body.str("datasetSlug"), req.user)
        v = self._ready_version(ds, body.int("datasetVersionNumber"))
        prefix = f"datasets/{ds['owner']}/{ds['slug']}/{v['number']}"
        name = body.str("fileName")
        if name:
            root = self.files_dir(ds, v["number"]).resolve()
            path = (root / name).resolve()
            if root not in path.parents or not path.is_file():  # absolute names and ../ must not probe the host
                raise ApiError(404, f"dataset {ds['owner']}/{ds['slug']} has no file '{name}'")
            return Redirect(self.urls.url(req.base_url, f"{prefix}/files/{name}"))
        return Redirect(self.urls.url(req.base_url, f"{prefix}/zip/{ds['slug']}.zip"))

    def download_path(self, rest: str) -> Any:
        """Resolve a signed 'owner/slug/N/(files/<path>|zip/<slug>.zip)' to a file to serve."""
        parts = rest.split("/")
        if len(parts) < 5 or not parts[2].isdigit():
            raise ApiError(404, "no such file")
        ds = self.store.state["datasets"].get(f"{parts[0]}/{parts[1]}")
        if ds is None:
            raise ApiError(404, "no such dataset")
        root = self.files_dir(ds, int(parts[2]))
        if parts[3] == "zip":
            return FileResponse(self._zip(root), "application/zip")
        path = (root / "/".join(parts[4:])).resolve()
        if root.resolve() not in path.parents or not path.is_file():
            raise ApiError(404, "no such file")
        return FileResponse(path)

    def _zip(self, root: Path) -> Path:
        with self._zip_lock:
            return zip_folder(root, root.with_name(f".{root.name}.zip"))
