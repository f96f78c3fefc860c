"""naive-worker: the order worker as it is often first written, for `make scenario`.

It assumes every message arrives exactly once: it writes the order without a
condition and sends the email every time it sees the order. Never deploy this;
functions/order_worker is the fixed version. It reads the same settings.
"""

import json
import os
import time

import boto3

ORDER_BUCKET = os.environ["ORDER_BUCKET"]
SENDER_EMAIL = os.environ["SENDER_EMAIL"]
s3 = boto3.client("s3")
ses = boto3.client("ses")


def handler(event, context):
    for record in event["Records"]:
        order = json.loads(record["body"])  # a poison body fails the whole batch
        print(
            json.dumps(
                {
                    "outcome": "processing",
                    "order_id": order.get("orderId"),
                    "receive_count": int(record["attributes"]["ApproximateReceiveCount"]),
                }
            )
        )
        time.sleep(order.get("sleep_ms", 0) / 1000)
        s3.put_object(Bucket=ORDER_BUCKET, Key=f"orders/{order['orderId']}.json", Body=record["body"].encode())
        ses.send_email(
            Source=SENDER_EMAIL,
            Destination={"ToAddresses": [order["email"]]},
            Message={
                "Subject": {"Data": f"Order {order['orderId']} received"},
                "Body": {"Text": {"Data": "Thank you!"}},
            },
        )
