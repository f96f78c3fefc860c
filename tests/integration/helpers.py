"""Waiting and observing: the only ways a test here learns what happened."""

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import pytest

from lab.core import machine, settings
from lab.core.aws import queue_depth, queue_is_empty, send_batch  # noqa: F401 -- the tests' names for them
from lab.core.aws_facts import fact
from lab.core.waiting import POLL_SECONDS
from lab.core.waiting import wait_for as _wait_for
from lab.runs import dockermode
from lab.watch.facts import (  # noqa: F401 -- the tests' names for the facts every caller uses
    deliveries,
    emails_for,
    emails_per_order,
    log_lines,
    stored_order_ids,
)
from lab.watch.facts import json_records as log_records  # noqa: F401

# `make test` on a machine with only Docker runs the suite in the tools container
# (LAB_MODE=tools): there is no host to check there, no docker CLI, no git and no browser.
IN_TOOLS_CONTAINER = os.environ.get("LAB_MODE") == "tools"


def not_in_tools_container(why: str):
    return pytest.mark.skipif(IN_TOOLS_CONTAINER, reason=f"not in the tools container: {why}")


def only_in_host_mode(why: str):
    """For tests of host mode itself: `make test` in host mode runs them; in Docker
    mode they would only start more LocalStacks beside the one under test."""
    return pytest.mark.skipif(os.environ.get("LAB_MODE") != "host", reason=f"host mode only: {why}")


@contextlib.contextmanager
def one_at_a_time(tmp_path_factory, name: str):
    """A lock the xdist workers share, by name: what holds it runs in one worker at a time."""
    with open(tmp_path_factory.getbasetemp().parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def lab_slot(tmp_path_factory, what: str):
    """One of the machine's slots for a lab of a test's own (lab/core/machine.py): tests
    that start a LocalStack of their own take turns, as many at once as the
    machine's cores and memory carry, across the xdist workers (a lock file a slot)."""
    folder = tmp_path_factory.getbasetemp().parent
    slots = machine.labs_at_once()
    announced = False
    while True:
        for number in range(slots):
            lock = open(folder / f"lab-slot-{number}.lock", "w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            try:
                yield
            finally:
                lock.close()  # releases the slot
            return
        if not announced:
            print(f"{what}: waiting for one of {slots} lab slots (labs of other tests are running)")
            announced = True
        time.sleep(POLL_SECONDS)  # waiting for a free slot: each holder ends within its own test's deadlines


def wait_for[T](
    condition: Callable[[], T], timeout: float, what: str, describe: Callable[[], object] | None = None
) -> T:
    """lab.core.waiting.wait_for, failing the test (not erroring) when the deadline
    passes; describe() says what the state was then, when the condition's own
    value cannot (a comparison that is just False)."""
    try:
        return _wait_for(condition, timeout, what, describe=describe and (lambda: f"then: {describe()}"))
    except TimeoutError as error:
        raise AssertionError(str(error)) from None


def assert_stays(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Check a condition again and again for a while; fail as soon as it is false.

    For claims that something does *not* happen (a disabled mapping consumes
    nothing, a deleted message never comes back): the window is the period in
    which it would have happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert condition(), f"{what} stopped being true"
        time.sleep(POLL_SECONDS)  # look again until the window closes (a wait with a deadline)


def order(order_id: str, **fields) -> str:
    return json.dumps({"orderId": order_id, "email": f"{order_id}@example.com", **fields})


# Short timeouts keep retries quick. The visibility timeout covers the function
# timeout and a cold start on a busy machine (settings.COLD_START_ALLOWANCE_SECONDS):
# with 5 s, cold starts of 4-5.6 s under load made batches arrive twice.
TEST_FUNCTION_TIMEOUT = 3
TEST_STACK = dict(
    function_timeout=TEST_FUNCTION_TIMEOUT,
    visibility_timeout=TEST_FUNCTION_TIMEOUT + settings.COLD_START_ALLOWANCE_SECONDS,
    max_receive_count=3,
)
# For a batch of ten whose good orders must all be stored: on two loaded cores a
# record took 600 ms, so a 3 s function started three of them, and the worker
# returned the rest untried, batch after batch, until the DLQ took good orders too.
WHOLE_BATCH_TIMEOUT = 10
WHOLE_BATCH = dict(
    TEST_STACK,
    function_timeout=WHOLE_BATCH_TIMEOUT,
    visibility_timeout=WHOLE_BATCH_TIMEOUT + settings.COLD_START_ALLOWANCE_SECONDS,
)


# For tests of what becomes of every order (stored once, emailed once), not of
# retries: the settings AWS advises, a visibility timeout six times the function
# timeout and maxReceiveCount of at least 5
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-lambda-function-trigger.html),
# with a function timeout for a loaded 2-core machine: a cold start of 9 s and
# records of 1.4 s each were seen in CI, and 3 s then fit one record an invocation.
AS_AWS_ADVISES = dict(
    function_timeout=30,
    visibility_timeout=fact("six_times_rule")["factor"] * 30,
    max_receive_count=fact("max_receive_count_advised")["advised"],
)
SLACK_SECONDS = 30


def every_delivery_seconds(stack) -> float:
    """How long SQS and the mapping may take, at worst, to try a message as often as
    the stack allows (each receive but the first after a visibility timeout): past
    it, a message not processed is in the DLQ. A wait for "every order processed"
    ends long before, unless something is wrong."""
    return stack.max_receive_count * stack.visibility_timeout + SLACK_SECONDS


LAB_COMMAND_TIMEOUT_SECONDS = 180


def run_lab(*command: str, env: dict) -> subprocess.CompletedProcess:
    """`python -m lab ...` (or `-m producer ...`) as the Makefile runs it, with env on top of this one's."""
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=settings.PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=LAB_COMMAND_TIMEOUT_SECONDS,
    )


def unique_suffix() -> str:
    return "t" + uuid.uuid4().hex[:8]


LOCALSTACK_WARNINGS = (" WARN ", " ERROR ", "Traceback", "lab:")
LOG_NOT_READABLE = "(LocalStack's log is not readable from here)"


def localstack_warnings() -> list[str]:
    """LocalStack's warnings and errors, from its log: the file in host mode,
    the container's log in Docker mode (inside the tools container, neither)."""
    if settings.LOCALSTACK_LOG.exists():
        text = settings.LOCALSTACK_LOG.read_text(errors="replace")
    elif os.environ.get("LAB_MODE") == "docker":
        text = dockermode.compose(
            "logs", "--no-color", "--no-log-prefix", "--tail", "5000", "localstack", capture=True
        ).stdout
    else:
        return [LOG_NOT_READABLE]
    return [line for line in text.splitlines() if any(mark in line for mark in LOCALSTACK_WARNINGS)]
