"""Removing a stack, and stacks that live for a `with` block: what tests,
scenarios, the soak and the bench make theirs with."""

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from botocore.exceptions import ClientError

from lab.core import aws, settings
from lab.core.settings import Stack
from lab.stack.api import find_rest_api
from lab.stack.functions import function_exists
from lab.stack.order_store import empty_bucket
from lab.stack.provision import Deployed, provision


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
    if function_exists(lambda_, stack.function_name):
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
