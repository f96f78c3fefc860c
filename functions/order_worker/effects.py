"""The order's two effects, each at most once however often SQS delivers it:
the order stored (a conditional put keyed by its id) and its confirmation
emailed (a claim, itself a conditional put, taken before the send)."""

import json
import os
import time
from datetime import UTC, datetime

import boto3
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

ORDER_BUCKET = os.environ["ORDER_BUCKET"]
SENDER_EMAIL = os.environ["SENDER_EMAIL"]
ALREADY_EXISTS = {"PreconditionFailed", "ConditionalRequestConflict"}  # S3's answers to IfNoneMatch

s3 = boto3.client("s3")
ses = boto3.client("ses")


class EmailInProgress(Exception): ...  # a concurrent delivery of the order holds the email claim


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
        if error.response["Error"]["Code"] in ALREADY_EXISTS:
            return False
        raise


def store_order(order: dict, record: SQSRecord) -> bool:
    stored = {"order": order, "messageId": record.message_id, "storedAt": datetime.now(UTC).isoformat()}
    return put_once(f"orders/{order['orderId']}.json", stored)


def send_confirmation_once(order: dict, context: LambdaContext) -> bool:
    """Claim the email, send it, record SES's message id. True if this call sent it.
    If the function dies between the send and the record, the claim expires and a
    retry sends again: SES has no idempotency key, and a lost email is worse."""
    receipt_key = f"emails/{order['orderId']}.json"
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000
    if not put_once(receipt_key, {"state": "sending", "claimedUntil": deadline}):
        receipt = json.loads(s3.get_object(Bucket=ORDER_BUCKET, Key=receipt_key)["Body"].read())
        if "sesMessageId" in receipt:
            return False  # a duplicate delivery: the email went out already
        if time.time() < receipt["claimedUntil"]:
            raise EmailInProgress("another delivery of this order is sending its email; retrying later")
    response = ses.send_email(
        Source=SENDER_EMAIL,
        Destination={"ToAddresses": [order["email"]]},
        Message={
            "Subject": {"Data": f"Order {order['orderId']} received"},
            "Body": {"Text": {"Data": f"Thank you! We have received your order {order['orderId']}."}},
        },
    )
    sent = {"state": "sent", "sesMessageId": response["MessageId"], "to": order["email"]}
    s3.put_object(Bucket=ORDER_BUCKET, Key=receipt_key, Body=json.dumps(sent).encode(), ContentType="application/json")
    return True
