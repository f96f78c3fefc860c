"""Exercise 2, a reference solution: each record succeeds or fails on its own,
and only the failed ones are named in the response; the mapping deletes the
rest. (Powertools' BatchProcessor does the same in functions/order_worker.)
"""

import json
import os

import boto3

ORDER_BUCKET = os.environ["ORDER_BUCKET"]
s3 = boto3.client("s3")


def store(record: dict) -> None:
    order = json.loads(record["body"])
    if "email" not in order:
        raise ValueError(f"not an order: {record['body'][:80]}")
    s3.put_object(Bucket=ORDER_BUCKET, Key=f"orders/{order['orderId']}.json", Body=record["body"].encode())


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            store(record)
        except Exception as error:  # this record only: the others of the batch are unaffected
            print(f"record {record['messageId']} failed: {error!r}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
