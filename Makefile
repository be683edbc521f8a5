# Two commands for a new machine: `make run` (set up, build the demo index, serve the app) and
# `make test` (set up, run the whole test suite). Everything is installed into .venv by these files.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-stamp
ENCODER := $(VENV)/share/lessons/encoder-minilm-int8/manifest.json
DATA   ?= data
PORT   ?= 8501

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup chromium tesseract demo run test test-all lint bench screenshots clean-data

setup: $(STAMP) $(ENCODER) chromium tesseract

# The int8 ONNX embedding model, exported from the installed MiniLM (no download; about 10 s).
# Should the export fail, embeddings run on torch and say so: set-up goes on.
$(ENCODER): $(STAMP)
	$(PY) cli.py encoder build || echo "note: the ONNX encoder was not built; embeddings will use torch"

# The browser tests drive Debian's chromium; install it when missing and we may (root).
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "note: /usr/bin/chromium is missing and we are not root: browser tests will skip"; \
	  fi; }

# Scanned pages are read by Tesseract (ingest/ocr.py); without it they are reported as scans.
tesseract:
	@command -v tesseract >/dev/null && test -n "$$(tesseract --list-langs 2>/dev/null | grep -x eng)" || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends tesseract-ocr tesseract-ocr-eng; \
	  else \
	    echo "note: tesseract-ocr is missing and we are not root: scanned pages will not be read"; \
	  fi; }

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# The demo index is rebuilt only when the corpus PDFs change.
$(DATA)/manifest.json: $(STAMP) $(wildcard corpus/pdf/*.pdf)
	$(PY) cli.py ingest corpus/pdf --data-dir $(DATA) --prune

demo: $(DATA)/manifest.json

# A library without accounts gets an admin and one account per role; their passwords are
# printed here, once.
run: demo
	$(PY) cli.py users bootstrap --demo --data-dir $(DATA)
	LESSONS_DATA_DIR=$(DATA) $(PY) -m streamlit run app.py --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

test: setup
	$(PY) -m pytest

test-all: setup
	$(PY) -m pytest -m "slow or not slow"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: setup demo
	$(PY) benchmarks/extraction.py
	$(PY) benchmarks/ingest_realdocs.py
	$(PY) benchmarks/embed_threads.py
	$(PY) benchmarks/ocr.py
	$(PY) benchmarks/search.py
	$(PY) benchmarks/tagging.py

# Screenshots of every page for the README, taken on a copy of the demo library.
screenshots: demo
	$(PY) docs/screenshots.py --data-dir $(DATA)

clean-data:
	rm -rf $(DATA)
