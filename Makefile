# The project's commands: `make` or `make help` lists them. Through make, a failing command exits 2
# whatever the tool said; scripts and the workflows run `.venv/bin/python -m tools.<tool>` to keep
# each tool's own exit code (docs in each tool's --help, and the README's command table).
.DEFAULT_GOAL := help
STACK ?= staging
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
COMPILE := $(VENV)/bin/uv pip compile --quiet --generate-hashes --no-emit-index-url --no-header --python-version 3.11
# make test's slow tests spend much of their time waiting on promtool, make diff's planners and Locust: one
# worker more than the CPUs make may use keeps them busy. Read only when make test runs; TEST_WORKERS=n overrides.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(1 + (len(os.sched_getaffinity(0)) \
  if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))')

# The project's own modules keep their bytecode, and pytest its rewritten test modules, in __pycache__/ (which git
# ignores) even where the shell says not to: a warm run compiles nothing again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help test test-fast lint docs render serve load rollouts contract-check e2e diff promote policy verify marker dora preview up refresh destroy bench clean requirements

help: ## | this list
	@echo "make <command> [VARIABLE=value ...]; the first command installs .venv (about 1.4 GB, once)"
	@echo
	@awk -F':.*## ' '/^[a-z][a-z0-9 -]*:.*## / { n = index($$2, "| "); vars = substr($$2, 1, n - 1); \
	  sub(/ +$$/, "", vars); printf "  %-44s %s\n", $$1 (vars == "" ? "" : " " vars), substr($$2, n + 2) }' \
	  $(MAKEFILE_LIST)
	@echo
	@echo "Each tool's own exit code: .venv/bin/python -m tools.<tool> (make exits 2 on any failure)."

# One virtualenv (the one Pulumi.yaml names) with the program's and the tools' packages, every
# one pinned with its hashes. uv lives inside it, so a fresh machine needs only python3. Bytecode
# is compiled at install time: the Datadog SDK alone takes twice as long to import without it.
$(INSTALLED): requirements-uv.txt requirements.txt requirements-dev.txt service/requirements.txt
	@echo "Setting up $(VENV) once: the Pulumi SDKs (Azure Native, Kubernetes, Datadog), the validators and"
	@echo "test tools, the reference service's packages; about 1.4 GB, a minute or two on a fresh machine."
	@start=$$(date +%s) && python3 -m venv $(VENV) && \
	  $(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-uv.txt && \
	  $(VENV)/bin/uv pip sync --quiet --python $(PYTHON) --require-hashes --compile-bytecode requirements-dev.txt && \
	  touch $@ && echo "$(VENV) is ready ($$(( $$(date +%s) - start )) s)."

# Whole test files per worker (--dist loadfile): a module's fixtures (a render, a git repository, a trained
# model) are made once, and a stack's plan is shared between workers (tests/helpers.py).
test: $(INSTALLED) ## | every test but the end-to-end run, on every core (what CI runs, with make lint and make e2e)
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --dist loadfile

# What is not slow (tests/*: the slow marker is on real promtool, amtool and Alertmanager processes, subprocess
# renders and the validators over every render): what to run after every edit. (Without pytest's final full
# garbage collection, a second on a heap the Datadog SDK fills; `make test` keeps it.)
test-fast: $(INSTALLED) ## | everything but the slow tests: what to run after every edit
	$(PYTHON) -m pytest -n auto --dist loadfile -m "not slow and not e2e" -p no:unraisableexception

lint: $(INSTALLED) ## | ruff, mypy, actionlint and zizmor
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/actionlint
	$(VENV)/bin/zizmor --offline --quiet --persona=auditor .github

# Written from config/schema.py, never by hand: a test fails when one is stale.
docs: $(INSTALLED) ## | regenerates schema/stack.schema.json, docs/configuration.md and Pulumi.yaml's config
	$(PYTHON) -m config.generate

render: $(INSTALLED) ## [STACK=staging] | the stack's plan offline, into build/<stack>/ (plan, manifests, rules)
	$(PYTHON) -m tools.render $(STACK)

# The reference inference service on 127.0.0.1: http 8080 (/predict, /health, /ready), metrics 8000.
serve: $(INSTALLED) ## [HTTP_PORT=8080] [METRICS_PORT=8000] | the reference inference service on 127.0.0.1
	HOST=127.0.0.1 $(PYTHON) -m service

# Locust, headless, with the reference service's request shapes (tools/locustfile.py); exit 1 when more than
# 1% of the requests fail.
load: $(INSTALLED) ## URL= [DURATION=30s] [USERS=10] | load on a running service: requests, failures, median, P95
	$(PYTHON) -m tools.load $(URL) --duration $(or $(DURATION),30s) --users $(or $(USERS),10)

# A service's /metrics against its stack's metric contract (the CI gate teams run on their own server).
contract-check: $(INSTALLED) ## URL= STACK= SERVICE= | a running service's /metrics against its contract
	$(PYTHON) -m tools.contract_check $(URL) --stack $(STACK) --service $(SERVICE)

# The reference service, a real Prometheus with the rendered rules, and traffic, all on loopback.
e2e: $(INSTALLED) ## | the reference service and a real Prometheus with the rendered rules
	$(PYTHON) -m pytest -m e2e -s tests/e2e

# What the change does to each stack against BASE (default: where this branch left main); STACK limits it to
# one stack. The tool exits 2 when anything changes (terraform plan -detailed-exitcode); make takes that for
# success, so only a stack that cannot be planned fails `make diff`.
diff: $(INSTALLED) ## [BASE=<ref>] [STACK=<stack>] | what the change does to each stack (default BASE: where it left main)
	@$(PYTHON) -m tools.diff $(if $(BASE),--base $(BASE)) \
	  $(if $(filter command line environment,$(origin STACK)),--stack $(STACK)) || [ $$? -eq 2 ]

# A pushed image (by digest) into every stack running its repository: the pipeline's promotion.
promote: $(INSTALLED) ## IMAGE=<ref@digest> | an image into every stack running its repository
	$(PYTHON) -m tools.promote $(IMAGE)

# The policy pack (policy/) over the stack's plan, offline; exit 1 on a mandatory violation.
policy: $(INSTALLED) ## [STACK=staging] | the policy pack over the stack's plan, offline
	$(PYTHON) -m tools.policy_check $(STACK)

# The post-deploy gate: each service's last window against its objectives (ARGS: --baseline 1h,
# --canary <version>, --service <name>, --format json; make verify ARGS=--help lists them all).
verify: $(INSTALLED) ## STACK= PROMETHEUS_URL= [ARGS=] | the post-deploy gate against the objectives
	$(PYTHON) -m tools.verify $(STACK) $(if $(PROMETHEUS_URL),--prometheus $(PROMETHEUS_URL)) $(ARGS)

# Records a deployment or a verify in Datadog, Grafana and App Insights, each if configured
# (the environment variables tools/markers.py names), and in build/deployments.jsonl.
# After pulumi up starts a canary: each Rollout to Healthy (promoted) or Degraded (aborted); exit 1 when any was
# aborted or did not end in time.
rollouts: $(INSTALLED) ## [STACK=staging] | waits for the stack's canaries: promoted (exit 0) or aborted (exit 1)
	$(PYTHON) -m tools.rollouts $(STACK)

marker: $(INSTALLED) ## STACK= EVENT=deploy|verify|rollout RESULT= | a deployment marker in Datadog, Grafana, App Insights
	$(PYTHON) -m tools.markers $(STACK) --event $(EVENT) --result $(RESULT) $(ARGS)

# Deployment frequency, lead time, change failure rate and time to restore, per stack, from the
# markers and git history (ARGS: --days N, --stack S); sent to Datadog when DD_API_KEY is set.
dora: $(INSTALLED) ## [ARGS=] | the four DORA metrics from the markers and git history
	$(PYTHON) -m tools.dora $(ARGS)

# With the Pulumi CLI: preview and up run the policy pack too; destroy asks for the stack's name.
preview up refresh destroy: $(INSTALLED) ## [STACK=staging] | the Pulumi CLI on the stack (preview and up with the policy pack)
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

bench: $(INSTALLED) ## | render and test timings, measured on this machine
	$(PYTHON) bench/render_bench.py

# Re-pins the whole dependency tree from the *.in files (needs the package index).
requirements: $(INSTALLED) ## | re-pins the dependency tree from the *.in files
	$(COMPILE) requirements.in -o requirements.txt
	$(COMPILE) requirements-dev.in -o requirements-dev.txt
	# The image gets the versions the tests ran the service with.
	$(COMPILE) service/requirements.in --constraint requirements-dev.txt -o service/requirements.txt
	{ echo "# The installer itself, installed first (a fresh machine needs only python3): make requirements"; \
	  echo "uv==$$($(VENV)/bin/uv --version | cut -d' ' -f2)" | $(COMPILE) -; } > requirements-uv.txt

clean: ## | removes build/
	rm -rf build
