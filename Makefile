# Two commands do everything: `make book` and `make test` (see README.md).
# Every target creates or reuses .venv and is safe to run again.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# The pinned PyTorch: on the course's CPU machines pip takes the local CPU build;
# elsewhere it is the normal PyPI install (CUDA on Linux, MPS on macOS).
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.d2lt-installed
DATA_STAMP := $(VENV)/.d2lt-data
NOTEBOOKS := chapters exercises solutions
JOBS ?= 2
# pip prints a harmless "Location ... is ignored" line per package on this machine kind.
QUIET_PIP := 2> >(grep -v 'is ignored: it is neither' >&2)

.PHONY: help setup data test test-fast book look lab sync clean checkpoints bench

help:
	@echo "make book   - execute every chapter and build the HTML book in _build/html (reads offline)"
	@echo "make test   - unit tests, structural tests and every notebook (CI profile)"
	@echo "make look   - screenshots and layout checks of the built book in Chromium (needs chromium)"
	@echo "make lab    - open JupyterLab on the course, at its start page (START.ipynb)"
	@echo "make slides - reveal.js slides of every chapter in _build/slides (offline)"
	@echo "make data   - fetch and prepare the pinned datasets (done by book/test)"
	@echo "make sync   - regenerate the .ipynb files from their .md sources"
	@echo "make bench  - attention, Transformer, BERT and GPT benchmarks; python -m d2lt.bench (MFU)"

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "[setup] installing $(TORCH_SPEC) and the course into $(VENV) (a few minutes the first time)"
	@$(PIP) install -q "$(TORCH_SPEC)" $(QUIET_PIP)
	@$(PIP) install -q -e ".[course,test]" $(QUIET_PIP)
	@# d2l 1.0.3 hard-pins old numpy/pandas: install it without its pins (d2lt.compat loads it).
	@$(PIP) install -q --no-deps "d2l==1.0.3" $(QUIET_PIP)
	@# rfc3987-syntax adds seconds to every nbformat import and is optional.
	@$(PIP) uninstall -y -q rfc3987-syntax >/dev/null 2>&1 || true
	@$(PY) -c "import torch, d2lt; print('[setup] torch', torch.__version__, '| cuda', torch.cuda.is_available())"
	@touch $(STAMP)

data: $(STAMP)
	@$(PY) -m d2lt.data
	@touch $(DATA_STAMP)

test: setup data
	@D2LT_PROFILE=ci D2LT_OFFLINE=1 OMP_NUM_THREADS=1 PYTHONHASHSEED=0 \
	  $(PY) -m pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env \
	  --nbval-cell-timeout=600 tests $(NOTEBOOKS)

test-fast: setup data
	@D2LT_PROFILE=ci D2LT_OFFLINE=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n $(JOBS) --dist loadfile tests

book: setup data
	@rm -rf _build
	@D2LT_OFFLINE=1 $(PY) scripts/execute_book.py _build/executed
	@$(VENV)/bin/jupyter-book build _build/executed --path-output . -W -n --keep-going -q
	@# The executed book must read offline too: no page may load from the network.
	@D2LT_BOOK_HTML=_build/html $(PY) -m pytest -q tests/test_book.py
	@echo "[book] open _build/html/index.html"

# Not part of `make test`: needs a Chromium (Debian: apt-get install chromium).
look: setup
	@$(PY) book/browser_check.py _build/html --out _build/browser

lab: setup data
	@$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) START.ipynb

.PHONY: slides
# One deck per chapter; after `make book` the decks show that run's outputs.
slides: setup
	@$(PY) scripts/build_slides.py --out _build/slides

sync: setup
	@for f in $(addsuffix /*.md,$(NOTEBOOKS)); do [ -e "$$f" ] || continue; \
	  $(VENV)/bin/jupytext --to ipynb --update --quiet "$$f"; done

checkpoints: setup data
	@OMP_NUM_THREADS=1 $(PY) scripts/train_verse_checkpoint.py gru --cpu-minutes 18.5 --minutes 120
	@OMP_NUM_THREADS=1 $(PY) scripts/train_verse_checkpoint.py attention --cpu-minutes 18.5 --minutes 120
	@OMP_NUM_THREADS=1 $(PY) scripts/train_transformer_checkpoint.py --cpu-minutes 18.5 --minutes 120
	@OMP_NUM_THREADS=1 $(PY) scripts/train_bert_checkpoint.py --cpu-minutes 15 --minutes 60
	@OMP_NUM_THREADS=1 $(PY) scripts/train_t5_checkpoint.py --cpu-minutes 15 --minutes 60
	@OMP_NUM_THREADS=1 $(PY) scripts/train_gpt_checkpoint.py --cpu-minutes 15 --minutes 60
	@OMP_NUM_THREADS=1 $(PY) scripts/train_icl_checkpoint.py --minutes 60
	@OMP_NUM_THREADS=1 $(PY) scripts/train_scaling_ladder.py --cpu-minutes 15 --minutes 60
	@OMP_NUM_THREADS=1 $(PY) scripts/train_sft_checkpoint.py --cpu-minutes 12 --minutes 40

bench: setup
	@OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) scripts/bench_attention.py
	@OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) scripts/bench_transformer.py
	@OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) scripts/bench_bert.py
	@OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) scripts/bench_gpt.py
	@OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m d2lt.bench

clean:
	rm -rf _build .pytest_cache
