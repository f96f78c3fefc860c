"""The facts read from a running lab, one answer each: the orders stored, the
emails sent, the function's log and the worker's line per delivery. `make
status`, the scenarios, the exercises' checks and the tests all count with
these. Everything here reads: nothing receives a message or changes a setting."""

import json
import time
from collections import Counter

from lab.core import aws


def now_ms() -> int:
    return int(time.time() * 1000)


# --- The order store and the outbox ------------------------------------------------------------


def object_ids(bucket: str, prefix: str, endpoint_url: str | None = None) -> Counter:
    """The keys under a prefix, without the prefix and .json: the order ids of orders/ or emails/."""
    pages = (
        aws.observer_client("s3", endpoint_url).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return Counter(
        item["Key"].removeprefix(prefix).removesuffix(".json") for page in pages for item in page.get("Contents", [])
    )


def count_objects(bucket: str, prefix: str) -> int:
    pages = aws.observer_client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sum(page.get("KeyCount", 0) for page in pages)


def stored_order_ids(bucket: str, endpoint_url: str | None = None) -> set[str]:
    return set(object_ids(bucket, "orders/", endpoint_url))


def stored_orders(bucket: str) -> int:
    """How many orders the store holds."""
    return count_objects(bucket, "orders/")


def emails_per_order(endpoint_url: str | None = None) -> Counter:
    """How many emails the SES outbox holds for each order."""
    return Counter(aws.emailed_order_id(message) for message in aws.sent_emails(endpoint_url))


def emails_for(order_ids) -> list[dict]:
    """Emails in LocalStack's SES outbox about these orders (the subject names the order)."""
    wanted = set(order_ids)
    return [message for message in aws.sent_emails() if aws.emailed_order_id(message) in wanted]


def emails_about(order_id: str) -> int:
    return emails_per_order()[order_id]


# --- The function's log ------------------------------------------------------------------------


def log_events(function_name: str, since_ms: int) -> list[dict]:
    """The function's CloudWatch log events since a time, oldest first ([] before its first run)."""
    logs = aws.observer_client("logs")
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{function_name}", startTime=since_ms
    )
    try:
        events = [event for page in pages for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return sorted(events, key=lambda event: (event["timestamp"], event.get("ingestionTime", 0)))


def log_lines(function_name: str, containing: str = "") -> list[str]:
    """The lines a function logged, oldest first, read as `make logs` reads them;
    none before its first invocation."""
    lines = [event["message"].rstrip("\n") for event in log_events(function_name, since_ms=0)]
    return [line for line in lines if containing in line]  # LocalStack 4.14.0 ignores filterPattern


def function_log(function_name: str) -> str:
    """The function's whole log, for a failure to show what happened."""
    return "\n".join(log_lines(function_name)) or "(the function's log is empty)"


def count_timeouts(function_name: str) -> int:
    return len(log_lines(function_name, "Task timed out"))


def json_records(function_name: str) -> list[dict]:
    """The JSON lines a function logged (the worker's, the probes'), oldest first."""
    records = []
    for line in log_lines(function_name):
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line that only looks like JSON
    return records


def parse_record(message: str) -> dict | None:
    """The worker's one JSON line per record, or None for any other line."""
    if not message.startswith("{"):
        return None
    try:
        record = json.loads(message)
    except ValueError:
        return None
    return record if "outcome" in record else None


def deliveries(function_name: str, **match) -> list[dict]:
    """The worker's one-line-per-delivery records that match, e.g. order_id="42", oldest first."""
    return [
        record
        for record in json_records(function_name)
        if "outcome" in record and all(record.get(key) == value for key, value in match.items())
    ]


def receive_counts(function_name: str, order_id: str | None = None) -> list[int]:
    """The receive count of each delivery the worker logged (of one order, when named)."""
    match = {"order_id": order_id} if order_id is not None else {}
    return [record["receive_count"] for record in deliveries(function_name, **match)]
