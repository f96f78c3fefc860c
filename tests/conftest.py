"""Fixtures: every integration test gets a stack of its own, made by the same
provisioning code as `make up`, under a unique suffix, and removed afterwards."""

import os
import uuid

import pytest

from helpers import log_lines, one_at_a_time
from init.provision import provision, teardown
from lab import aws, dockermode, settings
from lab.settings import Stack

# Short timeouts keep retries quick. The visibility timeout covers the function
# timeout and a cold start on a busy machine (settings.COLD_START_ALLOWANCE_SECONDS):
# with 5 s, cold starts of 4-5.6 s under load made batches arrive twice.
TEST_FUNCTION_TIMEOUT = 3
TEST_STACK = dict(function_timeout=TEST_FUNCTION_TIMEOUT,
                  visibility_timeout=TEST_FUNCTION_TIMEOUT + settings.COLD_START_ALLOWANCE_SECONDS,
                  max_receive_count=3)


def unique_suffix() -> str:
    return "t" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def localstack():
    if not aws.is_up():
        pytest.exit("LocalStack is not running: run the suite with `make test` (it starts it)", returncode=3)


@pytest.fixture
def make_stack(localstack, request):
    """Provision an isolated stack: make_stack(**overrides) -> Deployed."""
    created = request.node.lab_stacks = []

    def make(source_dir=settings.FUNCTION_SOURCE_DIR, **overrides):
        stack = Stack(suffix=unique_suffix(), **{**TEST_STACK, **overrides})
        created.append(stack)
        return provision(stack, source_dir=source_dir)

    yield make
    for stack in created:
        teardown(stack)


# The longest tests, started first: xdist hands tests out in this order, and a
# two-minute test that starts last makes the whole run two minutes longer.
LONGEST_FIRST = ("test_lab_guide.py", "test_soak.py", "test_host_lifecycle.py", "test_scenarios.py",
                 "test_dashboard.py", "test_scaling.py", "test_docker_mode.py")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order


FAILURE_LOG_LINES = 300
LOCALSTACK_WARNINGS = (" WARN ", " ERROR ", "Traceback", "lab:")
LOG_NOT_READABLE = "(LocalStack's log is not readable from here)"


def localstack_warnings() -> list[str]:
    """LocalStack's warnings and errors, from its log: the file in host mode,
    the container's log in Docker mode (inside the tools container, neither)."""
    if settings.LOCALSTACK_LOG.exists():
        text = settings.LOCALSTACK_LOG.read_text(errors="replace")
    elif os.environ.get("LAB_MODE") == "docker":
        text = dockermode.compose("logs", "--no-color", "--no-log-prefix", "--tail", "5000", "localstack",
                                  capture=True).stdout
    else:
        return [LOG_NOT_READABLE]
    return [line for line in text.splitlines() if any(mark in line for mark in LOCALSTACK_WARNINGS)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries its functions' logs (START, REPORT with
    durations and init times, the worker's line per delivery), read before the
    stacks are torn down: the evidence for a failure seen once under load."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    stacks = getattr(item, "lab_stacks", [])
    for stack in stacks:
        try:
            lines = log_lines(stack.function_name)[-FAILURE_LOG_LINES:]
        except Exception as error:  # noqa: BLE001 -- the report must not hide the failure itself
            lines = [f"(could not read the log: {error})"]
        report.sections.append((f"log of {stack.function_name} (last {FAILURE_LOG_LINES} lines)", "\n".join(lines)))
    if stacks:
        warnings = localstack_warnings()[-FAILURE_LOG_LINES:]
        report.sections.append(("LocalStack's warnings and errors (last lines)", "\n".join(warnings)))


@pytest.fixture
def stack(make_stack):
    return make_stack()


@pytest.fixture(scope="session")
def lab_stack(localstack, tmp_path_factory):
    """The stack `make up` creates (provisioned here if it is missing; never torn down).
    Provisioning is idempotent one run after another, not two at once: each xdist
    worker has this fixture, so they take turns, under a lock they share."""
    with one_at_a_time(tmp_path_factory, "lab-stack"):
        return provision(Stack())
