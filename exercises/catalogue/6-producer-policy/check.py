"""Exercise 6: the producer's role may send to its queue and do nothing else, judged by
IAM's answers to real calls and by the lab's IAM evaluator for every other action."""

import json

from botocore.exceptions import ClientError

from lab.core import aws, settings
from lab.core.errors import LabError
from lab.teach.judging import QUICK, Criterion, Run, denied, order_body, queue_arn

STACK = QUICK

# What a producer must never be allowed on the order store, beside every SQS action but one.
S3_ACTIONS_NOT_FOR_A_PRODUCER = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:DeleteBucket",
    "s3:PutBucketPolicy",
)


def extra_permissions(document: dict, run: Run) -> list[str]:
    """Every permission the policy grants beyond sqs:SendMessage on the queue: each SQS
    action (AWS's own list, from botocore's model of SQS) on the queue and the DLQ,
    the order store's S3 actions, judged by the lab's IAM evaluator, the one that
    denies the function's and `make as`'s requests (the plugin's /_lab/iam/decide)."""
    import botocore.session

    # A batch needs its single action's permission (SendMessageBatch: sqs:SendMessage);
    # it is no IAM action of its own.
    sqs_actions = sorted(
        f"sqs:{name}"
        for name in botocore.session.get_session().get_service_model("sqs").operation_names
        if not name.endswith("Batch")
    )
    asked = [(action, queue_arn(run.stack.queue_name)) for action in sqs_actions if action != "sqs:SendMessage"]
    asked += [(action, queue_arn(run.stack.dlq_name)) for action in sqs_actions]
    bucket = f"arn:aws:s3:::{run.stack.bucket_name}"
    asked += [
        (action, bucket if action.endswith(("Bucket", "BucketPolicy")) else f"{bucket}/orders/x.json")
        for action in S3_ACTIONS_NOT_FOR_A_PRODUCER
    ]
    status, answer = aws.post_json(
        f"{settings.ENDPOINT_URL}/_lab/iam/decide", json.dumps({"policy": document, "requests": asked})
    )
    if status != 200:
        raise LabError(f"the lab's IAM evaluator did not answer ({status}: {answer}): make up, then make check")
    return [f"{action} on {resource}" for action, resource in answer["allowed"]]


def check(run: Run) -> list[Criterion]:
    status = aws.denied_requests([run.stack.producer_role_name])
    if not status or not status.get("enforced"):
        return [
            Criterion(
                "IAM enforcement is on",
                False,
                "this LocalStack does not enforce IAM: start the lab with LAB_IAM_ENFORCEMENT=1 make up",
            )
        ]
    role = run.stack.producer_role_name
    try:
        document = json.loads((run.workspace / "producer-policy.json").read_text())
        aws.client("iam").put_role_policy(
            RoleName=role, PolicyName=run.stack.policy_name, PolicyDocument=json.dumps(document)
        )
    except (ValueError, ClientError) as error:
        return [Criterion("the policy is a valid IAM policy", False, f"producer-policy.json: {error}")]
    sqs, queue, dlq = aws.client_as(role, "sqs"), run.deployed.queue_url, run.deployed.dlq_url
    body = order_body(run.order_id("sent"))
    return [
        Criterion(
            "the producer can send orders to its queue",
            not denied(sqs.send_message, QueueUrl=queue, MessageBody=body),
            f"allow sqs:SendMessage on the queue: {run.deployed.queue_arn}",
        ),
        Criterion(
            "it cannot receive from the queue",
            denied(sqs.receive_message, QueueUrl=queue),
            "a producer that can receive can take orders from the worker: allow sending only",
        ),
        Criterion(
            "it cannot delete or purge",
            denied(sqs.purge_queue, QueueUrl=queue)
            and denied(sqs.delete_message, QueueUrl=queue, ReceiptHandle="none"),
            "a producer that can purge can lose every order: no sqs:* and no sqs:Delete*/Purge*",
        ),
        Criterion(
            "it cannot send to another queue (the DLQ)",
            denied(sqs.send_message, QueueUrl=dlq, MessageBody=body),
            'name the queue\'s ARN as the Resource, not "*"',
        ),
        Criterion(
            "it can do nothing outside SQS",
            denied(aws.client_as(role, "s3").list_buckets),
            'no "Action": "*": list the one action it needs',
        ),
        Criterion(
            "nothing else: every other SQS action on the queue and the DLQ, and the order store, denied",
            not (extra := extra_permissions(document, run)),
            f"it also allows {extra[0] if extra else ''}"
            f"{f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''}: "
            "allow sqs:SendMessage alone, on the queue's ARN",
        ),
    ]
