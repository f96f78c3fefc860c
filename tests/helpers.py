"""Waiting and observing: the only ways a test here learns what happened."""

import time
from collections.abc import Callable
from typing import TypeVar

from lab import aws

T = TypeVar("T")
POLL_SECONDS = 0.25


def wait_for(condition: Callable[[], T], timeout: float, what: str) -> T:
    """Poll until condition() is truthy and return its value; fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last value: {last!r}")


def stored_order_ids(bucket: str) -> set[str]:
    s3 = aws.client("s3")
    ids = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="orders/"):
        for item in page.get("Contents", []):
            ids.add(item["Key"].removeprefix("orders/").removesuffix(".json"))
    return ids


def emails_for(order_ids) -> list[dict]:
    """Emails in LocalStack's SES outbox about these orders (subject names the order)."""
    wanted = set(order_ids)
    return [
        message
        for message in aws.sent_emails()
        if message.get("Subject", "").removeprefix("Order ").removesuffix(" received") in wanted
    ]


def queue_depth(queue_url: str) -> dict[str, int]:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
    }


def queue_is_empty(queue_url: str) -> bool:
    return not any(queue_depth(queue_url).values())
