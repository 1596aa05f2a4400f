# The two commands of the README: `make run` and `make test`. Both install what they need on a Debian 12
# machine: the Debian packages of debian-packages.txt (apt-get, as root, only those missing) and .venv.
# `make test PYTEST_ARGS="tests/unit -x"` narrows the run; by default every test runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint bench synth clean openstack-stop debian-packages web mutate

debian-packages:
	@bash localdev/install-debian-packages.sh debian-packages.txt

# The Debian packages come first: python3-venv is one of them.
$(STAMP): requirements.txt requirements-dev.txt | debian-packages
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q pip==26.2  # chalice 1.34 needs pip < 26.3 (it packages with it)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

# The portal (docs/portal.md): web/dist from web/src with the pinned npm packages of web/package-lock.json,
# rebuilt when a source or the lock changed. npm comes with Node.js (NodeSource) or as Debian's own package,
# installed here only when the command is missing (Debian's would conflict with a Node.js that ships npm).
WEB_SOURCES := $(wildcard web/src/*) web/build.mjs web/package.json
web/node_modules/.installed: web/package.json web/package-lock.json | debian-packages
	@command -v npm >/dev/null 2>&1 || bash localdev/install-debian-packages.sh web/debian-packages.txt
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	cd web && node build.mjs

web: web/dist/index.html

run: debian-packages $(STAMP) web
	$(PY) localdev/run.py

test: debian-packages $(STAMP) web
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/bandit -q -ll -r app.py chalicelib
	@# The Lambda's requirements and everything they pull in, at the versions installed here (.ci/installed_closure.py):
	@# pip-audit then needs no virtual env of its own to resolve them.
	@closure=$$(mktemp); trap 'rm -f "$$closure"' EXIT; set -e; \
	$(PY) .ci/installed_closure.py requirements.txt > "$$closure"; \
	echo "pip-audit of requirements.txt's $$(wc -l < "$$closure") packages as installed"; \
	$(VENV)/bin/pip-audit --no-deps --disable-pip -r "$$closure" --progress-spinner off
	@# Dead code in app.py and chalicelib/ (pyproject.toml [tool.vulture]; tests, bench and localdev are
	@# scanned only as its users). vulture exits 3 when it finds anything, anywhere: only our findings fail.
	@out=$$($(VENV)/bin/vulture); rc=$$?; if [ $$rc -ne 0 ] && [ $$rc -ne 3 ]; then echo "$$out"; exit $$rc; fi; \
	found=$$(printf '%s\n' "$$out" | grep -E '^(app\.py|chalicelib/)'); \
	if [ -n "$$found" ]; then printf '%s\n' "$$found"; exit 1; fi; echo "vulture: no dead code in app.py, chalicelib/"

# Mutation testing of chalicelib/domain/ and services/provisioning.py (pyproject.toml [tool.mutmut];
# docs/reliability.md, "Mutation testing"). One worker: the machine is shared. MUTATE_PATHS narrows the run
# to mutant names (globs), e.g. `make mutate MUTATE_PATHS='chalicelib.domain.offer.*'`. Results are kept in
# mutants/ between runs (only changed code is tried again); the survivors are printed at the end.
MUTATE_PATHS ?=
MUTATE_CHILDREN ?= 1
mutate: $(STAMP)
	mkdir -p mutants/web  # mutmut copies web/security-headers.json but does not make its folder
	$(VENV)/bin/mutmut run --max-children $(MUTATE_CHILDREN) $(MUTATE_PATHS)
	@echo "Surviving mutants (see one with: $(VENV)/bin/mutmut show NAME), then the count of each status:"
	@$(VENV)/bin/mutmut results | awk -F': ' '$$2 != "no tests" && $$2 != "not checked" {print} \
		{count[$$2]++} END {for (status in count) printf "%s: %d\n", status, count[status]}'

bench: debian-packages $(STAMP) web
	$(PY) bench/run.py

synth: debian-packages
	bash infra/synth.sh

openstack-stop:
	bash localdev/openstack/stop.sh

clean:
	rm -rf $(VENV) infra/cdk.out .pytest_cache mutants web/node_modules web/dist
