# Every target sets itself up on a fresh machine: a .venv with the CPU build of torch pinned
# (any other version pulls a multi-GB CUDA build here) and ganforge installed editable.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-tabular test bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,text,export,dashboard,tensorboard,sweep]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf runs/demo  # a fresh demo each time (train refuses to overwrite an existing run)
	$(BIN)/ganforge train mnist5k --model cgan --out runs/demo
	$(BIN)/ganforge report runs/demo
	@echo
	@echo "Samples:  runs/demo/samples/   Report: runs/demo/report.html"

demo-tabular: $(STAMP)
	$(BIN)/ganforge tabular fit fair --out runs/fair
	$(BIN)/ganforge tabular sample runs/fair -n 6366 --out runs/fair/synth.csv
	$(BIN)/ganforge tabular evaluate fair runs/fair/synth.csv --report runs/fair/report.html

test: $(STAMP)
	$(BIN)/lint-imports
	# one worker per core (at most 4), one thread each; a test file stays on one worker, so its
	# module fixtures and the README blocks (run in order in one folder) are never split
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'  # audio.py's second reader (offline speech recogniser), augment_table.py's SMOTE-NC
	$(BIN)/python benchmarks/mixtures.py
	$(BIN)/python benchmarks/mnist_cgan.py

clean:
	rm -rf $(VENV) runs build src/*.egg-info
