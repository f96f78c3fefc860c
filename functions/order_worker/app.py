"""order-worker: processes orders that arrive from SQS through an event source mapping.

For each order it stores one JSON document in the order store (S3) and sends
one confirmation email (SES). SQS delivers at least once, so the same order
can arrive twice; both effects are made idempotent by the order's id:

1. The order is written with a conditional put (``IfNoneMatch="*"``): a second
   delivery finds it there and changes nothing.
2. The email is claimed before it is sent: a conditional put of an email
   receipt ("sending", until this invocation's deadline), then the send, then
   the receipt records SES's message id. Two deliveries of the same order can
   run at once (the mapping runs several batches concurrently): the one that
   loses the claim fails and is retried, and by then finds the email sent. The
   order is stored first, so it is never confirmed by email before it exists.

One window remains: if the function dies after SES accepted the email but
before the receipt records it, the claim expires and the retry sends the
email again. SES has no idempotency key to close it; docs/LAB.md discusses it.

Failures are per record (Powertools' batch processors with partial batch
responses): only the records that failed return to the queue. A record is
not started when the time left is less than twice the slowest record so far in
the invocation, or than ``TIME_MARGIN_MS``: it returns to the queue untried,
rather than time the whole batch out (after a timeout every record of the batch
is delivered again, finished ones too, and an email sent just before it would
be sent again). The first record of an invocation always starts: returned
untried, it would spend a receive and come back to the same time, and a slow
start could carry it to the DLQ without ever trying it. From a FIFO
queue, a failed record also holds back the rest of its message group (so the
group's order is kept) but not the other groups.

Partial batch responses only work when the event source mapping has
``ReportBatchItemFailures``; without it, a normal return deletes the whole
batch, failed records included. ``PARTIAL_BATCH_RESPONSE=false`` (set by
provisioning to match the mapping) makes the handler raise instead, so the
whole batch is retried and nothing is lost. What a record
does is driven by its body, so tests and lessons are deterministic:

- a body that is not JSON, or not a valid order, is poison: it fails every time;
- ``"fail_attempts": n`` fails the first n deliveries (by ApproximateReceiveCount),
  in the way ``"fail_mode"`` says: ``"raise"`` (an exception, the default; only
  this record returns to the queue), ``"timeout"`` (runs past the function's
  timeout), ``"crash"`` (the process exits) or ``"crash_after"`` (the process
  exits after storing and emailing, so the retry is a duplicate delivery);
  the last three fail the whole batch;
- ``"sleep_ms": n`` makes the record slow.

One business rule can be misconfigured on purpose, to practise redrive:
``MAX_QUANTITY_PER_ORDER`` (environment) rejects orders with more items in
total; ``make break`` sets it to 1, ``make fix`` back to the default.

The code reads its settings from environment variables only, so it deploys
to AWS unchanged.
"""

import json
import os
import time
from datetime import datetime, timezone

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate
from botocore.exceptions import ClientError

ORDER_BUCKET = os.environ["ORDER_BUCKET"]
SENDER_EMAIL = os.environ["SENDER_EMAIL"]
MAX_QUANTITY_PER_ORDER = int(os.environ.get("MAX_QUANTITY_PER_ORDER", "100"))
PARTIAL_BATCH_RESPONSE = os.environ.get("PARTIAL_BATCH_RESPONSE", "true").lower() == "true"
# The least time a record is started with: what one order takes on a busy machine, with room.
TIME_MARGIN_MS = int(os.environ.get("TIME_MARGIN_MS", "1000"))
ORDER_PREFIX = "orders/"
EMAIL_RECEIPT_PREFIX = "emails/"
# S3 answers these when a conditional put finds the key already there.
ALREADY_EXISTS_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}

ORDER_SCHEMA = {
    "type": "object",
    "required": ["orderId", "email"],
    "properties": {
        # Used in S3 keys: keep to a safe alphabet.
        "orderId": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "quantity"],
                "properties": {
                    "sku": {"type": "string", "minLength": 1},
                    "quantity": {"type": "integer", "minimum": 1},
                },
            },
        },
        "total": {"type": "number", "minimum": 0},
        "fail_attempts": {"type": "integer", "minimum": 0},
        "fail_mode": {"enum": ["raise", "timeout", "crash", "crash_after"]},
        "sleep_ms": {"type": "integer", "minimum": 0, "maximum": 900_000},
    },
}

logger = Logger()
standard_processor = BatchProcessor(event_type=EventType.SQS)
fifo_processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# When every record of a FIFO batch fails, report them all rather than raise:
# the effect on AWS is the same (all are retried), but LocalStack 4.14.0 invokes
# the function once per message group and abandons the remaining groups of the
# batch after an invocation error, so one failing group would block the others.
# (The constructor does not take this option; the attribute is Powertools' own.)
fifo_processor.raise_on_entire_batch_failure = False
s3 = boto3.client("s3")
ses = boto3.client("ses")


class PoisonMessage(Exception):
    """The message can never succeed: retrying it will not help."""


class InjectedFailure(Exception):
    """A failure the message asked for with fail_attempts."""


class OrderRejected(Exception):
    """A business rule refused the order (fails every time until the rule changes)."""


class EmailInProgress(Exception):
    """A concurrent delivery of the same order holds the email claim."""


class NotEnoughTime(Exception):
    """Too little of the invocation is left to start this record: it returns to the queue untried."""


# The invocation whose records are running (one after another) and the longest
# one of them took: on a busy machine a record can take several times its usual
# time, for every record at once, and a fixed margin alone let one run into the
# timeout between sending its email and recording it (the email went twice).
invocation = {"request_id": None, "slowest_ms": 0}


def require_time_for_a_record(lambda_context) -> None:
    if invocation["request_id"] != lambda_context.aws_request_id:
        invocation.update(request_id=lambda_context.aws_request_id, slowest_ms=0)
        return  # the first record of this invocation
    needed = max(TIME_MARGIN_MS, 2 * invocation["slowest_ms"])
    left = lambda_context.get_remaining_time_in_millis()
    if left < needed:
        raise NotEnoughTime(f"{left} ms of the invocation left, less than {needed} ms (twice the slowest record "
                            f"so far, at least TIME_MARGIN_MS={TIME_MARGIN_MS}): returned to the queue untried")


def time_the_record(started: float) -> None:
    took_ms = (time.monotonic() - started) * 1000
    invocation["slowest_ms"] = max(invocation["slowest_ms"], int(took_ms))


class BatchFailed(Exception):
    """Some records failed and the mapping cannot be told which: retry the whole batch."""


def parse_order(body: str) -> dict:
    try:
        order = json.loads(body)
    except json.JSONDecodeError as error:
        raise PoisonMessage(f"body is not JSON: {error}") from None
    except RecursionError:
        raise PoisonMessage("body is JSON nested too deeply to read") from None
    try:
        validate(event=order, schema=ORDER_SCHEMA)
    except SchemaValidationError as error:
        # What is wrong, without the offending value: a body can be 1 MiB.
        raise PoisonMessage(f"not a valid order: {error.validation_message or error}") from None
    return order


def put_once(key: str, document: dict) -> bool:
    """Write the document unless the key exists. True if this call wrote it."""
    try:
        s3.put_object(
            Bucket=ORDER_BUCKET,
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] in ALREADY_EXISTS_CODES:
            return False
        raise


def exists(key: str) -> bool:
    try:
        s3.head_object(Bucket=ORDER_BUCKET, Key=key)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def store_order(order: dict, record: SQSRecord) -> bool:
    return put_once(
        f"{ORDER_PREFIX}{order['orderId']}.json",
        {
            "order": order,
            "messageId": record.message_id,
            "storedAt": datetime.now(timezone.utc).isoformat(),
        },
    )


def read_json(key: str) -> dict:
    return json.loads(s3.get_object(Bucket=ORDER_BUCKET, Key=key)["Body"].read())


def send_confirmation_once(order: dict, lambda_context) -> bool:
    """Send the order's email unless a delivery of the same order has. True if this call sent it."""
    receipt_key = f"{EMAIL_RECEIPT_PREFIX}{order['orderId']}.json"
    deadline = time.time() + lambda_context.get_remaining_time_in_millis() / 1000
    if not put_once(receipt_key, {"state": "sending", "claimedUntil": deadline}):
        receipt = read_json(receipt_key)
        if "sesMessageId" in receipt:
            return False  # a duplicate delivery: the email went out already
        if time.time() < receipt["claimedUntil"]:
            raise EmailInProgress("another delivery of this order is sending its email; retrying later")
        # The claimant's invocation ended without recording a send: it died or SES failed. Send.
    response = ses.send_email(
        Source=SENDER_EMAIL,
        Destination={"ToAddresses": [order["email"]]},
        Message={
            "Subject": {"Data": f"Order {order['orderId']} received"},
            "Body": {"Text": {"Data": f"Thank you! We have received your order {order['orderId']}."}},
        },
    )
    s3.put_object(
        Bucket=ORDER_BUCKET,
        Key=receipt_key,
        Body=json.dumps({"state": "sent", "sesMessageId": response["MessageId"], "to": order["email"]}).encode(),
        ContentType="application/json",
    )
    return True


def check_rules(order: dict) -> None:
    quantity = sum(item["quantity"] for item in order.get("items", []))
    if quantity > MAX_QUANTITY_PER_ORDER:
        raise OrderRejected(f"{quantity} items is more than MAX_QUANTITY_PER_ORDER={MAX_QUANTITY_PER_ORDER}")


def fail_on_purpose(order: dict, receive_count: int, lambda_context) -> None:
    mode = order.get("fail_mode", "raise")
    reason = f"fail_attempts={order['fail_attempts']}: failing delivery {receive_count} on purpose ({mode})"
    if mode == "raise":
        raise InjectedFailure(reason)
    # These two end the invocation before a result line could be logged: log first.
    logger.warning("order failed", extra={"outcome": "failed", "error": mode, "reason": reason})
    if mode in ("crash", "crash_after"):
        os._exit(1)
    time.sleep(lambda_context.get_remaining_time_in_millis() / 1000 + 1)


def order_id_hint(body: str):
    """The orderId of a body, even an invalid one, so its log lines can be traced."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("orderId") if isinstance(document, dict) else None


def record_handler(record: SQSRecord, lambda_context=None) -> None:
    receive_count = int(record.attributes.approximate_receive_count)
    logger.append_keys(
        message_id=record.message_id,
        receive_count=receive_count,
        sent_timestamp=int(record.attributes.sent_timestamp),
        order_id=order_id_hint(record.body),
    )
    started = time.monotonic()
    try:
        require_time_for_a_record(lambda_context)
        order = parse_order(record.body)
        if order.get("sleep_ms"):
            time.sleep(order["sleep_ms"] / 1000)
        fails_now = receive_count <= order.get("fail_attempts", 0)
        if fails_now and order.get("fail_mode") != "crash_after":
            fail_on_purpose(order, receive_count, lambda_context)
        check_rules(order)
        stored_now = store_order(order, record)
        emailed_now = send_confirmation_once(order, lambda_context)
        if fails_now:
            fail_on_purpose(order, receive_count, lambda_context)
        logger.info(
            "order processed",
            extra={"outcome": "processed", "stored_now": stored_now, "email_sent_now": emailed_now},
        )
    except Exception as error:
        logger.warning(
            "order failed",
            extra={"outcome": "failed", "error": type(error).__name__, "reason": str(error)},
        )
        raise
    finally:
        time_the_record(started)
        logger.remove_keys(["message_id", "receive_count", "sent_timestamp", "order_id"])


@logger.inject_lambda_context
def handler(event, context):
    records = event.get("Records") or []
    from_fifo = bool(records) and records[0]["eventSourceARN"].endswith(".fifo")
    response = process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=fifo_processor if from_fifo else standard_processor,
        context=context,
    )
    failed = len(response["batchItemFailures"])
    if failed and not PARTIAL_BATCH_RESPONSE:
        raise BatchFailed(f"{failed} of {len(records)} records failed; retrying the whole batch")
    return response
