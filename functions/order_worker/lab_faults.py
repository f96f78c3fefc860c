"""The lab's failure injection: not part of the pattern, and not needed on AWS.

An order's body can ask for trouble, so that tests and lessons are
deterministic (the handler calls ``injected`` around the order's effects):

- ``"sleep_ms": n``: the order takes n ms more (a slow consumer);
- ``"fail_attempts": n``: its first n deliveries fail (by ApproximateReceiveCount),
  in the way ``"fail_mode"`` says: ``"raise"`` (an exception, the default: only
  this record returns to the queue), ``"timeout"`` (runs past the function's
  timeout), ``"crash"`` (the process exits) or ``"crash_after"`` (the process
  exits after the effects, so the retry is a duplicate delivery). The last three
  fail the whole batch.
"""

import os
import time
from contextlib import contextmanager

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

FAULT_SCHEMA = {
    "type": "object",
    "properties": {
        "fail_attempts": {"type": "integer", "minimum": 0},
        "fail_mode": {"enum": ["raise", "timeout", "crash", "crash_after"]},
        "sleep_ms": {"type": "integer", "minimum": 0, "maximum": 900_000},
    },
}
logger = Logger(child=True)


class InjectedFailure(Exception):
    """A failure the message asked for with fail_attempts."""


class InvalidFaultRequest(Exception):
    """The body asks for a failure the lab does not know: it fails every time, as poison does."""


@contextmanager
def injected(order: dict, receive_count: int, context: LambdaContext):
    """Run the effects inside as the order asks: slower, failing before them, or crashing after them."""
    try:
        validate(event=order, schema=FAULT_SCHEMA)
    except SchemaValidationError as error:
        raise InvalidFaultRequest(f"not a fault the lab knows: {error.validation_message or error}") from None
    if order.get("sleep_ms"):
        time.sleep(order["sleep_ms"] / 1000)
    fails_now = receive_count <= order.get("fail_attempts", 0)
    mode = order.get("fail_mode", "raise")
    if fails_now and mode != "crash_after":
        fail(mode, order["fail_attempts"], receive_count, context)
    yield
    if fails_now:
        fail(mode, order["fail_attempts"], receive_count, context)


def fail(mode: str, attempts: int, receive_count: int, context: LambdaContext) -> None:
    reason = f"fail_attempts={attempts}: failing delivery {receive_count} on purpose ({mode})"
    if mode == "raise":
        raise InjectedFailure(reason)
    # These end the invocation before the handler could log a result: log first.
    logger.warning("order failed", extra={"outcome": "failed", "error": mode, "reason": reason})
    if mode in ("crash", "crash_after"):
        os._exit(1)
    time.sleep(context.get_remaining_time_in_millis() / 1000 + 1)
