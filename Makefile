# gisplan — two commands do everything on a fresh Debian 12 machine (root, or a user with sudo):
#   make demo   set up, load the bundled sample, print what was loaded
#   make test   set up, lint, type-check, run the whole test suite against a real PostGIS
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY ?= python3
VENV := .venv
# make test runs the suite on both cores (pytest-xdist); TEST_WORKERS=0 runs it in one process
TEST_WORKERS ?= 2
APT_PACKAGES := postgresql-15-postgis-3 postgresql-15-pgrouting gdal-bin fonts-wqy-microhei
# The tests drive Debian's Chromium (headless) against the web map and the exported HTML.
TEST_APT_PACKAGES := chromium python3-qgis
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help setup apt apt-test apt-install assets venv ogc-validator demo test lint typecheck clean

help:
	@echo "make demo   - set up and run the demo (loads the bundled sample into the embedded PostGIS)"
	@echo "make test   - set up and run lint, type checks and the test suite"

# System packages, only when one is missing (re-running is quick).
apt:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

apt-test:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_APT_PACKAGES)"

apt-install:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PY) -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# The venv is re-installed only when pyproject.toml or constraints.txt changed.
# constraints.txt pins every package to the versions tested (regenerate: pip freeze of a fresh venv).
$(VENV)/.installed: pyproject.toml constraints.txt
	@[ -x $(VENV)/bin/python ] || $(PY) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	@$(VENV)/bin/python -m pip install -q -c constraints.txt -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
	@$(VENV)/bin/python -c 'import gis, geopandas, psycopg' || { rm -f $@; echo "venv install failed"; exit 1; }
	@touch $@

venv: $(VENV)/.installed

# An independent check of the OGC API against Part 1's abstract tests: ogctests (PyPI), whose pins
# (httpx 0.27, pytest 8) clash with ours, in a venv of its own (constraints-ogctests.txt), like tipg
# for the benchmarks; tests/api/test_ogc_validator.py runs it against the served sample.
OGC_VENV := .venv-ogctests
$(OGC_VENV)/.installed: constraints-ogctests.txt
	@[ -x $(OGC_VENV)/bin/python ] || $(PY) -m venv $(OGC_VENV)
	@$(OGC_VENV)/bin/python -m pip install -q -c constraints-ogctests.txt ogctests 2>&1 | grep -v "^WARNING: Location" || true
	@$(OGC_VENV)/bin/python -c 'import ogctests' || { rm -f $@; echo "ogctests install failed"; exit 1; }
	@touch $@

ogc-validator: $(OGC_VENV)/.installed

# Front-end assets (MapLibre GL JS, Leaflet, Swagger UI) from npm, exactly as web/package-lock.json pins them;
# the app serves them and the exports inline them: nothing loads from a CDN at run time.
# A web/node_modules that is a symbolic link (shared with another checkout) is left alone: npm ci would
# empty the directory it points to.
web/node_modules/.installed: web/package.json web/package-lock.json
	@if [ -L web/node_modules ]; then echo "web/node_modules is a link to $$(readlink web/node_modules): not reinstalled"; \
	else cd web && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; fi

# The files of those packages gisplan uses (the web map's script and style, Leaflet's with its images,
# the licences), copied into the package so that the wheel carries them (gis/web/vendor, not in git);
# the rest of node_modules (~60 MB: sources, maps, other builds) is never shipped.
VENDOR := gis/web/vendor
VENDOR_FILES := maplibre-gl/dist/maplibre-gl.js maplibre-gl/dist/maplibre-gl.css maplibre-gl/LICENSE.txt \
  leaflet/dist/leaflet.js leaflet/dist/leaflet.css leaflet/dist/images/layers.png \
  leaflet/dist/images/layers-2x.png leaflet/dist/images/marker-icon.png leaflet/dist/images/marker-icon-2x.png \
  leaflet/dist/images/marker-shadow.png leaflet/LICENSE \
  swagger-ui-dist/swagger-ui-bundle.js swagger-ui-dist/swagger-ui.css swagger-ui-dist/favicon-32x32.png \
  swagger-ui-dist/LICENSE
$(VENDOR)/.installed: web/node_modules/.installed Makefile
	@rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	@cd web/node_modules && cp --parents $(VENDOR_FILES) $(CURDIR)/$(VENDOR)/
	@touch $@

assets: $(VENDOR)/.installed

setup: apt venv assets

demo: setup
	$(VENV)/bin/gisplan demo

lint: venv
	$(VENV)/bin/ruff check gis api tests bench scripts
	$(VENV)/bin/ruff format --check gis api tests bench scripts

typecheck: venv
	$(VENV)/bin/mypy

test: setup apt-test ogc-validator lint typecheck
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=25

clean:
	rm -rf $(VENV) $(OGC_VENV) out .pytest_cache .mypy_cache .ruff_cache web/node_modules $(VENDOR)
