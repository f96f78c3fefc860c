"""Exercise 3: one email per order, however the duplicate arrives."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from lab.core import aws
from lab.teach.judging import AS_AWS_ADVISES, Criterion, Run, order_body, settle, sqs_event
from lab.watch import facts

STACK = AS_AWS_ADVISES


def new_execution_environments(run: Run) -> None:
    """A change to the function's configuration, as a deploy makes: Lambda serves the
    next invocations from new execution environments, which remember nothing of the
    old ones (neither memory nor /tmp). The same on AWS."""
    lambda_, name = aws.client("lambda"), run.stack.function_name
    variables = lambda_.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
    lambda_.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**variables, "LAB_CHECK_DEPLOY": uuid.uuid4().hex[:8]}}
    )
    lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)


def invoke_at_once(run: Run, events: list[dict]) -> list[dict]:
    """Invoke the function with each event at the same moment (each waits for its
    answer, so each busy environment makes Lambda start another)."""
    lambda_ = aws.client("lambda")
    with ThreadPoolExecutor(len(events)) as pool:
        return list(
            pool.map(
                lambda event: lambda_.invoke(FunctionName=run.stack.function_name, Payload=json.dumps(event)), events
            )
        )


DUPLICATE_HINT = (
    "record that this order's email went out where every execution environment sees it, keyed by "
    "its orderId, in one step that only one delivery can win: an S3 put with IfNoneMatch='*' "
    "(a set in memory or a file in /tmp is gone in a new environment; a look, then a write, lets two "
    "deliveries at once both send)"
)


def check(run: Run) -> list[Criterion]:
    """The duplicate delivered the ways SQS and Lambda deliver one: in the same batch;
    later, in a new execution environment; and at the same moment, in two."""
    twice, once, later, together = (run.order_id(label) for label in ("twice", "once", "later", "together"))
    run.send([order_body(twice), order_body(twice), order_body(once), order_body(later)])
    settle(
        lambda: run.queue_settled() and all(run.stored(o) for o in (twice, once, later)),
        60,
        "the first orders processed",
    )

    new_execution_environments(run)
    run.send([order_body(later)])  # once more, after its first delivery was done
    settle(lambda: run.queue_settled(), 60, "the later copy processed in a new execution environment")

    new_execution_environments(run)  # none warm: each copy starts an environment of its own
    answers = invoke_at_once(run, [sqs_event(run, {f"{run.run_id}-copy-{n}": order_body(together)}) for n in (1, 2)])
    raised = [answer for answer in answers if "FunctionError" in answer]

    emails = {order_id: facts.emails_about(order_id) for order_id in (twice, once, later, together)}
    failed = [order_id for order_id in (twice, once, later) if run.in_dlq(order_id)]
    return [
        Criterion(
            "each order is stored",
            all(run.stored(o) for o in (twice, once, later, together)),
            "an order was not stored: keep storing every order",
        ),
        Criterion(
            "two copies in one batch: one email",
            emails[twice] == 1,
            f"it got {emails[twice]} emails: before sending, {DUPLICATE_HINT}",
        ),
        Criterion(
            "an order delivered once: one email",
            emails[once] == 1,
            f"it got {emails[once]} emails: a first delivery must still send",
        ),
        Criterion(
            "a copy delivered again later, in a new execution environment: one email",
            emails[later] == 1,
            f"it got {emails[later]} emails: {DUPLICATE_HINT}",
        ),
        Criterion(
            "two copies at the same moment, in two execution environments: one email",
            emails[together] == 1,
            f"it got {emails[together]} emails: {DUPLICATE_HINT}",
        ),
        Criterion(
            "the duplicate deliveries succeed",
            not failed and not raised,
            "a duplicate failed (it went to the DLQ, or the function raised): a duplicate is not an error; "
            "skip the email and succeed",
        ),
    ]
