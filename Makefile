# The two commands of the README: `make run` and `make test`. Both install what they need on a Debian 12
# machine: the Debian packages of debian-packages.txt (apt-get, as root, only those missing) and .venv.
# `make test PYTEST_ARGS="tests/unit -x"` narrows the run; by default every test runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint bench synth clean openstack-stop debian-packages

debian-packages:
	@bash localdev/install-debian-packages.sh debian-packages.txt

# The Debian packages come first: python3-venv is one of them.
$(STAMP): requirements.txt requirements-dev.txt | debian-packages
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

run: debian-packages $(STAMP)
	$(PY) localdev/run.py

test: debian-packages $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/bandit -q -ll -r app.py chalicelib
	$(VENV)/bin/pip-audit -r requirements.txt --progress-spinner off

bench: debian-packages $(STAMP)
	$(PY) bench/run.py

synth: debian-packages
	bash infra/synth.sh

openstack-stop:
	bash localdev/openstack/stop.sh

clean:
	rm -rf $(VENV) infra/cdk.out .pytest_cache
