"""The lab's stack as infrastructure as code: template.yaml (AWS SAM), deployed
with CloudFormation to the running lab (`make deploy-iac`, a stack of its own)
or to a real AWS account (`make deploy-aws`, `make destroy-aws`).

The worker's zip is the lab's own (lab.stack.function_zip), uploaded to an artifacts
bucket; the template's CodeUri (a folder, for `sam build`) is pointed at it
before the template is sent, which is what `sam package` does.
"""

import hashlib
import json
import os
import sys
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, WaiterError

from lab.core import aws, settings
from lab.core.console import console
from lab.core.errors import LabError, Refused
from lab.core.settings import Stack
from lab.stack.functions import function_code
from lab.stack.order_store import empty_bucket
from lab.stack.teardown import ignore_missing
from lab.watch import cost

TEMPLATE = settings.PROJECT_ROOT / "template.yaml"
AWS_STACK_NAME = "sqs-lambda-lab"
CAPABILITIES = ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]  # named roles; the SAM transform
# The default workload the AWS estimate prices: a small shop's month.
ORDERS_PER_MONTH = 30_000
BILLED_MS_PER_BATCH = 400  # ten orders' three S3 writes and an email each, warm


def load_template() -> dict:
    """template.yaml as plain data, its short-form tags (!Ref, !Sub...) as their long forms,
    read with LocalStack's own CloudFormation parser (the linter, cfn-lint, is a test tool)."""
    import yaml
    from localstack.services.cloudformation.engine.yaml_parser import parse_yaml

    try:
        return parse_yaml(TEMPLATE.read_text())
    except yaml.YAMLError as problem:
        raise LabError(f"{TEMPLATE.name} does not parse: {problem}") from problem


def parameters(stack: Stack, names_only: bool = False) -> dict[str, str]:
    """The template's parameters for a stack of the lab's settings. names_only
    leaves every number at the template's default (the drift test: the defaults
    must be the lab's)."""
    values = {
        "QueueName": stack.queue_name,
        "DeadLetterQueueName": stack.dlq_name,
        "FunctionName": stack.function_name,
        "RoleName": stack.role_name,
        "BucketName": stack.bucket_name,
        "SenderEmail": stack.sender_email,
    }
    if not names_only:
        values |= {
            "VisibilityTimeout": stack.visibility_timeout,
            "RetentionSeconds": stack.retention_seconds,
            "MaxReceiveCount": stack.max_receive_count,
            "FunctionTimeout": stack.function_timeout,
            "MemorySize": stack.memory_size,
            "BatchSize": stack.batch_size,
            "BatchingWindow": stack.batching_window,
            "MaximumConcurrency": stack.maximum_concurrency,
            "TimeMarginMs": stack.time_margin_ms,
        }
    return {name: str(value) for name, value in values.items()}


def upload_code(s3, bucket: str) -> str:
    """The worker's zip into the artifacts bucket (created if need be); its key."""
    zip_bytes = function_code(settings.FUNCTION_SOURCE_DIR)
    key = f"order-worker-{hashlib.sha256(zip_bytes).hexdigest()[:16]}.zip"
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        region = s3.meta.region_name
        s3.create_bucket(
            Bucket=bucket,
            **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}),
        )
    s3.put_object(Bucket=bucket, Key=key, Body=zip_bytes)
    return key


def template_body(code_bucket: str, code_key: str) -> str:
    template = load_template()
    template["Resources"]["OrderWorker"]["Properties"]["CodeUri"] = {"Bucket": code_bucket, "Key": code_key}
    return json.dumps(template)


def first_failure(cfn, stack_name: str) -> str:
    """The first failure's resource and reason. A stack that fails before any of its
    resources (a transform, say) gives its reason on its ROLLBACK_IN_PROGRESS event."""
    events = list(reversed(cfn.describe_stack_events(StackName=stack_name)["StackEvents"]))  # oldest first
    failed = [e for e in events if e["ResourceStatus"].endswith(("FAILED", "ROLLBACK_IN_PROGRESS"))]
    if not failed:
        return "no failed resource reported"
    first = next((e for e in failed if e.get("ResourceStatusReason")), failed[0])
    return f"{first['LogicalResourceId']} ({first['ResourceType']}): {first.get('ResourceStatusReason')}"


def deploy(session, stack_name: str, values: dict[str, str], artifacts_bucket: str) -> dict[str, str]:
    """Create or update the stack; its outputs. A failure is one line naming the resource."""
    cfn, s3 = session.client("cloudformation"), session.client("s3")
    key = upload_code(s3, artifacts_bucket)
    arguments = dict(
        StackName=stack_name,
        TemplateBody=template_body(artifacts_bucket, key),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=CAPABILITIES,
    )
    try:
        cfn.describe_stacks(StackName=stack_name)
        exists = True
    except ClientError:
        exists = False
    started = time.monotonic()
    try:
        if exists:
            cfn.update_stack(**arguments)
        else:
            cfn.create_stack(**arguments)
    except ClientError as error:
        if "No updates are to be performed" not in str(error):
            raise LabError(f"CloudFormation refused {stack_name}: {error}") from None
    else:
        waiter = "stack_update_complete" if exists else "stack_create_complete"
        with console.status(f"Waiting for CloudFormation to {'update' if exists else 'create'} {stack_name}"):
            try:
                cfn.get_waiter(waiter).wait(StackName=stack_name, WaiterConfig={"Delay": 2, "MaxAttempts": 450})
            except WaiterError:
                raise LabError(f"{stack_name} failed: {first_failure(cfn, stack_name)}") from None
        console.print(f"{stack_name}: {'updated' if exists else 'created'} in {time.monotonic() - started:.0f} s")
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def destroy(session, stack_name: str, artifacts_bucket: str) -> None:
    """Delete the stack (its order bucket emptied first: CloudFormation deletes no
    bucket with objects in it), then the artifacts bucket."""
    cfn, s3 = session.client("cloudformation"), session.client("s3")
    try:
        outputs = cfn.describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])
    except ClientError:
        outputs = None
    if outputs is not None:
        for output in outputs:
            if output["OutputKey"] == "BucketName":
                empty_bucket(s3, output["OutputValue"])
        cfn.delete_stack(StackName=stack_name)
        with console.status(f"Waiting for CloudFormation to delete {stack_name}"):
            try:
                cfn.get_waiter("stack_delete_complete").wait(
                    StackName=stack_name, WaiterConfig={"Delay": 2, "MaxAttempts": 450}
                )
            except WaiterError:
                raise LabError(f"deleting {stack_name} failed: {first_failure(cfn, stack_name)}") from None
    empty_bucket(s3, artifacts_bucket)
    ignore_missing(s3.delete_bucket, Bucket=artifacts_bucket)


# --- In the running lab -------------------------------------------------------------------------


class LabSession:
    """A boto3 session whose clients talk to the lab's LocalStack."""

    def client(self, service: str):
        return aws.client(service)


def deploy_to_lab(stack: Stack | None = None, names_only: bool = False) -> dict[str, str]:
    """The template as the stack orders-<suffix> (orders-iac): its own names, so it never
    touches the provisioned lab. LocalStack 4.14.0's CloudFormation cannot create an
    AWS::SES::EmailIdentity (its resource provider raises NotImplementedError), so the
    sender is verified through the SES API, as `make up` does, and the template told
    not to create it."""
    stack = stack or Stack(suffix="iac")
    aws.client("ses").verify_email_identity(EmailAddress=stack.sender_email)
    return deploy(
        LabSession(),
        f"orders-{stack.suffix}",
        {**parameters(stack, names_only), "CreateSenderIdentity": "false"},
        f"lab-iac-artifacts-{stack.suffix}",
    )


def destroy_in_lab(stack: Stack) -> None:
    destroy(LabSession(), f"orders-{stack.suffix}", f"lab-iac-artifacts-{stack.suffix}")


# --- In an AWS account --------------------------------------------------------------------------


def monthly_estimate(stack: Stack) -> tuple[list, float]:
    """The bill of a month of the default workload at lab/watch/prices.json's prices."""
    batches = ORDERS_PER_MONTH // stack.batch_size
    idle_polls = stack.maximum_concurrency * cost.MONTH_SECONDS // cost.LONG_POLL_SECONDS
    month = cost.Usage(
        since=0,
        sqs={"SendMessage": ORDERS_PER_MONTH, "ReceiveMessage": batches + idle_polls, "DeleteMessageBatch": batches},
        sqs_requests={},
        s3={"PutObject": 3 * ORDERS_PER_MONTH},
        invocations=batches,
        billed_ms=batches * BILLED_MS_PER_BATCH,
        records=ORDERS_PER_MONTH,
        memory_mb=stack.memory_size,
        emails=ORDERS_PER_MONTH,
        fifo=False,
    )
    price = cost.prices()
    lines = cost.bill(month, price)
    return lines, sum(usd for *_, usd in lines), cost.always_free_part(month, price)


def aws_session():
    """The student's own AWS credentials and region, never the lab's endpoint."""
    if settings.MODE == "tools":
        raise Refused(
            "make deploy-aws uses this machine's AWS credentials, which the tools container does not "
            "have: run it where Python 3.12 is, or deploy template.yaml with `sam deploy --guided`"
        )
    if os.environ.get("AWS_ENDPOINT_URL"):
        raise Refused(
            f"AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']} points the AWS SDK away from AWS: "
            "unset it for make deploy-aws"
        )
    session = boto3.Session()
    if session.get_credentials() is None:
        raise Refused(
            "no AWS credentials: configure some (aws configure, or AWS_PROFILE=<profile>), then make deploy-aws"
        )
    if not session.region_name:
        raise Refused("no AWS region: set AWS_REGION (or a region in your AWS profile)")
    return session


def account_of(session) -> str:
    try:
        return session.client("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError, NoCredentialsError) as error:
        raise Refused(f"AWS does not accept these credentials: {error}") from None


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise Refused("this changes your AWS account and asks first; without a terminal, confirm with YES=1")
    if console.input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise Refused("nothing done")


def aws_names(session, account: str) -> tuple[Stack, str]:
    region = session.region_name
    return Stack(bucket_base=f"lab-orders-{account}-{region}"), f"sqs-lambda-lab-artifacts-{account}-{region}"


def deploy_to_aws(sender: str, yes: bool) -> dict[str, str]:
    if not sender or "@" not in sender:
        raise Refused(
            "which sender address? make deploy-aws SENDER=you@example.com (an address you can "
            "verify: SES emails it a link)"
        )
    session = aws_session()
    account = account_of(session)
    stack, artifacts = aws_names(session, account)
    stack = stack.with_changes(sender_email=sender)
    console.print(
        f"[bold]make deploy-aws[/] deploys {TEMPLATE.name} as the CloudFormation stack {AWS_STACK_NAME} "
        f"to account {account}, region {session.region_name}:"
    )
    for name, resource in load_template()["Resources"].items():
        console.print(f"  {resource['Type']:<32} {name}")
    console.print(f"  and the artifacts bucket {artifacts} (the worker's zip)")
    lines, total, always_free = monthly_estimate(stack)
    console.print(
        f"A month of {ORDERS_PER_MONTH:,} orders (batches of {stack.batch_size}, the mapping's idle "
        "long polls included) at the prices of lab/watch/prices.json:"
    )
    for what, count, unit, usd in lines:
        if count:
            console.print(f"  {what:<48} {count:>12,.0f} {unit + 's':<12} ${usd:.2f}")
    console.print(
        f"  total about ${total:.2f} a month at list prices. AWS's always-free monthly amounts (SQS and "
        f"Lambda requests, Lambda GB-seconds: https://aws.amazon.com/free/) would cover ${always_free:.2f} "
        f"of it; SES's emails and S3's requests (${total - always_free:.2f}) are in no always-free offer. "
        "An idle stack costs its long polls. make destroy-aws removes everything."
    )
    confirm("Create these in your AWS account?", yes)
    outputs = deploy(session, AWS_STACK_NAME, parameters(stack), artifacts)
    for key, value in outputs.items():
        console.print(f"  {key:<20} {value}")
    console.print(
        f"SES: confirm the link AWS emailed to {sender}. In the SES sandbox, recipients must be verified "
        "too, and 1 email a second is the limit."
    )
    return outputs


def destroy_aws(yes: bool) -> None:
    session = aws_session()
    account = account_of(session)
    _, artifacts = aws_names(session, account)
    confirm(
        f"Delete the stack {AWS_STACK_NAME} (queues, function, role, mapping, the order bucket and its "
        f"objects) and {artifacts} from account {account}, region {session.region_name}?",
        yes,
    )
    destroy(session, AWS_STACK_NAME, artifacts)
    console.print(f"Removed {AWS_STACK_NAME} and {artifacts}. (The SES identity went with the stack.)")
