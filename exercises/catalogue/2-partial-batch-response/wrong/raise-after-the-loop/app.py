"""Exercise 2, a wrong answer students write: every record is tried, each
failure caught, and then, so that "the error is not lost", the handler raises
at the end. A function error sends the whole batch back, the stored records
too: they are delivered again until the DLQ takes them with the bad one.
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
    failed = []
    for record in event["Records"]:
        try:
            store(record)
        except Exception as error:
            print(f"record {record['messageId']} failed: {error!r}")
            failed.append(record["messageId"])
    if failed:
        raise RuntimeError(f"{len(failed)} record(s) failed: {failed}")
    return {}
