"""Models service: models, their instances (framework + variation) and instance versions, as `kaggle models` and
kagglehub drive them (docs/wire-protocol.md §5); a version's files are unpacked like a dataset version's."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

from kaggle_runner.emulator.archives import ArchiveError, assemble, files_under
from kaggle_runner.emulator.blobs import Blobs
from kaggle_runner.emulator.responses import FileResponse, FileUrls, Redirect
from kaggle_runner.emulator.store import Store
from kaggle_runner.emulator.wire import ApiError, Body, clean, now, timestamp, visible
from kaggle_runner.kaggle.rules import MODEL_FRAMEWORKS, SLUG_RE, framework_path

PATH_FORMS = {name.lower().replace("_", ""): name for name in MODEL_FRAMEWORKS}


def framework_of(text: str) -> str:
    """A framework as the wire or a path writes it (MODEL_FRAMEWORK_PY_TORCH, PY_TORCH, pytorch, PyTorch) -> PY_TORCH.
    Raises ApiError 400 for another."""
    key = framework_path(text) or ""
    if key not in PATH_FORMS:
        raise ApiError(400, f"unknown framework '{text}' (one of {', '.join(sorted(PATH_FORMS))})")
    return PATH_FORMS[key]


def path_form(framework: str) -> str:
    """PY_TORCH -> pytorch: how a model's URL and its mount point name the framework."""
    return framework.lower().replace("_", "")


class Models:
    def __init__(self, store: Store, blobs: Blobs, urls: FileUrls):
        self.store, self.blobs, self.urls = store, blobs, urls
        self.dir = self.store.root / "models"
        self._tar_lock = threading.Lock()

    def routes(self) -> dict[str, tuple[Any, bool]]:
        s = "models.ModelApiService/"
        return {
            s + "CreateModel": (self.create_model, True),
            s + "GetModel": (self.get_model, True),
            s + "ListModels": (self.list_models, True),
            s + "UpdateModel": (self.update_model, True),
            s + "DeleteModel": (self.delete_model, True),
            s + "CreateModelInstance": (self.create_instance, True),
            s + "GetModelInstance": (self.get_instance, True),
            s + "ListModelInstances": (self.list_instances, True),
            s + "UpdateModelInstance": (self.update_instance, True),
            s + "DeleteModelInstance": (self.delete_instance, True),
            s + "CreateModelInstanceVersion": (self.create_version, True),
            s + "ListModelInstanceVersions": (self.list_versions, True),
            s + "ListModelInstanceVersionFiles": (self.list_files, True),
            s + "DownloadModelInstanceVersion": (self.download, True),
            s + "DeleteModelInstanceVersion": (self.delete_version, True),
        }

    # -- lookups ---------------------------------------------------------------------------------
    def _model(self, owner: str, slug: str, user: dict[str, Any] | None) -> dict[str, Any]:
        return visible(self.store.state["models"].get(f"{owner}/{slug}"), user, f"model {owner}/{slug}")

    def _own(self, model: dict[str, Any], user: dict[str, Any]) -> None:
        if model["owner"] != user["username"]:
            raise ApiError(403, f"user {user['username']} cannot change {model['owner']}/{model['slug']}")

    def _instance(self, body: Body, user: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
        model = self._model(body.str("ownerSlug"), body.str("modelSlug"), user)
        framework, slug = framework_of(body.str("framework")), body.str("instanceSlug")
        instance = model["instances"].get(f"{framework}/{slug}")
        if instance is None:
            raise ApiError(404, f"model {model['owner']}/{model['slug']} has no instance {path_form(framework)}/{slug}")
        return model, instance

    def _version(self, instance: dict[str, Any], number: int | None) -> dict[str, Any]:
        live = [v for v in instance["versions"] if not v.get("deleted")]
        if number is None and live:
            return live[-1]
        for v in live:
            if v["number"] == number:
                return v
        raise ApiError(404, f"instance {instance['slug']} has no version {number}")

    def files_dir(self, model: dict[str, Any], instance: dict[str, Any], number: int) -> Path:
        folder = self.dir / model["owner"] / model["slug"] / path_form(instance["framework"])
        return folder / instance["slug"] / str(number)

    def ready_dir(self, ref: str, user: dict[str, Any] | None = None) -> tuple[Path, int] | None:
        """The folder and number of the model instance version a kernel reads ('owner/model/framework/variation/N'),
        if its files are in place; None for anything else, a ref without a version included (Kaggle documents
        model sources with one; whether it takes one without is unknown). With `user`, also None for a model that
        user may not see."""
        parts = ref.strip("/").split("/")
        if len(parts) != 5 or not parts[4].isdigit():
            return None
        try:
            ref_key = f"{parts[0]}/{parts[1]}"
            model = self._model(parts[0], parts[1], user) if user else self.store.state["models"][ref_key]
            instance = model["instances"].get(f"{framework_of(parts[2])}/{parts[3]}")
            if instance is None:
                return None
            v = self._version(instance, int(parts[4]))
        except (ApiError, KeyError):
            return None
        return (self.files_dir(model, instance, v["number"]), v["number"]) if v["state"] == "ok" else None

    # -- models ----------------------------------------------------------------------------------
    def create_model(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        owner, slug, title = body.str("ownerSlug"), body.str("slug"), body.str("title")
        if owner != req.user["username"]:
            raise ApiError(403, f"user {req.user['username']} cannot create models for '{owner}'")
        if not SLUG_RE.match(slug):
            return {
                "error": f"invalid model slug '{slug}': 3-50 lowercase letters, digits and hyphens",
                "errorCode": 400,
            }
        if not title.strip():
            return {"error": "a model needs a title", "errorCode": 400}
        with self.store.lock:
            if f"{owner}/{slug}" in self.store.state["models"]:
                return {"error": f"The slug '{slug}' is already used by a model of {owner}", "errorCode": 409}
            model: dict[str, Any] = {
                "id": self.store.next_id("model", 500),
                "owner": owner,
                "slug": slug,
                "title": title,
                "subtitle": body.str("subtitle"),
                "description": body.str("description"),
                "isPrivate": bool(body.bool("isPrivate", True)),
                "created": now(),
                "instances": {},
            }
            self.store.state["models"][f"{owner}/{slug}"] = model
            self.store.save()
        return self._answer(model["id"], f"{owner}/{slug}")

    def _answer(self, ident: int, ref: str) -> dict[str, Any]:
        return {"id": ident, "ref": ref, "url": f"https://www.kaggle.com/models/{ref}"}

    def api_model(self, model: dict[str, Any]) -> dict[str, Any]:
        ref = f"{model['owner']}/{model['slug']}"
        return clean(
            {
                "id": model["id"],
                "ref": ref,
                "title": model["title"],
                "subtitle": model["subtitle"],
                "author": model["owner"],
                "slug": model["slug"],
                "isPrivate": model["isPrivate"],
                "description": model["description"],
                "instances": [self.api_instance(model, i) for i in model["instances"].values()],
                "url": f"https://www.kaggle.com/models/{ref}",
                "updateTime": timestamp(model["created"]),
            }
        )

    def get_model(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        return self.api_model(self._model(body.str("ownerSlug"), body.str("modelSlug"), req.user))

    def list_models(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        search, owner = body.str("search").lower(), body.str("owner")
        user = req.user["username"]
        found = [
            m
            for m in self.store.state["models"].values()
            if (not m["isPrivate"] or m["owner"] == user)
            and (not owner or m["owner"] == owner)
            and (search in m["slug"] or search in m["title"].lower())
        ]
        size = body.int("pageSize") or 20
        token = body.str("pageToken")
        offset = int(token) if token.isdigit() else 0
        more = offset + size < len(found)
        return {
            "models": [self.api_model(m) for m in found[offset : offset + size]],
            "nextPageToken": str(offset + size) if more else "",
            "totalResults": len(found),
        }

    def update_model(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        model = self._model(body.str("ownerSlug"), body.str("modelSlug"), req.user)
        self._own(model, req.user)
        with self.store.lock:
            for key in ("title", "subtitle", "description"):
                if body.str(key):
                    model[key] = body.str(key)
            if body.bool("isPrivate") is not None:
                model["isPrivate"] = bool(body.bool("isPrivate"))
            self.store.save()
        return self._answer(model["id"], f"{model['owner']}/{model['slug']}")

    def delete_model(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        model = self._model(body.str("ownerSlug"), body.str("modelSlug"), req.user)
        self._own(model, req.user)
        with self.store.lock:
            del self.store.state["models"][f"{model['owner']}/{model['slug']}"]
            self.store.save()
        shutil.rmtree(self.dir / model["owner"] / model["slug"], ignore_errors=True)
        return {}

    # -- instances -------------------------------------------------------------------------------
    def api_instance(self, model: dict[str, Any], instance: dict[str, Any]) -> dict[str, Any]:
        live = [v for v in instance["versions"] if not v.get("deleted")]
        newest = live[-1] if live else None
        ref = f"{model['owner']}/{model['slug']}/{path_form(instance['framework'])}/{instance['slug']}"
        return clean(
            {
                "id": instance["id"],
                "slug": instance["slug"],
                "framework": f"MODEL_FRAMEWORK_{instance['framework']}",
                "fineTunable": instance["fineTunable"],
                "overview": instance["overview"],
                "usage": instance["usage"],
                "versionId": newest["id"] if newest else None,
                "versionNumber": newest["number"] if newest else None,
                "trainingData": instance["trainingData"],
                "url": f"https://www.kaggle.com/models/{ref}",
                "licenseName": instance["licenseName"],
                "modelInstanceType": "MODEL_INSTANCE_TYPE_BASE_MODEL",
                "totalUncompressedBytes": newest["bytes"] if newest else 0,
            }
        )

    def create_instance(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        model = self._model(body.str("ownerSlug"), body.str("modelSlug"), req.user)
        self._own(model, req.user)
        inner = Body(body.data.get("body") or {})
        framework, slug = framework_of(inner.str("framework")), inner.str("instanceSlug")
        if not SLUG_RE.match(slug):
            return {
                "error": f"invalid instance slug '{slug}': 3-50 lowercase letters, digits and hyphens",
                "errorCode": 400,
            }
        files = self.blobs.take_files(inner, req.user, "model instance")
        with self.store.lock:
            if f"{framework}/{slug}" in model["instances"]:
                return {"error": f"Instance {path_form(framework)}/{slug} already exists", "errorCode": 409}
            instance: dict[str, Any] = {
                "id": self.store.next_id("model-instance", 900),
                "framework": framework,
                "slug": slug,
                "overview": inner.str("overview"),
                "usage": inner.str("usage"),
                "fineTunable": bool(inner.bool("fineTunable")),
                "trainingData": inner.str_list("trainingData"),
                "licenseName": inner.str("licenseName") or "Apache 2.0",
                "versions": [],
            }
            model["instances"][f"{framework}/{slug}"] = instance
            v = self._add_version(model, instance, files, "Initial version")
        ref = f"{model['owner']}/{model['slug']}/{path_form(framework)}/{slug}"
        return self._answer(instance["id"], f"{ref}/{v['number']}")

    def get_instance(self, req: Any) -> dict[str, Any]:
        model, instance = self._instance(Body(req.body_json()), req.user)
        return self.api_instance(model, instance)

    def list_instances(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        model = self._model(body.str("ownerSlug"), body.str("modelSlug"), req.user)
        return {"instances": [self.api_instance(model, i) for i in model["instances"].values()], "nextPageToken": ""}

    def update_instance(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        model, instance = self._instance(body, req.user)
        self._own(model, req.user)
        with self.store.lock:
            for key in ("overview", "usage", "licenseName"):
                if body.str(key):
                    instance[key] = body.str(key)
            if body.bool("fineTunable") is not None:
                instance["fineTunable"] = bool(body.bool("fineTunable"))
            self.store.save()
        return self._answer(instance["id"], f"{model['owner']}/{model['slug']}")

    def delete_instance(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        model, instance = self._instance(body, req.user)
        self._own(model, req.user)
        with self.store.lock:
            del model["instances"][f"{instance['framework']}/{instance['slug']}"]
            self.store.save()
        shutil.rmtree(self.files_dir(model, instance, 1).parent, ignore_errors=True)
        return {}

    # -- versions --------------------------------------------------------------------------------
    def _add_version(self, model: dict[str, Any], instance: dict[str, Any], files: list, notes: str) -> dict[str, Any]:
        """A new version, numbered after every one made (deleted ones included), its files laid out in the background
        as a dataset version's are (archives become folders, all or nothing)."""
        number = max((v["number"] for v in instance["versions"]), default=0) + 1
        v = {
            "id": self.store.next_id("model-version", 7000),
            "number": number,
            "notes": notes,
            "created": now(),
            "state": "processing",
            "error": None,
            "bytes": 0,
        }
        instance["versions"].append(v)
        self.store.save()
        final = self.files_dir(model, instance, number)
        threading.Thread(target=self._assemble, args=(v, files, final), daemon=True).start()
        return v

    def _assemble(self, v: dict[str, Any], files: list, final: Path) -> None:
        error, total = None, 0
        try:
            total = assemble(files, final, self.store.settings["max_dataset_bytes"])
        except (ArchiveError, OSError) as e:
            error = str(e)
        with self.store.lock:
            v.update(state="failed" if error else "ok", error=error, bytes=total)
            self.store.save()

    def create_version(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        model, instance = self._instance(body, req.user)
        self._own(model, req.user)
        inner = Body(body.data.get("body") or {})
        files = self.blobs.take_files(inner, req.user, "model instance")
        with self.store.lock:
            v = self._add_version(model, instance, files, inner.str("versionNotes"))
        ref = f"{model['owner']}/{model['slug']}/{path_form(instance['framework'])}/{instance['slug']}"
        return self._answer(v["id"], f"{ref}/{v['number']}")

    def list_versions(self, req: Any) -> dict[str, Any]:
        model, instance = self._instance(Body(req.body_json()), req.user)
        ref = f"{model['owner']}/{model['slug']}/{path_form(instance['framework'])}/{instance['slug']}"
        versions = [
            {
                "id": v["id"],
                "framework": f"MODEL_FRAMEWORK_{instance['framework']}",
                "url": f"https://www.kaggle.com/models/{ref}/{v['number']}",
                "variationSlug": instance["slug"],
                "versionNumber": v["number"],
                "modelTitle": model["title"],
                "isPrivate": model["isPrivate"],
                "modelId": model["id"],
                "ownerSlug": model["owner"],
                "modelSlug": model["slug"],
                "modelInstanceId": instance["id"],
            }
            for v in instance["versions"]
            if not v.get("deleted")
        ]
        return {"versionList": {"versions": versions[::-1]}, "nextPageToken": ""}

    def _ready(self, body: Body, user: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Path]:
        model, instance = self._instance(body, user)
        v = self._version(instance, body.int("versionNumber") or None)  # 0, as the CLI sends it: the newest
        if v["state"] != "ok":
            raise ApiError(404 if v["state"] == "failed" else 409, f"version {v['number']} is {v['state']}")
        return model, v, self.files_dir(model, instance, v["number"])

    def list_files(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        _, v, root = self._ready(body, req.user)
        files = [
            {"name": rel, "size": (root / rel).stat().st_size, "creationDate": timestamp(v["created"])}
            for rel in files_under(root)
        ]
        size = body.int("pageSize") or 100
        token = body.str("pageToken")
        offset = int(token) if token.isdigit() else 0
        more = offset + size < len(files)
        return {"files": files[offset : offset + size], "nextPageToken": str(offset + size) if more else ""}

    def download(self, req: Any) -> Any:
        """The version as one .tar.gz (what `kaggle models instances versions download` saves and untars), or one
        file with `path`; a redirect to a signed URL either way."""
        body = Body(req.body_json())
        model, v, root = self._ready(body, req.user)
        rel = root.relative_to(self.dir).as_posix()
        path = body.str("path")
        if path:
            target = (root / path).resolve()
            if root.resolve() not in target.parents or not target.is_file():
                raise ApiError(404, f"no file '{path}' in this version")
            return Redirect(self.urls.url(req.base_url, f"models/{rel}/{path}"))
        return Redirect(self.urls.url(req.base_url, f"models/{rel}/{ALL}/{model['slug']}.tar.gz"))

    def download_path(self, rest: str) -> Any:
        """Resolve a signed models/<owner>/<model>/<framework>/<instance>/<N>/<file> to serve."""
        parts = rest.split("/")
        if len(parts) < 6:
            raise ApiError(404, "no such file")
        root = self.dir.joinpath(*parts[:5])
        if parts[5] == ALL and len(parts) == 7:
            return FileResponse(self._tarball(root), "application/gzip")
        target = root.joinpath(*parts[5:]).resolve()
        if root.resolve() not in target.parents or not target.is_file():
            raise ApiError(404, "no such file")
        return FileResponse(target, "application/octet-stream")

    def _tarball(self, root: Path) -> Path:
        """The version as one .tar.gz beside its folder, built once (two downloads at once wait for one build)."""
        import tarfile

        out = root.with_name(f".{root.name}.tar.gz")
        with self._tar_lock:
            if not out.exists():
                tmp = out.with_name(out.name + ".tmp")
                with tarfile.open(tmp, "w:gz") as tf:
                    for rel in files_under(root):
                        tf.add(root / rel, arcname=rel)
                tmp.replace(out)
        return out

    def delete_version(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        model, instance = self._instance(body, req.user)
        self._own(model, req.user)
        v = self._version(instance, body.int("versionNumber"))
        with self.store.lock:
            v["deleted"] = True
            self.store.save()
        shutil.rmtree(self.files_dir(model, instance, v["number"]), ignore_errors=True)
        return {}


ALL = "_all"  # a signed URL's marker for the whole version as one archive
