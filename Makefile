# The two commands of the README: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench synth clean openstack-stop

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) localdev/run.py

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/bandit -q -ll -r app.py chalicelib
	$(VENV)/bin/pip-audit -r requirements.txt --progress-spinner off

bench: $(STAMP)
	$(PY) bench/run.py

synth:
	bash infra/synth.sh

openstack-stop:
	bash localdev/openstack/stop.sh

clean:
	rm -rf $(VENV) infra/cdk.out .pytest_cache
