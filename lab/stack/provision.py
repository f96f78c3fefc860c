"""Create or update every resource of a lab stack; safe to run any number of times.

Order matters: the DLQ before the queue that names it, the role before the
function, the function before the mapping, and the mapping last, once the
function is Active, so that no message is polled before it can be processed.
The API in front (``POST /orders``) comes after the queue it sends to.

Run as ``python -m lab.stack.provision`` (what LocalStack's ready hook does) or
through ``make up``; tests call ``provision(stack)`` with stacks of their own.
"""

import contextlib
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError, WaiterError

from lab.core import aws, settings
from lab.core.console import duration
from lab.core.errors import LabError
from lab.core.settings import SettingsError, Stack
from lab.core.waiting import wait_for
from lab.stack.function_zip import build_zip, code_sha256

MAPPING_ENABLED_TIMEOUT_SECONDS = 60

# Called with each finished step, and with waiting=True before each wait.
Report = Callable[..., None]


@dataclass(frozen=True)
class Deployed:
    """What provisioning created: the addresses a producer, a test or a student needs."""

    stack: Stack
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    function_arn: str
    mapping_uuid: str
    bucket: str
    api_id: str | None = None  # None for a stack without the API

    @property
    def api_url(self) -> str | None:
        """Where the lab's code reaches the API's stage: POST {api_url}/orders."""
        return api_url(self.api_id) if self.api_id else None


def _quiet(_message: str, waiting: bool = False) -> None:
    pass


def print_step(message: str, waiting: bool = False) -> None:
    print(f"  {'...' if waiting else '✓'} {message}", flush=True)


def queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


# Fixed when a queue is created; SetQueueAttributes refuses them.
CREATE_ONLY_QUEUE_ATTRIBUTES = {"FifoQueue"}


def ensure_queue(sqs, name: str, attributes: dict[str, str]) -> str:
    """Create the queue, or bring an existing one to these attributes."""
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    changeable = {k: v for k, v in attributes.items() if k not in CREATE_ONLY_QUEUE_ATTRIBUTES}
    sqs.set_queue_attributes(QueueUrl=url, Attributes=changeable)
    return url


def queue_type_attributes(stack: Stack) -> dict[str, str]:
    if not stack.fifo:
        return {}
    return {
        "FifoQueue": "true",
        "ContentBasedDeduplication": str(stack.content_based_deduplication).lower(),
    }


def ensure_bucket(s3, name: str) -> None:
    try:
        s3.create_bucket(Bucket=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise


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


def function_environment(stack: Stack) -> dict[str, str]:
    return {
        "ORDER_BUCKET": stack.bucket_name,
        "SENDER_EMAIL": stack.sender_email,
        "POWERTOOLS_SERVICE_NAME": stack.function_base,
        # The worker must know whether the mapping reads partial batch responses.
        "PARTIAL_BATCH_RESPONSE": str(stack.report_batch_item_failures).lower(),
        "TIME_MARGIN_MS": str(stack.time_margin_ms),
        "POWERTOOLS_LOGGER_LOG_EVENT": str(stack.log_event).lower(),
        **stack.function_environment,
    }


def function_code(source_dir: Path) -> bytes:
    """The deployment zip: prebuilt when LAB_FUNCTION_ZIPS has one for this folder
    (inside the LocalStack container, where the functions' packages are not installed)."""
    prebuilt = Path(settings.PREBUILT_FUNCTION_ZIPS or ".") / f"{source_dir.name}.zip"
    if settings.PREBUILT_FUNCTION_ZIPS and prebuilt.is_file():
        return prebuilt.read_bytes()
    return build_zip(source_dir)


def ensure_function(
    lambda_, name: str, role_arn: str, source_dir: Path, timeout: int, memory_size: int, environment: dict[str, str]
) -> str:
    zip_bytes = function_code(source_dir)
    configuration = dict(
        Role=role_arn,
        Handler=settings.FUNCTION_HANDLER,
        Runtime=settings.FUNCTION_RUNTIME,
        Timeout=timeout,
        MemorySize=memory_size,
        Environment={"Variables": environment},
    )

    def create() -> str:
        arn = lambda_.create_function(FunctionName=name, Code={"ZipFile": zip_bytes}, **configuration)["FunctionArn"]
        lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
        return arn

    try:
        current = lambda_.get_function_configuration(FunctionName=name)
    except lambda_.exceptions.ResourceNotFoundException:
        return create()
    if current["State"] == "Pending":
        # After a restart, LocalStack restores each function as Pending and starts it
        # again; until it is Active an update fails with InternalError ("cannot be
        # updated if an old one is not running"): `make up` after `make stop` and a
        # change to the worker's code.
        try:
            lambda_.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            )
        except WaiterError:
            pass  # Failed: below
        current = lambda_.get_function_configuration(FunctionName=name)
    if current["State"] == "Failed":
        # One LocalStack could not start again from a saved state. LocalStack 4.14.0 then
        # refuses to update or delete it (it has no running version to replace).
        raise LabError(
            f"LocalStack could not start the function {name} again from the lab's saved state "
            f"({current.get('StateReason') or 'no reason given'}): `make down`, then `make up`, "
            "starts the lab clean"
        )
    if current["CodeSha256"] != code_sha256(zip_bytes):
        lambda_.update_function_code(FunctionName=name, ZipFile=zip_bytes)
        lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
    have = {key: current.get(key) for key in configuration}
    have["Environment"] = {"Variables": current.get("Environment", {}).get("Variables", {})}
    if have != configuration:
        lambda_.update_function_configuration(FunctionName=name, **configuration)
        lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
    lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
    return current["FunctionArn"]


def mapping_settings(stack: Stack) -> dict:
    mapping = dict(
        BatchSize=stack.batch_size,
        FunctionResponseTypes=["ReportBatchItemFailures"] if stack.report_batch_item_failures else [],
        FilterCriteria={"Filters": [{"Pattern": pattern} for pattern in stack.filter_patterns]},
        ScalingConfig={"MaximumConcurrency": stack.maximum_concurrency},
    )
    if not stack.fifo:  # FIFO sources take no batching window
        mapping["MaximumBatchingWindowInSeconds"] = stack.batching_window
    return mapping


def find_mapping(lambda_, function_name: str, source_arn: str) -> dict | None:
    mappings = lambda_.list_event_source_mappings(FunctionName=function_name, EventSourceArn=source_arn)[
        "EventSourceMappings"
    ]
    return mappings[0] if mappings else None


def wait_for_mapping_state(lambda_, uuid: str, state: str, report: Report) -> None:
    """Poll until the mapping reaches the state (there is no boto3 waiter for mappings)."""
    report(
        f"waiting for event source mapping {uuid} to be {state} (up to {MAPPING_ENABLED_TIMEOUT_SECONDS} s)",
        waiting=True,
    )
    wait_for(
        lambda: lambda_.get_event_source_mapping(UUID=uuid)["State"] == state,
        MAPPING_ENABLED_TIMEOUT_SECONDS,
        f"event source mapping {uuid} to be {state}",
    )


def ensure_mapping(lambda_, stack: Stack, source_arn: str, report: Report) -> str:
    wanted = mapping_settings(stack)
    state = "Enabled" if stack.enabled else "Disabled"
    existing = find_mapping(lambda_, stack.function_name, source_arn)
    if existing is None:
        uuid = lambda_.create_event_source_mapping(
            FunctionName=stack.function_name, EventSourceArn=source_arn, Enabled=stack.enabled, **wanted
        )["UUID"]
    else:
        uuid = existing["UUID"]
        have = {key: existing.get(key) for key in wanted}
        have["FunctionResponseTypes"] = existing.get("FunctionResponseTypes", [])
        have["FilterCriteria"] = existing.get("FilterCriteria", {"Filters": []})
        if have != wanted or existing["State"] not in (state, state.replace("ed", "ing")):
            lambda_.update_event_source_mapping(UUID=uuid, Enabled=stack.enabled, **wanted)
    wait_for_mapping_state(lambda_, uuid, state, report)
    return uuid


def set_mapping_enabled(lambda_, uuid: str, enabled: bool, report: Report = _quiet) -> None:
    lambda_.update_event_source_mapping(UUID=uuid, Enabled=enabled)
    wait_for_mapping_state(lambda_, uuid, "Enabled" if enabled else "Disabled", report)


def provision(
    stack: Stack | None = None,
    source_dir: Path = settings.FUNCTION_SOURCE_DIR,
    report: Report = _quiet,
) -> Deployed:
    stack = stack or Stack()
    stack.validate()  # before anything is created
    sqs, s3, ses, iam, lambda_ = (aws.client(name) for name in ("sqs", "s3", "ses", "iam", "lambda"))

    dlq_url = ensure_queue(
        sqs,
        stack.dlq_name,
        {"MessageRetentionPeriod": str(stack.dlq_retention_seconds), **queue_type_attributes(stack)},
    )
    dlq_arn = queue_arn(sqs, dlq_url)
    report(f"dead-letter queue {stack.dlq_name}")
    redrive_policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": stack.max_receive_count}
    queue_url = ensure_queue(
        sqs,
        stack.queue_name,
        {
            "VisibilityTimeout": str(stack.visibility_timeout),
            "MessageRetentionPeriod": str(stack.retention_seconds),
            # An empty policy removes it: no dead-letter queue (the classic mistake).
            "RedrivePolicy": json.dumps(redrive_policy) if stack.dead_letter_queue else "",
            **queue_type_attributes(stack),
        },
    )
    source_arn = queue_arn(sqs, queue_url)
    report(
        f"queue {stack.queue_name} (visibility timeout {stack.visibility_timeout} s, "
        f"maxReceiveCount {stack.max_receive_count}, retention {duration(stack.retention_seconds)})"
    )
    ensure_bucket(s3, stack.bucket_name)
    report(f"order store s3://{stack.bucket_name}")
    ses.verify_email_identity(EmailAddress=stack.sender_email)
    report(f"SES sender {stack.sender_email}")
    role_arn = ensure_roles(iam, stack, source_arn, dlq_arn)
    report(f"IAM roles {stack.role_name}, {stack.producer_role_name}, {stack.operator_role_name} (least privilege)")
    function_arn = ensure_function(
        lambda_,
        stack.function_name,
        role_arn,
        source_dir,
        stack.function_timeout,
        stack.memory_size,
        function_environment(stack),
    )
    queue_type = str(stack.fifo).lower()
    if lambda_.list_tags(Resource=function_arn).get("Tags", {}).get(aws.FIFO_TAG) != queue_type:
        lambda_.tag_resource(Resource=function_arn, Tags={aws.FIFO_TAG: queue_type})  # see aws.lab_stack
    report(f"function {stack.function_name} is Active (timeout {stack.function_timeout} s)")
    mapping_uuid = ensure_mapping(lambda_, stack, source_arn, report)
    report(
        f"event source mapping {stack.queue_name} -> {stack.function_name} is "
        f"{'Enabled' if stack.enabled else 'Disabled'} "
        f"(batch size {stack.batch_size}, window {stack.batching_window} s)"
    )
    api_id = ensure_api(stack, queue_url, source_arn, function_arn, report) if stack.api else None
    return Deployed(
        api_id=api_id,
        stack=stack,
        queue_url=queue_url,
        queue_arn=source_arn,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        function_arn=function_arn,
        mapping_uuid=mapping_uuid,
        bucket=stack.bucket_name,
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


def empty_bucket(s3, bucket: str) -> None:
    """Delete every object of the bucket (a bucket must be empty to be deleted); none if it is gone."""
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            if keys := [{"Key": item["Key"]} for item in page.get("Contents", [])]:  # at most 1000 a page
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucket":
            raise


def ignore_missing(call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if not any(word in code for word in ("NotFound", "NoSuch", "NonExistent", "DoesNotExist")):
            raise


@contextlib.contextmanager
def temporary_stack(label: str, source_dir: Path = settings.FUNCTION_SOURCE_DIR, **overrides) -> Iterator[Deployed]:
    """A stack of its own (a unique suffix) for the length of a ``with`` block,
    provisioned by the same code as ``make up`` and removed afterwards, also when
    the block (or provisioning itself) fails. Tests, scenarios, the soak and the
    bench all make theirs this way."""
    overrides.setdefault("api", False)  # most need only the queue; the API's function is one more to start
    stack = Stack(suffix=f"{label}-{uuid.uuid4().hex[:8]}", **overrides)
    try:
        yield provision(stack, source_dir=source_dir)
    finally:
        teardown(stack)


def teardown(stack: Stack) -> None:
    """Remove everything ``provision`` created for the stack (the SES sender stays:
    stacks share it)."""
    sqs, s3, iam, lambda_ = (aws.client(name) for name in ("sqs", "s3", "iam", "lambda"))
    if _function_exists(lambda_, stack.function_name):
        mappings = lambda_.list_event_source_mappings(FunctionName=stack.function_name)
        for mapping in mappings["EventSourceMappings"]:
            ignore_missing(lambda_.delete_event_source_mapping, UUID=mapping["UUID"])
    ignore_missing(lambda_.delete_function, FunctionName=stack.function_name)
    if stack.api:  # most test stacks have none: no listing of every REST API for them
        if api_id := find_rest_api(aws.client("apigateway"), stack.api_name):
            aws.client("apigateway").delete_rest_api(restApiId=api_id)
        ignore_missing(lambda_.delete_function, FunctionName=stack.api_name)
    for role in stack.role_names:
        ignore_missing(iam.delete_role_policy, RoleName=role, PolicyName=stack.policy_name)
        ignore_missing(iam.delete_role, RoleName=role)
    empty_bucket(s3, stack.bucket_name)
    ignore_missing(s3.delete_bucket, Bucket=stack.bucket_name)
    for name in (stack.queue_name, stack.dlq_name):
        try:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except ClientError as error:
            if "NonExistentQueue" not in error.response["Error"]["Code"]:
                raise


def _function_exists(lambda_, name: str) -> bool:
    try:
        lambda_.get_function_configuration(FunctionName=name)
        return True
    except lambda_.exceptions.ResourceNotFoundException:
        return False


def main() -> int:
    """Provision the default stack; any failure is one line (LocalStack's ready
    hook runs this, and its log is where a Docker user looks)."""
    try:
        provision(report=print_step)
    except SettingsError as error:
        print(f"lab: provisioning refused: {error}", file=sys.stderr, flush=True)
        return 2
    except Exception as error:  # noqa: BLE001 -- whatever it is, one line that names it
        reason = " ".join(str(error).split()) or "no message"
        print(f"lab: provisioning failed: {type(error).__name__}: {reason}", file=sys.stderr, flush=True)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
