"""Failure handling, each behaviour on a stack of its own, proven by its effects:
stored orders, emails, what the worker logged per delivery, what is in the DLQ.

Test stacks use a 3 s function timeout, a 10 s visibility timeout (the
timeout, and room for a cold start on a busy machine) and maxReceiveCount 3
(conftest.TEST_STACK), so a retry takes about 10 s.
"""

import json
import uuid
from pathlib import Path

import pytest

from helpers import (
    WHOLE_BATCH,
    assert_stays,
    deliveries,
    emails_for,
    log_lines,
    log_records,
    order,
    queue_depth,
    queue_is_empty,
    send_batch,
    stored_order_ids,
    wait_for,
)
from lab.core import aws, settings
from lab.stack import operations
from lab.stack.mapping import set_mapping_enabled
from producer import Options, send

RETRIES_TIMEOUT_SECONDS = 90  # a few visibility periods, plus the poller's back-off
BATCH_RESPONSE_PROBE = Path(__file__).parent / "functions" / "batch_response_probe"


def new_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def dlq_messages(deployed) -> list[dict]:
    return aws.peek_messages(deployed.dlq_url)


def receive_counts(records: list[dict]) -> list[int]:
    return sorted(record["receive_count"] for record in records)


def test_a_failing_order_is_retried_after_the_visibility_timeout_and_processed_once(stack):
    order_id = new_id("retry")
    aws.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=order(order_id, fail_attempts=2))

    wait_for(lambda: order_id in stored_order_ids(stack.bucket), RETRIES_TIMEOUT_SECONDS, "the order stored")
    records = wait_for(
        lambda: (found := deliveries(stack.stack.function_name, order_id=order_id)) and len(found) >= 3 and found,
        RETRIES_TIMEOUT_SECONDS,
        "three deliveries in the worker's log",
    )
    assert [(r["receive_count"], r["outcome"]) for r in sorted(records, key=lambda r: r["receive_count"])] == [
        (1, "failed"),
        (2, "failed"),
        (3, "processed"),
    ]
    wait_for(lambda: len(emails_for([order_id])) >= 1, RETRIES_TIMEOUT_SECONDS, "the email")
    assert len(emails_for([order_id])) == 1
    wait_for(lambda: queue_is_empty(stack.queue_url), RETRIES_TIMEOUT_SECONDS, "an empty queue")
    assert dlq_messages(stack) == []


def test_a_poison_message_reaches_the_dlq_after_exactly_max_receive_count_deliveries(stack):
    body = json.dumps({"orderId": new_id("poison"), "note": "no email: never valid"})
    attributes = {"origin": {"DataType": "String", "StringValue": "test-suite"}}
    message_id = aws.client("sqs").send_message(
        QueueUrl=stack.queue_url, MessageBody=body, MessageAttributes=attributes
    )["MessageId"]

    in_dlq = wait_for(lambda: dlq_messages(stack), RETRIES_TIMEOUT_SECONDS, "the message in the DLQ")
    assert [m["MessageId"] for m in in_dlq] == [message_id]
    assert in_dlq[0]["Body"] == body
    assert in_dlq[0]["MessageAttributes"] == {"origin": {"StringValue": "test-suite", "DataType": "String"}}
    assert queue_is_empty(stack.queue_url)

    max_receives = stack.stack.max_receive_count
    records = wait_for(
        lambda: (
            (found := deliveries(stack.stack.function_name, message_id=message_id))
            and len(found) >= max_receives
            and found
        ),
        RETRIES_TIMEOUT_SECONDS,
        f"{max_receives} deliveries in the worker's log",
    )
    # Once in the DLQ it cannot be received from the source queue again: this count is final.
    assert receive_counts(records) == list(range(1, max_receives + 1))
    assert {r["outcome"] for r in records} == {"failed"}


def batch_of_ten_with_two_poison(stack) -> tuple[list[str], list[str]]:
    """Send 10 orders (2 poison) while the mapping is disabled, then enable it, so
    that they arrive as one batch. Returns (valid order ids, poison message ids)."""
    valid = [new_id("batch") for _ in range(8)]
    bodies = [order(order_id) for order_id in valid[:4]]
    bodies += [json.dumps({"orderId": new_id("bad")}), "not JSON at all"]
    bodies += [order(order_id) for order_id in valid[4:]]
    message_ids = send_batch(stack.queue_url, bodies)
    set_mapping_enabled(aws.client("lambda"), stack.mapping_uuid, True)
    return valid, [message_ids[4], message_ids[5]]


def test_partial_batch_response_returns_only_the_failed_records(make_stack):
    stack = make_stack(enabled=False, **WHOLE_BATCH)
    valid, poison = batch_of_ten_with_two_poison(stack)
    function = stack.stack.function_name

    wait_for(lambda: len(dlq_messages(stack)) == 2, RETRIES_TIMEOUT_SECONDS, "the 2 poison messages in the DLQ")
    assert {m["MessageId"] for m in dlq_messages(stack)} == set(poison)
    wait_for(lambda: stored_order_ids(stack.bucket) == set(valid), RETRIES_TIMEOUT_SECONDS, "the 8 valid orders stored")
    # the first invocation had all ten records
    first = [r for r in deliveries(function) if r["receive_count"] == 1]
    assert len(first) == 10 and len({r["function_request_id"] for r in first}) == 1
    for order_id in valid:
        # A processed record is deleted, not retried with the failed ones (had the
        # whole batch come back, the valid orders would be in the DLQ too). It comes
        # back only as at-least-once delivery allows: when its visibility timeout
        # ended while it was processed (a cold start longer than the allowance, on a
        # loaded machine), and then it finds the order stored and emailed. One the
        # worker had no time left to start (NotEnoughTime) comes back untried.
        tried = [r for r in deliveries(function, order_id=order_id) if r.get("error") != "NotEnoughTime"]
        assert [r.get("stored_now") for r in tried].count(True) == 1, tried
        assert [r.get("email_sent_now") for r in tried].count(True) == 1, tried
    for message_id in poison:
        assert receive_counts(deliveries(function, message_id=message_id)) == [1, 2, 3]
    wait_for(lambda: len(emails_for(valid)) == 8, RETRIES_TIMEOUT_SECONDS, "8 emails")


def test_without_report_batch_item_failures_the_whole_batch_is_retried(make_stack):
    stack = make_stack(enabled=False, report_batch_item_failures=False)
    valid, poison = batch_of_ten_with_two_poison(stack)
    function = stack.stack.function_name

    # Every delivery of the batch fails because of the 2 poison records, so all
    # ten are retried until maxReceiveCount and then all ten move to the DLQ:
    # the 8 good orders too, although they were processed (the lesson: turn
    # ReportBatchItemFailures on).
    wait_for(lambda: len(dlq_messages(stack)) == 10, RETRIES_TIMEOUT_SECONDS, "all ten messages in the DLQ")
    ever_tried = set()
    for order_id in valid:
        records = deliveries(function, order_id=order_id)
        assert receive_counts(records) == [1, 2, 3], order_id
        # A record the worker had no time left to start (NotEnoughTime, on a busy
        # machine) was not tried. The batch comes back whole and in the same order,
        # so the last record can miss every delivery: it then waits in the DLQ
        # untried, for a redrive. The others are stored once, then found stored.
        tried = [r for r in sorted(records, key=lambda r: r["receive_count"]) if r.get("error") != "NotEnoughTime"]
        if tried:  # (one never tried has nothing to store: the case the comment above names)
            assert [r["stored_now"] for r in tried] == [True] + [False] * (len(tried) - 1), order_id
            ever_tried.add(order_id)
    assert ever_tried, "at least the records at the head of the batch were tried"
    # idempotency: one stored order and one email each, however often delivered
    assert stored_order_ids(stack.bucket) == ever_tried
    assert sorted(e["Destination"]["ToAddresses"][0] for e in emails_for(valid)) == sorted(
        f"{order_id}@example.com" for order_id in ever_tried
    )


@pytest.mark.parametrize(
    "respond, whole_batch_fails",
    [
        ("unknown-id", True),
        ("empty-id", True),
        ("wrong-key", True),
        ("own-id", False),  # the well-formed control: only that record fails
        ("empty-list", False),
        ("null", False),
    ],
)
def test_malformed_partial_responses_fail_the_whole_batch(make_stack, respond, whole_batch_fails):
    # The probe in place of the worker, deployed by the same provisioning code.
    stack = make_stack(source_dir=BATCH_RESPONSE_PROBE, max_receive_count=2, enabled=False)
    function = stack.stack.function_name
    first, second = send_batch(
        stack.queue_url, [json.dumps({"respond": respond}), json.dumps({"respond": "n/a", "n": 2})]
    )
    set_mapping_enabled(aws.client("lambda"), stack.mapping_uuid, True)

    def probe_deliveries(message_id):
        return [r for r in log_records(function) if r.get("probe") == "delivery" and r["messageId"] == message_id]

    if whole_batch_fails:
        wait_for(lambda: len(dlq_messages(stack)) == 2, RETRIES_TIMEOUT_SECONDS, "both messages in the DLQ")
        assert len(probe_deliveries(second)) == 2
    else:
        wait_for(lambda: probe_deliveries(second), RETRIES_TIMEOUT_SECONDS, "the batch delivered")
        expected_in_dlq = [first] if respond == "own-id" else []
        if expected_in_dlq:
            wait_for(lambda: dlq_messages(stack), RETRIES_TIMEOUT_SECONDS, "the reported record in the DLQ")
        # The second record was deleted: it never comes back, over more than a visibility period.
        assert_stays(
            lambda: len(probe_deliveries(second)) == 1,
            stack.stack.visibility_timeout + 3,
            "a single delivery of the successful record",
        )
        assert [m["MessageId"] for m in dlq_messages(stack)] == expected_in_dlq
        assert queue_is_empty(stack.queue_url)


@pytest.mark.parametrize("fail_mode", ["timeout", "crash"])
def test_a_timeout_or_a_crash_leaves_the_batch_to_be_retried(stack, fail_mode):
    failing, bystander = new_id(fail_mode), new_id("bystander")
    send_batch(stack.queue_url, [order(failing, fail_attempts=1, fail_mode=fail_mode), order(bystander)])

    wait_for(
        lambda: stored_order_ids(stack.bucket) == {failing, bystander}, RETRIES_TIMEOUT_SECONDS, "both orders stored"
    )
    # The log reaches CloudWatch a moment after the order reaches the store.
    records = wait_for(
        lambda: (found := deliveries(stack.stack.function_name, order_id=failing)) and len(found) >= 2 and found,
        RETRIES_TIMEOUT_SECONDS,
        "both deliveries in the worker's log",
    )
    records.sort(key=lambda r: r["receive_count"])
    assert (records[0]["receive_count"], records[0]["outcome"], records[0]["error"]) == (1, "failed", fail_mode)
    # Usually delivery 2 processes it. On a saturated machine a retry's S3 put once
    # took longer than the 3 s timeout and delivery 3 processed it: a timeout
    # again, not the injected one, and the message was still retried, not lost.
    assert records[-1]["outcome"] == "processed" and records[-1]["receive_count"] >= 2
    assert [r["receive_count"] for r in records if r.get("stored_now")] == [records[-1]["receive_count"]]
    wait_for(lambda: len(emails_for([failing, bystander])) == 2, RETRIES_TIMEOUT_SECONDS, "one email each")
    wait_for(lambda: queue_is_empty(stack.queue_url), RETRIES_TIMEOUT_SECONDS, "an empty queue")
    assert dlq_messages(stack) == []


def one_batch_of(stack, label: str, count: int, **fields) -> list[str]:
    """Orders sent while the mapping is paused (make_stack(enabled=False)), then
    resumed: its first receive takes them all, as one batch."""
    orders = [new_id(label) for _ in range(count)]
    send_batch(stack.queue_url, [order(order_id, **fields) for order_id in orders])
    set_mapping_enabled(aws.client("lambda"), stack.mapping_uuid, True)
    return orders


def test_a_batch_with_more_work_than_time_returns_the_records_it_cannot_start(make_stack):
    """Ten orders of 800 ms each in one batch, on a 10 s function: the worker stops
    starting records with less than TIME_MARGIN_MS left, so the batch does not
    time out; the records it did not start come back, and each order is
    processed exactly once."""
    # A margin of 3 s leaves an order room to take three times its usual time (a
    # busy machine stretched a 500 ms order past a 1 s margin once, and the whole
    # batch timed out).
    stack = make_stack(
        enabled=False,
        function_timeout=10,
        time_margin_ms=3000,
        visibility_timeout=10 + settings.COLD_START_ALLOWANCE_SECONDS,
    )
    orders = one_batch_of(stack, "slow", 10, sleep_ms=800)
    function = stack.stack.function_name

    wait_for(lambda: stored_order_ids(stack.bucket) == set(orders), RETRIES_TIMEOUT_SECONDS, "all ten orders stored")
    processed = wait_for(
        lambda: len(found := [r for r in deliveries(function) if r["outcome"] == "processed"]) >= 10 and found,
        RETRIES_TIMEOUT_SECONDS,
        "ten orders processed in the worker's log",
    )
    assert sorted(r["order_id"] for r in processed) == sorted(orders), "each order processed exactly once"
    deferred = [r for r in deliveries(function) if r.get("error") == "NotEnoughTime"]
    assert deferred, "the first batch could not start every record in 10 s"
    assert {r["receive_count"] for r in deferred} <= {1, 2}, "a deferred record is started on a later delivery"
    assert not [line for line in log_lines(function) if "Status: timeout" in line], "no invocation timed out"
    wait_for(lambda: len(emails_for(orders)) == 10, RETRIES_TIMEOUT_SECONDS, "one email each")
    wait_for(lambda: queue_is_empty(stack.queue_url), RETRIES_TIMEOUT_SECONDS, "an empty queue")
    assert dlq_messages(stack) == []


def test_the_first_record_of_an_invocation_always_starts(make_stack):
    """A margin no record can meet (2,999 ms on a 3 s function, as when a busy
    machine starts the handler late): the first record of each invocation still
    starts, so each order is tried and stored, and none reaches the DLQ untried."""
    # One order an invocation: the third is started on its third receive at the
    # earliest. Five receives leave room for a batch delivered twice (a cold start
    # past the allowance), which AWS allows, before the DLQ would take it.
    stack = make_stack(enabled=False, time_margin_ms=2999, max_receive_count=5)
    orders = one_batch_of(stack, "first", 3)
    function = stack.stack.function_name

    wait_for(lambda: stored_order_ids(stack.bucket) == set(orders), RETRIES_TIMEOUT_SECONDS, "all three orders stored")
    wait_for(lambda: queue_is_empty(stack.queue_url), RETRIES_TIMEOUT_SECONDS, "an empty queue")
    processed = [r["order_id"] for r in deliveries(function) if r["outcome"] == "processed"]
    assert sorted(processed) == sorted(orders), "each order processed exactly once"
    assert dlq_messages(stack) == []


def test_a_record_starts_only_with_twice_the_slowest_record_left(make_stack):
    """Orders of 1.5 s on a 4 s function with a 1 s margin: after the first, at
    most 2.5 s is left, more than the margin but less than twice the order just
    timed, so each invocation processes one order and returns the rest untried
    (a fixed margin alone would start a second and leave under 1 s for a third
    that, on a busy machine, ran into the timeout after sending its email)."""
    stack = make_stack(
        enabled=False,
        function_timeout=4,
        time_margin_ms=1000,
        visibility_timeout=4 + settings.COLD_START_ALLOWANCE_SECONDS,
        max_receive_count=5,  # one order an invocation, as in the test above
    )
    orders = one_batch_of(stack, "slowest", 3, sleep_ms=1500)
    function = stack.stack.function_name

    wait_for(lambda: stored_order_ids(stack.bucket) == set(orders), RETRIES_TIMEOUT_SECONDS, "all three orders stored")
    wait_for(lambda: queue_is_empty(stack.queue_url), RETRIES_TIMEOUT_SECONDS, "an empty queue")
    records = deliveries(function)
    processed = [r for r in records if r["outcome"] == "processed"]
    assert sorted(r["order_id"] for r in processed) == sorted(orders), "each order processed exactly once"
    per_invocation = {r["function_request_id"] for r in processed}
    assert len(per_invocation) == 3, "no invocation started a second 1.5 s order with under 3 s left"
    assert [r for r in records if r.get("error") == "NotEnoughTime"], "the other records returned untried"
    assert not [line for line in log_lines(function) if "Status: timeout" in line], "no invocation timed out"
    assert dlq_messages(stack) == []


def test_the_same_order_sent_twice_is_stored_once_and_emailed_once(stack):
    order_id = new_id("twice")
    sqs = aws.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=order(order_id))

    # The two may be delivered at once, to two environments: the one that loses
    # the email claim fails (EmailInProgress) and is processed on its retry. It
    # may be the one that stored the order: count the stores of every delivery.
    def processed():
        return [r for r in deliveries(stack.stack.function_name, order_id=order_id) if r["outcome"] == "processed"]

    records = wait_for(
        lambda: len(processed()) == 2 and processed(), RETRIES_TIMEOUT_SECONDS, "both messages processed"
    )
    assert sorted(r["email_sent_now"] for r in records) == [False, True]
    every_delivery = deliveries(stack.stack.function_name, order_id=order_id)
    assert [r["stored_now"] for r in every_delivery].count(True) == 1, "one delivery wrote the order"
    assert all(r["error"] == "EmailInProgress" for r in every_delivery if r["outcome"] == "failed")
    assert len(emails_for([order_id])) == 1


def test_the_same_message_delivered_again_after_its_effects_changes_nothing(stack):
    order_id = new_id("redelivered")
    aws.client("sqs").send_message(
        QueueUrl=stack.queue_url, MessageBody=order(order_id, fail_attempts=1, fail_mode="crash_after")
    )
    # Delivery 1 stores and emails, then the process dies before the batch is
    # deleted; every later delivery is a duplicate of a message whose effects
    # happened. (At least once: on a loaded machine delivery 2 can itself come
    # back, so the one that completes may be the third.)
    records = wait_for(
        lambda: [r for r in deliveries(stack.stack.function_name, order_id=order_id) if r["outcome"] == "processed"],
        RETRIES_TIMEOUT_SECONDS,
        "a later delivery processed",
    )
    assert all(r["receive_count"] >= 2 and not r["stored_now"] and not r["email_sent_now"] for r in records), records
    assert stored_order_ids(stack.bucket) == {order_id}
    assert len(emails_for([order_id])) == 1


def test_redrive_after_a_fix_processes_the_dead_letters(stack, capsys):
    assert operations.redrive(stack.stack) is None
    assert "Nothing to redrive" in capsys.readouterr().out

    operations.set_worker_rule(stack.stack, operations.BROKEN_RULE_VALUE)  # `make break`
    rejected = [new_id("big") for _ in range(3)]
    send_batch(stack.queue_url, [order(i, items=[{"sku": "BOOK", "quantity": 2}]) for i in rejected])
    wait_for(lambda: len(dlq_messages(stack)) == 3, RETRIES_TIMEOUT_SECONDS, "the rejected orders in the DLQ")
    assert stored_order_ids(stack.bucket) == set()

    operations.set_worker_rule(stack.stack, None)  # `make fix`
    result = operations.redrive(stack.stack)  # `make redrive`
    assert (result.status, result.moved) == ("COMPLETED", 3)

    wait_for(lambda: stored_order_ids(stack.bucket) == set(rejected), RETRIES_TIMEOUT_SECONDS, "the orders stored")
    assert dlq_messages(stack) == []
    wait_for(lambda: len(emails_for(rejected)) == 3, RETRIES_TIMEOUT_SECONDS, "3 emails")


def test_filtered_out_messages_are_deleted_without_invoking_the_function(make_stack):
    stack = make_stack(filter_patterns=('{"body": {"priority": ["high"]}}',))
    urgent, ordinary = new_id("high"), new_id("normal")
    send_batch(stack.queue_url, [order(ordinary, priority="low"), order(urgent, priority="high")])

    wait_for(lambda: urgent in stored_order_ids(stack.bucket), RETRIES_TIMEOUT_SECONDS, "the high-priority order")
    wait_for(lambda: queue_is_empty(stack.queue_url), RETRIES_TIMEOUT_SECONDS, "an empty queue")
    # gone from the queue, never seen by the function, not in the DLQ
    assert deliveries(stack.stack.function_name, order_id=ordinary) == []
    assert stored_order_ids(stack.bucket) == {urgent}
    assert dlq_messages(stack) == []


def test_a_disabled_mapping_consumes_nothing_until_enabled(make_stack):
    stack = make_stack(enabled=False)
    ids = [new_id("paused") for _ in range(5)]
    send_batch(stack.queue_url, [order(order_id) for order_id in ids])

    assert_stays(
        lambda: queue_depth(stack.queue_url)["visible"] == 5 and not stored_order_ids(stack.bucket),
        stack.stack.visibility_timeout,
        "all five orders waiting in the queue",
    )
    set_mapping_enabled(aws.client("lambda"), stack.mapping_uuid, True)
    wait_for(lambda: stored_order_ids(stack.bucket) == set(ids), RETRIES_TIMEOUT_SECONDS, "the five orders stored")
    wait_for(lambda: queue_is_empty(stack.queue_url), RETRIES_TIMEOUT_SECONDS, "an empty queue")


BACK_PRESSURE_RATE = 50  # orders per second the producer aims at
BACK_PRESSURE_ORDERS = 100
# One 300 ms order per invocation, two at a time: the worker takes under 7 orders
# a second, while the producer sends at 50 (over 20 even on a busy machine).
SLOW_ORDER_MS = 300
DRAIN_SECONDS = 120  # 100 orders at under 7 a second, on a machine that may be busy


def test_a_slow_consumer_never_slows_the_producer(make_stack):
    """The producer's sends never wait for the consumer: when it has sent every
    order, most are still waiting in the queue. Rates are printed, not compared
    (a timing is the bench's job)."""
    consumed = make_stack(maximum_concurrency=2, batch_size=1)
    loaded = send(
        Options(
            count=BACK_PRESSURE_ORDERS,
            rate=BACK_PRESSURE_RATE,
            sleep_ms=SLOW_ORDER_MS,
            queue=consumed.stack.queue_name,
            quiet=True,
        )
    )
    depth = queue_depth(consumed.queue_url)
    stored_then = len(stored_order_ids(consumed.bucket))
    print(f"producer: {loaded.per_second:.1f} orders/s; when it ended, {stored_then} stored and {depth} in the queue")

    assert (loaded.sent, loaded.failed) == (BACK_PRESSURE_ORDERS, 0)
    assert depth["visible"] + depth["in_flight"] > BACK_PRESSURE_ORDERS / 2, f"the queue did not fill up: {depth}"
    # once the producer stops, the slow worker catches up
    wait_for(lambda: queue_is_empty(consumed.queue_url), DRAIN_SECONDS, "the queue drained to zero")
    assert stored_order_ids(consumed.bucket) == set(loaded.order_ids)
