"""Exercise 3: stores an order and emails the customer a confirmation.

It is written as if each message arrived exactly once.
"""

import json
import os

import boto3

ORDER_BUCKET = os.environ["ORDER_BUCKET"]
SENDER_EMAIL = os.environ["SENDER_EMAIL"]
s3 = boto3.client("s3")
ses = boto3.client("ses")


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
        send_confirmation(order)
    return {}
