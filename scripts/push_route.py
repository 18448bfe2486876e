"""The route of one `kr push` through kaggle_runner's modules, as a newcomer reading the code would follow it: which
modules it crosses, which calls which, and any call back up into a module already on the stack.

Run from a checkout: `.venv/bin/python scripts/push_route.py`. It starts the emulator, pushes a kernel that ships a
helper module and reads a dataset, and traces the push in-process (sys.setprofile). Import time, the CLI, the
config, the `.kr/` layout and the errors are left out: every command passes through them."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
LEFT_OUT = ("cli", "config", "layout", "errors", "emulator")


def _module(frame: FrameType) -> str | None:
    name = str(frame.f_globals.get("__name__", ""))
    if not name.startswith("kaggle_runner.") or name.split(".")[1] in LEFT_OUT:
        return None
    return name.removeprefix("kaggle_runner.")


class Route:
    """Module-to-module calls on the main thread, in order."""

    def __init__(self) -> None:
        self.stack: list[str | None] = []
        self.walk: list[str] = []
        self.edges: set[tuple[str, str]] = set()
        self.back_up: list[tuple[str, str, str]] = []
        self.importing = 0
        self.thread = threading.get_ident()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if threading.get_ident() != self.thread or event not in ("call", "return"):
            return
        if event == "call":
            self.importing += frame.f_code.co_name == "<module>"
            module = _module(frame)
            caller = next((m for m in reversed(self.stack) if m), None)
            self.stack.append(module)
            if module and not self.importing and caller != module:
                if caller:
                    self.edges.add((caller, module))
                    if module in self.stack[:-1]:
                        self.back_up.append((caller, module, frame.f_code.co_name))
                self._step(module)
        elif self.stack:
            module = self.stack.pop()
            self.importing -= frame.f_code.co_name == "<module>"
            caller = next((m for m in reversed(self.stack) if m), None)
            if module and caller and not self.importing:
                self._step(caller)

    def _step(self, module: str) -> None:
        if not self.walk or self.walk[-1] != module:
            self.walk.append(module)


def _project(folder: Path) -> Path:
    shutil.copytree(ROOT / "datasets", folder / "datasets")
    kernel = folder / "kernels" / "main"
    kernel.mkdir(parents=True)
    (kernel / "main.py").write_text("import helper\nprint(helper.X)\n")
    (kernel / "helper.py").write_text("X = 1\n")
    body = {"kernels": {"main": {"title": "Reads Tiny Text", "datasets": ["tiny_text"]}}}
    (folder / "kr.yaml").write_text(yaml.safe_dump(body))
    return folder


def trace(command: Callable[[], object]) -> Route:
    """Run `command` under the tracer."""
    route = Route()
    sys.setprofile(route)
    try:
        command()
    except SystemExit as e:
        if e.code:
            raise
    finally:
        sys.setprofile(None)
    return route


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from kaggle_runner.cli.app import main as kr
    from kaggle_runner.emulator import Emulator
    from kaggle_runner.emulator.seed import init_state

    tmp = Path(tempfile.mkdtemp(prefix="kr-route-"))
    init_state(tmp / "state", {"dataset_ready_seconds": 0.1})
    emulator = Emulator(tmp / "state").start()
    os.environ.update(HOME=str(tmp), KR_KAGGLE_URL=emulator.url, KAGGLE_CONFIG_DIR=str(tmp / "state"))
    os.chdir(_project(tmp / "project"))
    sys.argv = ["kr", "push", "-m", "route"]
    try:
        route = trace(kr)
    finally:
        emulator.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    modules = sorted(set(route.walk))
    print(f"modules crossed: {len(modules)}: {', '.join(modules)}")
    print(f"caller -> callee pairs: {len(route.edges)}")
    for caller, callee in sorted(route.edges):
        print(f"  {caller} -> {callee}")
    print(f"calls back up into a module already on the stack: {len(route.back_up)}")
    for caller, callee, function in route.back_up:
        print(f"  {caller} -> {callee}.{function}")


if __name__ == "__main__":
    main()
