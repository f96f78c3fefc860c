"""Provisioning is idempotent and refuses what AWS would refuse, before creating anything."""

import json

import pytest

from helpers import TEST_STACK, unique_suffix
from lab.core import aws
from lab.core.settings import SettingsError, Stack
from lab.stack.policies import worker_policy
from lab.stack.provision import provision


def snapshot(deployed) -> dict:
    """Everything provisioning controls, as the APIs report it."""
    stack = deployed.stack
    sqs, lambda_, iam = aws.client("sqs"), aws.client("lambda"), aws.client("iam")
    function = lambda_.get_function_configuration(FunctionName=stack.function_name)
    mappings = lambda_.list_event_source_mappings(FunctionName=stack.function_name)["EventSourceMappings"]
    return {
        "queue": sqs.get_queue_attributes(QueueUrl=deployed.queue_url, AttributeNames=["All"])["Attributes"],
        "dlq": sqs.get_queue_attributes(QueueUrl=deployed.dlq_url, AttributeNames=["All"])["Attributes"],
        "function": {
            key: function[key] for key in ("CodeSha256", "LastModified", "RevisionId", "Timeout", "Environment")
        },
        "mappings": [
            {
                key: m[key]
                for key in ("UUID", "BatchSize", "MaximumBatchingWindowInSeconds", "State", "FunctionResponseTypes")
            }
            for m in mappings
        ],
        "policy": iam.get_role_policy(RoleName=stack.role_name, PolicyName=stack.policy_name)["PolicyDocument"],
    }


def test_provisioning_twice_changes_nothing(stack):
    before = snapshot(stack)
    again = provision(stack.stack)
    after = snapshot(again)
    assert again == stack
    assert after == before
    assert len(after["mappings"]) == 1


def test_provisioning_applies_a_changed_setting_in_place(stack):
    changed = provision(stack.stack.with_changes(batch_size=5, visibility_timeout=7))
    state = snapshot(changed)
    assert changed.mapping_uuid == stack.mapping_uuid
    assert [m["BatchSize"] for m in state["mappings"]] == [5]
    assert state["queue"]["VisibilityTimeout"] == "7"


def as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def deployed_policy(role: str, policy_name: str) -> dict:
    document = aws.client("iam").get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def allowed(policy: dict) -> set[tuple[str, str]]:
    """(action, resource) pairs the policy allows."""
    return {
        (action, resource)
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }


def test_the_producer_and_the_operator_have_least_privilege(stack):
    names = stack.stack
    assert allowed(deployed_policy(names.producer_role_name, names.policy_name)) == {
        ("sqs:SendMessage", stack.queue_arn),
        ("sqs:GetQueueUrl", stack.queue_arn),
    }
    on_dlq = {
        "sqs:StartMessageMoveTask",
        "sqs:ListMessageMoveTasks",
        "sqs:CancelMessageMoveTask",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    assert allowed(deployed_policy(names.operator_role_name, names.policy_name)) == (
        {(action, stack.dlq_arn) for action in on_dlq}
        | {("sqs:SendMessage", stack.queue_arn), ("sqs:GetQueueUrl", stack.queue_arn)}
    )


def test_the_worker_role_has_least_privilege(stack):
    policy = worker_policy(stack.stack, stack.queue_arn)
    actions = sorted(action for statement in policy["Statement"] for action in as_list(statement["Action"]))
    assert actions == sorted(
        [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "s3:PutObject",
            "s3:GetObject",
            "ses:SendEmail",
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]
    )
    assert all(
        "*" not in statement["Resource"] for statement in policy["Statement"] if isinstance(statement["Resource"], str)
    )
    assert deployed_policy(stack.stack.role_name, stack.stack.policy_name) == policy


@pytest.mark.parametrize(
    "overrides, says",
    [
        (dict(visibility_timeout=2, function_timeout=3), "shorter than FUNCTION_TIMEOUT"),
        (dict(max_receive_count=0), "MAX_RECEIVE_COUNT=0 is outside 1..1000"),
        (dict(maximum_concurrency=1), "MAXIMUM_CONCURRENCY=1 is outside 2..1000"),
        (dict(max_receive_count=1001), "MAX_RECEIVE_COUNT=1001 is outside 1..1000"),
        (dict(batch_size=11, batching_window=0), "BATCH_SIZE=11 needs BATCHING_WINDOW"),
        (dict(batch_size=10_001, batching_window=1), "BATCH_SIZE=10001 is outside"),
        (dict(function_timeout=901, visibility_timeout=1000), "FUNCTION_TIMEOUT=901 is outside"),
    ],
)
def test_refused_settings_create_nothing(localstack, overrides, says):
    stack = Stack(suffix=unique_suffix(), **{**TEST_STACK, **overrides})
    with pytest.raises(SettingsError, match=says):
        provision(stack)
    queues = aws.client("sqs").list_queues(QueueNamePrefix=stack.queue_name).get("QueueUrls", [])
    assert queues == []


def lint(policy: dict) -> list[tuple[str, object]]:
    """What parliament (an IAM policy linter) finds wrong with a policy document."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its import of pkg_resources warns of the removal
        from parliament import analyze_policy_string

    return [(finding.issue, finding.detail) for finding in analyze_policy_string(json.dumps(policy)).findings]


def test_the_linter_catches_what_it_should():
    too_wide = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}],
    }
    assert [issue for issue, _ in lint(too_wide)] == ["RESOURCE_STAR"]


def test_every_policy_the_lab_creates_passes_an_iam_linter(stack):
    names = stack.stack
    documents = {
        "worker": deployed_policy(names.role_name, names.policy_name),
        "producer": deployed_policy(names.producer_role_name, names.policy_name),
        "operator": deployed_policy(names.operator_role_name, names.policy_name),
    }
    # (The roles' trust policies are resource policies, which parliament does not read.)
    findings = {name: lint(document) for name, document in documents.items()}
    assert findings == {name: [] for name in documents}
