"""Code that runs inside a kernel before (or without) kaggle_runner there: carried() turns a self-contained function
into source for it, and the cancel watcher reads the control dataset with the session's own credential."""

from __future__ import annotations

import inspect
from typing import Any

PROGRESS = "kr_progress.json"  # how far a run got (runtime/report.py writes it to /kaggle/working; kr pull reads it)


def carried(function: Any) -> str:
    """A self-contained function (rules.py's, the watcher below) as source named _kr_<name>, for code that runs
    before (or without) kaggle_runner installed in the kernel: the bootstrap, `kr init`'s starter kernel."""
    name = function.__name__
    return inspect.getsource(function).replace(f"def {name}(", f"def _kr_{name}(", 1)


def watch_for_cancel(marker: dict) -> None:
    """Runs inside a kernel (the bootstrap carries this source there). Every marker["poll"] seconds, read the
    control dataset's description (loop/control.py) with the session's own credential
    (kagglesdk finds it inside a Kaggle notebook); when this run's nonce is there, print KR_CANCELLED, stop the
    run's processes and exit."""
    import json
    import multiprocessing
    import os
    import sys
    import time

    try:
        from kagglesdk import KaggleClient
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetMetadataRequest
    except ImportError:
        print("kr: kagglesdk is missing here, so `kr cancel` cannot reach this run", file=sys.stderr, flush=True)
        return
    req = ApiGetDatasetMetadataRequest()
    req.owner_slug, _, req.dataset_slug = marker["control"].partition("/")
    while True:
        time.sleep(float(marker.get("poll") or 30))
        try:
            with KaggleClient() as k:
                info = k.datasets.dataset_api_client.get_dataset_metadata(req).info
            asked = json.loads(info.description or "{}").get("cancel", {}).get(marker["nonce"])
        except Exception:  # no request yet (no dataset, other text), or the API away for a moment: ask again later
            continue
        if asked:
            print("KR_CANCELLED " + json.dumps({"run": marker.get("run"), **asked}), flush=True)
            sys.stderr.flush()
            for child in multiprocessing.active_children():
                child.terminate()
            os._exit(3)  # EXIT_CANCELLED; the carried source cannot name it
