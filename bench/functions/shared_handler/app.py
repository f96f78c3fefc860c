"""The handler the benchmark runs on both emulators (the lab and its peer).

A record whose body asks for it ({"store": true, "id": ...}) is written to the
bucket named by ORDER_BUCKET with the time it was handled, for end-to-end
latency; any other record is only counted, for throughput. Standard library
and boto3 only, so any Python Lambda emulator can run it.
"""

import json
import os
import time

import boto3

s3 = boto3.client("s3")  # created once per execution environment, not per invocation


def handler(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        if isinstance(body, dict) and body.get("store"):
            s3.put_object(
                Bucket=os.environ["ORDER_BUCKET"],
                Key=f"latency/{body['id']}.json",
                Body=json.dumps({"handledAt": time.time()}).encode(),
            )
    return {"batchItemFailures": []}
