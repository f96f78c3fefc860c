"""Create or update every resource of a lab stack; safe to run any number of times.

Order matters: the DLQ before the queue that names it, the role before the
function, the function before the mapping, and the mapping last, once the
function is Active, so that no message is polled before it can be processed.
The API in front (``POST /orders``) comes after the queue it sends to.

Run as ``python -m lab.stack.provision`` (what LocalStack's ready hook does) or
through ``make up``; tests call ``provision(stack)`` with stacks of their own.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from lab.core import aws, settings
from lab.core.console import Report, duration, error_console, quiet, step
from lab.core.settings import SettingsError, Stack
from lab.stack.api import api_url, ensure_api
from lab.stack.functions import ensure_function, function_environment
from lab.stack.mapping import ensure_mapping
from lab.stack.order_store import ensure_bucket
from lab.stack.policies import ensure_roles
from lab.stack.queues import ensure_queue, queue_arn, queue_type_attributes


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


def provision(
    stack: Stack | None = None,
    source_dir: Path = settings.FUNCTION_SOURCE_DIR,
    report: Report = quiet,
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


def main() -> int:
    """Provision the default stack; any failure is one line (LocalStack's ready
    hook runs this, and its log is where a Docker user looks)."""
    try:
        provision(report=step)
    except SettingsError as error:
        error_console.print(f"lab: provisioning refused: {error}")
        return 2
    except Exception as error:  # noqa: BLE001 -- whatever it is, one line that names it
        reason = " ".join(str(error).split()) or "no message"
        error_console.print(f"lab: provisioning failed: {type(error).__name__}: {reason}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
