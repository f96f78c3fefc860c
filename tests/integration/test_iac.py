"""template.yaml, the lab's stack as AWS SAM, deployed to the lab's own
CloudFormation (`make deploy-iac`): a stack of its own that stores orders,
retries, dead-letters and redrives; and the same stack as `make up` provisions
(queue attributes, redrive policy, mapping, function configuration, role
policy), compared with one provisioned beside it from the template's defaults.
The end-to-end run waits on retries: opt-in (TEST_ARGS="-m iac"), run by CI."""

import json

import pytest

from helpers import TEST_STACK, deliveries, order, send_batch, stored_order_ids, unique_suffix, wait_for
from lab.core import aws
from lab.core.settings import Stack
from lab.stack import iac, operations
from lab.stack.provision import provision
from lab.stack.teardown import teardown

TIMEOUT_SECONDS = 120


@pytest.fixture
def template_stack(localstack):
    """Deploys the template as orders-<suffix> with the tests' short timeouts; removed after."""
    stack = Stack(suffix=f"iac{unique_suffix()}", api=False, **TEST_STACK)
    try:
        yield stack, iac.deploy_to_lab(stack)
    finally:
        iac.destroy_in_lab(stack)


@pytest.mark.iac
def test_the_template_s_stack_stores_retries_dead_letters_and_redrives(template_stack):
    stack, outputs = template_stack
    assert outputs["QueueUrl"].endswith(f"/{stack.queue_name}") and outputs["FunctionName"] == stack.function_name
    good, retried = "iac-good", "iac-retried"
    send_batch(outputs["QueueUrl"], [order(good), order(retried, fail_attempts=1), json.dumps({"orderId": "iac-bad"})])
    wait_for(lambda: {good, retried} <= stored_order_ids(outputs["BucketName"]), TIMEOUT_SECONDS, "both orders stored")
    wait_for(
        lambda: [r["receive_count"] for r in deliveries(stack.function_name, order_id=retried)] == [1, 2],
        TIMEOUT_SECONDS,
        "the retried order's two deliveries",
    )
    wait_for(
        lambda: len(aws.peek_messages(outputs["DeadLetterQueueUrl"])) == 1, TIMEOUT_SECONDS, "the poison in the DLQ"
    )

    operations.set_worker_rule(stack, operations.BROKEN_RULE_VALUE)  # make break: orders of 2 items are refused
    send_batch(outputs["QueueUrl"], [order("iac-big", items=[{"sku": "BOOK", "quantity": 2}])])
    wait_for(lambda: len(aws.peek_messages(outputs["DeadLetterQueueUrl"])) == 2, TIMEOUT_SECONDS, "the big order too")
    operations.set_worker_rule(stack, None)  # make fix
    assert operations.redrive(stack).status == "COMPLETED"
    wait_for(lambda: "iac-big" in stored_order_ids(outputs["BucketName"]), TIMEOUT_SECONDS, "the redriven order stored")


def described(stack: Stack) -> dict:
    """What a stack is, by its resources' own descriptions, its names made neutral."""
    sqs, lambda_, iam = aws.client("sqs"), aws.client("lambda"), aws.client("iam")
    queue = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=stack.queue_name)["QueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    dlq = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=stack.dlq_name)["QueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    function = lambda_.get_function_configuration(FunctionName=stack.function_name)
    [mapping] = lambda_.list_event_source_mappings(FunctionName=stack.function_name)["EventSourceMappings"]
    [policy_name] = iam.list_role_policies(RoleName=stack.role_name)["PolicyNames"]
    found = {
        "queue": {
            key: queue.get(key)
            for key in (
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "RedrivePolicy",
                "DelaySeconds",
                "MaximumMessageSize",
                "ReceiveMessageWaitTimeSeconds",
            )
        },
        "dlq": {key: dlq.get(key) for key in ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy")},
        "function": {
            key: function.get(key)
            for key in (
                "Runtime",
                "Handler",
                "Timeout",
                "MemorySize",
                "CodeSha256",
                "Environment",
                "PackageType",
                "Architectures",
            )
        },
        "mapping": {
            key: mapping.get(key)
            for key in (
                "BatchSize",
                "MaximumBatchingWindowInSeconds",
                "State",
                "FunctionResponseTypes",
                "ScalingConfig",
                "EventSourceArn",
            )
        },
        "role policy": iam.get_role_policy(RoleName=stack.role_name, PolicyName=policy_name)["PolicyDocument"],
    }
    found["function"]["Role"] = function["Role"]
    return json.loads(json.dumps(found, sort_keys=True).replace(stack.suffix, "<suffix>"))


def test_the_template_s_defaults_deploy_the_stack_make_up_provisions(localstack):
    provisioned = Stack(suffix=f"up{unique_suffix()}", api=False)
    from_template = Stack(suffix=f"iac{unique_suffix()}", api=False)
    try:
        provision(provisioned)
        iac.deploy_to_lab(from_template, names_only=True)  # every number left to the template's defaults
        lab, template = described(provisioned), described(from_template)
        for part in lab:
            assert template[part] == lab[part], part
    finally:
        teardown(provisioned)
        iac.destroy_in_lab(from_template)
