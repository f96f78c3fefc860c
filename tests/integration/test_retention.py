"""A queue keeps a message only as long as its retention period (the guide's
step 12), and what LocalStack 4.14.0 does, unlike AWS, when it moves a message
to a dead-letter queue.

Both tests wait out SQS's shortest retention, a minute; they wait, and use
next to no CPU, beside the rest of the suite.
"""

import time
import uuid

from helpers import deliveries, order, stored_order_ids, wait_for
from lab.core import aws

RETENTION_SECONDS = 60  # the least SQS allows
# LocalStack looks for expired messages once a second; a test sees the change
# on its next look.
EXPIRY_WAIT_SECONDS = RETENTION_SECONDS + 30
# How late a test may notice a change: its own look, and LocalStack's.
NOTICED_WITHIN_SECONDS = 2.5


def messages(queue_url: str) -> dict[str, dict]:
    return {message["MessageId"]: message for message in aws.peek_messages(queue_url)}


def sent_at(message: dict) -> float:
    return int(message["Attributes"]["SentTimestamp"]) / 1000  # LocalStack runs on this machine's clock


def test_a_message_nobody_receives_expires_with_its_retention_period_and_never_reaches_the_dlq(make_stack):
    stack = make_stack(enabled=False, retention_seconds=RETENTION_SECONDS)
    order_id = f"forgotten-{uuid.uuid4().hex[:8]}"
    message_id = aws.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=order(order_id))["MessageId"]
    sent = sent_at(messages(stack.queue_url)[message_id])

    gone_at = wait_for(
        lambda: message_id not in messages(stack.queue_url) and time.time(),
        EXPIRY_WAIT_SECONDS,
        "the unreceived message deleted by the queue",
    )

    assert gone_at - sent >= RETENTION_SECONDS, "not before its retention period ended"
    assert gone_at - sent <= RETENTION_SECONDS + NOTICED_WITHIN_SECONDS, "and soon after it"
    assert messages(stack.dlq_url) == {}, "an expired message is not a failed one: the DLQ never sees it"
    assert order_id not in stored_order_ids(stack.bucket)
    assert deliveries(stack.stack.function_name, order_id=order_id) == []


def test_localstack_counts_a_dead_letter_s_retention_from_its_move_where_aws_counts_from_its_first_send(make_stack):
    """AWS: "For standard queues, the expiration of a message is always based on
    its original enqueue timestamp"
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html).
    LocalStack 4.14.0 stores a new message in the DLQ, with a new enqueue time.
    If this test fails, LocalStack has changed: the guide's step 12 and its list
    of differences must change with it."""
    stack = make_stack(max_receive_count=1, dlq_retention_seconds=RETENTION_SECONDS)
    message_id = aws.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody="not an order")["MessageId"]

    # The move happened after the last look that did not find it (a look can take seconds
    # on a loaded machine: the time it was noticed is later than the move, by that much).
    not_yet_moved_at = [time.time()]

    def moved_at_the_latest():
        looked_at = time.time()
        if message_id in messages(stack.dlq_url):
            return time.time()
        not_yet_moved_at[0] = looked_at
        return False

    moved_at = wait_for(
        moved_at_the_latest, EXPIRY_WAIT_SECONDS, "the poison message moved to the DLQ after its one receive"
    )
    sent = sent_at(messages(stack.dlq_url)[message_id])  # the DLQ shows when it was first sent
    assert moved_at - sent >= stack.stack.visibility_timeout, "it waited out a visibility timeout before the move"

    gone_at = wait_for(
        lambda: message_id not in messages(stack.dlq_url) and time.time(),
        EXPIRY_WAIT_SECONDS,
        "the dead letter deleted by the DLQ's retention",
    )
    # On AWS it would be gone RETENTION_SECONDS after it was sent, which has long passed by then.
    assert gone_at - not_yet_moved_at[0] >= RETENTION_SECONDS - NOTICED_WITHIN_SECONDS, (
        "the clock started again at the move"
    )
    assert gone_at - sent >= RETENTION_SECONDS + stack.stack.visibility_timeout - NOTICED_WITHIN_SECONDS
