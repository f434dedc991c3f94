# make test · make render STACK=<stack> · make preview|up STACK=<stack> · make bench
STACK ?= staging
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: test render preview up bench clean

# One virtualenv (the one Pulumi.yaml names) with the program's and the tools' packages.
# uv lives inside it, so a fresh machine needs only python3. Bytecode is compiled at
# install time: the Datadog SDK alone takes twice as long to import without it.
$(INSTALLED): requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(VENV)/bin/uv pip install --quiet --python $(PYTHON) --compile-bytecode -r requirements-dev.txt
	touch $@

test: $(INSTALLED)
	$(PYTHON) -m pytest

render: $(INSTALLED)
	$(PYTHON) -m tools.render $(STACK)

preview up: $(INSTALLED)
	@command -v pulumi >/dev/null 2>&1 || { \
	  echo "The Pulumi CLI is not installed, so 'make $@' cannot run."; \
	  echo "Install it (https://www.pulumi.com/docs/iac/download-install/), then 'pulumi login'."; \
	  echo "Offline, 'make render STACK=$(STACK)' shows what would be created."; \
	  exit 1; }
	pulumi $@ --stack $(STACK)

bench: $(INSTALLED)
	$(PYTHON) bench/render_bench.py

clean:
	rm -rf build
