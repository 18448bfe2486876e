"""The only module that talks to a team's MLflow tracking server: which server (kr.yaml or MLflow's variables), a
client with short retries, batched writes under MLflow's limits, searches and artifact transfers, errors as one line."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaggle_runner.errors import UserError

if TYPE_CHECKING:
    from kaggle_runner.config import Config

# MLflow's own limits on one log-batch request (mlflow/utils/validation.py)
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTITIES = 1000, 100, 100, 1000
MAX_PARAM_VALUE, MAX_TAG_VALUE = 6000, 8000
# MLflow retries an unreachable server 7 times with a growing backoff (minutes); a sync that cannot reach it
# should say so in seconds, and the next sync catches up. Its client also prints a URL on stdout whenever a run
# ends, which would break `--json`, and a progress bar for every download. A user's own settings of these win.
CLIENT_DEFAULTS = {
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}


class TrackingError(UserError):
    """The team's tracking server refused a call, or kr.yaml names none."""


class TrackingUnavailable(TrackingError):
    """The server could not be reached, or failed; nothing kr recorded is affected and the next sync catches up."""


class LocalFileError(TrackingError):
    """A file on this machine could not be read or written (an output deleted since the pull): not the server."""


@dataclass(frozen=True)
class Server:
    """A team's MLflow tracking server and the experiment the team shares on it."""

    uri: str
    experiment: str

    @property
    def key(self) -> str:
        """How the ledger names this server and experiment (a run is sent once to each)."""
        return f"{self.uri}#{self.experiment}"


def server_for(cfg: Config) -> Server | None:
    """The team's server: kr.yaml's `tracking:`, else MLFLOW_TRACKING_URI; None when neither is set. The experiment
    is `tracking.experiment`, else MLFLOW_EXPERIMENT_NAME, else the competition's slug (else the project's folder)."""
    uri = cfg.tracking.get("mlflow") or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return None
    experiment = (
        cfg.tracking.get("experiment")
        or os.environ.get("MLFLOW_EXPERIMENT_NAME")
        or cfg.competition
        or cfg.root.resolve().name
    )
    return Server(uri.rstrip("/"), experiment)


def required(cfg: Config) -> Server:
    """The team's server from kr.yaml or MLFLOW_TRACKING_URI; refuses when there is none."""
    server = server_for(cfg)
    if server is None:
        raise TrackingError(
            "no team tracking server: add `tracking: {mlflow: http://HOST:5000}` to kr.yaml or set MLFLOW_TRACKING_URI"
        )
    return server


class Tracker:
    """One server and experiment, through MLflow's client (imported here only, when a command needs it)."""

    def __init__(self, server: Server, create: bool = True):
        for name, value in CLIENT_DEFAULTS.items():
            os.environ.setdefault(name, value)
        from mlflow.tracking import MlflowClient

        self.server = server
        self.client = MlflowClient(tracking_uri=server.uri)
        self.experiment_id = self._call("open the experiment", lambda: self._experiment(create))

    def _experiment(self, create: bool) -> str:
        exp = self.client.get_experiment_by_name(self.server.experiment)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                raise TrackingError(
                    f"{self.server.uri}: experiment '{self.server.experiment}' was deleted; restore it in MLflow "
                    "or name another in kr.yaml (tracking.experiment)"
                )
            return str(exp.experiment_id)
        if not create:
            raise TrackingError(f"{self.server.uri}: no experiment '{self.server.experiment}' yet; run `kr sync` first")
        # MLflow 3 records what an experiment is for in this tag (its UI uses it where it does not follow the
        # GenAI / Model training switch): kr's are model training, not GenAI traces
        return str(self.client.create_experiment(self.server.experiment, tags=EXPERIMENT_TAGS))

    def _call(self, what: str, fn: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return fn()
        except TrackingError:
            raise
        except MlflowException as e:
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            code = getattr(e, "error_code", "")
            if (
                "failed with exception" in text
                or "Max retries" in text
                or code in ("INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE")
            ):
                raise TrackingUnavailable(
                    f"{self.server.uri}: cannot {what} (the MLflow server is not answering)"
                ) from e
            raise TrackingError(f"{self.server.uri}: cannot {what}: {text[:300]}") from e
        except OSError as e:  # requests' connection errors are OSErrors too, but name no file
            if e.filename is not None:
                raise LocalFileError(f"{e.strerror or type(e).__name__} ({e.filename})") from e
            raise TrackingUnavailable(f"{self.server.uri}: cannot {what} ({type(e).__name__})") from e

    @property
    def experiment_url(self) -> str:
        """The experiment's page in MLflow's UI."""
        return f"{self.server.uri}/#/experiments/{self.experiment_id}"

    def search(self, filter_string: str = "") -> list[Any]:
        """Every run of the experiment matching an MLflow filter (all pages)."""

        def pages() -> list[Any]:
            out, token = [], None
            while True:
                page = self.client.search_runs([self.experiment_id], filter_string, max_results=1000, page_token=token)
                out += list(page)
                token = page.token
                if not token:
                    return out

        return self._call("search the experiment", pages)

    def create_run(self, name: str, tags: dict[str, str], start_ms: int) -> str:
        """A new MLflow run in the experiment; returns its id."""
        run = self._call(
            "create a run",
            lambda: self.client.create_run(self.experiment_id, start_time=start_ms, tags=tags, run_name=name),
        )
        return str(run.info.run_id)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[tuple[str, float, int, int]] = (),
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> int:
        """Metrics (key, value, timestamp ms, step), params and tags in as few requests as MLflow's limits allow;
        returns the number of requests. Sending the same again is harmless: MLflow keeps one copy of an identical
        metric point, and an identical param or tag."""
        from mlflow.entities import Metric, Param, RunTag

        batches = 0
        for chunk in _chunks(
            [Param(k, v[:MAX_PARAM_VALUE]) for k, v in (params or {}).items()],
            [RunTag(k, v[:MAX_TAG_VALUE]) for k, v in (tags or {}).items()],
            [Metric(k, v, ts, step) for k, v, ts, step in metrics],
        ):
            self._call("send params, tags and metrics", lambda c=chunk: self.client.log_batch(run_id, **c))
            batches += 1
        return batches

    def upload(self, run_id: str, path: Path, folder: str) -> None:
        """Log a file as an artifact of the run, under `folder`."""
        self._call(f"upload {path.name}", lambda: self.client.log_artifact(run_id, str(path), folder))

    def end(self, run_id: str, status: str, end_ms: int | None) -> None:
        """Set the run's terminal status and end time."""
        self._call("set the run's status", lambda: self.client.set_terminated(run_id, status, end_ms))

    def download(self, run_id: str, artifact: str, dest: Path) -> Path:
        """Download an artifact of the run into `dest`; returns its path."""
        dest.mkdir(parents=True, exist_ok=True)
        return Path(
            self._call(f"download {artifact}", lambda: self.client.download_artifacts(run_id, artifact, str(dest)))
        )


def _chunks(params: list[Any], tags: list[Any], metrics: list[Any]) -> Iterator[dict[str, list[Any]]]:
    """log_batch keyword arguments, each within MLflow's per-request limits, in as few requests as they allow
    (none when there is nothing to send)."""
    p = t = m = 0
    while p < len(params) or t < len(tags) or m < len(metrics):
        some_p, some_t = params[p : p + MAX_PARAMS], tags[t : t + MAX_TAGS]
        room = min(MAX_METRICS, MAX_ENTITIES - len(some_p) - len(some_t))
        some_m = metrics[m : m + room]
        p, t, m = p + len(some_p), t + len(some_t), m + len(some_m)
        yield {"metrics": some_m, "params": some_p, "tags": some_t}
