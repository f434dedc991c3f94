# make render STACK=<stack> · make test · make test-fast · make lint · make serve · make e2e
# make contract-check URL=<metrics url> STACK=<stack> SERVICE=<service> · make diff [BASE=<ref>] [STACK=<stack>]
# make policy STACK=<stack> · make preview|up|refresh|destroy STACK=<stack> · make bench
# make verify STACK=<stack> PROMETHEUS_URL=<url> [ARGS=...] · make marker STACK=<stack> EVENT=deploy|verify RESULT=success|failure · make dora
STACK ?= staging
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
COMPILE := $(VENV)/bin/uv pip compile --quiet --generate-hashes --no-emit-index-url --no-header --python-version 3.11

.PHONY: test test-fast lint render serve contract-check e2e diff promote policy verify marker dora preview up refresh destroy bench clean requirements

# One virtualenv (the one Pulumi.yaml names) with the program's and the tools' packages, every
# one pinned with its hashes. uv lives inside it, so a fresh machine needs only python3. Bytecode
# is compiled at install time: the Datadog SDK alone takes twice as long to import without it.
$(INSTALLED): requirements-uv.txt requirements.txt requirements-dev.txt service/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-uv.txt
	$(VENV)/bin/uv pip sync --quiet --python $(PYTHON) --require-hashes --compile-bytecode requirements-dev.txt
	touch $@

test: $(INSTALLED)
	$(PYTHON) -m pytest

# The pure and component tests only: what to run after every edit. (Without pytest's final full
# garbage collection, a second on a heap the Datadog SDK fills; `make test` keeps it.)
test-fast: $(INSTALLED)
	$(PYTHON) -m pytest -p no:unraisableexception tests/unit tests/component

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/actionlint
	$(VENV)/bin/zizmor --offline --quiet --persona=auditor .github

render: $(INSTALLED)
	$(PYTHON) -m tools.render $(STACK)

# The reference inference service on 127.0.0.1: http 8080 (/predict, /health, /ready), metrics 8000.
serve: $(INSTALLED)
	HOST=127.0.0.1 $(PYTHON) -m service

# A service's /metrics against its stack's metric contract (the CI gate teams run on their own server).
contract-check: $(INSTALLED)
	$(PYTHON) -m tools.contract_check $(URL) --stack $(STACK) --service $(SERVICE)

# The reference service, a real Prometheus with the rendered rules, and traffic, all on loopback.
e2e: $(INSTALLED)
	$(PYTHON) -m pytest -m e2e -s tests/e2e

# What the change does to each stack against BASE (default: where this branch left main); exit 2
# when anything changes, as terraform plan -detailed-exitcode. STACK limits it to one stack.
diff: $(INSTALLED)
	$(PYTHON) -m tools.diff $(if $(BASE),--base $(BASE)) $(if $(filter command line environment,$(origin STACK)),--stack $(STACK))

# A pushed image (by digest) into every stack running its repository: the pipeline's promotion.
promote: $(INSTALLED)
	$(PYTHON) -m tools.promote $(IMAGE)

# The policy pack (policy/) over the stack's plan, offline; exit 1 on a mandatory violation.
policy: $(INSTALLED)
	$(PYTHON) -m tools.policy_check $(STACK)

# The post-deploy gate: each service's last window against its objectives (ARGS: --baseline 1h,
# --canary <version>, --service <name>, --format json; make verify ARGS=--help lists them all).
verify: $(INSTALLED)
	$(PYTHON) -m tools.verify $(STACK) $(if $(PROMETHEUS_URL),--prometheus $(PROMETHEUS_URL)) $(ARGS)

# Records a deployment or a verify in Datadog, Grafana and App Insights, each if configured
# (the environment variables tools/markers.py names), and in build/deployments.jsonl.
marker: $(INSTALLED)
	$(PYTHON) -m tools.markers $(STACK) --event $(EVENT) --result $(RESULT) $(ARGS)

# Deployment frequency, lead time, change failure rate and time to restore, per stack, from the
# markers and git history (ARGS: --days N, --stack S); sent to Datadog when DD_API_KEY is set.
dora: $(INSTALLED)
	$(PYTHON) -m tools.dora $(ARGS)

# With the Pulumi CLI: preview and up run the policy pack too; destroy asks for the stack's name.
preview up refresh destroy: $(INSTALLED)
	@command -v pulumi >/dev/null 2>&1 || { \
	  echo "The Pulumi CLI is not installed, so 'make $@' cannot run."; \
	  echo "Install it (https://www.pulumi.com/docs/iac/download-install/), then 'pulumi login'."; \
	  echo "Offline, 'make render STACK=$(STACK)' shows what would be created."; \
	  exit 1; }
	@if [ "$@" = destroy ]; then \
	  printf 'This deletes every resource of stack %s. Type the stack name to go on: ' "$(STACK)"; \
	  read answer; [ "$$answer" = "$(STACK)" ] || { echo "Not destroyed."; exit 1; }; \
	fi
	pulumi $@ --stack $(STACK) $(if $(filter preview up,$@),--policy-pack policy)

bench: $(INSTALLED)
	$(PYTHON) bench/render_bench.py

# Re-pins the whole dependency tree from the *.in files (needs the package index).
requirements: $(INSTALLED)
	$(COMPILE) requirements.in -o requirements.txt
	$(COMPILE) requirements-dev.in -o requirements-dev.txt
	# The image gets the versions the tests ran the service with.
	$(COMPILE) service/requirements.in --constraint requirements-dev.txt -o service/requirements.txt
	{ echo "# The installer itself, installed first (a fresh machine needs only python3): make requirements"; \
	  echo "uv==$$($(VENV)/bin/uv --version | cut -d' ' -f2)" | $(COMPILE) -; } > requirements-uv.txt

clean:
	rm -rf build
