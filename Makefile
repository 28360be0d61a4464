# The two set-up commands of README.md:
#   make demo   create .venv, install mlimpute, impute the shipped fixture, print the pooled table
#   make test   install what the tests need (R and Debian r-cran-* packages when absent) and run them
# Other targets: make bench (speed and ESS/s vs jomo() and pan, scaling, three levels), make test-slow (the long statistical runs too).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
R_DEBS := r-base-core r-cran-jomo r-cran-mitml r-cran-mice r-cran-lme4 r-cran-testthat \
          r-cran-reticulate r-cran-haven r-cran-ordinal r-cran-readstata13 r-cran-jsonlite
R_PKGS := jomo mitml mice lme4 testthat reticulate haven ordinal readstata13 jsonlite

.PHONY: demo test test-slow bench venv r-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

venv: $(VENV)/.installed

# rpy2 (the `r` extra) compiles against R, so it is installed after r-deps, for the tests
$(VENV)/.r-extra: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test,r]"
	touch $@

r-deps:
	@if command -v Rscript >/dev/null 2>&1 && Rscript -e 'for (p in strsplit("$(R_PKGS)", " ")[[1]]) if (!requireNamespace(p, quietly = TRUE)) quit(status = 1)' >/dev/null 2>&1; then \
		echo "R and its packages are installed"; \
	else \
		echo "installing R from Debian packages: $(R_DEBS)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(R_DEBS); \
	fi

demo: venv
	$(PY) fixtures/demo.py

test: r-deps venv $(VENV)/.r-extra
	$(PY) -m pytest -m "not slow"

test-slow: r-deps venv $(VENV)/.r-extra
	$(PY) -m pytest

bench: r-deps venv
	$(PY) -m benchmarks.vs_jomo
	$(PY) -m benchmarks.peers
	$(PY) -m benchmarks.startup
	$(PY) -m benchmarks.three_level
	$(PY) -m benchmarks.scaling --full-rows 1000000
	$(PY) -m benchmarks.jomo_cluster_covariance
	$(PY) -m benchmarks.smc

clean:
	rm -rf $(VENV) demo_output benchmarks/results .pytest_cache
