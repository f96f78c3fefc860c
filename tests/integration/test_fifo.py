"""FIFO queues through a mapping, proven by their effects: order kept within a
message group while a failing group holds back only itself, and duplicates
removed within the five-minute deduplication interval, by explicit id and by
content. The same test stacks as test_failure_handling.py.
"""

import json
import uuid

from helpers import deliveries, order, stored_order_ids, wait_for
from lab.core import aws

RETRIES_TIMEOUT_SECONDS = 90  # a few visibility periods, plus the poller's back-off


def new_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def stored_at(bucket: str, order_id: str) -> str:
    document = aws.client("s3").get_object(Bucket=bucket, Key=f"orders/{order_id}.json")["Body"].read()
    return json.loads(document)["storedAt"]


def test_fifo_keeps_order_within_a_group_and_a_failing_group_does_not_block_others(make_stack):
    stack = make_stack(fifo=True, max_receive_count=5)
    assert stack.queue_url.endswith(".fifo") and stack.dlq_url.endswith(".fifo")
    sqs = aws.client("sqs")
    group_a = [new_id("a1"), new_id("a2"), new_id("a3")]
    group_b = [new_id("b1"), new_id("b2"), new_id("b3")]
    for order_id, group, fields in [
        (group_a[0], "A", {"fail_attempts": 2}),
        (group_a[1], "A", {}),
        (group_a[2], "A", {}),
        (group_b[0], "B", {}),
        (group_b[1], "B", {}),
        (group_b[2], "B", {}),
    ]:
        sqs.send_message(
            QueueUrl=stack.queue_url,
            MessageBody=order(order_id, **fields),
            MessageGroupId=group,
            MessageDeduplicationId=order_id,
        )

    everything = set(group_a + group_b)
    wait_for(lambda: stored_order_ids(stack.bucket) == everything, RETRIES_TIMEOUT_SECONDS, "all six orders stored")
    times = {order_id: stored_at(stack.bucket, order_id) for order_id in everything}
    assert times[group_a[0]] < times[group_a[1]] < times[group_a[2]], "group A kept its order"
    assert times[group_b[0]] < times[group_b[1]] < times[group_b[2]], "group B kept its order"
    assert max(times[b] for b in group_b) < times[group_a[0]], "group B went on while A1 was being retried"
    a1 = wait_for(
        lambda: (found := deliveries(stack.stack.function_name, order_id=group_a[0])) and len(found) >= 3 and found,
        RETRIES_TIMEOUT_SECONDS,
        "A1's deliveries in the worker's log",
    )
    assert sorted(record["receive_count"] for record in a1) == [1, 2, 3]
    assert aws.peek_messages(stack.dlq_url) == []


def deliveries_after_sentinel(stack, group: str, order_id: str) -> list[dict]:
    """All deliveries of order_id, counted once a later message of the same group
    was processed (FIFO order means any duplicate would have come before it)."""
    sentinel = new_id("sentinel")
    aws.client("sqs").send_message(
        QueueUrl=stack.queue_url, MessageBody=order(sentinel), MessageGroupId=group, MessageDeduplicationId=sentinel
    )
    wait_for(
        lambda: deliveries(stack.stack.function_name, order_id=sentinel),
        RETRIES_TIMEOUT_SECONDS,
        "the sentinel processed",
    )
    return deliveries(stack.stack.function_name, order_id=order_id)


def test_fifo_deduplicates_by_explicit_id_within_five_minutes(make_stack):
    stack = make_stack(fifo=True)
    sqs = aws.client("sqs")
    order_id, other = new_id("dedup"), new_id("control")
    send = lambda body, dedup_id: sqs.send_message(  # noqa: E731
        QueueUrl=stack.queue_url, MessageBody=body, MessageGroupId="G", MessageDeduplicationId=dedup_id
    )["MessageId"]

    first = send(order(order_id), "same-id")
    again = send(order(order_id, note="a retried send"), "same-id")  # another body, same id
    control = send(order(other), "other-id")
    assert again == first, "a duplicate send answers with the first message's id"
    assert control != first

    # One message, however often it is delivered: deduplication applies to sends,
    # and delivery stays at least once (a busy machine delivered it twice, receive
    # counts 1 and 2, when a cold start outlasted its visibility timeout).
    assert {d["message_id"] for d in deliveries_after_sentinel(stack, "G", order_id)} == {first}
    assert {d["message_id"] for d in deliveries(stack.stack.function_name, order_id=other)} == {control}


def test_fifo_deduplicates_identical_bodies_with_content_based_deduplication(make_stack):
    stack = make_stack(fifo=True, content_based_deduplication=True)
    sqs = aws.client("sqs")
    order_id = new_id("content")
    body = order(order_id)
    ids = [
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body, MessageGroupId="G")["MessageId"] for _ in range(2)
    ]
    assert ids[0] == ids[1]
    assert {d["message_id"] for d in deliveries_after_sentinel(stack, "G", order_id)} == {ids[0]}  # one message
