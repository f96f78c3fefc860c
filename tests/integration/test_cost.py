"""`make cost` counts what a known workload did, as AWS bills it: 100 orders (10
of them poison) sent in 10 batches, consumed in batches of 10. Every count is
checked against what the test did or what the function's own log shows, and
the bill's arithmetic against lab/watch/prices.json."""

import json
import math

import pytest

from helpers import WHOLE_BATCH, order, send_batch, stored_order_ids, wait_for
from lab.core import aws
from lab.stack.mapping import set_mapping_enabled
from lab.watch import cost, facts, observe

TIMEOUT_SECONDS = 120
ORDERS, POISON = 100, 10


def test_the_counts_are_what_the_workload_did_and_the_bill_is_counts_times_prices(make_stack):
    stack = make_stack(enabled=False, batch_size=10, **WHOLE_BATCH)
    cost.reset(stack.stack)
    bodies = [order(f"cost-{n}") for n in range(ORDERS - POISON)] + [
        json.dumps({"orderId": f"poison-{n}"}) for n in range(POISON)
    ]
    send_batch(stack.queue_url, bodies)  # 10 SendMessageBatch requests
    set_mapping_enabled(aws.client("lambda"), stack.mapping_uuid, True)
    wait_for(lambda: len(stored_order_ids(stack.bucket)) == ORDERS - POISON, TIMEOUT_SECONDS, "the good orders stored")
    wait_for(lambda: len(aws.peek_messages(stack.dlq_url)) == POISON, TIMEOUT_SECONDS, "the poison in the DLQ")
    invocations = wait_for(
        lambda: (
            (found := [i for i in observe.recent_invocations(stack.stack.function_name, 0) if i.duration_ms])
            and sum(i.failed for i in found) >= POISON * stack.stack.max_receive_count
            and found
        ),
        TIMEOUT_SECONDS,
        "every delivery's REPORT line",
    )
    before = cost.usage(stack.stack)
    observe.read_status(stack.stack)  # what make status and the dashboard do: looking, not the stack's work
    seen = cost.usage(stack.stack)
    for operation in ("GetQueueAttributes", "GetQueueUrl"):
        assert seen.sqs_requests.get(operation) == before.sqs_requests.get(operation), operation
    assert seen.s3 == before.s3

    assert seen.sqs_requests["SendMessageBatch"] == seen.sqs["SendMessageBatch"] == ORDERS // 10
    assert seen.invocations == len(invocations)
    assert seen.billed_ms == sum(math.ceil(i.duration_ms) for i in invocations)
    assert seen.records == sum(i.processed + i.failed for i in invocations) >= ORDERS + POISON * 2
    # The mapping deletes what succeeded, in at most one DeleteMessageBatch (10 entries at most) per
    # invocation that had successes: the 90 good orders took at least 9.
    deletes = seen.sqs_requests["DeleteMessageBatch"]
    assert math.ceil((ORDERS - POISON) / 10) <= deletes <= sum(1 for i in invocations if i.processed)
    assert seen.sqs_requests["ReceiveMessage"] >= seen.invocations  # each batch was a receive; empty polls count too
    # The worker's S3 writes, delivery by delivery as its log tells them: every delivery
    # that got past validation tries the order and the email claim (both conditional),
    # and the one that sent the email writes the receipt. On a busy machine a batch can
    # outlast its visibility timeout and be delivered again: at-least-once costs writes.
    reached_the_store = [r for r in facts.deliveries(stack.stack.function_name) if r.get("stored_now") is not None]
    assert sum(r.get("email_sent_now") is True for r in reached_the_store) == ORDERS - POISON
    assert seen.s3["PutObject"] == 2 * len(reached_the_store) + (ORDERS - POISON) >= 3 * (ORDERS - POISON)
    assert seen.emails == ORDERS - POISON

    price = cost.prices()
    lines = {what: (count, usd) for what, count, _, usd in cost.bill(seen, price)}
    unit = {name: entry["usd"] for name, entry in price["prices"].items()}
    assert lines["SQS SendMessageBatch"][1] == pytest.approx(ORDERS // 10 * unit["sqs_standard_request"])
    assert lines["Lambda invocations"][1] == pytest.approx(seen.invocations * unit["lambda_request"])
    compute = next(usd for what, (_, usd) in lines.items() if what.startswith("Lambda compute"))
    assert compute == pytest.approx(seen.memory_mb / 1024 * seen.billed_ms / 1000 * unit["lambda_gb_second_x86"])
    assert lines["S3 PUT/LIST requests"][1] == pytest.approx(seen.s3["PutObject"] * unit["s3_put_request"])
    assert lines["SES emails"][1] == pytest.approx((ORDERS - POISON) * unit["ses_email"])
