"""How the lab's IAM enforcement names a request's resource and words a denial,
and how `make cost` files a request under its resource, as AWS does (unit
tests: no LocalStack running)."""

from types import SimpleNamespace

import pytest

pytest.importorskip("localstack.aws.handlers")  # LocalStack's request chain, which the plugins join

from lab_executor import iam_enforcement, request_counts
from lab_executor.iam_policy import EXPLICIT_DENY, IMPLICIT_DENY

CONTEXT = SimpleNamespace(region="us-east-1", account_id="000000000000")


@pytest.mark.parametrize(
    "service, parameters, arn",
    [
        (
            "sqs",
            {"QueueUrl": "http://127.0.0.1:4566/queue/us-east-1/000000000000/orders"},
            "arn:aws:sqs:us-east-1:000000000000:orders",
        ),
        (
            "sqs",
            {"QueueUrl": "http://127.0.0.1:4566/000000000000/orders.fifo"},
            "arn:aws:sqs:us-east-1:000000000000:orders.fifo",
        ),
        ("sqs", {"QueueName": "orders-dlq"}, "arn:aws:sqs:us-east-1:000000000000:orders-dlq"),
        ("sqs", {}, "*"),  # ListQueues
        ("s3", {"Bucket": "lab-orders", "Key": "orders/o-1.json"}, "arn:aws:s3:::lab-orders/orders/o-1.json"),
        ("s3", {"Bucket": "lab-orders"}, "arn:aws:s3:::lab-orders"),
        (
            "ses",
            {"Source": "Shop <orders@lab.example.com>"},
            "arn:aws:ses:us-east-1:000000000000:identity/orders@lab.example.com",
        ),
        (
            "logs",
            {"logGroupName": "/aws/lambda/order-worker", "logStreamName": "2026/11/30/[$LATEST]abc"},
            "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/order-worker:log-stream:2026/11/30/[$LATEST]abc",
        ),
        ("lambda", {"FunctionName": "order-worker"}, "*"),
    ],
)
def test_the_resource_is_named_as_aws_names_it_in_a_policy(service, parameters, arn):
    assert iam_enforcement.resource_arn(CONTEXT, service, parameters) == arn


def test_a_denial_is_worded_as_aws_words_it():
    principal = "arn:aws:sts::000000000000:assumed-role/orders-producer/student"
    queue = "arn:aws:sqs:us-east-1:000000000000:orders"
    assert iam_enforcement.denial_message(principal, "sqs:ReceiveMessage", queue, IMPLICIT_DENY) == (
        f"User: {principal} is not authorized to perform: sqs:ReceiveMessage on resource: {queue} "
        "because no identity-based policy allows the sqs:ReceiveMessage action"
    )
    assert iam_enforcement.denial_message(principal, "sqs:PurgeQueue", queue, EXPLICIT_DENY).endswith(
        "with an explicit deny in an identity-based policy"
    )


@pytest.mark.parametrize(
    "service, parameters, resource",
    [
        ("sqs", {"QueueUrl": "http://127.0.0.1:4566/queue/us-east-1/000000000000/orders"}, "orders"),
        ("sqs", {"QueueName": "orders"}, "orders"),
        ("s3", {"Bucket": "lab-orders", "Key": "orders/1.json"}, "lab-orders"),
        (
            "lambda",
            {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:order-worker:$LATEST"},
            "order-worker",
        ),
        ("ses", {"Source": "orders@lab.example.com"}, ""),
    ],
)
def test_a_request_is_counted_under_its_queue_bucket_or_function(service, parameters, resource):
    assert request_counts.resource_of(service, parameters) == resource


def test_a_call_made_without_http_is_billed_by_its_request_and_answer_as_json():
    """The mapping's receives and deletes reach SQS without HTTP (direct_calls):
    SQS still bills each 64 KB of the answer, measured as its JSON would be."""
    from localstack.aws.api import RequestContext
    from localstack.http import Request, Response

    context = RequestContext(Request("POST", "/"))
    context.service_request = {"QueueUrl": "http://127.0.0.1:4566/queue/us-east-1/000000000000/orders"}
    context.service_response = {"Messages": [{"MessageId": str(n), "Body": "x" * 7000} for n in range(10)]}
    size = request_counts.payload_bytes(context, Response())
    assert 70_000 < size < 71_000  # ten bodies of 7,000 bytes, and their keys and ids
    assert request_counts.payload_bytes(RequestContext(Request("POST", "/", body=b"{}")), Response(b"[1]")) == 3
