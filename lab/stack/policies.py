"""The stack's IAM roles and their least-privilege policies: the worker's, the
producer's, the operator's and the API function's, each allowing only what
its job needs (make as ROLE=... shows what they deny)."""

import json

from lab.core import settings
from lab.core.settings import Stack


def worker_policy(stack: Stack, queue_arn_: str) -> dict:
    """Least privilege: consume this queue, write this bucket's two prefixes,
    send from this sender, write this function's logs. Nothing else."""
    region, account = settings.REGION, settings.ACCOUNT_ID
    log_group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{stack.function_name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ConsumeOrders",
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": queue_arn_,
            },
            {
                "Sid": "StoreOrdersAndEmailReceipts",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": [
                    f"arn:aws:s3:::{stack.bucket_name}/orders/*",
                    f"arn:aws:s3:::{stack.bucket_name}/emails/*",
                ],
            },
            {
                "Sid": "SendConfirmation",
                "Effect": "Allow",
                "Action": "ses:SendEmail",
                "Resource": f"arn:aws:ses:{region}:{account}:identity/{stack.sender_email}",
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [log_group, f"{log_group}:*"],
            },
        ],
    }


LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def producer_policy(queue_arn_: str) -> dict:
    """The producer sends to its queue (and looks up its URL): nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SendOrders",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
                "Resource": queue_arn_,
            },
        ],
    }


def operator_policy(queue_arn_: str, dlq_arn: str) -> dict:
    """Look into the DLQ and redrive it (StartMessageMoveTask needs receive, delete and
    get-attributes on the DLQ and send on the destination): nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InspectAndRedriveDeadLetters",
                "Effect": "Allow",
                "Resource": dlq_arn,
                "Action": [
                    "sqs:StartMessageMoveTask",
                    "sqs:ListMessageMoveTasks",
                    "sqs:CancelMessageMoveTask",
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                ],
            },
            {
                "Sid": "ReturnThemToTheQueue",
                "Effect": "Allow",
                "Resource": queue_arn_,
                "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
            },
        ],
    }


def account_trust_policy() -> dict:
    """People and services of this account may take the role (AWS: grant sts:AssumeRole to them)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{settings.ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def ensure_role(iam, name: str, trust: dict, policy_name: str, policy: dict, description: str) -> str:
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), Description=description)[
            "Role"
        ]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
    return arn


def ensure_roles(iam, stack: Stack, queue_arn_: str, dlq_arn: str) -> str:
    """The worker's execution role, the producer's and the operator's; returns the worker's."""
    ensure_role(
        iam,
        stack.producer_role_name,
        account_trust_policy(),
        stack.policy_name,
        producer_policy(queue_arn_),
        f"Sends orders to {stack.queue_name}: least privilege",
    )
    ensure_role(
        iam,
        stack.operator_role_name,
        account_trust_policy(),
        stack.policy_name,
        operator_policy(queue_arn_, dlq_arn),
        f"Redrives {stack.dlq_name}: least privilege",
    )
    return ensure_role(
        iam,
        stack.role_name,
        LAMBDA_TRUST_POLICY,
        stack.policy_name,
        worker_policy(stack, queue_arn_),
        f"Execution role of {stack.function_name}: least privilege",
    )


def api_producer_policy(stack: Stack, queue_arn_: str) -> dict:
    """The API's function sends to the queue and writes its own logs: nothing else."""
    log_group = f"arn:aws:logs:{settings.REGION}:{settings.ACCOUNT_ID}:log-group:/aws/lambda/{stack.api_name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "SendOrders", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn_},
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [log_group, f"{log_group}:*"],
            },
        ],
    }
