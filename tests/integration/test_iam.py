"""IAM enforced for the lab's roles, as AWS does: the producer may only send;
a worker whose role lost s3:PutObject fails every order into the DLQ until the
role is fixed; a mapping whose function may not receive is refused. Requests
with LocalStack's default credentials (every other test's) stay unchecked."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from helpers import log_records, order, stored_order_ids, wait_for
from lab import aws, operations
from lab.provision import provision, set_mapping_enabled, worker_policy

TIMEOUT_SECONDS = 90


def denied(call, **arguments) -> str:
    """The message of the AccessDenied the call gets."""
    with pytest.raises(ClientError) as caught:
        call(**arguments)
    error = caught.value.response["Error"]
    assert error["Code"] in ("AccessDenied", "AccessDeniedException"), error
    return error["Message"]


def without(policy: dict, action: str) -> dict:
    """The policy with one action taken out of every statement."""
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != action]
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"]]
    return policy


def test_the_producer_s_role_sends_and_is_denied_everything_else(make_stack):
    stack = make_stack(enabled=False)
    sqs = aws.client_as(stack.stack.producer_role_name, "sqs")
    assert sqs.send_message(QueueUrl=stack.queue_url, MessageBody=order("iam-sent"))["MessageId"]
    message = denied(sqs.receive_message, QueueUrl=stack.queue_url)
    assert message == (f"User: arn:aws:sts::000000000000:assumed-role/{stack.stack.producer_role_name}/lab is not "
                       f"authorized to perform: sqs:ReceiveMessage on resource: {stack.queue_arn} because no "
                       "identity-based policy allows the sqs:ReceiveMessage action")
    assert "sqs:PurgeQueue" in denied(sqs.purge_queue, QueueUrl=stack.queue_url)
    assert "sqs:SendMessage" in denied(sqs.send_message, QueueUrl=stack.dlq_url, MessageBody="elsewhere")
    s3 = aws.client_as(stack.stack.producer_role_name, "s3")
    assert f"arn:aws:s3:::{stack.bucket}" in denied(s3.list_objects_v2, Bucket=stack.bucket)
    # Denied means not done: the one message sent is all the queue holds.
    assert aws.queue_depth(stack.queue_url)["visible"] == 1


def test_a_worker_without_put_object_fails_into_the_dlq_until_its_role_is_fixed(make_stack):
    stack = make_stack()
    iam = aws.client("iam")
    broken = without(worker_policy(stack.stack, stack.queue_arn), "s3:PutObject")
    iam.put_role_policy(RoleName=stack.stack.role_name, PolicyName=stack.stack.policy_name,
                        PolicyDocument=json.dumps(broken))
    order_id = f"iam-{uuid.uuid4().hex[:8]}"
    aws.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=order(order_id))
    dead = wait_for(lambda: aws.peek_messages(stack.dlq_url), TIMEOUT_SECONDS, "the order in the DLQ")
    assert json.loads(dead[0]["Body"])["orderId"] == order_id
    assert order_id not in stored_order_ids(stack.bucket)
    reasons = [record.get("reason", "") for record in log_records(stack.stack.function_name)
               if record.get("order_id") == order_id and record.get("outcome") == "failed"]
    assert len(reasons) == 3 and all("AccessDenied" in reason and "s3:PutObject" in reason for reason in reasons)

    provision(stack.stack)  # the role as provisioning writes it, s3:PutObject back
    assert operations.redrive(stack.stack)
    wait_for(lambda: order_id in stored_order_ids(stack.bucket), TIMEOUT_SECONDS, "the order stored after the fix")


def test_a_mapping_whose_function_may_not_receive_is_refused(make_stack):
    stack = make_stack(enabled=False)
    lambda_ = aws.client("lambda")
    broken = without(worker_policy(stack.stack, stack.queue_arn), "sqs:ReceiveMessage")
    aws.client("iam").put_role_policy(RoleName=stack.stack.role_name, PolicyName=stack.stack.policy_name,
                                      PolicyDocument=json.dumps(broken))
    with pytest.raises(lambda_.exceptions.InvalidParameterValueException,
                       match="The function execution role does not have permissions to call ReceiveMessage on SQS"):
        set_mapping_enabled(lambda_, stack.mapping_uuid, True)
    with pytest.raises(lambda_.exceptions.InvalidParameterValueException, match="ReceiveMessage"):
        lambda_.create_event_source_mapping(FunctionName=stack.stack.function_name, EventSourceArn=stack.dlq_arn)
