"""Faults and hostile input at the running lab: nothing is lost, nothing crashes."""

import json
import os
import signal
import uuid
from pathlib import Path

from helpers import (
    deliveries,
    emails_for,
    log_lines,
    order,
    queue_is_empty,
    send_batch,
    stored_order_ids,
    wait_for,
)
from lab.core import aws, settings
from lab.core.processes import command_line, pids, runs_function
from lab.stack.mapping import set_mapping_enabled

TIMEOUT_SECONDS = 90


def runtime_pids(function_name: str) -> list[int]:
    """The runtime processes (awslambdaric running the handler) of a function."""
    return [pid for pid in pids() if b"awslambdaric" in command_line(pid) and runs_function(pid, function_name)]


def email_recorded(bucket: str, order_id: str) -> bool:
    """The worker has sent the order's email and recorded it (its last step for an order)."""
    try:
        receipt = aws.client("s3").get_object(Bucket=bucket, Key=f"emails/{order_id}.json")["Body"].read()
    except aws.client("s3").exceptions.NoSuchKey:
        return False
    return b"sesMessageId" in receipt


def test_a_runtime_killed_from_outside_mid_batch_leaves_the_batch_to_be_retried(make_stack):
    """One batch, a quick order then a slow one: once the quick one's email is
    recorded, the handler is sleeping on the slow one, and its runtime is killed
    there. The whole batch comes back: the quick order changes nothing the second
    time, the slow one is processed on its retry; one email each."""
    # A 6 s function, so that on the retry the slow order has time after the quick one.
    stack = make_stack(enabled=False, function_timeout=6, visibility_timeout=6 + settings.COLD_START_ALLOWANCE_SECONDS)
    quick, slow = f"mate-{uuid.uuid4().hex[:6]}", f"killed-{uuid.uuid4().hex[:6]}"
    function = stack.stack.function_name
    send_batch(stack.queue_url, [order(quick), order(slow, sleep_ms=2500)])
    set_mapping_enabled(aws.client("lambda"), stack.mapping_uuid, True)  # one receive takes both: one batch

    wait_for(lambda: email_recorded(stack.bucket, quick), TIMEOUT_SECONDS, "the batch's first order done")
    for pid in wait_for(lambda: runtime_pids(function), TIMEOUT_SECONDS, "the function's runtime process"):
        os.kill(pid, signal.SIGKILL)

    processed = wait_for(
        lambda: [r for r in deliveries(function, order_id=slow) if r["outcome"] == "processed"],
        TIMEOUT_SECONDS,
        "the slow order processed",
    )
    assert [r["receive_count"] for r in processed] == [2], "processed on the retry, once"
    again = wait_for(
        lambda: [r for r in deliveries(function, order_id=quick) if r["receive_count"] == 2],
        TIMEOUT_SECONDS,
        "the quick order delivered again",
    )
    assert [(r["outcome"], r["stored_now"], r["email_sent_now"]) for r in again] == [("processed", False, False)]
    assert stored_order_ids(stack.bucket) == {slow, quick}
    wait_for(lambda: len(emails_for([slow, quick])) == 2, TIMEOUT_SECONDS, "one email each")
    wait_for(lambda: queue_is_empty(stack.queue_url), TIMEOUT_SECONDS, "an empty queue")
    assert aws.peek_messages(stack.dlq_url) == []


HOSTILE_BODIES = [
    "not JSON at all",
    "",  # SQS refuses an empty body; kept out below
    "[" * 5000 + "]" * 5000,  # deeply nested
    json.dumps({"orderId": 42, "email": ["a@b.co"]}),  # wrong types
    json.dumps({"orderId": "ünïcødé-🙂", "email": "a@b.co"}),  # odd unicode, outside the id alphabet
    json.dumps({"orderId": "x", "email": "a@b.co", "items": "many"}),
    json.dumps({"orderId": "x" * 200_000, "email": "a@b.co"}),  # large, and too long an id
    "null",
]


def test_hostile_bodies_go_to_the_dlq_with_a_reason_and_valid_orders_beside_them_are_processed(make_stack):
    # maxReceiveCount stays above 1: a valid order can also come back once (returned untried by the
    # worker's time guard, or in a batch that ran out of time on a loaded machine), and with 1 that
    # single return would send it to the DLQ, the mistake the guide warns of. Seen under load.
    stack = make_stack()
    hostile = [body for body in HOSTILE_BODIES if body]
    valid = [f"calm-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    hostile_ids = set(send_batch(stack.queue_url, hostile[:5]) + send_batch(stack.queue_url, hostile[5:]))
    send_batch(stack.queue_url, [order(order_id) for order_id in valid])

    def in_dlq() -> set[str]:
        return {m["MessageId"] for m in aws.peek_messages(stack.dlq_url)}

    def state() -> dict:  # what each unexpected message's deliveries said, so a failure names its cause
        unexpected = in_dlq() - hostile_ids
        return {
            "missing from the DLQ": hostile_ids - in_dlq(),
            "unexpected, with their deliveries": {
                message_id: [
                    (r["receive_count"], r["outcome"], r.get("error"), r.get("reason"))
                    for r in deliveries(stack.stack.function_name, message_id=message_id)
                ]
                for message_id in unexpected
            },
            "timeouts": len(log_lines(stack.stack.function_name, "Task timed out")),
            "source queue": aws.queue_depth(stack.queue_url),
        }

    wait_for(lambda: in_dlq() == hostile_ids, TIMEOUT_SECONDS, "every hostile body in the DLQ", describe=state)
    wait_for(
        lambda: stored_order_ids(stack.bucket) == set(valid),
        TIMEOUT_SECONDS,
        "both valid orders stored",
        describe=state,
    )
    assert in_dlq() == hostile_ids, "no valid order went to the DLQ"
    failed = wait_for(
        lambda: (
            (
                found := [
                    r for r in deliveries(stack.stack.function_name, outcome="failed") if r["message_id"] in hostile_ids
                ]
            )
            and {r["message_id"] for r in found} == hostile_ids
            and found
        ),
        TIMEOUT_SECONDS,
        "a failure line with a reason for each hostile body",
    )
    # A hostile body may also be returned untried (NotEnoughTime) before a delivery reads it.
    assert all(r["error"] == "PoisonMessage" and r["reason"] for r in failed if r["error"] != "NotEnoughTime")
    assert {r["message_id"] for r in failed if r["error"] == "PoisonMessage"} == hostile_ids
    assert queue_is_empty(stack.queue_url)


BROKEN_IMPORT = Path(__file__).parent / "functions" / "broken_import"


def test_a_handler_that_cannot_be_imported_logs_why_and_its_messages_take_the_retry_and_dlq_path(make_stack):
    stack = make_stack(source_dir=BROKEN_IMPORT, max_receive_count=2)
    message_id = send_batch(stack.queue_url, [order(f"unlucky-{uuid.uuid4().hex[:6]}")])[0]

    wait_for(
        lambda: [m["MessageId"] for m in aws.peek_messages(stack.dlq_url)] == [message_id],
        TIMEOUT_SECONDS,
        "the message in the DLQ",
    )
    lines = wait_for(
        lambda: (
            (found := log_lines(stack.stack.function_name))
            and sum(line.startswith("START RequestId") for line in found) >= 2
            and found
        ),
        TIMEOUT_SECONDS,
        "two invocations in the function's log",
    )
    failures = [line for line in lines if line.startswith("[ERROR] Runtime.ImportModuleError")]
    assert len(failures) >= 2, "each delivery's invocation logs why it failed"
    assert "order_helpers_that_were_never_packaged" in failures[0]
    assert queue_is_empty(stack.queue_url)
