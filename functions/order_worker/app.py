"""order-worker: stores each order that SQS delivers in S3 and emails its customer, once.

SQS delivers at least once, so both effects (effects.py) are keyed by the
order's id. Only the records that fail return to the queue (a partial batch
response). docs/LAB.md explains each part. ``lab_faults.py`` is the lab's
failure injection, not part of the pattern. Settings come from environment
variables only, so this deploys to AWS unchanged.
"""

import json
import os
import time

import lab_faults
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate
from effects import send_confirmation_once, store_order
from schemas import ORDER_SCHEMA

MAX_QUANTITY_PER_ORDER = int(os.environ.get("MAX_QUANTITY_PER_ORDER", "100"))
# "false" when the mapping has no ReportBatchItemFailures: then a failed record fails the whole batch.
PARTIAL_BATCH_RESPONSE = os.environ.get("PARTIAL_BATCH_RESPONSE", "true").lower() == "true"
# The least time a record is started with (see require_time_for_a_record).
TIME_MARGIN_MS = int(os.environ.get("TIME_MARGIN_MS", "1000"))

logger = Logger()
standard_processor = BatchProcessor(event_type=EventType.SQS)
# A FIFO group stops at its first failure: the rest come back with it, in order.
fifo_processor = SqsFifoPartialProcessor(skip_group_on_error=True)


# Each failure is one of these (or effects.EmailInProgress), named in the worker's log line ("error").
class PoisonMessage(Exception): ...  # the body can never be an order: retrying will not help


class OrderRejected(Exception): ...  # a business rule refused it (until the rule changes: make break/fix)


class NotEnoughTime(Exception): ...  # too little of the invocation is left to start it: back untried


class BatchFailed(Exception): ...  # records failed and the mapping cannot be told which: all come back


# Records of a batch run one after another; the slowest so far sets the time a
# record needs, since a busy machine slows every record at once. The first
# record always starts: returned untried it would only spend a receive.
invocation = {"request_id": None, "slowest_ms": 0}


def require_time_for_a_record(context: LambdaContext) -> None:
    """Rather than time the batch out (then every record comes back, finished ones
    too, and an email sent just before would go again), return the rest untried."""
    if invocation["request_id"] != context.aws_request_id:
        invocation.update(request_id=context.aws_request_id, slowest_ms=0)
        return
    needed = max(TIME_MARGIN_MS, 2 * invocation["slowest_ms"])
    left = context.get_remaining_time_in_millis()
    if left < needed:
        raise NotEnoughTime(
            f"{left} ms of the invocation left, less than {needed} ms (twice the slowest record "
            f"so far, at least TIME_MARGIN_MS={TIME_MARGIN_MS}): returned to the queue untried"
        )


def parse_order(body: str) -> dict:
    try:
        order = json.loads(body)
    except json.JSONDecodeError as error:
        raise PoisonMessage(f"body is not JSON: {error}") from None
    except RecursionError:
        raise PoisonMessage("body is JSON nested too deeply to read") from None
    try:
        validate(event=order, schema=ORDER_SCHEMA)
    except SchemaValidationError as error:  # what is wrong, without the value: a body can be large
        raise PoisonMessage(f"not a valid order: {error.validation_message or error}") from None
    return order


def check_rules(order: dict) -> None:
    quantity = sum(item["quantity"] for item in order.get("items", []))
    if quantity > MAX_QUANTITY_PER_ORDER:
        raise OrderRejected(f"{quantity} items is more than MAX_QUANTITY_PER_ORDER={MAX_QUANTITY_PER_ORDER}")


def order_id_hint(body: str):
    """The orderId of a body, even an invalid one, so that its log lines can be traced."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document.get("orderId") if isinstance(document, dict) else None


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    receive_count = int(record.attributes.approximate_receive_count)
    logger.append_keys(
        message_id=record.message_id,
        receive_count=receive_count,
        sent_timestamp=int(record.attributes.sent_timestamp),
        order_id=order_id_hint(record.body),
    )
    started, stored_now = time.monotonic(), None
    try:
        require_time_for_a_record(lambda_context)
        order = parse_order(record.body)
        check_rules(order)
        with lab_faults.injected(order, receive_count, lambda_context):  # what the body asks for, in the lab
            stored_now = store_order(order, record)
            emailed_now = send_confirmation_once(order, lambda_context)
        logger.info(
            "order processed", extra={"outcome": "processed", "stored_now": stored_now, "email_sent_now": emailed_now}
        )
    except Exception as error:  # whether this delivery stored the order, when it got that far
        logger.warning(
            "order failed",
            extra={"outcome": "failed", "error": type(error).__name__, "reason": str(error), "stored_now": stored_now},
        )
        raise
    finally:
        invocation["slowest_ms"] = max(invocation["slowest_ms"], int((time.monotonic() - started) * 1000))
        logger.remove_keys(["message_id", "receive_count", "sent_timestamp", "order_id"])


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    records = event.get("Records") or []
    from_fifo = bool(records) and records[0]["eventSourceARN"].endswith(".fifo")
    processor = fifo_processor if from_fifo else standard_processor
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    failed = len(response["batchItemFailures"])
    if failed and not PARTIAL_BATCH_RESPONSE:
        raise BatchFailed(f"{failed} of {len(records)} records failed; retrying the whole batch")
    return response
