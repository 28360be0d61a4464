# The two set-up commands of README.md:
#   make demo   create .venv, install mlimpute, impute the shipped fixture, print the pooled table
#   make test   install what the tests need (R and Debian r-cran-* packages when absent) and run
#               them: the suite, then a fast part of it with every dependency at its lowest
#               allowed version (test-lowest)
# Other targets: make bench (speed and ESS/s vs jomo() and pan, scaling, three levels),
# make test-slow (the long statistical runs too), make lock (regenerate the lock file),
# make dist (wheel and sdist in dist/), make r-package (the R source package, Python inside).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# the versions the suite last passed with (make lock regenerates it)
CONSTRAINTS := .ci/constraints.txt
PIP := -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS)
R_DEBS := r-base-core r-cran-jomo r-cran-mitml r-cran-mice r-cran-lme4 r-cran-testthat \
          r-cran-reticulate r-cran-haven r-cran-ordinal r-cran-readstata13 r-cran-jsonlite \
          r-cran-knitr r-cran-rmarkdown pandoc
R_PKGS := jomo mitml mice lme4 testthat reticulate haven ordinal readstata13 jsonlite knitr rmarkdown
# a fast part of the suite, run with every dependency at its lowest allowed version
LOWEST := .venv-lowest
LOWEST_TESTS := tests/model/test_spec.py tests/run/test_output.py tests/model/test_types_bridge.py \
                tests/io/test_rfiles.py tests/io/test_stata_mi.py tests/io/test_realcom.py tests/engine/test_linalg.py \
                tests/analysis/test_pool.py tests/engine/test_multilevel.py::test_two_level_output_matches_the_previous_engine \
                tests/frontends/test_cli.py tests/run/test_chains.py \
                tests/run/test_trust.py::test_sensitivity_command_writes_table_and_plot

.PHONY: demo test test-suite test-lowest test-slow bench venv r-deps lock dist r-package clean

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) $(PIP) --upgrade pip
	$(PY) $(PIP) -e ".[test]"
	touch $@

venv: $(VENV)/.installed

# rpy2 (the `r` extra) compiles against R, so it is installed after r-deps, for the tests
$(VENV)/.r-extra: $(VENV)/.installed
	$(PY) $(PIP) -e ".[test,r]"
	touch $@

r-deps:
	@if command -v Rscript >/dev/null 2>&1 && command -v pandoc >/dev/null 2>&1 && Rscript -e 'for (p in strsplit("$(R_PKGS)", " ")[[1]]) if (!requireNamespace(p, quietly = TRUE)) quit(status = 1)' >/dev/null 2>&1; then \
		echo "R and its packages are installed"; \
	else \
		echo "installing R from Debian packages: $(R_DEBS)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(R_DEBS); \
	fi

demo: venv
	$(PY) -m mlimpute demo --out demo_output

test: test-suite test-lowest

test-suite: r-deps venv $(VENV)/.r-extra
	$(PY) -m pytest -m "not slow" -n auto --dist loadfile

$(LOWEST)/.installed: pyproject.toml .ci/lowest.py
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python $(PIP) --upgrade pip
	$(PYTHON) .ci/lowest.py test > $(LOWEST)/lowest.txt
	$(LOWEST)/bin/python -m pip install --quiet --disable-pip-version-check -c $(LOWEST)/lowest.txt -e ".[test]"
	touch $@

test-lowest: $(LOWEST)/.installed
	@echo "a fast part of the suite with the lowest versions pyproject.toml allows:"
	@$(LOWEST)/bin/python -m pip list --disable-pip-version-check 2>/dev/null | grep -i -E "^(numpy|scipy|pandas|pyreadstat|statsmodels|pyarrow|matplotlib|rdata) "
	$(LOWEST)/bin/python -m pytest -q -p no:cacheprovider -m "not slow and not r" $(LOWEST_TESTS)

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

# The newest versions within pyproject's ranges, installed afresh; the suite must pass
# with them before they replace the lock file.
lock: r-deps
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[test,r]"
	.venv-lock/bin/python -m pytest -q -m "not slow"
	head -3 $(CONSTRAINTS) > $(CONSTRAINTS).new
	.venv-lock/bin/python -m pip freeze --all --exclude-editable | grep -v -E '^(setuptools|wheel)==' >> $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf .venv-lock

dist: venv
	rm -rf dist
	$(PY) -m build --outdir dist .

# R's source package with the Python wheel inside (inst/python), for R users without pip
r-package: dist r-deps
	$(PY) .ci/r_source_package.py --wheel $$(ls dist/mlimpute-*.whl) --out dist

clean:
	rm -rf $(VENV) $(LOWEST) .venv-lock demo_output benchmarks/results .pytest_cache dist build
