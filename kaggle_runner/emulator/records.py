"""The emulator's records as its state file holds them: kernels and their versions. TypedDicts, so the JSON on
disk stays as it is and mypy checks every key the routes and the executor read or write."""

from __future__ import annotations

from typing import NotRequired, TypedDict


class KernelVersion(TypedDict):
    """One pushed version of a kernel and its session (a version is a session on Kaggle)."""

    number: int
    sessionId: int
    status: str  # Kaggle's session states: NEW_SCRIPT (a quick save), QUEUED, RUNNING, COMPLETE, ERROR, ...
    failureMessage: str | None
    created: float
    started: float | None
    ended: float | None
    machineShape: str  # the shape it runs on, after retirements
    requestedShape: str  # the shape the push named ("" for the legacy enableGpu/enableTpu flags)
    shapeLabel: str
    kind: str  # cpu | gpu | tpu
    internet: bool
    timeout: int  # seconds before the session is stopped
    language: str
    kernelType: str  # script | notebook
    sourceFile: str  # source.py or source.ipynb, in the version's folder
    sources: dict[str, list[str]]  # datasetDataSources, competitionDataSources, kernelDataSources, modelDataSources
    rerun: NotRequired[bool]  # a code competition's scoring run of this version, on Kaggle's machines


class Kernel(TypedDict, total=False):
    """A kernel: its owner, slug and settings as the last push left them, and every version."""

    id: int
    owner: str
    slug: str
    created: float
    versions: list[KernelVersion]
    title: str
    language: str
    kernelType: str
    isPrivate: bool
    enableGpu: bool
    enableTpu: bool
    enableInternet: bool
    categoryIds: list[str]
    machineShape: str
    dockerImage: str
    datasetDataSources: list[str]
    competitionDataSources: list[str]
    kernelDataSources: list[str]
    modelDataSources: list[str]
    draft: str  # the source file a push refused at the cap left (GetKernel answers with it), until the next version
