"""Exercise 3, a reference solution: the email is claimed, once per order id,
before it is sent. The claim is an S3 object written only if it does not exist
(IfNoneMatch="*"), so of two deliveries of one order, even at the same moment,
exactly one wins and sends. The trade-off: a crash between the claim and the
send loses that email; functions/order_worker lets such a claim expire so a
retry sends it.
"""

import json
import os

import boto3
from botocore.exceptions import ClientError

ORDER_BUCKET = os.environ["ORDER_BUCKET"]
SENDER_EMAIL = os.environ["SENDER_EMAIL"]
s3 = boto3.client("s3")
ses = boto3.client("ses")


def claim(key: str) -> bool:
    """True if this call created the key; False if it existed already."""
    try:
        s3.put_object(Bucket=ORDER_BUCKET, Key=key, Body=b"{}", IfNoneMatch="*")
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict"):
            return False
        raise


def send_confirmation(order: dict) -> None:
    ses.send_email(
        Source=SENDER_EMAIL,
        Destination={"ToAddresses": [order["email"]]},
        Message={
            "Subject": {"Data": f"Order {order['orderId']} received"},
            "Body": {"Text": {"Data": "Thank you for your order!"}},
        },
    )


def handler(event, context):
    for record in event["Records"]:
        order = json.loads(record["body"])
        s3.put_object(Bucket=ORDER_BUCKET, Key=f"orders/{order['orderId']}.json", Body=record["body"].encode())
        if claim(f"emails/{order['orderId']}.json"):
            send_confirmation(order)
        else:
            print(f"order {order['orderId']}: a duplicate delivery, the email went out already")
    return {}
