"""Device choice: asking for a GPU or TPU that is not there fails fast, naming what was asked and what was found."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kaggle_runner.loop import bootstrap

PROBE = textwrap.dedent("""
    import sys
    from kaggle_runner import runtime as rt
    def main(proc):
        print("ran on", proc.kind, proc.world, proc.device)
    rt.launch(main, accelerator=sys.argv[1] if len(sys.argv) > 1 else None)
""")


def probe(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "probe.py").write_text(PROBE)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KR_", "KAGGLE_"))}
    # no GPU and no TPU, whatever machine runs the tests
    clean.update(CUDA_VISIBLE_DEVICES="", PJRT_DEVICE="CPU", **env)
    return subprocess.run(
        [sys.executable, "probe.py", *args], cwd=tmp_path, capture_output=True, text=True, env=clean, timeout=120
    )


@pytest.mark.parametrize("asked", ["gpu", "tpu"])
def test_missing_accelerator_names_what_was_asked_and_found(tmp_path: Path, asked: str) -> None:
    r = probe(tmp_path, asked)
    assert r.returncode != 0 and "ran on" not in r.stdout
    last = r.stderr.strip().splitlines()[-1]
    assert f"AcceleratorMissing: this run asked for a {asked.upper()} but found no CUDA GPU" in last
    assert "CUDA_VISIBLE_DEVICES=''" in last and " and no TPU (" in last  # why depends on torch_xla being installed


def test_bootstrap_tells_the_runtime_what_the_run_asked_for(tmp_path: Path) -> None:
    r = probe(tmp_path, KR_ACCELERATOR="gpu")
    assert r.returncode != 0 and "asked for a GPU" in r.stderr


def test_emulator_fallback_runs_on_the_cpu_and_says_so(tmp_path: Path) -> None:
    r = probe(tmp_path, "gpu", KAGGLE_EMULATOR_FALLBACK_CPU="1")
    assert r.returncode == 0, r.stderr
    assert "ran on cpu 1 cpu" in r.stdout and "no GPU here; the emulator runs this session on the CPU" in r.stderr


def test_auto_and_cpu_run_here(tmp_path: Path) -> None:
    for args in ((), ("cpu",)):
        r = probe(tmp_path, *args)
        assert r.returncode == 0 and "ran on cpu 1 cpu" in r.stdout, r.stderr


def test_unknown_accelerator_is_refused(tmp_path: Path) -> None:
    r = probe(tmp_path, "fpga")
    assert r.returncode != 0 and "accelerator 'fpga' is unknown; use one of auto, cpu, gpu, tpu" in r.stderr


def test_spawned_processes_do_not_rerun_the_bootstrap(tmp_path: Path) -> None:
    """launch() with spawn re-imports the kernel script in each process; the run marker must print once."""
    entry = textwrap.dedent("""
        import sys
        from kaggle_runner import runtime as rt
        def main(proc):
            sys.stdout.write(f"rank {proc.rank} of {proc.world}\\n")  # one write: the processes share stdout
        if __name__ == "__main__":
            rt.launch(main, processes=2)
    """)
    marker = {"kind": "cpu", "label": "CPU", "code": None}
    (tmp_path / "kernel.py").write_text(bootstrap.script(entry, marker))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KR_", "KAGGLE_"))}
    r = subprocess.run(
        [sys.executable, "kernel.py"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("KR_RUN ") == 1
    assert sorted(line for line in r.stdout.splitlines() if line.startswith("rank")) == ["rank 0 of 2", "rank 1 of 2"]


def test_processes_end_with_their_output_and_exit_handlers(tmp_path: Path) -> None:
    """Each DDP process ends cleanly once its work is done: what it printed and its atexit handlers are not lost."""
    entry = textwrap.dedent("""
        import atexit
        from kaggle_runner import runtime as rt
        def main(proc):
            atexit.register(lambda: open(f"atexit-{proc.rank}", "w").close())
            print(f"rank {proc.rank} done", end="")  # stdout is a pipe here: buffered, and no newline to flush it
        if __name__ == "__main__":
            rt.launch(main, processes=2)
    """)
    (tmp_path / "kernel.py").write_text(entry)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KR_", "KAGGLE_"))}
    r = subprocess.run(
        [sys.executable, "kernel.py"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert "rank 0 done" in r.stdout and "rank 1 done" in r.stdout
    assert sorted(p.name for p in tmp_path.glob("atexit-*")) == ["atexit-0", "atexit-1"]
