# The README's commands. Each target installs what is missing into .venv first (fresh clone + Python 3.11).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Kaggle's TPU stack (kaggle_runner/emulator/kernel_env.py) in a venv of its own: torch_xla cannot sit beside the
# main venv's torch. About 7 GB the first time (torch's import needs its CUDA libraries), pip's cache after.
XLA_VENV  := .venv-xla
XLA_STAMP := $(XLA_VENV)/.installed

.PHONY: install lint format test test-xla demo demo-tpu demo-team team-screenshot bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kr needs Python >= 3.11; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,train,team]'
	@touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest -n 2 -q

$(XLA_STAMP): pyproject.toml kaggle_runner/emulator/kernel_env.py | $(STAMP)
	@test -x $(XLA_VENV)/bin/python || $(PYTHON) -m venv $(XLA_VENV)
	$(XLA_VENV)/bin/python -m pip install -q --disable-pip-version-check -e . pytest pytest-timeout \
		$$($(BIN)/python -m kaggle_runner.emulator.kernel_env tpu)
	@touch $(XLA_STAMP)

test-xla: $(XLA_STAMP)  # the runtime on XLA's CPU device, and the emulator's TPU sessions (tests/xla)
	PJRT_DEVICE=CPU $(XLA_VENV)/bin/python -m pytest -q tests/xla

demo: install
	$(BIN)/python scripts/demo.py

demo-team: install
	$(BIN)/python scripts/demo_team.py

team-screenshot: install  # needs `pip install playwright` in .venv and Debian's chromium
	$(BIN)/python scripts/team_screenshot.py

bench: install $(XLA_STAMP)  # the training loop's rows run in .venv-xla too
	$(BIN)/python bench/run_all.py

demo-tpu: $(XLA_STAMP)  # the smoke kernel pushed with --accel tpu, run by the emulator on XLA
	$(XLA_VENV)/bin/python scripts/demo.py --accel tpu

clean:
	rm -rf $(VENV) $(XLA_VENV) .pytest_cache build *.egg-info
