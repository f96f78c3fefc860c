"""What the scenarios share: how each prints what it shows, a new order, and a
consumer written by hand (the classic mistakes are in what it forgets)."""

import json
import threading
import time
import uuid

from lab.core import aws, settings
from lab.core.console import console

NAIVE_WORKER_DIR = settings.PROJECT_ROOT / "functions" / "naive_worker"


WAIT_SECONDS = 90


RECEIVE_WAIT_SECONDS = 1


def say(kind: str, text: str) -> None:
    colour = {"mistake": "red", "effect": "yellow", "fix": "green", "after": "green"}.get(kind, "white")
    console.print(f"[bold {colour}]{kind.upper():>8}[/]  {text}")


def new_order(label: str, **fields) -> tuple[str, str]:
    order_id = f"{label}-{uuid.uuid4().hex[:6]}"
    return order_id, json.dumps({"orderId": order_id, "email": f"{order_id}@example.com", **fields})


def hand_written_consumer(
    deployed, visibility: int, work_seconds: float, delete: bool, run_seconds: float, seen: list
) -> None:
    """What people write before they meet Lambda: receive, work, (maybe) delete.
    Its work is the naive one: write the order and send the email, every time."""
    sqs, s3, ses = aws.client("sqs"), aws.client("s3"), aws.client("ses")
    stop_at = time.monotonic() + run_seconds
    while time.monotonic() < stop_at:
        messages = sqs.receive_message(
            QueueUrl=deployed.queue_url,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        for message in messages:
            order = json.loads(message["Body"])
            seen.append(int(message["Attributes"]["ApproximateReceiveCount"]))
            time.sleep(work_seconds)  # the work itself
            s3.put_object(Bucket=deployed.bucket, Key=f"orders/{order['orderId']}.json", Body=message["Body"].encode())
            ses.send_email(
                Source=deployed.stack.sender_email,
                Destination={"ToAddresses": [order["email"]]},
                Message={
                    "Subject": {"Data": f"Order {order['orderId']} received"},
                    "Body": {"Text": {"Data": "Thank you!"}},
                },
            )
            if delete:
                sqs.delete_message(QueueUrl=deployed.queue_url, ReceiptHandle=message["ReceiptHandle"])


def run_consumers(deployed, count: int, **consumer) -> list[int]:
    seen: list[int] = []
    threads = [
        threading.Thread(target=hand_written_consumer, args=(deployed,), kwargs={**consumer, "seen": seen})
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seen
