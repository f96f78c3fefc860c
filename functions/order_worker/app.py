"""order-worker: processes orders that arrive from SQS through an event source mapping.

For each order it stores one JSON document in the order store (S3) and sends
one confirmation email (SES). SQS delivers at least once, so the same order
can arrive twice; both effects are made idempotent by the order's id:

1. The order is written with a conditional put (``IfNoneMatch="*"``): a second
   delivery finds it there and changes nothing.
2. The email is sent only if no email receipt exists for the order, and a
   receipt is written right after the send. The write comes first so that an
   order is never confirmed by email before it is stored.

One window remains: if the function dies after SES accepted the email but
before the receipt is written, the retry sends the email again. SES has no
idempotency key to close it; docs/LAB.md discusses it.

Failures are per record (Powertools' BatchProcessor with partial batch
responses): only the records that failed return to the queue. What a record
does is driven by its body, so tests and lessons are deterministic:

- a body that is not JSON, or not a valid order, is poison: it fails every time;
- ``"fail_attempts": n`` fails the first n deliveries (by ApproximateReceiveCount);
- ``"sleep_ms": n`` makes the record slow.

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
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate
from botocore.exceptions import ClientError

ORDER_BUCKET = os.environ["ORDER_BUCKET"]
SENDER_EMAIL = os.environ["SENDER_EMAIL"]
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
        "sleep_ms": {"type": "integer", "minimum": 0, "maximum": 900_000},
    },
}

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
s3 = boto3.client("s3")
ses = boto3.client("ses")


class PoisonMessage(Exception):
    """The message can never succeed: retrying it will not help."""


class InjectedFailure(Exception):
    """A failure the message asked for with fail_attempts."""


def parse_order(body: str) -> dict:
    try:
        order = json.loads(body)
    except json.JSONDecodeError as error:
        raise PoisonMessage(f"body is not JSON: {error}") from None
    try:
        validate(event=order, schema=ORDER_SCHEMA)
    except SchemaValidationError as error:
        raise PoisonMessage(f"not a valid order: {error}") from None
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


def send_confirmation_once(order: dict) -> bool:
    receipt_key = f"{EMAIL_RECEIPT_PREFIX}{order['orderId']}.json"
    if exists(receipt_key):
        return False
    response = ses.send_email(
        Source=SENDER_EMAIL,
        Destination={"ToAddresses": [order["email"]]},
        Message={
            "Subject": {"Data": f"Order {order['orderId']} received"},
            "Body": {"Text": {"Data": f"Thank you! We have received your order {order['orderId']}."}},
        },
    )
    # False here means a concurrent delivery of the same order sent one too:
    # the remaining window described at the top of this module.
    put_once(receipt_key, {"sesMessageId": response["MessageId"], "to": order["email"]})
    return True


def record_handler(record: SQSRecord) -> None:
    receive_count = int(record.attributes.approximate_receive_count)
    logger.append_keys(message_id=record.message_id, receive_count=receive_count)
    try:
        order = parse_order(record.body)
        logger.append_keys(order_id=order["orderId"])
        if order.get("sleep_ms"):
            time.sleep(order["sleep_ms"] / 1000)
        if receive_count <= order.get("fail_attempts", 0):
            raise InjectedFailure(
                f"fail_attempts={order['fail_attempts']}: failing delivery {receive_count} on purpose"
            )
        stored_now = store_order(order, record)
        emailed_now = send_confirmation_once(order)
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
        logger.remove_keys(["message_id", "receive_count", "order_id"])


@logger.inject_lambda_context
def handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
