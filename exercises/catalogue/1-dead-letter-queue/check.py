"""Exercise 1: the poison message reaches the DLQ after exactly WANTED_RECEIVES
receives, and a good order is still stored."""

import json

from lab.core.console import duration
from lab.teach.judging import SLACK_SECONDS, Criterion, Run, order_body, settle

WANTED_RECEIVES = 4
STACK = {"function_timeout": 3, "visibility_timeout": 4}


def check(run: Run) -> list[Criterion]:
    stack, good, poison = run.stack, run.order_id("good"), run.order_id("poison")
    run.send([order_body(good), json.dumps({"orderId": poison})])  # no email: never a valid order
    counts = lambda: run.receive_counts(poison)  # noqa: E731
    limit = (WANTED_RECEIVES + 2) * stack.visibility_timeout + SLACK_SECONDS
    moved = settle(
        lambda: run.in_dlq(poison) or max(counts(), default=0) > WANTED_RECEIVES + 1,
        limit,
        "the poison message to reach the DLQ",
    ) and run.in_dlq(poison)
    if moved:  # the last delivery's log line may trail the move
        settle(lambda: max(counts(), default=0) >= stack.max_receive_count, SLACK_SECONDS, "the worker's log")
    receives = max(counts(), default=0)
    if not stack.dead_letter_queue:
        why = (
            "the queue has no redrive policy, so the poison is retried until retention deletes it "
            f"({duration(stack.retention_seconds)})"
        )
    else:
        why = (
            f"received {receives} times and still in the queue: "
            "maxReceiveCount is the number of receives before it moves"
        )
    return [
        Criterion("the poison message ends in the dead-letter queue", moved, why),
        Criterion(
            f"it moves after exactly {WANTED_RECEIVES} receives",
            moved and receives == WANTED_RECEIVES,
            f"it was received {receives} times; the queue's maxReceiveCount decides how many",
        ),
        Criterion(
            "a good order is still stored",
            bool(settle(lambda: run.stored(good), SLACK_SECONDS, "the good order to be stored")),
            "the worker no longer processes good orders: keep the settings within AWS's rules",
        ),
    ]
