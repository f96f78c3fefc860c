# The SQS -> Lambda lab. `make help` lists the targets.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Orders `make producer` sends, how fast (0: as fast as the queue takes them),
# and more producer options (ARGS="--poison-share 0.1 --fail-share 0.2").
N     ?= 10
RATE  ?= 0
ARGS  ?=
# Where `make bundle` writes and `make load` reads the offline bundle.
BUNDLE ?= bundle
# Extra pip options for `make venv` (`make load` sets them to use the bundle only).
PIP_SOURCE ?=

.DEFAULT_GOAL := help
.PHONY: help venv up down test soak bench test-docker bundle load producer status logs trace scenario dashboard dlq redrive pause resume break fix purge lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv with Python >= 3.12 and the pinned dependencies

$(STAMP): requirements/host.lock pyproject.toml executor/pyproject.toml
	@python=$$(scripts/find-python) || exit 1; \
	echo "Creating $(VENV) with $$python ($$("$$python" --version))"; \
	rm -rf $(VENV) && "$$python" -m venv $(VENV)
	@echo "Installing the pinned packages of requirements/host.lock (about a minute, ~500 MB; log: $(VENV)/install.log)"
	@set -o pipefail; \
	$(PY) -m pip install --require-virtualenv --progress-bar off $(PIP_SOURCE) -r requirements/host.lock 2>&1 \
	  | tee $(VENV)/install.log \
	  | awk '/^Collecting/ {n++; if (n % 25 == 0) {print "  " n " packages collected..."; fflush()}} /^Successfully installed/ {print "  " NF-2 " packages installed"}' \
	  || { echo "pip install failed: see $(VENV)/install.log (PyPI must be reachable for this one step)"; exit 1; }
	@$(PY) -m pip install --quiet --require-virtualenv $(PIP_SOURCE) --no-deps -e . -e executor >>$(VENV)/install.log 2>&1 \
	  || { echo "installing the lab's own packages failed: see $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)
	@echo "$(VENV) is ready."

up: venv ## start LocalStack on 127.0.0.1:4566, provision the lab, print where to look
	@$(PY) -m lab up

down: ## stop everything `make up` started and remove its state
	@if [ -x $(PY) ]; then $(PY) -m lab down; else echo "Nothing to stop: the lab was never set up (no $(VENV))."; fi

test: venv ## run the whole test suite (starts LocalStack when it is not running)
	@$(PY) -m lab test

soak: venv ## N orders (default 20000) with 5% poison and 10% retried, then every one accounted for (starts LocalStack if needed)
	@$(PY) -m lab soak --count $(if $(filter command line environment,$(origin N)),$(N),20000)

bench: venv ## measure latency, throughput, ceilings and a peer emulator; writes bench/results.json and .png (~10 min)
	@LAB_MODE=host $(PY) -m bench.run

test-docker: venv ## the same suite against the Docker compose stack (needs a Docker engine)
	@LAB_MODE=docker $(PY) -m lab test

bundle: venv ## while online: write bundle/ (BUNDLE=dir) with everything needed offline (images, wheels, function zip)
	@$(PY) -m lab bundle $(BUNDLE)

load: ## offline: install from bundle/ (docker load, pip --no-index); then make up
	@test -d $(BUNDLE)/wheels || { echo "No $(BUNDLE)/wheels here: run \`make bundle\` on a machine that is online and copy $(BUNDLE)/ into this folder."; exit 1; }
	@if [ -f $(BUNDLE)/images.tar ]; then \
	  if docker info >/dev/null 2>&1; then echo "Loading the images of $(BUNDLE)/images.tar"; docker load --input $(BUNDLE)/images.tar; \
	  else echo "No Docker engine answers: skipping the images (host mode needs none)."; fi; fi
	@$(MAKE) --no-print-directory venv PIP_SOURCE="--no-index --find-links $(abspath $(BUNDLE))/wheels"
	@mkdir -p build && cp -r $(BUNDLE)/localstack-plugins build/ 2>/dev/null || true
	@echo "Loaded. \`make up\` now works with no network."

producer: venv ## send N orders (N=10, RATE=0 per second); more options: .venv/bin/python -m producer --help
	@$(PY) -m producer --count $(N) --rate $(RATE) $(ARGS)

status: venv ## one live screen: queues, mapping, orders, emails, invocations (ONCE=1: print once)
	@$(PY) -m lab status $(if $(ONCE),--once)

logs: venv ## follow the worker's log, one line per record and invocation
	@$(PY) -m lab logs

trace: venv ## the life of one order: make trace ORDER=<orderId>
	@test -n "$(ORDER)" || { echo "Which order? make trace ORDER=<orderId> (the producer prints ids with --json)"; exit 2; }
	@$(PY) -m lab trace "$(ORDER)"

scenario: venv ## a classic mistake shown, then fixed: make scenario NAME=short-visibility|no-dlq|exactly-once|heavy-work|forgot-delete
	@$(PY) -m lab scenario $(NAME)

dashboard: venv ## the live dashboard on http://127.0.0.1:8050/ (make up starts it too, unless LAB_DASHBOARD=0)
	@$(PY) -m lab dashboard

dlq: venv ## list what is in the dead-letter queue, without receiving it
	@$(PY) -m lab dlq

redrive: venv ## move the DLQ's messages back to the queue (StartMessageMoveTask), with progress
	@$(PY) -m lab redrive

pause: venv ## disable the event source mapping: messages wait in the queue
	@$(PY) -m lab pause

resume: venv ## enable the event source mapping again
	@$(PY) -m lab resume

break: venv ## deploy a bug: the worker rejects orders of more than 1 item (they go to the DLQ)
	@$(PY) -m lab break

fix: venv ## undo `make break`; then `make redrive`
	@$(PY) -m lab fix

purge: venv ## empty the queue and the DLQ (asks first; YES=1 does not)
	@$(PY) -m lab purge $(if $(YES),--yes)

lock: venv ## rewrite requirements/host.lock from the venv (after changing dependencies)
	@{ sed -n '1,3p' requirements/host.lock; $(PY) -m pip freeze --exclude-editable | grep -v '^-e'; } > requirements/host.lock.new
	@mv requirements/host.lock.new requirements/host.lock && echo "requirements/host.lock rewritten"
