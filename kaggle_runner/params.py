"""A run's parameters: kr.yaml `params:`, `kr push --set key=value`, and the grids of `kr sweep`.
Values are YAML scalars (1e-5, 0.05, true, cosine); the kernel reads them with runtime.params()."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from kaggle_runner.errors import UserError

Scalar = str | int | float | bool | None
ENV = "KR_PARAMS"  # the variable the bootstrap sets for the kernel: the run's params as JSON


def scalar(text: str, where: str) -> Scalar:
    """One value as YAML reads it (`1e-5` is a number here, as YAML 1.2 and a user mean it)."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"{where}: {text!r} is not a YAML value ({str(e).splitlines()[0]})") from e
    if isinstance(value, str):
        return as_number(value)
    if value is not None and not isinstance(value, int | float | bool):
        raise UserError(f"{where}: {text!r} is a {type(value).__name__}; a parameter is one number, word or boolean")
    return value


def as_number(value: str) -> Scalar:
    """'1e-5' as the number it means: YAML 1.1 (PyYAML) reads an exponent without a dot as text."""
    if any(c in value for c in ".eE") and value.strip("+-.eE0123456789") == "":
        try:
            return float(value)
        except ValueError:
            pass
    return value


def split(item: str, where: str) -> tuple[str, str]:
    """`key=value` as (key, value); refuses anything else, naming `where`."""
    key, eq, value = item.partition("=")
    if not eq or not key.strip():
        raise UserError(f"{where}: {item!r} is not key=value")
    return key.strip(), value


def apply_sets(base: dict[str, Any], sets: list[str], allow_new: bool) -> dict[str, Any]:
    """kr.yaml's params with each `--set key=value` applied; a key kr.yaml lacks is refused unless allow_new."""
    out = dict(base)
    for item in sets:
        key, text = split(item, "--set")
        if key not in base and not allow_new:
            known = ", ".join(sorted(base)) or "none: add params: to kr.yaml"
            raise UserError(f"--set: {key!r} is not in kr.yaml params ({known}); add --set-new to introduce it")
        out[key] = scalar(text, f"--set {key}")
    return out


def grid(axes: list[str], zipped: bool = False) -> tuple[dict[str, list[Scalar]], list[dict[str, Scalar]]]:
    """`lr=1e-5,2e-5 smoothing=0.05,0.1` -> the axes and their points: every combination, or with `zipped` the
    lists paired in order (they must then be of one length)."""
    parsed: dict[str, list[Scalar]] = {}
    for axis in axes:
        key, text = split(axis, "kr sweep")
        if key in parsed:
            raise UserError(f"kr sweep: {key!r} is given twice; list its values once, comma-separated")
        parsed[key] = [scalar(v, f"kr sweep {key}") for v in text.split(",")]
    if not parsed:
        raise UserError("kr sweep: give at least one key=v1,v2 axis")
    keys = list(parsed)
    rows: Iterable[tuple[Scalar, ...]]
    if zipped:
        lengths = {len(v) for v in parsed.values()}
        if len(lengths) != 1:
            sizes = ", ".join(f"{k}: {len(parsed[k])}" for k in keys)
            raise UserError(f"kr sweep --zip: the lists differ in length ({sizes})")
        rows = zip(*parsed.values())
    else:
        rows = itertools.product(*parsed.values())
    return parsed, [dict(zip(keys, row)) for row in rows]
