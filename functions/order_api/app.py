"""order-api: the front door. ``POST /orders`` checks the order, puts it in the
queue and answers 202 Accepted with the message id at once: the caller never
waits for the worker, and never hears whether the worker is up.

API Gateway (a REST API, Lambda proxy integration) calls this function; its
role may only send to the one queue. A body that is not an order is refused
here, with 400, so it never becomes a poison message. Settings come from
environment variables only, so this deploys to AWS unchanged.
"""

import json
import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.utilities.typing import LambdaContext
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate
from schemas import ORDER_SCHEMA

QUEUE_URL = os.environ["QUEUE_URL"]
FIFO = QUEUE_URL.endswith(".fifo")

logger = Logger()
sqs = boto3.client("sqs")
app = APIGatewayRestResolver()


def parse_order(body: str | None) -> dict:
    try:
        order = json.loads(body or "")
    except (json.JSONDecodeError, RecursionError):
        raise BadRequestError(
            'the body is not JSON; send an order such as {"orderId": "o-1", "email": "ana@example.com"}'
        ) from None
    try:
        validate(event=order, schema=ORDER_SCHEMA)
    except SchemaValidationError as error:
        raise BadRequestError(f"not a valid order: {error.validation_message or error}") from None
    return order


@app.post("/orders")
def accept_order() -> Response:
    body = app.current_event.body
    order = parse_order(body)
    # A FIFO queue needs a group (orders of one customer stay in order) and a
    # deduplication id (the order id: FIFO's SQS accepts a resend within its
    # 5-minute deduplication interval without delivering it again,
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagededuplicationid-property.html).
    # A standard queue deduplicates nothing, which is one reason the worker is idempotent.
    fifo = {"MessageGroupId": order["email"], "MessageDeduplicationId": order["orderId"]} if FIFO else {}
    message_id = sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=body, **fifo)["MessageId"]
    logger.info("order accepted", extra={"order_id": order["orderId"], "message_id": message_id})
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body={"orderId": order["orderId"], "messageId": message_id},
    )


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
