# One entry point for a fresh machine: `make run` and `make test` create .venv if it is
# missing, install seqsuite into it (with its test tools) and run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

.PHONY: run test test-all check-dist lint bench bench-keras bench-serve bench-quality clean configs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(OFFLINE) $(BIN)/seqsuite run forecast

# The tests, and the distribution as users install it (wheel in a fresh venv, see .ci/check-dist).
test: $(STAMP) check-dist
	$(OFFLINE) $(BIN)/python -m pytest -q

test-all: $(STAMP) check-dist
	$(OFFLINE) $(BIN)/python -m pytest -q -m ""

check-dist: $(STAMP)
	bash .ci/check-dist $(BIN)/python

lint: $(STAMP)
	$(BIN)/ruff check seqsuite tasks tests bench

# Speed: ratios against hand-written PyTorch and the machine (about 15 minutes on 2 cores).
bench: $(STAMP)
	$(OFFLINE) $(BIN)/python bench/performance.py --write

# seqsuite against a hand-written PyTorch loop and Keras 3 on TensorFlow (Keras and
# TensorFlow live in their own bench-only venv, never in seqsuite's).
KERAS_VENV ?= .venv-keras
bench-keras: $(STAMP)
	test -x $(KERAS_VENV)/bin/python || $(PYTHON) -m venv $(KERAS_VENV)
	$(KERAS_VENV)/bin/python -m pip install --quiet tensorflow-cpu keras
	OMP_NUM_THREADS=1 $(OFFLINE) $(BIN)/python bench/keras_compare.py --keras-python $(KERAS_VENV)/bin/python --write

# seqsuite serve under load: throughput, latency, memory (a lean keep-alive client, uvloop if present).
bench-serve: $(STAMP)
	OMP_NUM_THREADS=1 $(OFFLINE) $(BIN)/python bench/serve.py --write

# Quality against published figures and baselines, the cross-task table and the
# reliability figures (about 2.5 hours on 2 cores).
bench-quality: $(STAMP)
	$(OFFLINE) $(BIN)/python bench/forecast.py --write
	$(OFFLINE) $(BIN)/python bench/keras_tutorial.py --write
	$(OFFLINE) $(BIN)/python bench/textgen.py --minutes 20 --write backbone.hidden_size=512 backbone.dropout=0.35 train.lr=2e-3 train.warmup_steps=200 train.eval_every=200
	$(OFFLINE) $(BIN)/python bench/textgen_corpora.py --write
	$(OFFLINE) $(BIN)/python bench/sentiment_mr.py --seeds 3 --pretrain-minutes 10 --set train.epochs=15 --set train.patience=4 --write
	$(OFFLINE) $(BIN)/python bench/speech.py --minutes 10 --set train.patience=0 --set train.epochs=30 --write
	$(OFFLINE) $(BIN)/python bench/music.py --minutes 15 --write
	$(OFFLINE) $(BIN)/python bench/compare.py --write
	$(OFFLINE) $(BIN)/python bench/reliability.py --write

clean:
	rm -rf $(VENV) runs .pytest_cache

# Rewrite configs/<task>.toml from the built-in tasks' defaults (a test checks they agree).
configs: $(STAMP)
	for task in $$($(BIN)/python -c "from importlib.metadata import entry_points as e; print(' '.join(x.name for x in e(group='seqsuite.tasks') if x.dist.name == 'seqsuite'))"); do \
	  { echo "# Defaults of \`seqsuite run $$task\`, as \`seqsuite config $$task\` prints them."; \
	    echo "# Copy, edit and pass with --config FILE; a test checks this file matches the task's defaults."; \
	    echo; $(BIN)/seqsuite config $$task; } > configs/$$task.toml; \
	done
