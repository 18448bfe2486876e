"""Where the kernels' Python shows inside a session: /opt/venv over /opt/python, with no folder of the host's in the
files written anew, for a venv and for a bare interpreter."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from helpers import Api, creds
from kaggle_runner.emulator import kernel_python
from kaggle_runner.emulator.kernel_python import BASE, VENV


def _inside_base(host_exe: str) -> str:
    # a system interpreter (/usr/...) stays where it is: the session sees the system folders anyway
    base = sys.base_prefix
    return host_exe if host_exe.startswith("/usr/") else host_exe.replace(base, BASE)


def test_a_venv_shows_at_opt_venv_and_nothing_written_names_the_host() -> None:
    it = kernel_python.probe(sys.executable)
    assert it.is_venv  # the tests run in .venv
    p = kernel_python.place(sys.executable)
    assert p.executable == f"{VENV}/bin/python"
    links = dict(p.links)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert links[f"{VENV}/bin/{version}"] == _inside_base(os.path.realpath(sys.executable))
    files = {inside: text for inside, text, _ in p.files}
    assert f"home = {os.path.dirname(_inside_base(os.path.realpath(sys.executable)))}" in files[f"{VENV}/pyvenv.cfg"]
    assert files[f"{VENV}/bin/pip"].startswith(f"#!{VENV}/bin/python")
    assert not [inside for inside, text in files.items() if it.prefix in text or it.base_prefix + "/" in text]
    assert all(inside.startswith("/opt/") for inside, _ in p.binds)
    assert (f"{VENV}/lib", f"{it.prefix}/lib") in p.binds


def test_a_bare_interpreter_shows_at_opt_python_and_finds_its_library() -> None:
    exe = os.path.realpath(sys.executable)
    p = kernel_python.place(exe)
    assert p.executable == _inside_base(exe)
    assert p.library_path == ("" if exe.startswith("/usr/") else f"{BASE}/lib")


def test_a_session_on_a_bare_interpreter_sees_no_host_folder(make_emulator) -> None:
    exe = os.path.realpath(sys.executable)
    em = make_emulator(python=exe)
    c = creds(em)
    api = Api(em.url, c["username"], c["key"])
    code = (
        "import json, sys, sysconfig\n"
        "print(json.dumps([sys.executable, sys.prefix, sysconfig.get_config_var('LIBDIR')]))\n"
    )
    api.push("bare", code, enableInternet=False)
    assert api.wait("bare")["status"] == "COMPLETE"
    log = api.ok("kernels.ListKernelSessionOutput", {"userName": "testuser", "kernelSlug": "bare"})["log"]
    shown = json.loads("".join(e["data"] for e in json.loads(log) if e["stream_name"] == "stdout"))
    assert shown[0] == _inside_base(exe)
    assert not [s for s in shown if sys.base_prefix in s and not s.startswith("/usr")], shown
    assert Path(shown[1]).parts[:2] == Path(_inside_base(exe)).parts[:2]
