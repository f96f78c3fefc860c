"""IAM enforced for the lab's roles, as AWS does: the producer may only send,
and AWS's error says who may not do what, on which resource. (A worker whose
role lost s3:PutObject, and a mapping whose function may not receive: the
missing-permission scenario's test.) Requests with LocalStack's default
credentials, every other test's, stay unchecked."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from helpers import order, stored_order_ids
from lab.core import aws, settings
from lab.core.waiting import wait_for
from lab.stack import policies
from lab.watch import observe


def denied(call, **arguments) -> str:
    """The message of the AccessDenied the call gets."""
    with pytest.raises(ClientError) as caught:
        call(**arguments)
    error = caught.value.response["Error"]
    assert error["Code"] in ("AccessDenied", "AccessDeniedException"), error
    return error["Message"]


def test_the_producer_s_role_sends_and_is_denied_everything_else(make_stack):
    stack = make_stack(enabled=False)
    sqs = aws.client_as(stack.stack.producer_role_name, "sqs")
    assert sqs.send_message(QueueUrl=stack.queue_url, MessageBody=order("iam-sent"))["MessageId"]
    message = denied(sqs.receive_message, QueueUrl=stack.queue_url)
    assert message == (
        f"User: arn:aws:sts::000000000000:assumed-role/{stack.stack.producer_role_name}/lab is not "
        f"authorized to perform: sqs:ReceiveMessage on resource: {stack.queue_arn} because no "
        "identity-based policy allows the sqs:ReceiveMessage action"
    )
    assert "sqs:PurgeQueue" in denied(sqs.purge_queue, QueueUrl=stack.queue_url)
    assert "sqs:SendMessage" in denied(sqs.send_message, QueueUrl=stack.dlq_url, MessageBody="elsewhere")
    s3 = aws.client_as(stack.stack.producer_role_name, "s3")
    assert f"arn:aws:s3:::{stack.bucket}" in denied(s3.list_objects_v2, Bucket=stack.bucket)
    # Denied means not done: the one message sent is all the queue holds.
    assert aws.queue_depth(stack.queue_url)["visible"] == 1
    # make status (and the dashboard, from the same snapshot) counts what was denied.
    snapshot = observe.read_status(stack.stack)
    assert snapshot.denied["count"] == 4
    assert snapshot.denied["latest"]["role"] == stack.stack.producer_role_name
    assert snapshot.denied["latest"]["action"] == "s3:ListBucket"


def test_an_explicit_deny_with_a_condition_on_the_request_beats_the_allow(make_stack):
    stack = make_stack(enabled=False)
    iam, role = aws.client("iam"), stack.stack.producer_role_name
    # AWS's example: refuse requests not made over TLS; the lab's are plain HTTP in every mode.
    iam.put_role_policy(
        RoleName=role,
        PolicyName="tls-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "sqs:*",
                        "Resource": "*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    try:
        sqs = aws.client_as(role, "sqs")
        message = denied(sqs.send_message, QueueUrl=stack.queue_url, MessageBody=order("iam-denied"))
        assert message.endswith("with an explicit deny in an identity-based policy")
    finally:
        iam.delete_role_policy(RoleName=role, PolicyName="tls-only")
    assert aws.client_as(role, "sqs").send_message(QueueUrl=stack.queue_url, MessageBody=order("iam-sent"))


def test_the_mapping_receives_with_its_function_s_role_and_is_denied_when_the_role_may_not(make_stack):
    """AWS's pollers receive with the function's execution role. The lab's mapping
    hands its receives straight to LocalStack's SQS (executor/direct_calls.py),
    and IAM still decides: take sqs:ReceiveMessage away after the mapping was
    created and its polls are denied, and the order waits in the queue, untouched."""
    stack = make_stack()
    iam, role = aws.client("iam"), stack.stack.role_name

    def put_worker_policy(without: str | None = None) -> None:
        policy = policies.worker_policy(stack.stack, stack.queue_arn)
        for statement in policy["Statement"]:
            statement["Action"] = [a for a in always_list(statement["Action"]) if a != without]
        iam.put_role_policy(RoleName=role, PolicyName=stack.stack.policy_name, PolicyDocument=json.dumps(policy))

    before = aws.denied_requests([role])["count"]
    put_worker_policy(without="sqs:ReceiveMessage")
    changed = time.monotonic()
    # A long poll that began before the change was allowed and may still be waiting:
    # send once every such poll has ended and the pollers are being denied.
    latest = wait_for(
        lambda: (
            time.monotonic() - changed > settings.ESM_LONG_POLL_SECONDS
            and (seen := aws.denied_requests([role]))["count"] > before
            and seen["latest"]
        ),
        30,
        "the mapping's polls to be denied",
    )
    assert (latest["action"], latest["resource"]) == ("sqs:ReceiveMessage", stack.queue_arn)
    denied_before_the_order = aws.denied_requests([role])["count"]
    aws.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=order("iam-unreceived"))
    wait_for(
        lambda: aws.denied_requests([role])["count"] > denied_before_the_order,
        30,
        "a poll denied after the order was sent",
    )
    depth = aws.queue_depth(stack.queue_url)
    assert (depth["visible"], depth["in_flight"]) == (1, 0), "denied means not received"
    # The permission back: the mapping receives it (after its back-off) and the order is stored.
    put_worker_policy()
    wait_for(lambda: "iam-unreceived" in stored_order_ids(stack.bucket), 60, "the order stored once allowed")


def always_list(actions) -> list[str]:
    return [actions] if isinstance(actions, str) else actions
