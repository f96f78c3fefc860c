"""`make status`, `make logs` and `make trace` show what happened, on a stack of their own."""

import json
import uuid

from helpers import order, queue_is_empty, send_batch, stored_order_ids, wait_for
from lab.core import aws
from lab.stack.mapping import set_mapping_enabled
from lab.watch import observe

TIMEOUT_SECONDS = 90


def test_status_logs_and_trace_show_a_poison_message_and_a_processed_order(make_stack, capsys):
    good, bad = f"seen-{uuid.uuid4().hex[:8]}", f"poison-{uuid.uuid4().hex[:8]}"
    # Queued before the mapping polls, so both arrive in one batch (a long poll
    # that is already waiting returns with the first message alone).
    stack = make_stack(enabled=False)
    send_batch(stack.queue_url, [order(good), json.dumps({"orderId": bad})])
    set_mapping_enabled(aws.client("lambda"), stack.mapping_uuid, True)
    wait_for(lambda: aws.peek_messages(stack.dlq_url), TIMEOUT_SECONDS, "the poison order in the DLQ")
    wait_for(lambda: good in stored_order_ids(stack.bucket), TIMEOUT_SECONDS, "the good order stored")
    wait_for(lambda: queue_is_empty(stack.queue_url), TIMEOUT_SECONDS, "the queue empty")

    snapshot = wait_for(
        lambda: (s := observe.read_status(stack.stack)) and sum(i.failed for i in s.invocations) >= 3 and s,
        TIMEOUT_SECONDS,
        "three failed deliveries in the status",
    )
    assert snapshot.queues[stack.stack.dlq_name]["visible"] == 1
    assert snapshot.queues[stack.stack.dlq_name]["oldest_age_s"] >= 0
    assert snapshot.orders_stored == 1 and snapshot.emails_sent >= 1
    assert snapshot.mapping["State"] == "Enabled"
    # At least once: on a loaded machine a cold start can outlast the visibility
    # timeout, and the good order comes back; it is still stored only once.
    assert sum(i.processed for i in snapshot.invocations) >= 1
    assert {"partial", "failed"} <= {i.outcome for i in snapshot.invocations}
    observe.status(stack.stack, once=True)
    screen = capsys.readouterr().out
    assert stack.stack.dlq_name in screen and "Orders stored: 1" in screen and "partial" in screen

    assert observe.follow_logs(stack.stack, follow=False) >= 4  # 1 processed + 3 failed records, + REPORT lines
    lines = capsys.readouterr().out
    assert f"processed order {good}" in lines
    assert lines.count(f"failed    order {bad}") == 3

    steps = [step for _, step, _ in observe.trace(stack.stack, bad)]
    assert steps == ["sent", "delivery #1", "delivery #2", "delivery #3", "in the DLQ"]
    steps = [step for _, step, _ in observe.trace(stack.stack, good)]
    assert steps[0] == "sent" and {"stored", "email sent", "delivery #1"} <= set(steps[1:])
    assert "The life of order" in capsys.readouterr().out
