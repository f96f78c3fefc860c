# The SQS -> Lambda lab. `make help` lists the targets.
#
# Where the lab's commands run: this machine's .venv when it has Python 3.12 or
# newer (or the venv exists already), otherwise the `tools` container of
# docker-compose.yml, so that a machine with only Docker (and make) has every
# target too. LAB_RUNNER=venv or LAB_RUNNER=tools chooses (LAB_MODE, a different
# thing, says where LocalStack runs: host, docker, or tools inside that container).
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS_STAMP := $(VENV)/.installed-tools
# Orders `make producer` sends, how fast (0: as fast as the queue takes them),
# and more producer options (ARGS="--poison-share 0.1 --fail-share 0.2").
N     ?= 10
RATE  ?= 0
ARGS  ?=
# Where `make bundle` writes and `make load` reads the offline bundle.
BUNDLE ?= bundle
# Where `make class-report` reads the reports students handed in (under exercises/,
# which the tools container sees too).
DIR ?= exercises/class
# Extra pip options for `make venv` (`make load` sets them to use the bundle only).
PIP_SOURCE ?=
# Extra pytest arguments for `make test` and `make test-docker` (TEST_ARGS="-m offline -n 0").
TEST_ARGS ?=

ifndef LAB_RUNNER
  LAB_RUNNER := $(if $(or $(wildcard $(PY)),$(shell scripts/find-python 2>/dev/null)),venv,tools)
endif
ifeq ($(LAB_RUNNER),venv)
  SETUP    := venv
  # The test and bench tools (requirements/test.lock), installed when first needed.
  TOOLS    := tools
  LAB      := $(PY) -m lab
  PRODUCER := $(PY) -m producer
  WITH_LAB := $(PY) -m lab
  # Lab commands that need no LocalStack (the quiz, the exercises' list).
  OFFLINE  := $(PY) -m lab
else
  SETUP    :=
  TOOLS    :=
  LAB      := scripts/lab-in-docker run lab
  PRODUCER := scripts/lab-in-docker run producer
  WITH_LAB := scripts/lab-in-docker with-lab
  OFFLINE  := scripts/lab-in-docker alone lab
endif

.DEFAULT_GOAL := help
.PHONY: help venv tools build doctor up stop down unit test soak bench bench-memory bench-snapshot bench-docker test-docker bundle load producer status logs event trace scenario dashboard as quiz cost exercise check solution reset report class-report deploy-iac deploy-aws destroy-aws dlq redrive pause resume break fix purge lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  (lab commands run $(if $(filter venv,$(LAB_RUNNER)),from $(VENV),in the tools container: no Python 3.12 here))"

venv: $(STAMP) ## create .venv with Python >= 3.12 and what the lab needs to run (requirements/lab.lock)

$(STAMP): requirements/lab.lock pyproject.toml executor/pyproject.toml
	@python=$$(scripts/find-python) || exit 1; \
	echo "Creating $(VENV) with $$python ($$("$$python" --version))"; \
	rm -rf $(VENV) && "$$python" -m venv $(VENV)
	@echo "Installing what the lab needs to run, requirements/lab.lock, with uv (half a minute; log: $(VENV)/install.log)"
	@scripts/install-packages $(VENV) lab $(PIP_SOURCE)
	@scripts/prepare-runtimes $(VENV) $(PIP_SOURCE)
	@touch $(STAMP)
	@echo "$(VENV) is ready ($$(du -sm $(VENV) | cut -f1) MB)."

tools: $(TOOLS_STAMP) ## add the test and bench tools to .venv (requirements/test.lock; make test does it when first needed)

$(TOOLS_STAMP): $(STAMP) requirements/test.lock
	@echo "Adding the test and bench tools, requirements/test.lock (first time only; log: $(VENV)/install.log)"
	@scripts/install-packages $(VENV) test $(PIP_SOURCE)
	@touch $(TOOLS_STAMP)

build: ## (re)build the lab's Docker images from this folder (after changing the code)
	@scripts/lab-in-docker build

doctor: ## before class: whether `make up` will work here with the network off, one row per need (exit 0 when it will)
	@scripts/doctor

up: $(SETUP) ## start LocalStack on 127.0.0.1:4566, provision the lab, print where to look
ifeq ($(LAB_RUNNER),venv)
	@$(LAB) up
else
	@scripts/lab-in-docker up
endif

stop: ## stop the lab, keeping its state (queues, messages, orders, emails, function): `make up` brings it back
ifeq ($(LAB_RUNNER),venv)
	@$(LAB) stop
else
	@scripts/lab-in-docker stop
endif

down: ## stop everything `make up` started and remove its state (the queues, messages and orders too)
ifeq ($(LAB_RUNNER),venv)
	@$(LAB) down
else
	@scripts/lab-in-docker down
endif

unit: $(TOOLS) ## the unit tests only: seconds, no LocalStack, no network (run before every commit)
ifeq ($(LAB_RUNNER),venv)
	@$(LAB) unit
else
	@scripts/lab-in-docker unit
endif

test: $(TOOLS) ## the whole suite: the unit tests, then the integration tests (starts LocalStack when it is not running)
	@$(WITH_LAB) test -- $(TEST_ARGS)

soak: $(TOOLS) ## N orders (default 20000) with 5% poison and 10% retried, then every one accounted for (starts LocalStack if needed)
	@$(WITH_LAB) soak --count $(if $(filter command line environment,$(origin N)),$(N),20000)

bench: venv ## measure latency, throughput, memory, ceilings and a peer emulator; writes bench/results.json and .html (~20 min)
	@LAB_MODE=host $(PY) -m bench.run

bench-memory: venv ## what LocalStack's heap holds, by package (tracemalloc), after make up and after 1,000 orders; writes bench/memory-profile.json (~3 min)
	@$(PY) -m bench.memory_profile

bench-snapshot: venv ## what keeping the lab's state costs: snapshot size, save and load time for 20,000 orders, a crash's loss window (~15 min)
	@$(PY) -m bench.snapshot_figures

bench-docker: venv ## Docker mode's costs: first build, rebuild, compose up to healthy, image sizes; writes bench/docker-results.json
	@$(PY) -m bench.docker_figures

test-docker: $(TOOLS) ## the same suite against the Docker compose stack (needs a Docker engine)
ifeq ($(LAB_RUNNER),venv)
	@scripts/lab-in-docker build
	@scripts/lab-in-docker require-current '`make test-docker`'
	@LAB_MODE=docker $(PY) -m lab test -- $(TEST_ARGS)
else
	@$(WITH_LAB) test -- $(TEST_ARGS)
endif

bundle: $(SETUP) ## while online: write bundle/ (BUNDLE=dir) with everything needed offline (images, wheels)
	@mkdir -p $(BUNDLE)
ifeq ($(LAB_RUNNER),venv)
	@$(PY) -m lab bundle $(BUNDLE)
endif
	@if docker info >/dev/null 2>&1; then scripts/lab-in-docker save-images $(BUNDLE)/images.tar; \
	else echo "No Docker engine answers: the bundle has no images (host mode only)."; fi
	@echo "Done. Copy $(BUNDLE)/ into the project on each machine and run \`make load\` there."

load: ## offline: install from bundle/ (docker load, packages with --no-index); then make up
	@test -f $(BUNDLE)/images.tar -o -d $(BUNDLE)/wheels || { echo "No bundle in $(BUNDLE)/: run \`make bundle\` on a machine that is online and copy $(BUNDLE)/ into this folder."; exit 1; }
	@if [ -f $(BUNDLE)/images.tar ]; then \
	  if docker info >/dev/null 2>&1; then echo "Loading the images of $(BUNDLE)/images.tar"; scripts/lab-in-docker load-images $(BUNDLE)/images.tar; \
	  else echo "No Docker engine answers: skipping the images (host mode needs none)."; fi; fi
ifeq ($(LAB_RUNNER),venv)
	@test -d $(BUNDLE)/wheels || { echo "No $(BUNDLE)/wheels: this bundle was made without Python; host mode needs \`make bundle\` from a machine with Python 3.12."; exit 1; }
	@$(MAKE) --no-print-directory venv tools PIP_SOURCE="--no-index --find-links $(abspath $(BUNDLE))/wheels"
endif
	@echo "Loaded. \`make up\` now works with no network."

producer: $(SETUP) ## send N orders (N=10, RATE=0 per second); more options: make producer ARGS=--help
	@case '$(N)' in ''|*[!0-9]*) echo "N is how many orders to send, a whole number: make producer N=20 (not '$(N)')"; exit 2;; esac
	@case '$(RATE)' in ''|.|*[!0-9.]*|*.*.*) echo "RATE is orders per second, a number (0: as fast as the queue takes them): make producer N=20 RATE=5 (not '$(RATE)')"; exit 2;; esac
	@$(PRODUCER) --count $(N) --rate $(RATE) $(ARGS)

status: $(SETUP) ## one live screen: queues, mapping, orders, emails, invocations (ONCE=1: print once)
	@$(LAB) status $(if $(ONCE),--once)

logs: $(SETUP) ## follow the worker's log, one line per record and invocation (FOLLOW=0: the last minutes, then exit)
	@$(LAB) logs $(if $(filter 0,$(FOLLOW)),--no-follow)

event: $(SETUP) ## the last SQS event the worker received, as it got it (after LAB_LOG_EVENT=1 make up)
	@$(LAB) event

trace: $(SETUP) ## the life of one order: make trace ORDER=<orderId>
	@test -n "$(ORDER)" || { echo "Which order? make trace ORDER=<orderId> (the producer prints ids with --json)"; exit 2; }
	@$(LAB) trace "$(ORDER)"

scenario: $(SETUP) ## a lesson shown (a classic mistake, then fixed): make scenario NAME=short-visibility|no-dlq|exactly-once|heavy-work|forgot-delete|scaling|missing-permission|no-queue|unpackaged-import
	@$(LAB) scenario $(NAME)

dashboard: $(SETUP) ## the live dashboard on http://127.0.0.1:8050/ (make up starts it too, unless LAB_DASHBOARD=0)
ifeq ($(LAB_RUNNER),venv)
	@$(LAB) dashboard
else
	@scripts/lab-in-docker dashboard
endif

cost: $(SETUP) ## what the lab did since `make up` would have cost on AWS: every request counted, at AWS's prices, with what-ifs
	@$(LAB) cost

quiz: $(SETUP) ## a self-check of 16 questions on what the lab showed, each answer explained (ANSWERS=abc... answers in one go)
	@$(OFFLINE) quiz $(if $(ANSWERS),--answers "$(ANSWERS)")

# N is also the producer's count (default 10): an exercise number only when given.
EXERCISE := $(if $(filter command line environment,$(origin N)),$(N))

exercise: $(SETUP) ## list the exercises; make exercise N=<n> starts one (task, files in exercises/, a stack of its own)
	@$(if $(EXERCISE),$(LAB),$(OFFLINE)) exercise $(EXERCISE)

check: $(SETUP) ## judge exercise N by what its stack does, a hint for each failure (all started ones without N)
	@$(LAB) check $(EXERCISE)

solution: $(SETUP) ## for instructors: put exercise N's reference solution in its workspace
	@test -n "$(EXERCISE)" || { echo "Which exercise? make solution N=<n>"; exit 2; }
	@$(LAB) solution $(EXERCISE)

reset: $(SETUP) ## put exercise N's starter files back and remove its stack (every started one without N)
	@$(LAB) reset $(EXERCISE)

report: $(SETUP) ## write exercises/report-<you>-<machine>.json: every exercise's last check and the quiz score
	@$(LAB) report

class-report: $(SETUP) ## for instructors: the reports students handed in (put them in DIR, default exercises/class) as one table, and DIR/class-report.html to print
	@$(OFFLINE) class-report "$(DIR)"

deploy-iac: $(SETUP) ## deploy template.yaml (AWS SAM: the same stack as code) to the running lab, as the stack orders-iac
	@$(LAB) deploy-iac

deploy-aws: $(SETUP) ## deploy template.yaml to YOUR AWS account (never run by the tests): make deploy-aws SENDER=you@example.com; says what it creates and costs, asks first
	@$(LAB) deploy-aws --sender "$(SENDER)" $(if $(YES),--yes)

destroy-aws: $(SETUP) ## remove everything make deploy-aws created, the order bucket's objects too (asks first)
	@$(LAB) destroy-aws $(if $(YES),--yes)

as: $(SETUP) ## an AWS CLI command as one of the lab's roles (denied what its policy does not allow): make as ROLE=producer CMD="sqs receive-message --queue-url ..."
	@$(LAB) as "$(ROLE)" $(CMD)

dlq: $(SETUP) ## list what is in the dead-letter queue through LocalStack's own peek, without receiving it (AWS has no such call)
	@$(LAB) dlq

redrive: $(SETUP) ## move the DLQ's messages back to the queue (StartMessageMoveTask), with progress
	@$(LAB) redrive

pause: $(SETUP) ## disable the event source mapping: messages wait in the queue
	@$(LAB) pause

resume: $(SETUP) ## enable the event source mapping again
	@$(LAB) resume

break: $(SETUP) ## deploy a bug: the worker rejects orders of more than 1 item (they go to the DLQ)
	@$(LAB) break

fix: $(SETUP) ## undo `make break`; then `make redrive`
	@$(LAB) fix

purge: $(SETUP) ## empty the queue and the DLQ (asks first; YES=1 does not)
	@$(LAB) purge $(if $(YES),--yes)

lock: tools ## rewrite requirements/lab.lock and test.lock from the venv (after changing dependencies in pyproject.toml)
	@$(PY) scripts/lock
