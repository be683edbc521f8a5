# Two commands for a new machine: `make run` (set up, build the demo index, serve the app) and
# `make test` (set up, run the whole test suite). Everything is installed into .venv by these files.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-stamp
DATA   ?= data
PORT   ?= 8501

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo run test test-all lint bench clean-data

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# The demo index is rebuilt only when the corpus PDFs change.
$(DATA)/manifest.json: $(STAMP) $(wildcard corpus/pdf/*.pdf)
	$(PY) cli.py ingest corpus/pdf --data-dir $(DATA) --prune

demo: $(DATA)/manifest.json

run: demo
	LESSONS_DATA_DIR=$(DATA) $(PY) -m streamlit run app.py --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

test: setup
	$(PY) -m pytest

test-all: setup
	$(PY) -m pytest -m "slow or not slow"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: setup
	$(PY) benchmarks/extraction.py
	$(PY) benchmarks/ingest_realdocs.py
	$(PY) benchmarks/embed_threads.py

clean-data:
	rm -rf $(DATA)
