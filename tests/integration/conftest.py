"""Fixtures: every integration test gets a stack of its own, made by the same
provisioning code as `make up`, under a unique suffix, and removed afterwards."""

import contextlib
import os
import tempfile

import pytest

from helpers import TEST_STACK, lab_slot, localstack_warnings, log_lines, one_at_a_time, run_lab
from lab.core import aws, settings
from lab.core.processes import free_port
from lab.core.settings import Stack
from lab.stack.provision import provision
from lab.stack.teardown import temporary_stack

# `make up` writes the lab-* AWS CLI profiles; a test's `make up` writes them here,
# not into the AWS CLI config of whoever runs the tests.
os.environ.setdefault("AWS_CONFIG_FILE", os.path.join(tempfile.mkdtemp(prefix="lab-tests-"), "aws-config"))


@pytest.fixture(scope="session")
def localstack():
    if not aws.is_up():
        pytest.exit("LocalStack is not running: run the suite with `make test` (it starts it)", returncode=3)


@pytest.fixture
def lab_env(tmp_path, tmp_path_factory):
    """A second host-mode lab of the test's own (a free port, a state folder in
    tmp_path), for tests of the lab's life cycle, in one of the machine's lab
    slots; `lab down` afterwards."""
    env = {
        "LAB_PORT": str(free_port()),
        "LAB_STATE_DIR": str(tmp_path / "state"),
        "LAB_MODE": "host",
        "LAB_DASHBOARD_PORT": str(free_port()),
        # Saved at `lab stop` only; a test of periodic snapshots asks for them.
        "LAB_SNAPSHOT_INTERVAL_SECONDS": "0",
    }
    with lab_slot(tmp_path_factory, "a lab of the test's own"):
        yield env
        run_lab("lab", "down", env=env)  # whatever a failing test left running


@pytest.fixture
def make_stack(localstack, request):
    """Provision an isolated stack: make_stack(**overrides) -> Deployed."""
    created = request.node.lab_stacks = []  # for the report of a failure (its logs)
    with contextlib.ExitStack() as stacks:

        def make(source_dir=settings.FUNCTION_SOURCE_DIR, **overrides):
            deployed = stacks.enter_context(temporary_stack("t", source_dir, **{**TEST_STACK, **overrides}))
            created.append(deployed.stack)
            return deployed

        yield make


# The longest tests, started first: xdist hands tests out in this order, and a
# two-minute test that starts last makes the whole run two minutes longer.
LONGEST_FIRST = (
    "test_offline_bundle.py",
    "test_lab_guide.py",
    "test_soak.py",
    "test_persistence.py",
    "test_retention.py",
    "test_host_lifecycle.py",
    "test_scenarios.py",
    "test_dashboard.py",
    "test_scaling.py",
    "test_docker_mode.py",
)


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order


FAILURE_LOG_LINES = 300


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries its functions' logs (START, REPORT with
    durations and init times, the worker's line per delivery), read before the
    stacks are torn down, and LocalStack's warnings: the evidence for a failure
    seen once under load. A fixture that failed (a stack that did not deploy)
    gets LocalStack's warnings too."""
    outcome = yield
    report = outcome.get_result()
    if report.when not in ("setup", "call") or not report.failed:
        return
    for stack in getattr(item, "lab_stacks", []):
        try:
            lines = log_lines(stack.function_name)[-FAILURE_LOG_LINES:]
        except Exception as error:  # noqa: BLE001 -- the report must not hide the failure itself
            lines = [f"(could not read the log: {error})"]
        report.sections.append((f"log of {stack.function_name} (last {FAILURE_LOG_LINES} lines)", "\n".join(lines)))
    try:
        warnings = localstack_warnings()[-FAILURE_LOG_LINES:]
    except Exception as error:  # noqa: BLE001 -- as above
        warnings = [f"(could not read LocalStack's log: {error})"]
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
