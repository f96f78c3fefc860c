"""Every name and number of the lab, in one place.

Each setting can be overridden by an environment variable of the same name
with the ``LAB_`` prefix (``LAB_VISIBILITY_TIMEOUT=20 make up``), or by a line
in the project's ``.env`` file, which ``docker compose`` reads too, so that one
file configures every mode; the environment wins over the file. ``.env.example``
lists them all. Everything else in the project imports from here.

The classroom defaults keep AWS's hard rules (the queue's visibility timeout is
at least the function timeout) but are tuned so that a lesson takes seconds:
a poison message reaches the DLQ in about half a minute. Where they depart from
AWS's *recommendations* (visibility timeout six times the function timeout,
maxReceiveCount of at least 5), docs/LAB.md explains why.
"""

import os
import shlex
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from dotenv import dotenv_values

from lab.core.aws_facts import fact
from lab.core.console import console
from lab.core.errors import Refused

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # lab/core/settings.py
# The file docker compose reads for its variables; absent inside the lab's
# images, where compose passes its values as environment variables instead.
DOTENV_FILE = PROJECT_ROOT / ".env"
_DOTENV = {name: value for name, value in dotenv_values(DOTENV_FILE).items() if value is not None}


class SettingsError(Refused):
    """A setting that AWS (or the lab) would refuse; the message says what to do."""


# Bad LAB_* values found while reading the settings: importing this module never
# fails; `check()` (every lab command calls it first) reports the first one.
PROBLEMS: list[str] = []


def check() -> None:
    if PROBLEMS:
        raise SettingsError(PROBLEMS[0])


def _lab_variable(name: str) -> str | None:
    """LAB_<name> from the environment, else from .env."""
    return os.environ.get(f"LAB_{name}", _DOTENV.get(f"LAB_{name}"))


def is_set(name: str) -> bool:
    """Whether LAB_<name> is given (in the environment or .env), not defaulted."""
    return (_lab_variable(name) or "") != ""


def _env(name: str, default, cast=str):
    raw = _lab_variable(name)
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError:
        PROBLEMS.append(f"LAB_{name}={raw!r} is not a valid {cast.__name__}; unset it or fix it")
        return default


# --- Where LocalStack runs ---------------------------------------------------
HOST = _env("HOST", "127.0.0.1")
PORT = _env("PORT", 4566, int)
ENDPOINT_URL = _env("ENDPOINT_URL", f"http://{HOST}:{PORT}")
REGION = _env("REGION", "us-east-1")
# LocalStack accepts any credentials; these are the conventional ones.
ACCESS_KEY_ID = "test"
SECRET_ACCESS_KEY = "test"
ACCOUNT_ID = "000000000000"

LOCALSTACK_VERSION = "4.14.0"
# Runtime state of host mode (LocalStack's files, pid, log, the lab's snapshot):
# `make stop` keeps it, `make down` removes it.
STATE_DIR = Path(_env("STATE_DIR", str(PROJECT_ROOT / ".lab")))
LOCALSTACK_LOG = STATE_DIR / "localstack.log"
LOCALSTACK_PID_FILE = STATE_DIR / "localstack.pid"
# Host mode's LocalStack keeps its temporary files (S3's object bodies, Lambda's
# unzipped code) here, emptied at each start as a new container's /tmp is: a start
# then always brings the lab back from its saved state alone, in both modes.
LOCALSTACK_TMP_DIR = STATE_DIR / "tmp"
# The lab's LocalStack plugin (executor/.../persistence.py) saves its state here
# every SNAPSHOT_INTERVAL_SECONDS and when it stops, and loads it when it starts.
# In Docker the image sets it to a folder of the named volume. An interval of 0
# saves only at a clean stop.
SNAPSHOT_DIR = Path(_env("SNAPSHOT_DIR", str(STATE_DIR / "snapshot")))
SNAPSHOT_INTERVAL_SECONDS = _env("SNAPSHOT_INTERVAL_SECONDS", 5.0, float)
# For a LocalStack started for one command and removed after it (`make test`,
# `make soak`): snapshots of it would only take CPU from the command.
NO_SNAPSHOTS = {"LAB_SNAPSHOT_INTERVAL_SECONDS": "0"}
if SNAPSHOT_INTERVAL_SECONDS < 0:
    PROBLEMS.append(
        f"LAB_SNAPSHOT_INTERVAL_SECONDS={SNAPSHOT_INTERVAL_SECONDS:g} is negative; use 0 to save only at a clean stop"
    )
BUILD_DIR = PROJECT_ROOT / "build"
START_TIMEOUT_SECONDS = _env("START_TIMEOUT_SECONDS", 90, int)
# Also provision from LocalStack's ready hook (init/ready.d), as Docker mode does.
PROVISION_ON_READY = _env("PROVISION_ON_READY", "0") == "1"
READY_HOOKS_DIR = PROJECT_ROOT / "init" / "ready.d"
STOP_TIMEOUT_SECONDS = 20
# Only the services the lab uses, none of which needs a download. Not CloudWatch
# (metrics): nothing in the lab reads them, and with it on LocalStack writes an
# Invocations metric to sqlite from a new thread after every invocation, where
# py-spy found most of its busy threads under load (docs/PERFORMANCE.md). CloudWatch Logs
# (logs) is what `make logs` reads.
LOCALSTACK_SERVICES = "sqs,lambda,s3,ses,iam,sts,logs,apigateway,cloudformation"
# LocalStack's SQS poller backs off up to 10 s on an empty queue; the lab's
# plugin long-polls instead (an idle order arrives at once). A long poll in
# progress is what disabling a mapping waits for, so it is kept short.
ESM_LONG_POLL_SECONDS = _env("ESM_LONG_POLL_SECONDS", 2, int)
# LocalStack returns messages whose visibility timeout ended to the queue once a
# second; the plugin does it this often while a message is in flight or delayed,
# so retries come on time (and once a second otherwise, so an idle lab sleeps).
SQS_REQUEUE_PERIOD_SECONDS = _env("SQS_REQUEUE_PERIOD_SECONDS", 0.1, float)
ESM_MAX_BACKOFF_ON_ERROR_SECONDS = _env("ESM_MAX_BACKOFF_ON_ERROR_SECONDS", 5, int)
# IAM enforced for the lab's roles (requests signed with AssumeRole credentials),
# as AWS does; 0 shows LocalStack's free edition, where nothing is ever denied.
IAM_ENFORCEMENT = _env("IAM_ENFORCEMENT", "1") != "0"

LOCALSTACK_OVERRIDE_PREFIX = "LAB_LOCALSTACK_"


def localstack_config() -> dict[str, str]:
    """LocalStack's own settings, the same in host and Docker mode."""
    config = {
        "SERVICES": LOCALSTACK_SERVICES,
        "LAMBDA_RUNTIME_EXECUTOR": "local",  # the lab's plugin (executor/)
        "PROVIDER_OVERRIDE_CLOUDFORMATION": "lab",  # LocalStack's, SAM transforms fixed (executor/)
        # Queue URLs by path and with the address students use, so they work offline.
        "SQS_ENDPOINT_STRATEGY": "path",
        "LOCALSTACK_HOST": f"{HOST}:{PORT}",
        "LAB_ESM_LONG_POLL_SECONDS": str(ESM_LONG_POLL_SECONDS),  # read by executor/esm_concurrency.py
        "LAB_SQS_REQUEUE_PERIOD_SECONDS": str(SQS_REQUEUE_PERIOD_SECONDS),  # read by executor/sqs_visibility.py
        "LAB_IAM_ENFORCEMENT": "1" if IAM_ENFORCEMENT else "0",  # read by executor/iam_enforcement.py
        "LAB_SNAPSHOT_DIR": str(SNAPSHOT_DIR),  # read by executor/persistence.py
        "LAB_SNAPSHOT_INTERVAL_SECONDS": str(SNAPSHOT_INTERVAL_SECONDS),
        "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_ERROR_SEC": str(ESM_MAX_BACKOFF_ON_ERROR_SECONDS),
        # No DNS server on port 53, no certificate download, no calls home.
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        # LocalStack writes an SQS metric to its sqlite store for every message
        # sent and deleted, one commit each: a fifth of its CPU under load, for
        # graphs the lab does not draw. Lambda's own metrics stay.
        "SQS_DISABLE_CLOUDWATCH_METRICS": "1",
        # Without it LocalStack keeps every message for ever, whatever the
        # queue's MessageRetentionPeriod says; AWS deletes it when it expires.
        "SQS_ENABLE_MESSAGE_RETENTION_PERIOD": "1",
        # LocalStack's calls to itself (the mapping's receive and delete, log
        # storage, metrics) skip HTTP and the gateway: under load these were a
        # quarter of its CPU.
        "IN_MEMORY_CLIENT": "1",
    }
    # LAB_LOCALSTACK_<NAME>=value sets LocalStack's own <NAME> (DEBUG=1, say), last.
    for name, value in {**_DOTENV, **os.environ}.items():
        if name.startswith(LOCALSTACK_OVERRIDE_PREFIX):
            config[name.removeprefix(LOCALSTACK_OVERRIDE_PREFIX)] = value
    return config


def print_localstack_exports() -> None:
    """``export NAME=value`` lines of localstack_config(), for the lab image's
    entrypoint: the container's LocalStack gets the same settings as host mode's."""
    for name, value in localstack_config().items():
        console.out(f"export {name}={shlex.quote(value)}", highlight=False)


# --- The dashboard (started by `make up` unless LAB_DASHBOARD=0) ---------------
DASHBOARD = _env("DASHBOARD", "1") == "1"
DASHBOARD_PORT = _env("DASHBOARD_PORT", 8050, int)
# The address the dashboard listens on: HOST, except in its container, where it
# must listen on the container's own interface for Docker to publish the port
# (on 127.0.0.1 of the host only; see docker-compose.yml).
DASHBOARD_LISTEN_HOST = _env("DASHBOARD_LISTEN_HOST", HOST)
DASHBOARD_PID_FILE = STATE_DIR / "dashboard.pid"
DASHBOARD_LOG = STATE_DIR / "dashboard.log"

# --- Docker mode ---------------------------------------------------------------
# "docker" or "host"; empty: Docker when an engine answers, host otherwise.
# "tools" only inside the tools container, where docker compose runs LocalStack.
MODE = _env("MODE", "")
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
COMPOSE_PROJECT = _env("COMPOSE_PROJECT", "sqs-lambda-lab")
# Where a student's own commands reach LocalStack: the published port on this
# machine. ENDPOINT_URL is where the lab's code reaches it, which inside a
# container of the lab is not the same place.
STUDENT_ENDPOINT_URL = f"http://{HOST}:{PORT}"
# How a student runs a lab command, awslocal included: from .venv on the host,
# or through the tools container (set there) when the host has no Python 3.12.
COMMAND_PREFIX = _env("COMMAND_PREFIX", ".venv/bin/")
# Pinned by tag and digest (the multi-arch index). A machine with a local build
# of the same version names it here; docker-compose.yml has the same default.
LOCALSTACK_IMAGE = _env(
    "LOCALSTACK_IMAGE",
    "localstack/localstack:4.14.0@sha256:3ebc37595918b8accb852f8048fef2aff047d465167edd655528065b07bc364a",
)

# --- The test suite's parallelism (lab/core/machine.py sizes it from the machine) ----
# 0: from the cores and free memory. A number: that many, on any machine.
TEST_WORKERS = _env("TEST_WORKERS", 0, int)
LABS_AT_ONCE = _env("LABS_AT_ONCE", 0, int)
# CI's later passes: the unit tier already passed in this run, so `make test` runs
# only the integration tier (the unit tests never depend on the mode).
SKIP_UNIT_TESTS = _env("SKIP_UNIT_TESTS", "0") == "1"

# --- The function ------------------------------------------------------------
FUNCTION_SOURCE_DIR = PROJECT_ROOT / "functions" / "order_worker"
FUNCTION_HANDLER = "app.handler"
FUNCTION_RUNTIME = "python3.13"
# The front door: POST /orders on API Gateway, answered by this function.
API_SOURCE_DIR = PROJECT_ROOT / "functions" / "order_api"
API_STAGE = "lab"
# A folder of zips built beforehand, one per function folder (<folder>.zip): the
# lab's LocalStack image has them, since it does not carry the functions'
# packages. Provisioning builds each zip from the source when this is unset.
PREBUILT_FUNCTION_ZIPS = _env("FUNCTION_ZIPS", "")
SENDER_EMAIL = _env("SENDER_EMAIL", "orders@lab.example.com")

# AWS's limits, used to refuse settings before anything is created (each with
# its source in lab/core/aws_facts.json).
MAX_RECEIVE_COUNT_RANGE = fact("max_receive_count").range
VISIBILITY_TIMEOUT_RANGE = fact("visibility_timeout").range
FUNCTION_TIMEOUT_RANGE = fact("function_timeout").range
MEMORY_RANGE = fact("memory_size").range
BATCH_SIZE_RANGE = (fact("batch_size")["min"], fact("batch_size")["standard_max"])
BATCH_SIZE_WITHOUT_WINDOW = fact("batch_size")["without_window"]
FIFO_BATCH_SIZE_MAX = fact("batch_size")["fifo_max"]
BATCHING_WINDOW_RANGE = fact("batching_window").range
MAXIMUM_CONCURRENCY_RANGE = fact("maximum_concurrency").range
RETENTION_RANGE = fact("retention").range  # MessageRetentionPeriod, 1 minute to 14 days
# On a standard queue a message moved to the DLQ keeps its first enqueue time,
# so a DLQ must keep messages longer than its source queue does: the maximum.
DLQ_RETENTION_SECONDS = RETENTION_RANGE[1]
# The visibility clock starts when the mapping receives a batch, so it also runs
# through the start of a new execution environment (a cold start), before the
# function's own timeout even begins. On two busy cores a cold start took up to
# 5.6 s. The lab's own stacks (tests, soak) give each batch this much beyond
# their function timeout, or a batch is delivered again while it still runs.
COLD_START_ALLOWANCE_SECONDS = 7


@dataclass(frozen=True)
class Stack:
    """Names and numbers of one deployment of the lab.

    ``make up`` deploys the default stack; each test deploys its own with a
    unique suffix and shorter timeouts, through the same provisioning code.
    """

    # Which stack the commands work on: the lab's own (no suffix), or another one,
    # an exercise's say (LAB_STACK=ex5 make dlq).
    suffix: str = _env("STACK", "")
    queue_base: str = _env("QUEUE_NAME", "orders")
    function_base: str = _env("FUNCTION_NAME", "order-worker")
    bucket_base: str = _env("BUCKET_NAME", "lab-orders")
    visibility_timeout: int = _env("VISIBILITY_TIMEOUT", 10, int)
    # How long the queue keeps a message nobody deletes (AWS's default, 4 days).
    retention_seconds: int = _env("RETENTION_SECONDS", fact("retention")["default"], int)
    dlq_retention_seconds: int = DLQ_RETENTION_SECONDS
    max_receive_count: int = _env("MAX_RECEIVE_COUNT", 3, int)
    function_timeout: int = _env("FUNCTION_TIMEOUT", 5, int)
    memory_size: int = _env("MEMORY_SIZE", 256, int)
    batch_size: int = _env("BATCH_SIZE", 10, int)
    batching_window: int = _env("BATCHING_WINDOW", 0, int)
    # Batches of this mapping in flight at once (ScalingConfig.MaximumConcurrency);
    # An uncapped mapping on AWS starts at 5 and scales up; the lab caps it here.
    # Enforced by the lab's plugin (executor/esm_concurrency.py).
    maximum_concurrency: int = _env("MAXIMUM_CONCURRENCY", 5, int)
    # The least time the worker starts a record with (it also wants twice the
    # slowest record of the invocation so far); the rest of the batch returns to
    # the queue untried, instead of a timeout.
    time_margin_ms: int = _env("TIME_MARGIN_MS", 1000, int)
    report_batch_item_failures: bool = True
    # Whether the worker logs each event it receives (Powertools' log_event): it
    # carries the orders' data, so production leaves it off. `make event` reads it.
    log_event: bool = _env("LOG_EVENT", "0") == "1"
    # FIFO: queue and DLQ are both .fifo (AWS requires the same type).
    fifo: bool = _env("FIFO", "0") == "1"
    content_based_deduplication: bool = False
    # Event filtering: JSON patterns; messages that match none are deleted unseen.
    filter_patterns: tuple[str, ...] = ()
    enabled: bool = True
    # False only to show the classic mistake (`make scenario NAME=no-dlq`).
    dead_letter_queue: bool = True
    # POST /orders on API Gateway in front of the queue (and POST /no-queue/orders
    # straight to the worker). The lab's own test stacks leave it out unless asked.
    api: bool = True
    sender_email: str = SENDER_EMAIL
    function_environment: dict = field(default_factory=dict)

    def _name(self, base: str) -> str:
        return f"{base}-{self.suffix}" if self.suffix else base

    def _queue(self, base: str) -> str:
        return self._name(base) + (".fifo" if self.fifo else "")

    @property
    def queue_name(self) -> str:
        return self._queue(self.queue_base)

    @property
    def dlq_name(self) -> str:
        return self._queue(f"{self.queue_base}-dlq")

    @property
    def function_name(self) -> str:
        return self._name(self.function_base)

    @property
    def role_name(self) -> str:
        return self._name(f"{self.function_base}-role")

    @property
    def producer_role_name(self) -> str:
        return self._name(f"{self.queue_base}-producer")

    @property
    def operator_role_name(self) -> str:
        return self._name(f"{self.queue_base}-dlq-operator")

    @property
    def api_name(self) -> str:
        """The REST API and the function behind it."""
        return self._name(f"{self.queue_base}-api")

    @property
    def api_role_name(self) -> str:
        return self._name(f"{self.queue_base}-api-role")

    @property
    def role_names(self) -> list[str]:
        """Every role this stack creates (the API's whether or not it has one)."""
        return [self.role_name, self.producer_role_name, self.operator_role_name, self.api_role_name]

    @property
    def policy_name(self) -> str:
        return self._name(f"{self.function_base}-least-privilege")

    @property
    def bucket_name(self) -> str:
        return self._name(self.bucket_base)

    def with_changes(self, **changes) -> "Stack":
        return replace(self, **changes)

    def validate(self) -> None:
        """Refuse what AWS would refuse, with a line that says what to do."""
        check()  # a LAB_* variable that could not be read

        def within(name, value, bounds):
            low, high = bounds
            if not low <= value <= high:
                raise SettingsError(f"{name}={value} is outside {low}..{high}, which AWS allows")

        within("MAX_RECEIVE_COUNT", self.max_receive_count, MAX_RECEIVE_COUNT_RANGE)
        within("VISIBILITY_TIMEOUT", self.visibility_timeout, VISIBILITY_TIMEOUT_RANGE)
        within("RETENTION_SECONDS", self.retention_seconds, RETENTION_RANGE)
        within("DLQ_RETENTION_SECONDS", self.dlq_retention_seconds, RETENTION_RANGE)
        within("FUNCTION_TIMEOUT", self.function_timeout, FUNCTION_TIMEOUT_RANGE)
        within("MEMORY_SIZE", self.memory_size, MEMORY_RANGE)
        within("BATCH_SIZE", self.batch_size, BATCH_SIZE_RANGE)
        within("BATCHING_WINDOW", self.batching_window, BATCHING_WINDOW_RANGE)
        within("MAXIMUM_CONCURRENCY", self.maximum_concurrency, MAXIMUM_CONCURRENCY_RANGE)
        if not 0 <= self.time_margin_ms < self.function_timeout * 1000:
            raise SettingsError(
                f"TIME_MARGIN_MS={self.time_margin_ms} must be at least 0 and less than the function timeout "
                f"({self.function_timeout * 1000} ms): the worker would start no record at all"
            )
        if self.visibility_timeout < self.function_timeout:
            raise SettingsError(
                f"VISIBILITY_TIMEOUT={self.visibility_timeout} is shorter than "
                f"FUNCTION_TIMEOUT={self.function_timeout}: AWS refuses such a mapping, because a "
                "message would reappear while it is still being processed; raise the visibility timeout"
            )
        if self.fifo and self.batch_size > FIFO_BATCH_SIZE_MAX:
            raise SettingsError(
                f"BATCH_SIZE={self.batch_size}: a FIFO queue allows batches of at most {FIFO_BATCH_SIZE_MAX}"
            )
        if self.batch_size > BATCH_SIZE_WITHOUT_WINDOW and self.batching_window < 1:
            raise SettingsError(
                f"BATCH_SIZE={self.batch_size} needs BATCHING_WINDOW of at least 1 second "
                f"(AWS allows batches above {BATCH_SIZE_WITHOUT_WINDOW} only with a batching window)"
            )


if __name__ == "__main__" and sys.argv[1:] == ["--localstack-exports"]:
    print_localstack_exports()
