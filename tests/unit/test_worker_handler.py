"""The worker's handler on sample events, with botocore's Stubber answering for
S3 and SES: which calls it makes, in which order, and what it reports."""

import copy
import io
import json
import sys
import time

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from unit_support import WORKER_DIR, LambdaContextForTests

SAMPLE_EVENT = json.loads((WORKER_DIR / "events" / "sqs-batch.json").read_text())
VALID, POISON = SAMPLE_EVENT["Records"]
BUCKET = "unit-orders"
POISON_ORDER = {"orderId": "../../etc/passwd", "email": "x@example.com"}


@pytest.fixture
def aws(worker):
    """Stubbers for the worker's S3 and SES clients (effects.py's); every expected call must be made."""
    effects = sys.modules["effects"]  # imported by the worker, beside it
    with Stubber(effects.s3) as s3, Stubber(effects.ses) as ses:
        yield s3, ses
        s3.assert_no_pending_responses()
        ses.assert_no_pending_responses()


def record(order: dict, message_id: str, group: str | None = None, receive_count: int = 1) -> dict:
    entry = copy.deepcopy(VALID)
    entry.update(messageId=message_id, body=json.dumps(order))
    entry["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    if group:
        entry["eventSourceARN"] += ".fifo"
        entry["attributes"]["MessageGroupId"] = group
    return entry


def order(order_id: str, **fields) -> dict:
    return {"orderId": order_id, "email": f"{order_id}@example.com", **fields}


def expect_store(s3, order_id: str, exists: bool = False) -> None:
    params = {
        "Bucket": BUCKET,
        "Key": f"orders/{order_id}.json",
        "Body": ANY,
        "ContentType": "application/json",
        "IfNoneMatch": "*",
    }
    if exists:
        s3.add_client_error("put_object", "PreconditionFailed", http_status_code=412, expected_params=params)
    else:
        s3.add_response("put_object", {"ETag": '"1"'}, params)


def expect_claim(s3, order_id: str, held_by: dict | None = None) -> None:
    params = {
        "Bucket": BUCKET,
        "Key": f"emails/{order_id}.json",
        "Body": ANY,
        "ContentType": "application/json",
        "IfNoneMatch": "*",
    }
    if held_by is None:
        s3.add_response("put_object", {"ETag": '"2"'}, params)
        return
    s3.add_client_error("put_object", "PreconditionFailed", http_status_code=412, expected_params=params)
    body = json.dumps(held_by).encode()
    s3.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body))},
        {"Bucket": BUCKET, "Key": f"emails/{order_id}.json"},
    )


def expect_email(s3, ses, order_id: str, to: str | None = None) -> None:
    to = to or f"{order_id}@example.com"
    ses.add_response(
        "send_email",
        {"MessageId": f"ses-{order_id}"},
        {"Source": "orders@lab.example.com", "Destination": {"ToAddresses": [to]}, "Message": ANY},
    )
    s3.add_response(
        "put_object",
        {"ETag": '"3"'},
        {"Bucket": BUCKET, "Key": f"emails/{order_id}.json", "Body": ANY, "ContentType": "application/json"},
    )


def test_the_sample_event_stores_and_emails_the_order_and_reports_the_poison(worker, aws, context, caplog):
    s3, ses = aws
    expect_store(s3, "sample-1")
    expect_claim(s3, "sample-1")
    expect_email(s3, ses, "sample-1", to="customer1@example.com")

    response = worker.handler(SAMPLE_EVENT, context)

    assert response == {"batchItemFailures": [{"itemIdentifier": POISON["messageId"]}]}
    outcomes = sorted((line.outcome, getattr(line, "error", "")) for line in caplog.records if hasattr(line, "outcome"))
    assert outcomes == [("failed", "PoisonMessage"), ("processed", "")]


def test_a_duplicate_delivery_finds_the_order_and_the_receipt_and_sends_nothing(worker, aws, context):
    s3, _ = aws  # SES: no call expected
    expect_store(s3, "dup", exists=True)
    expect_claim(s3, "dup", held_by={"state": "sent", "sesMessageId": "ses-dup"})

    response = worker.handler({"Records": [record(order("dup"), "m-dup", receive_count=2)]}, context)

    assert response == {"batchItemFailures": []}


def test_a_claim_held_by_a_running_delivery_returns_the_record(worker, aws, context):
    s3, ses = aws
    expect_store(s3, "busy", exists=True)
    expect_claim(s3, "busy", held_by={"state": "sending", "claimedUntil": time.time() + 60})
    expect_store(s3, "other")
    expect_claim(s3, "other")
    expect_email(s3, ses, "other")
    event = {"Records": [record(order("busy"), "m-busy"), record(order("other"), "m-other")]}

    response = worker.handler(event, context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-busy"}]}


def test_an_expired_claim_is_taken_over_and_the_email_sent(worker, aws, context):
    s3, ses = aws
    expect_store(s3, "late", exists=True)
    expect_claim(s3, "late", held_by={"state": "sending", "claimedUntil": time.time() - 1})
    expect_email(s3, ses, "late")

    response = worker.handler({"Records": [record(order("late"), "m-late", receive_count=2)]}, context)

    assert response == {"batchItemFailures": []}


def test_a_failing_fifo_group_holds_back_its_later_records_but_not_other_groups(worker, aws, context):
    s3, ses = aws
    expect_store(s3, "b-1")
    expect_claim(s3, "b-1")
    expect_email(s3, ses, "b-1")
    event = {
        "Records": [
            record(order("a-1", fail_attempts=1), "m-a1", group="A"),
            record(order("b-1"), "m-b1", group="B"),
            record(order("a-2"), "m-a2", group="A"),
        ]
    }

    response = worker.handler(event, context)

    assert sorted(item["itemIdentifier"] for item in response["batchItemFailures"]) == ["m-a1", "m-a2"]


def test_without_partial_batch_responses_a_failed_record_fails_the_whole_batch(worker, aws, context, monkeypatch):
    s3, ses = aws
    monkeypatch.setattr(worker, "PARTIAL_BATCH_RESPONSE", False)
    expect_store(s3, "fine")
    expect_claim(s3, "fine")
    expect_email(s3, ses, "fine")
    event = {"Records": [record(order("fine"), "m-fine"), record(order("bad", fail_attempts=1), "m-bad")]}

    with pytest.raises(worker.BatchFailed, match="1 of 2 records failed"):
        worker.handler(event, context)


def test_a_batch_whose_every_record_fails_fails_as_a_whole(worker, aws, context, monkeypatch):
    """Powertools raises when no record succeeded (nothing to keep): the whole
    batch returns. A rule that refuses the order also stores nothing."""
    monkeypatch.setattr(worker, "MAX_QUANTITY_PER_ORDER", 1)
    big = order("big", items=[{"sku": "X", "quantity": 2}])

    with pytest.raises(BatchProcessingError, match="All records failed"):
        worker.handler({"Records": [record(big, "m-big"), record(POISON_ORDER, "m-poison")]}, context)


def test_the_first_record_always_starts_and_the_next_needs_the_margin(worker, aws):
    s3, ses = aws
    expect_store(s3, "first")
    expect_claim(s3, "first")
    expect_email(s3, ses, "first")
    late = LambdaContextForTests(remaining_ms=10)  # the handler began with almost no time left
    event = {"Records": [record(order("first"), "m-first"), record(order("second"), "m-second")]}

    response = worker.handler(event, late)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-second"}]}


def test_a_record_needs_twice_the_slowest_record_so_far(worker, aws, monkeypatch):
    """With time to spare by the fixed margin (5 s left, margin 1 s), a record
    after one of 2 s does not start: the machine is that slow right now."""
    s3, ses = aws
    expect_store(s3, "slow")
    expect_claim(s3, "slow")
    expect_email(s3, ses, "slow")
    clock = iter([100.0, 102.0])  # the first record starts at 100 s and ends at 102 s
    monkeypatch.setattr(worker.time, "monotonic", lambda: next(clock, 102.0))
    event = {"Records": [record(order("slow"), "m-slow"), record(order("next"), "m-next")]}

    response = worker.handler(event, LambdaContextForTests(remaining_ms=5000))

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-next"}]}


def test_the_lab_faults_fail_the_deliveries_the_order_asks_for(worker, aws, context, monkeypatch):
    """fail_attempts=1 with crash_after: delivery 1 stores and emails, then the
    process exits; delivery 2 is a duplicate, and changes nothing."""
    s3, ses = aws
    monkeypatch.setattr(worker.lab_faults.os, "_exit", sys.exit)  # the process ends; here, the handler
    expect_store(s3, "twice")
    expect_claim(s3, "twice")
    expect_email(s3, ses, "twice")
    crash_after = order("twice", fail_attempts=1, fail_mode="crash_after")

    with pytest.raises(SystemExit):
        worker.handler({"Records": [record(crash_after, "m-1", receive_count=1)]}, context)

    expect_store(s3, "twice", exists=True)
    expect_claim(s3, "twice", held_by={"state": "sent", "sesMessageId": "ses-twice"})
    retry = {"Records": [record(crash_after, "m-1", receive_count=2)]}
    assert worker.handler(retry, LambdaContextForTests()) == {"batchItemFailures": []}


def test_a_fault_the_lab_does_not_know_fails_every_time(worker, context):
    with pytest.raises(BatchProcessingError, match="InvalidFaultRequest"):
        worker.handler({"Records": [record(order("odd", fail_mode="explode"), "m-odd")]}, context)
