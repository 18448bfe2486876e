"""kr.yaml -> a typed project config. Every validation error names the file, the key and the fix.
Defaults are filled here so the rest of kr never guesses (slugs, titles, sources, accelerator)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaggle_runner.errors import UserError
from kaggle_runner.kaggle import accelerators
from kaggle_runner.kaggle.rules import SLUG_RE, SLUG_RULE
from kaggle_runner.params import as_number

CONFIG_NAME = "kr.yaml"


class ConfigError(UserError):
    """kr.yaml is missing, unreadable or wrong; the message names the file, the key and the fix."""


@dataclass
class DatasetSpec:
    """One data bundle: the files a glob list picks under `folder`, pushed as the private dataset `slug`."""

    name: str
    slug: str
    paths: list[str]  # globs relative to `folder`
    prepare: str | None = None  # a shell command run in `folder` before packaging
    folder: Path = Path(".")
    where: str = ""  # where the spec is written, for messages: "kr.yaml: datasets.NAME" or "datasets/NAME/dataset.yaml"


@dataclass
class KernelSpec:
    """One kernel of kr.yaml: its entry file and folder, the slug and title on Kaggle, and what it runs with."""

    name: str
    folder: Path
    entry: str
    slug: str
    title: str
    accelerator: str
    datasets: list[str] = field(default_factory=list)  # names from `datasets:` or owner/slug refs
    competition_sources: list[str] = field(default_factory=list)
    kernel_sources: list[str] = field(default_factory=list)  # names of kr.yaml's kernels or owner/slug refs
    model_sources: list[str] = field(default_factory=list)
    internet: bool = False
    timeout: int | None = None
    docker_image: str | None = None  # pinned image (SaveKernel's dockerImage); never with a TPU

    @property
    def kernel_type(self) -> str:
        """notebook for an .ipynb entry, else script (SaveKernel's kernelType)."""
        return "notebook" if self.entry.endswith(".ipynb") else "script"


@dataclass
class Config:
    """kr.yaml, typed: the project's root, owner, competition, kernels, datasets, params and defaults."""

    root: Path
    owner: str | None
    competition: str | None
    metric: str | None  # the headline validation series for `kr ls` (e.g. validation.auc); None: guessed from logs
    kernels: dict[str, KernelSpec]
    datasets: dict[str, DatasetSpec]
    packages: list[str]
    code_slug: str  # the code bundle's dataset slug (code.packages, kaggle_runner and the kernels' folders)
    default_kernel: str
    raw: dict[str, Any]
    submission: str = "submission.csv"  # the output file a run's submission is (a code competition scores its re-run's)
    params: dict[str, Any] = field(default_factory=dict)  # the kernel's parameters; `kr push --set` changes them
    tracking: dict[str, Any] = field(default_factory=dict)  # the team's MLflow server: mlflow (URI), experiment
    requirements: list[str] = field(default_factory=list)  # third-party packages the kernels get as wheels

    @property
    def wheels_slug(self) -> str:
        """The dataset of code.requirements' wheels, beside the code bundle."""
        return f"{self.code_slug[:43].rstrip('-')}-wheels"

    @property
    def ships_packages(self) -> bool:
        """kr.yaml has a `code:` section: the code bundle carries code.packages and kaggle_runner as a wheel."""
        return "code" in self.raw

    def kernel(self, name: str | None) -> KernelSpec:
        """The kernel spec named `name` (default: the first in kr.yaml); refuses an unknown name."""
        name = name or self.default_kernel
        if name not in self.kernels:
            raise ConfigError(f"{CONFIG_NAME}: no kernel named '{name}' (kernels: {', '.join(self.kernels)})")
        return self.kernels[name]


NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"  # what a version address (KERNEL:v3) and a folder can hold
NAME_RE = re.compile(f"^{NAME_PATTERN}$")
NAME_RULE = "letters, digits, '_', '.' and '-' (up to 64), starting with a letter or digit"


def read_yaml(path: Path, shown: str) -> Any:
    """A YAML file as data; a repeated key, bad YAML or text that is not UTF-8 is one ConfigError naming `shown`."""
    import yaml

    class Strict(yaml.SafeLoader):
        pass

    def mapping(loader: Strict, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(
                    f"{shown}: line {key_node.start_mark.line + 1}: key '{key}' appears twice; "
                    "keep one (YAML would silently use the last)"
                )
            seen.add(key)
        return loader.construct_mapping(node, deep)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=Strict)  # Strict is a SafeLoader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{shown}: not valid YAML{where}; fix the syntax there") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{shown}: not UTF-8 text (byte {e.start}); save it as UTF-8") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from e


def _name(name: Any, key: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _err(key, f"'{name}' is not a usable name", f"use {NAME_RULE}")
    return name


def _inside(root: Path, path: Path, key: str, what: str = "the project") -> Path:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        raise _err(key, f"{path} is outside {what} ({root})", f"keep it inside {what}") from None
    return path


def find_root(start: Path | None = None) -> Path:
    """The folder holding kr.yaml, searching upwards like git does."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_NAME).is_file():
            return d
    raise ConfigError(f"no {CONFIG_NAME} here or above {here}; run `kr init` to create a project")


def _err(key: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{CONFIG_NAME}: {key}: {problem}; {fix}")


def _typed(value: Any, kind: type | tuple, key: str, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _err(key, f"expected {what}, got {type(value).__name__} {value!r}", f"write {key} as {what}")
    return value


def _str_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    _typed(value, list, key, "a list of strings")
    for i, v in enumerate(value):
        _typed(v, str, f"{key}[{i}]", "a string")
    return list(value)


def _slug(value: str, key: str) -> str:
    if not SLUG_RE.match(value):
        raise _err(key, f"'{value}' is not a valid Kaggle slug", f"use {SLUG_RULE}")
    return value


DATASET_SPEC = "dataset.yaml"


def dataset_spec(name: str, spec: Any, key: str, folder: Path, where: str) -> DatasetSpec:
    """One dataset spec (paths:, slug:, prepare:): kr.yaml's `datasets.NAME` (key) or a dataset.yaml (key "")."""
    sub = lambda k: f"{key}.{k}" if key else k  # noqa: E731
    spec = _typed(spec or {}, dict, key or "the file", "a mapping (paths:, slug:, prepare:)")
    unknown = set(spec) - {"paths", "slug", "prepare"}
    if unknown:
        raise _err(sub(sorted(unknown)[0]), "unknown key", "use paths, slug or prepare")
    paths = _str_list(spec.get("paths"), sub("paths"))
    for i, pattern in enumerate(paths):
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise _err(f"{sub('paths')}[{i}]", f"'{pattern}' reaches outside the project", "use a path inside it")
    if not paths:
        raise _err(sub("paths"), "missing", "list the files or globs to package, e.g. paths: [data/*.csv]")
    slug = _slug(_typed(spec.get("slug", name.replace("_", "-").lower()), str, sub("slug"), "a slug"), sub("slug"))
    prepare = spec.get("prepare")
    if prepare is not None:
        _typed(prepare, str, sub("prepare"), "a shell command")
    return DatasetSpec(name, slug, paths, prepare, folder, where)


def dataset_folders(root: Path) -> dict[str, DatasetSpec]:
    """Specs kept beside their data: datasets/NAME/dataset.yaml, paths relative to that folder."""
    specs: dict[str, DatasetSpec] = {}
    for path in sorted((root / "datasets").glob(f"*/{DATASET_SPEC}")):
        rel = path.relative_to(root).as_posix()
        raw = read_yaml(path, rel)
        try:
            _name(path.parent.name, "datasets/ folder")
            specs[path.parent.name] = dataset_spec(path.parent.name, raw, "", path.parent, rel)
        except ConfigError as e:  # the helpers name kr.yaml; this spec lives in its own file
            raise ConfigError(f"{rel}: {str(e).removeprefix(CONFIG_NAME + ': ')}") from e
    return specs


REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,\s-]*\])?\s*([<>=!~]=?[^;#]*)?")


def _requirements(root: Path, raw: Any) -> list[str]:
    """code.requirements: a list of pip requirements (`timm==1.0.9`), or a requirements file inside the project."""
    key = "code.requirements"
    if isinstance(raw, str):
        _inside(root, root / raw, key)
        if not (root / raw).is_file():
            raise _err(key, f"{root / raw} does not exist", "name a requirements file, or list the packages")
        lines = [ln.split(" #")[0].strip() for ln in (root / raw).read_text(errors="replace").splitlines()]
        where = [(f"{raw}:{n}", ln) for n, ln in enumerate(lines, 1) if ln and not ln.startswith("#")]
    else:
        where = [(f"{key}[{i}]", r) for i, r in enumerate(_str_list(raw, key))]
    for at, req in where:
        if not REQUIREMENT.fullmatch(req):
            raise ConfigError(
                f"{CONFIG_NAME}: {at}: '{req}' is not a requirement kr can send to pip; write a name and an optional "
                "version (timm==1.0.9); pip options and URLs are not taken"
            )
    return [req for _, req in where]


def load(root: Path | None = None) -> Config:
    """kr.yaml of the project around `root` (default: the current folder, searched upwards), typed and checked."""
    root = root or find_root()
    return parse(read_yaml(root / CONFIG_NAME, CONFIG_NAME) or {}, root)


TRACKING_KEYS: dict[str, type | tuple[type, ...]] = {"mlflow": str, "experiment": str, "max_artifact_mb": (int, float)}


def _tracking(raw: Any) -> dict[str, Any]:
    """`tracking: {mlflow: URI, experiment: NAME, max_artifact_mb: N}`: where the team's ledger meets."""
    tracking = _typed(raw or {}, dict, "tracking", "a mapping (mlflow: URI, experiment: NAME)")
    for key, value in tracking.items():
        if key not in TRACKING_KEYS:
            raise _err(f"tracking.{key}", "unknown key", f"use one of {', '.join(sorted(TRACKING_KEYS))}")
        if isinstance(value, bool) or not isinstance(value, TRACKING_KEYS[key]) or value in ("", 0):
            raise _err(f"tracking.{key}", f"{value!r}", "e.g. mlflow: http://mlflow.team.lan:5000, experiment: my-comp")
    return tracking


def parse(raw: Any, root: Path) -> Config:
    """kr.yaml's parsed YAML as a Config; every key checked, every error naming the key and the fix."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{CONFIG_NAME}: the top level must be a mapping (owner:, competition:, kernels:, ...)")
    known = {
        "owner",
        "competition",
        "metric",
        "kernels",
        "datasets",
        "code",
        "default_kernel",
        "submission",
        "params",
        "tracking",
    }
    for key in raw:
        if key not in known:
            raise _err(str(key), "unknown key", f"use one of {', '.join(sorted(known))}")
    owner = raw.get("owner")
    if owner is not None:
        _typed(owner, str, "owner", "your Kaggle username")
    competition = raw.get("competition")
    if competition is not None:
        _typed(competition, str, "competition", "a competition slug")
    submission = _typed(raw.get("submission", "submission.csv"), str, "submission", "an output file name")
    if not submission or submission.startswith("/") or ".." in submission.split("/"):
        raise _err("submission", f"'{submission}' is not a file name inside /kaggle/working", "e.g. submission.csv")
    tracking = _tracking(raw.get("tracking"))
    params = _typed(raw.get("params") or {}, dict, "params", "a mapping of name -> value")
    for key, value in params.items():
        if not isinstance(key, str) or not key:
            raise _err(f"params.{key}", "a parameter's name must be text", "e.g. lr: 1e-5")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _err(f"params.{key}", f"{type(value).__name__} {value!r}", "give one number, word or boolean")
    params = {k: as_number(v) if isinstance(v, str) else v for k, v in params.items()}
    metric = raw.get("metric")
    if metric is not None:
        _typed(metric, str, "metric", "a series name as `kr metrics` shows it (e.g. validation.auc)")

    datasets = dataset_folders(root)
    for name, spec in _typed(raw.get("datasets") or {}, dict, "datasets", "a mapping of name -> spec").items():
        _name(name, f"datasets.{name}")
        if str(name) in datasets:
            raise _err(f"datasets.{name}", f"also defined in {datasets[str(name)].where}", "keep one of the two")
        datasets[str(name)] = dataset_spec(str(name), spec, f"datasets.{name}", root, f"{CONFIG_NAME}: datasets.{name}")

    kernels: dict[str, KernelSpec] = {}
    kraw = _typed(raw.get("kernels") or {}, dict, "kernels", "a mapping of name -> spec")
    if not kraw:
        raise _err(
            "kernels", "no kernels defined", "add one, e.g. kernels: {main: {folder: kernels/main, entry: main.py}}"
        )
    kernel_keys = {
        "folder",
        "entry",
        "slug",
        "title",
        "accelerator",
        "datasets",
        "competition_sources",
        "kernel_sources",
        "model_sources",
        "internet",
        "timeout",
        "docker_image",
    }
    for name, spec in kraw.items():
        key = f"kernels.{name}"
        _name(name, key)
        spec = _typed(spec or {}, dict, key, "a mapping (folder:, entry:, ...)")
        unknown = set(spec) - kernel_keys
        if unknown:
            raise _err(f"{key}.{sorted(unknown)[0]}", "unknown key", f"use one of {', '.join(sorted(kernel_keys))}")
        folder = root / _typed(spec.get("folder", f"kernels/{name}"), str, f"{key}.folder", "a path")
        entry = _typed(spec.get("entry", "main.py"), str, f"{key}.entry", "a file name")
        _inside(root, folder, f"{key}.folder")
        _inside(folder, folder / entry, f"{key}.entry", "the kernel's folder")
        if not (folder / entry).is_file():
            raise _err(
                f"{key}.entry", f"{folder / entry} does not exist", "point folder/entry at your script or notebook"
            )
        slug = _slug(_typed(spec.get("slug", str(name)), str, f"{key}.slug", "a slug"), f"{key}.slug")
        default_title = slug.replace("-", " ").title()
        default_title += " Kernel" if len(default_title) < 5 else ""
        title = _typed(spec.get("title", default_title), str, f"{key}.title", "a title")
        if len(title) < 5:
            raise _err(f"{key}.title", f"'{title}' is shorter than 5 characters", "Kaggle needs a longer title")
        accel = _typed(spec.get("accelerator", "cpu"), str, f"{key}.accelerator", "an accelerator name")
        try:
            accelerators.machine_shape(accel)
        except ValueError as e:
            what, _, fix = str(e).partition("; ")
            raise _err(f"{key}.accelerator", what, fix) from None
        docker_image = spec.get("docker_image")
        if docker_image is not None:
            _typed(docker_image, str, f"{key}.docker_image", "an image name (e.g. gcr.io/kaggle-images/python:v160)")
            if accelerators.kind_of(accel) == "tpu":
                raise _err(
                    f"{key}.docker_image",
                    "a TPU runs without a docker image, and Kaggle runs a TPU request that pins one on the CPU",
                    "drop docker_image, or use a GPU or the CPU",
                )
        ds = _str_list(spec.get("datasets"), f"{key}.datasets")
        for i, d in enumerate(ds):
            if "/" not in d and d not in datasets:
                raise _err(
                    f"{key}.datasets[{i}]",
                    f"'{d}' is neither a dataset defined under datasets: nor owner/slug",
                    "define it under datasets: or write owner/slug",
                )
        comp = spec.get("competition_sources")
        comps = (
            _str_list(comp, f"{key}.competition_sources")
            if comp is not None
            else ([competition] if competition else [])
        )
        timeout = spec.get("timeout")
        if timeout is not None:
            _typed(timeout, int, f"{key}.timeout", "seconds as an integer")
            if timeout <= 0:
                raise _err(f"{key}.timeout", f"{timeout} seconds is no time to run", "write a positive number")
        sources = _str_list(spec.get("kernel_sources"), f"{key}.kernel_sources")
        for i, k in enumerate(sources):
            if "/" not in k and (k not in kraw or k == name):
                raise _err(
                    f"{key}.kernel_sources[{i}]",
                    f"'{k}' is neither another kernel of this kr.yaml nor owner/slug",
                    "name a kernel defined under kernels: (e.g. train) or write owner/slug",
                )
        kernels[str(name)] = KernelSpec(
            str(name),
            folder,
            entry,
            slug,
            title,
            accel,
            ds,
            comps,
            sources,
            _str_list(spec.get("model_sources"), f"{key}.model_sources"),
            bool(_typed(spec.get("internet", False), bool, f"{key}.internet", "true or false")),
            timeout,
            docker_image,
        )

    code = _typed(raw.get("code") or {}, dict, "code", "a mapping (packages:, requirements:, slug:)")
    unknown = set(code) - {"packages", "requirements", "slug"}
    if unknown:
        raise _err(f"code.{sorted(unknown)[0]}", "unknown key", "use packages, requirements or slug")
    requirements = _requirements(root, code.get("requirements"))
    packages = _str_list(code.get("packages"), "code.packages")
    for i, p in enumerate(packages):
        _inside(root, root / p, f"code.packages[{i}]")
        if not (root / p).is_dir():
            raise _err(f"code.packages[{i}]", f"{root / p} is not a folder", "list the folders of your Python packages")
    default = raw.get("default_kernel", next(iter(kernels)))
    if default not in kernels:
        raise _err("default_kernel", f"'{default}' is not a kernel", f"use one of {', '.join(kernels)}")
    default_slug = f"{kernels[default].slug[:45]}-code"
    code_slug = _slug(_typed(code.get("slug", default_slug), str, "code.slug", "a slug"), "code.slug")
    return Config(
        root,
        owner,
        competition,
        metric,
        kernels,
        datasets,
        packages,
        code_slug,
        default,
        raw,
        submission,
        params,
        tracking,
        requirements,
    )
