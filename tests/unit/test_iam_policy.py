"""The lab's IAM evaluator against AWS's documented decisions: explicit deny
wins, an Allow is needed, Action/NotAction, Resource/NotResource, wildcards,
conditions (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
reference_policies_elements_*.html and reference_policies_elements_condition_operators.html)."""

import pytest

from lab_executor.iam_policy import ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY, decide

QUEUE = "arn:aws:sqs:us-east-1:000000000000:orders"
FIFO = "arn:aws:sqs:us-east-1:000000000000:orders.fifo"
OBJECT = "arn:aws:s3:::lab-orders/orders/o-1.json"


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


PRODUCER = policy(allow(["sqs:SendMessage", "sqs:GetQueueUrl"], QUEUE))
WORKER = policy(
    allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], QUEUE),
    allow(["s3:PutObject", "s3:GetObject"], ["arn:aws:s3:::lab-orders/orders/*", "arn:aws:s3:::lab-orders/emails/*"]),
    allow("ses:SendEmail", "arn:aws:ses:us-east-1:000000000000:identity/orders@lab.example.com"),
)
SOURCE = {"aws:SourceArn": QUEUE}

CASES = [
    # (what, policies, action, resource, context, decision)
    ("no policy at all", [], "sqs:SendMessage", QUEUE, {}, IMPLICIT_DENY),
    ("an empty statement list", [policy()], "sqs:SendMessage", QUEUE, {}, IMPLICIT_DENY),
    ("the producer sends", [PRODUCER], "sqs:SendMessage", QUEUE, {}, ALLOWED),
    ("the producer looks up the URL", [PRODUCER], "sqs:GetQueueUrl", QUEUE, {}, ALLOWED),
    ("the producer may not receive", [PRODUCER], "sqs:ReceiveMessage", QUEUE, {}, IMPLICIT_DENY),
    ("the producer may not delete", [PRODUCER], "sqs:DeleteMessage", QUEUE, {}, IMPLICIT_DENY),
    ("the producer may not purge", [PRODUCER], "sqs:PurgeQueue", QUEUE, {}, IMPLICIT_DENY),
    ("the producer may not send elsewhere", [PRODUCER], "sqs:SendMessage", QUEUE + "-dlq", {}, IMPLICIT_DENY),
    ("the worker receives", [WORKER], "sqs:ReceiveMessage", QUEUE, {}, ALLOWED),
    ("the worker may not send", [WORKER], "sqs:SendMessage", QUEUE, {}, IMPLICIT_DENY),
    ("the worker stores an order", [WORKER], "s3:PutObject", OBJECT, {}, ALLOWED),
    ("the worker may not delete an order", [WORKER], "s3:DeleteObject", OBJECT, {}, IMPLICIT_DENY),
    (
        "the worker may not write outside its prefixes",
        [WORKER],
        "s3:PutObject",
        "arn:aws:s3:::lab-orders/other/x",
        {},
        IMPLICIT_DENY,
    ),
    (
        "the worker may not write another bucket",
        [WORKER],
        "s3:PutObject",
        "arn:aws:s3:::other-bucket/orders/x",
        {},
        IMPLICIT_DENY,
    ),
    (
        "the worker sends from its identity",
        [WORKER],
        "ses:SendEmail",
        "arn:aws:ses:us-east-1:000000000000:identity/orders@lab.example.com",
        {},
        ALLOWED,
    ),
    (
        "the worker may not send from another identity",
        [WORKER],
        "ses:SendEmail",
        "arn:aws:ses:us-east-1:000000000000:identity/ceo@lab.example.com",
        {},
        IMPLICIT_DENY,
    ),
    (
        "an explicit deny beats an allow",
        [policy(allow("sqs:*", "*"), deny("sqs:DeleteMessage", QUEUE))],
        "sqs:DeleteMessage",
        QUEUE,
        {},
        EXPLICIT_DENY,
    ),
    (
        "an explicit deny in another policy still wins",
        [PRODUCER, policy(deny("sqs:*"))],
        "sqs:SendMessage",
        QUEUE,
        {},
        EXPLICIT_DENY,
    ),
    (
        "a deny on another action leaves the allow",
        [policy(allow("sqs:*", QUEUE), deny("sqs:PurgeQueue", QUEUE))],
        "sqs:SendMessage",
        QUEUE,
        {},
        ALLOWED,
    ),
    (
        "a deny on another resource leaves the allow",
        [policy(allow("sqs:*", "*"), deny("sqs:*", FIFO))],
        "sqs:SendMessage",
        QUEUE,
        {},
        ALLOWED,
    ),
    ("a deny alone allows nothing", [policy(deny("sqs:PurgeQueue"))], "sqs:SendMessage", QUEUE, {}, IMPLICIT_DENY),
    ("an action wildcard at the end", [policy(allow("sqs:Receive*", QUEUE))], "sqs:ReceiveMessage", QUEUE, {}, ALLOWED),
    (
        "an action wildcard at the start",
        [policy(allow("sqs:*Message", QUEUE))],
        "sqs:DeleteMessage",
        QUEUE,
        {},
        ALLOWED,
    ),
    (
        "an action wildcard that does not fit",
        [policy(allow("sqs:*Message", QUEUE))],
        "sqs:PurgeQueue",
        QUEUE,
        {},
        IMPLICIT_DENY,
    ),
    ("? is one character", [policy(allow("s3:Get?bject", "*"))], "s3:GetObject", OBJECT, {}, ALLOWED),
    ("? is not two characters", [policy(allow("s3:Get?bject", "*"))], "s3:GetOObject", OBJECT, {}, IMPLICIT_DENY),
    ("actions match in any case", [policy(allow("SQS:SENDMESSAGE", QUEUE))], "sqs:SendMessage", QUEUE, {}, ALLOWED),
    (
        "resources match case-sensitively",
        [policy(allow("s3:GetObject", "arn:aws:s3:::Lab-Orders/*"))],
        "s3:GetObject",
        OBJECT,
        {},
        IMPLICIT_DENY,
    ),
    (
        "* in a resource crosses / and :",
        [policy(allow("s3:GetObject", "arn:aws:s3:::lab-orders*"))],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOWED,
    ),
    (
        "a dot is a dot, not any character",
        [policy(allow("sqs:SendMessage", FIFO))],
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:000000000000:ordersxfifo",
        {},
        IMPLICIT_DENY,
    ),
    (
        "a resource list: any one will do",
        [policy(allow("sqs:SendMessage", [FIFO, QUEUE]))],
        "sqs:SendMessage",
        QUEUE,
        {},
        ALLOWED,
    ),
    ("a service wildcard stays in its service", [policy(allow("sqs:*"))], "s3:GetObject", OBJECT, {}, IMPLICIT_DENY),
    ("* allows every action", [policy(allow("*"))], "ses:SendEmail", "*", {}, ALLOWED),
    (
        "NotAction allows everything else",
        [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOWED,
    ),
    (
        "NotAction leaves the excluded denied",
        [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})],
        "iam:CreateUser",
        "*",
        {},
        IMPLICIT_DENY,
    ),
    (
        "Deny with NotAction denies all but those",
        [policy(allow("*"), {"Effect": "Deny", "NotAction": ["sqs:SendMessage"], "Resource": "*"})],
        "sqs:ReceiveMessage",
        QUEUE,
        {},
        EXPLICIT_DENY,
    ),
    (
        "Deny with NotAction spares those",
        [policy(allow("*"), {"Effect": "Deny", "NotAction": ["sqs:SendMessage"], "Resource": "*"})],
        "sqs:SendMessage",
        QUEUE,
        {},
        ALLOWED,
    ),
    (
        "NotResource allows the rest",
        [policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::lab-orders/emails/*"})],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOWED,
    ),
    (
        "NotResource leaves the excluded denied",
        [policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::lab-orders/orders/*"})],
        "s3:GetObject",
        OBJECT,
        {},
        IMPLICIT_DENY,
    ),
    (
        "Deny with NotResource denies outside it",
        [policy(allow("s3:*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::lab-orders/*"})],
        "s3:GetObject",
        "arn:aws:s3:::elsewhere/x",
        {},
        EXPLICIT_DENY,
    ),
    (
        "StringEquals that matches",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"StringEquals": {"aws:PrincipalTag/team": "shop"}}))],
        "sqs:SendMessage",
        QUEUE,
        {"aws:PrincipalTag/team": "shop"},
        ALLOWED,
    ),
    (
        "StringEquals that does not match: the allow does not apply (not a deny)",
        [
            policy(allow("sqs:SendMessage", QUEUE, Condition={"StringEquals": {"aws:PrincipalTag/team": "shop"}})),
            policy(allow("sqs:SendMessage", QUEUE)),
        ],
        "sqs:SendMessage",
        QUEUE,
        {"aws:PrincipalTag/team": "ops"},
        ALLOWED,
    ),
    (
        "StringEquals with the key absent",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"StringEquals": {"aws:PrincipalTag/team": "shop"}}))],
        "sqs:SendMessage",
        QUEUE,
        {},
        IMPLICIT_DENY,
    ),
    (
        "condition keys match in any case",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"StringEquals": {"AWS:SourceArn": QUEUE}}))],
        "sqs:SendMessage",
        QUEUE,
        SOURCE,
        ALLOWED,
    ),
    (
        "several values: any one will do",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"StringEquals": {"aws:SourceArn": [FIFO, QUEUE]}}))],
        "sqs:SendMessage",
        QUEUE,
        SOURCE,
        ALLOWED,
    ),
    (
        "several keys: all must hold",
        [
            policy(
                allow(
                    "sqs:SendMessage",
                    QUEUE,
                    Condition={"StringEquals": {"aws:SourceArn": QUEUE, "aws:SourceAccount": "111111111111"}},
                )
            )
        ],
        "sqs:SendMessage",
        QUEUE,
        {**SOURCE, "aws:SourceAccount": "000000000000"},
        IMPLICIT_DENY,
    ),
    (
        "StringNotEquals with the key absent holds",
        [policy(deny("sqs:*", "*", Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}), allow("sqs:*"))],
        "sqs:SendMessage",
        QUEUE,
        {},
        EXPLICIT_DENY,
    ),
    (
        "StringNotEquals that matches does not hold",
        [policy(deny("sqs:*", "*", Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}), allow("sqs:*"))],
        "sqs:SendMessage",
        QUEUE,
        {"aws:SourceVpce": "vpce-1"},
        ALLOWED,
    ),
    (
        "StringLike with a wildcard",
        [policy(allow("s3:PutObject", "*", Condition={"StringLike": {"s3:prefix": "orders/*"}}))],
        "s3:PutObject",
        OBJECT,
        {"s3:prefix": "orders/o-1"},
        ALLOWED,
    ),
    (
        "ArnLike on the source",
        [
            policy(
                allow(
                    "lambda:InvokeFunction",
                    "*",
                    Condition={"ArnLike": {"aws:SourceArn": "arn:aws:sqs:*:000000000000:orders*"}},
                )
            )
        ],
        "lambda:InvokeFunction",
        "*",
        SOURCE,
        ALLOWED,
    ),
    (
        "ArnNotLike with a matching source does not hold",
        [policy(allow("*"), deny("*", "*", Condition={"ArnNotLike": {"aws:SourceArn": "arn:aws:sqs:*:*:orders"}}))],
        "sqs:SendMessage",
        QUEUE,
        SOURCE,
        ALLOWED,
    ),
    (
        "Bool: deny what is not sent over TLS",
        [policy(allow("s3:*"), deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}))],
        "s3:GetObject",
        OBJECT,
        {"aws:SecureTransport": "false"},
        EXPLICIT_DENY,
    ),
    (
        "Bool over TLS",
        [policy(allow("s3:*"), deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}))],
        "s3:GetObject",
        OBJECT,
        {"aws:SecureTransport": "true"},
        ALLOWED,
    ),
    (
        "IfExists holds when the key is absent",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}))],
        "sqs:SendMessage",
        QUEUE,
        {},
        ALLOWED,
    ),
    (
        "IfExists checks a key that is present",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}))],
        "sqs:SendMessage",
        QUEUE,
        {"aws:SourceVpce": "vpce-2"},
        IMPLICIT_DENY,
    ),
    (
        "Null true: the key must be absent",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"Null": {"aws:TokenIssueTime": "true"}}))],
        "sqs:SendMessage",
        QUEUE,
        {},
        ALLOWED,
    ),
    (
        "Null false: the key must be present",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"Null": {"aws:TokenIssueTime": "false"}}))],
        "sqs:SendMessage",
        QUEUE,
        {},
        IMPLICIT_DENY,
    ),
    (
        "IpAddress inside the range",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}))],
        "sqs:SendMessage",
        QUEUE,
        {"aws:SourceIp": "127.0.0.1"},
        ALLOWED,
    ),
    (
        "IpAddress outside the range",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))],
        "sqs:SendMessage",
        QUEUE,
        {"aws:SourceIp": "127.0.0.1"},
        IMPLICIT_DENY,
    ),
    (
        "NumericLessThan",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"NumericLessThan": {"sqs:MessageSize": "1024"}}))],
        "sqs:SendMessage",
        QUEUE,
        {"sqs:MessageSize": "12"},
        ALLOWED,
    ),
    (
        "an operator it does not know never grants",
        [policy(allow("sqs:SendMessage", QUEUE, Condition={"DateLessThanSomeday": {"aws:CurrentTime": "2030-01-01"}}))],
        "sqs:SendMessage",
        QUEUE,
        {"aws:CurrentTime": "2026-01-01"},
        IMPLICIT_DENY,
    ),
    (
        "a single statement, not a list",
        [{"Version": "2012-10-17", "Statement": allow("sqs:SendMessage", QUEUE)}],
        "sqs:SendMessage",
        QUEUE,
        {},
        ALLOWED,
    ),
]


@pytest.mark.parametrize("what, policies, action, resource, context, expected", CASES, ids=[c[0] for c in CASES])
def test_the_decision_is_aws_s(what, policies, action, resource, context, expected):
    assert decide(policies, action, resource, context).outcome == expected


def test_the_table_covers_every_kind_of_decision():
    assert len(CASES) >= 40
    assert {case[-1] for case in CASES} == {ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY}


def test_the_decision_names_the_statement_that_took_it():
    documents = [
        policy({"Sid": "SendOrders", **allow("sqs:SendMessage", QUEUE)}),
        policy({"Sid": "NoPurge", **deny("sqs:PurgeQueue", QUEUE)}),
    ]
    assert decide(documents, "sqs:SendMessage", QUEUE).statement == "SendOrders"
    assert decide(documents, "sqs:PurgeQueue", QUEUE).statement == "NoPurge"
