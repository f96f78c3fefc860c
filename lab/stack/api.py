"""The orders API in front of the queue: POST /orders through API Gateway to a
function that sends the order to the queue (and a direct route to the
worker, for comparison)."""

import contextlib
import json

from lab.core import aws, settings
from lab.core.console import Report
from lab.core.settings import Stack
from lab.stack.functions import ensure_function
from lab.stack.policies import LAMBDA_TRUST_POLICY, api_producer_policy, ensure_role


def lambda_invocation_uri(function_arn: str) -> str:
    return f"arn:aws:apigateway:{settings.REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


# POST /no-queue/orders hands the worker one order as a one-record SQS event and
# waits for it: what a producer wired straight to its consumer gets.
DIRECT_EVENT_TEMPLATE = """{"Records": [{
  "messageId": "$context.requestId", "receiptHandle": "(none: no queue)",
  "body": "$util.escapeJavaScript($input.body)",
  "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "$context.requestTimeEpoch",
                 "SenderId": "$context.accountId", "ApproximateFirstReceiveTimestamp": "$context.requestTimeEpoch"},
  "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
  "eventSourceARN": "%(queue_arn)s", "awsRegion": "%(region)s"}]}"""


# A function error (the worker raised) is a 502 naming it; otherwise the worker's answer.
DIRECT_ERROR_TEMPLATE = """{"error": "$input.path('$.errorType')", "message": "the worker failed: the order is \
not kept anywhere unless the caller keeps it and tries again"}"""


def api_definition(stack: Stack, api_function_arn: str, worker_arn: str, queue_arn_: str) -> dict:
    """The REST API as OpenAPI with API Gateway's extensions: one document that
    ``put_rest_api`` applies whole, so running this again changes nothing."""
    direct = DIRECT_EVENT_TEMPLATE % {"queue_arn": queue_arn_, "region": settings.REGION}
    return {
        "openapi": "3.0.1",
        "info": {"title": stack.api_name, "version": "1"},
        "paths": {
            "/orders": {
                "post": {
                    "summary": "Accept an order: validated, queued, answered 202 with its message id",
                    "responses": {"202": {"description": "queued"}, "400": {"description": "not an order"}},
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "httpMethod": "POST",
                        "uri": lambda_invocation_uri(api_function_arn),
                    },
                }
            },
            "/no-queue/orders": {
                "post": {
                    "summary": "The same order straight to the worker, waiting for it: life without a queue",
                    "responses": {"200": {"description": "processed"}, "502": {"description": "the worker failed"}},
                    "x-amazon-apigateway-integration": {
                        "type": "aws",
                        "httpMethod": "POST",
                        "uri": lambda_invocation_uri(worker_arn),
                        "passthroughBehavior": "never",
                        # JSON only: any other content type is answered 415 (curl needs -H 'content-type: ...').
                        "requestTemplates": {"application/json": direct},
                        "responses": {
                            "default": {"statusCode": "200"},
                            ".+": {
                                "statusCode": "502",
                                "responseTemplates": {"application/json": DIRECT_ERROR_TEMPLATE},
                            },
                        },
                    },
                }
            },
        },
    }


def allow_api_to_invoke(lambda_, function_name: str, api_id: str, route: str) -> None:
    """A resource policy on the function: this API's route may invoke it."""
    statement_id = f"invoke-from-{api_id}"
    policy = {}
    with contextlib.suppress(lambda_.exceptions.ResourceNotFoundException):
        policy = json.loads(lambda_.get_policy(FunctionName=function_name)["Policy"])
    if any(statement.get("Sid") == statement_id for statement in policy.get("Statement", [])):
        return
    lambda_.add_permission(
        FunctionName=function_name,
        StatementId=statement_id,
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{settings.REGION}:{settings.ACCOUNT_ID}:{api_id}/*/POST{route}",
    )


def api_url(api_id: str, endpoint_url: str = settings.ENDPOINT_URL) -> str:
    """Where the stage answers on LocalStack (on AWS:
    https://{api_id}.execute-api.{region}.amazonaws.com/{stage})."""
    return f"{endpoint_url}/_aws/execute-api/{api_id}/{settings.API_STAGE}"


def find_rest_api(apigateway, name: str) -> str | None:
    for page in apigateway.get_paginator("get_rest_apis").paginate():
        for api in page["items"]:
            if api["name"] == name:
                return api["id"]
    return None


def ensure_api(stack: Stack, queue_url: str, queue_arn_: str, worker_arn: str, report: Report) -> str:
    """The front door: the API's function (it may only send), the REST API, its stage."""
    iam, lambda_, apigateway = (aws.client(name) for name in ("iam", "lambda", "apigateway"))
    role_arn = ensure_role(
        iam,
        stack.api_role_name,
        LAMBDA_TRUST_POLICY,
        stack.policy_name,
        api_producer_policy(stack, queue_arn_),
        f"Execution role of {stack.api_name}: send only",
    )
    api_function_arn = ensure_function(
        lambda_,
        stack.api_name,
        role_arn,
        settings.API_SOURCE_DIR,
        timeout=10,
        memory_size=256,
        environment={"QUEUE_URL": queue_url, "POWERTOOLS_SERVICE_NAME": "order-api"},
    )
    definition = json.dumps(api_definition(stack, api_function_arn, worker_arn, queue_arn_)).encode()
    if (api_id := find_rest_api(apigateway, stack.api_name)) is None:
        # LocalStack takes the id from this tag (AWS picks a random one): the URL
        # stays the same from one `make up` to the next, so the guide can show it.
        api_id = apigateway.create_rest_api(name=stack.api_name, tags={"_custom_id_": stack.api_name})["id"]
    apigateway.put_rest_api(restApiId=api_id, mode="overwrite", body=definition)
    allow_api_to_invoke(lambda_, stack.api_name, api_id, "/orders")
    allow_api_to_invoke(lambda_, stack.function_name, api_id, "/no-queue/orders")
    apigateway.create_deployment(restApiId=api_id, stageName=settings.API_STAGE)
    report(
        f"API POST {api_url(api_id, settings.STUDENT_ENDPOINT_URL)}/orders -> function {stack.api_name} "
        f"-> {stack.queue_name} (its role may only send)"
    )
    return api_id
