# One command to run, one to test. Both install what they need first.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
HOST    ?= 127.0.0.1
PORT    ?= 8000
# The torch build `make test` installs for the local-models extra: this machine's CPU wheel.
# On a CUDA machine: make test TORCH_VERSION=<version> (or install torch yourself first).
TORCH_VERSION ?= 2.13.0

# Debian packages: fonts for every script the compose engine renders, tesseract with the
# language packs the OCR tests read back, PostgreSQL (the tests start a throwaway cluster) and
# chromium (the studio's end-to-end tests drive it with Playwright; never a downloaded browser).
DEB_PACKAGES := fonts-noto-core fonts-noto-cjk tesseract-ocr tesseract-ocr-eng \
	tesseract-ocr-kor tesseract-ocr-jpn tesseract-ocr-chi-sim tesseract-ocr-ara \
	tesseract-ocr-heb tesseract-ocr-hin postgresql chromium

.PHONY: run test lint typecheck unit bench system-deps install install-dev clean

run: install
	$(VENV)/bin/pixelforge serve --host $(HOST) --port $(PORT)

test: install-dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest

bench: install-dev
	$(PY) bench/compose_bench.py
	$(PY) bench/server_bench.py
	$(PY) bench/queue_bench.py
	$(PY) bench/diffusers_bench.py
	$(PY) bench/upscale_bench.py
	$(PY) bench/provenance_bench.py
	$(PY) bench/overlay_ocr_bench.py
	$(PY) bench/studio_bench.py

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "pixelforge needs these Debian packages; install them with:"; \
			echo "  sudo apt-get install$$missing"; exit 1; \
		fi; \
	fi

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: system-deps $(PY)
	$(PIP) install -q -e .

install-dev: system-deps $(PY)
	$(PIP) install -q torch==$(TORCH_VERSION)
	$(PIP) install -q -e '.[dev,local]'

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
