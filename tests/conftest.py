"""Fixtures: every integration test gets a stack of its own, made by the same
provisioning code as `make up`, under a unique suffix, and removed afterwards."""

import uuid

import pytest

from helpers import log_lines
from init.provision import provision, teardown
from lab import aws, settings
from lab.settings import Stack

# Short timeouts keep retries quick; they still respect AWS's rule that the
# visibility timeout is at least the function timeout.
TEST_STACK = dict(function_timeout=3, visibility_timeout=5, max_receive_count=3)


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


FAILURE_LOG_LINES = 300


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries its functions' logs (START, REPORT with
    durations and init times, the worker's line per delivery), read before the
    stacks are torn down: the evidence for a failure seen once under load."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for stack in getattr(item, "lab_stacks", []):
        try:
            lines = log_lines(stack.function_name)[-FAILURE_LOG_LINES:]
        except Exception as error:  # noqa: BLE001 -- the report must not hide the failure itself
            lines = [f"(could not read the log: {error})"]
        report.sections.append((f"log of {stack.function_name} (last {FAILURE_LOG_LINES} lines)", "\n".join(lines)))


@pytest.fixture
def stack(make_stack):
    return make_stack()


@pytest.fixture(scope="session")
def lab_stack(localstack):
    """The stack `make up` creates (provisioned here if it is missing; never torn down)."""
    return provision(Stack())
