"""Orders sent to a stack end up stored once and confirmed by one email."""

import json
import subprocess
import sys

from helpers import AS_AWS_ADVISES, emails_for, every_delivery_seconds, queue_is_empty, stored_order_ids, wait_for
from lab.core import aws
from producer import Options, send

PROCESSING_TIMEOUT_SECONDS = 60  # one order takes a few seconds; the rest is headroom


def test_fifty_valid_orders_give_fifty_stored_orders_and_fifty_emails(make_stack):
    """At-least-once delivery, exactly-once effects: every order stored and emailed
    once, however often a loaded machine has it delivered."""
    stack = make_stack(**AS_AWS_ADVISES)
    summary = send(Options(count=50, queue=stack.stack.queue_name, quiet=True))
    assert summary.sent == 50 and summary.failed == 0

    ids = set(summary.order_ids)
    deadline = every_delivery_seconds(stack.stack)
    wait_for(lambda: stored_order_ids(stack.bucket) >= ids, deadline, "50 stored orders")
    wait_for(lambda: len(emails_for(ids)) >= 50, deadline, "50 emails")
    wait_for(lambda: queue_is_empty(stack.queue_url), deadline, "an empty queue")

    assert stored_order_ids(stack.bucket) == ids
    emails = emails_for(ids)
    assert len(emails) == 50
    assert {email["Destination"]["ToAddresses"][0] for email in emails} == {
        f"customer{index}@example.com" for index in range(50)
    }
    assert queue_is_empty(stack.dlq_url)


def test_the_textbook_order_a_student_types_is_processed(stack):
    body = '{"orderId": "123", "email": "user@test.com"}'
    aws.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=body)

    wait_for(lambda: "123" in stored_order_ids(stack.bucket), PROCESSING_TIMEOUT_SECONDS, "order 123 stored")
    stored = json.loads(aws.client("s3").get_object(Bucket=stack.bucket, Key="orders/123.json")["Body"].read())
    assert stored["order"] == json.loads(body)
    wait_for(lambda: queue_is_empty(stack.queue_url), PROCESSING_TIMEOUT_SECONDS, "an empty queue")


def test_the_make_up_stack_processes_an_order_sent_by_the_producer_cli(lab_stack):
    result = subprocess.run(
        [sys.executable, "-m", "producer", "--count", "3", "--json", "--quiet"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    summary = json.loads(result.stdout)
    assert summary["sent"] == 3 and summary["queue_url"] == lab_stack.queue_url
    ids = set(summary["order_ids"])

    wait_for(lambda: stored_order_ids(lab_stack.bucket) >= ids, PROCESSING_TIMEOUT_SECONDS, "3 stored orders")
    wait_for(lambda: len(emails_for(ids)) == 3, PROCESSING_TIMEOUT_SECONDS, "3 emails in the SES outbox")
