"""Exercise 5: the order worker of a shop, with a bug that some orders hit.

It stores each order once and claims the confirmation email before sending it,
so a delivery that comes twice has no second effect.
"""

import json
import os

import boto3
from botocore.exceptions import ClientError

ORDER_BUCKET = os.environ["ORDER_BUCKET"]
SENDER_EMAIL = os.environ["SENDER_EMAIL"]
ALREADY_EXISTS = ("PreconditionFailed", "ConditionalRequestConflict")
s3 = boto3.client("s3")
ses = boto3.client("ses")


def put_once(key: str, document: dict) -> bool:
    """Write the document unless the key exists. True if this call wrote it."""
    try:
        s3.put_object(Bucket=ORDER_BUCKET, Key=key, Body=json.dumps(document).encode(), IfNoneMatch="*")
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] in ALREADY_EXISTS:
            return False
        raise


def summary(order: dict) -> dict:
    (item,) = order["items"]
    return {"orderId": order["orderId"], "items": item["quantity"], "total": order["total"]}


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            order = json.loads(record["body"])
            put_once(f"orders/{order['orderId']}.json", summary(order))
            if put_once(f"emails/{order['orderId']}.json", {"to": order["email"]}):
                ses.send_email(
                    Source=SENDER_EMAIL,
                    Destination={"ToAddresses": [order["email"]]},
                    Message={
                        "Subject": {"Data": f"Order {order['orderId']} received"},
                        "Body": {"Text": {"Data": "Thank you for your order!"}},
                    },
                )
        except Exception as error:
            print(f"order failed: {record['body'][:120]}: {error!r}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
