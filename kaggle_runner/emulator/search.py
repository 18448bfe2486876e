"""Search service: ListEntities (`kaggle search QUERY [--type ...] [--mine]`) over what this state holds that the user
may see: competitions, datasets, notebooks and models, matched by the query in their slug or title."""

from __future__ import annotations

from typing import Any

from kaggle_runner.emulator.competitions import Competitions
from kaggle_runner.emulator.store import Store
from kaggle_runner.emulator.wire import ApiError, Body, clean

TYPES = ("COMPETITION", "DATASET", "KERNEL", "MODEL")  # the kinds a local Kaggle has (no users, topics, ...)


class Search:
    def __init__(self, store: Store, competitions: Competitions):
        self.store, self.competitions = store, competitions

    def routes(self) -> dict[str, tuple[Any, bool]]:
        return {"search.SearchApiService/ListEntities": (self.list_entities, True)}

    def list_entities(self, req: Any) -> dict[str, Any]:
        body = Body(req.body_json())
        filters = Body(body.data.get("filters") or {})
        query = filters.str("query").strip().lower()
        if not query:
            raise ApiError(400, "a search needs a query")
        wanted = set()
        for name in filters.data.get("documentTypes") or []:
            if not isinstance(name, str):
                raise ApiError(400, "documentTypes must be enum names")
            wanted.add(name.upper().removeprefix("DOCUMENT_TYPE_"))
        mine = filters.str("listType").upper().endswith("YOUR_WORK")
        user = req.user["username"]
        found = [
            d
            for d in self._documents(user)
            if (not wanted or d["documentType"] in wanted)
            and (not mine or d.get("ownerUser", {}).get("userName") == user)
            and (query in d["slug"].lower() or query in d["title"].lower())
        ]
        size = body.int("pageSize") or 20
        token = body.str("pageToken")
        offset = int(token) if token.isdigit() else 0
        more = offset + size < len(found)
        return {
            "documents": found[offset : offset + size],
            "totalDocuments": len(found),
            "nextPageToken": str(offset + size) if more else "",
        }

    def _documents(self, user: str) -> list[dict[str, Any]]:
        state = self.store.state
        docs = []
        for n, slug in enumerate(
            sorted(p.name for p in self.competitions.dir.glob("*") if self.competitions.exists(p.name))
        ):
            comp = self.competitions.definition(slug)
            docs.append(_doc(n + 1, "COMPETITION", slug, comp.get("title", slug), None, False))
        for ds in state["datasets"].values():
            if not ds["isPrivate"] or ds["owner"] == user:
                docs.append(_doc(ds["id"], "DATASET", ds["slug"], ds["title"], ds["owner"], ds["isPrivate"]))
        for k in state["kernels"].values():
            if not k["isPrivate"] or k["owner"] == user:
                docs.append(_doc(k["id"], "KERNEL", k["slug"], k["title"], k["owner"], k["isPrivate"]))
        for m in state["models"].values():
            if not m["isPrivate"] or m["owner"] == user:
                docs.append(_doc(m["id"], "MODEL", m["slug"], m["title"], m["owner"], m["isPrivate"]))
        return docs


def _doc(ident: int, kind: str, slug: str, title: str, owner: str | None, private: bool) -> dict[str, Any]:
    return clean(
        {
            "id": ident,
            "documentType": kind,
            "title": title,
            "slug": slug,
            "isPrivate": private,
            "votes": 0,
            "ownerUser": {"userName": owner, "displayName": owner} if owner else None,
        }
    )
