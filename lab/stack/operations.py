"""What an operator does to a running lab: look into the DLQ, redrive it, pause
and resume the mapping, break and fix the worker's rule, purge the queues.

Each works on the stack `make up` created (or any Stack given), and needs
LocalStack to answer (``aws.require_up``).
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from lab.core import aws, settings
from lab.core.console import console
from lab.core.errors import LabError
from lab.core.settings import Stack
from lab.stack.mapping import find_mapping, set_mapping_enabled
from lab.stack.queues import queue_arn

REDRIVE_TIMEOUT_SECONDS = 120
POLL_SECONDS = 0.5
PREVIEW_CHARACTERS = 60
# The worker's business rule that `make break` misconfigures (see functions/order_worker).
RULE_VARIABLE = "MAX_QUANTITY_PER_ORDER"
BROKEN_RULE_VALUE = "1"
TERMINAL_MOVE_STATES = {"COMPLETED", "FAILED", "CANCELLED"}


def queue_url(name: str) -> str:
    sqs = aws.client("sqs")
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        raise LabError(f"queue {name!r} does not exist at {settings.ENDPOINT_URL}: run `make up`") from None


def visible_messages(url: str) -> int:
    return aws.queue_depth(url)["visible"]


def show_dlq(stack: Stack) -> list[dict]:
    """Print what is in the DLQ without receiving it (visibility and counts stay as they are)."""
    aws.require_up()
    messages = aws.peek_messages(queue_url(stack.dlq_name))
    if not messages:
        console.print(f"The dead-letter queue {stack.dlq_name} is empty.")
        return messages
    table = Table(
        title=f"{len(messages)} message(s) in {stack.dlq_name} (peeked through LocalStack's own "
        "endpoint, which AWS does not have: nothing was received)"
    )
    for column in ("message id", "receives", "age", "body"):
        table.add_column(column)
    now_ms = time.time() * 1000
    for message in messages:
        age_seconds = (now_ms - int(message["Attributes"]["SentTimestamp"])) / 1000
        body = message["Body"]
        table.add_row(
            message["MessageId"],
            message["Attributes"].get("ApproximateReceiveCount", "?"),
            f"{age_seconds:.0f} s",
            body if len(body) <= PREVIEW_CHARACTERS else body[: PREVIEW_CHARACTERS - 1] + "…",
        )
    console.print(table)
    return messages


@dataclass
class RedriveResult:
    status: str
    moved: int
    to_move: int


def redrive(stack: Stack) -> RedriveResult | None:
    """Move everything in the DLQ back to its source queue; None when the DLQ is empty."""
    aws.require_up()
    sqs = aws.client("sqs")
    dlq_url = queue_url(stack.dlq_name)
    waiting = visible_messages(dlq_url)
    if waiting == 0:
        console.print(f"Nothing to redrive: the dead-letter queue {stack.dlq_name} is empty.")
        return None
    dlq_arn = queue_arn(sqs, dlq_url)
    # Without DestinationArn the messages go back to the queue they came from.
    task = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    console.print(f"Redriving {waiting} message(s) from {stack.dlq_name} to {stack.queue_name} (task {task[:12]}…)")
    progress = Progress(
        TextColumn("moving"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"), console=console
    )
    deadline = time.monotonic() + REDRIVE_TIMEOUT_SECONDS
    with progress:
        bar = progress.add_task("RUNNING", total=waiting)
        while True:
            latest = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)["Results"][0]
            moved = latest.get("ApproximateNumberOfMessagesMoved", 0)
            to_move = latest.get("ApproximateNumberOfMessagesToMove", waiting)
            progress.update(bar, completed=moved, total=to_move, description=latest["Status"])
            if latest["Status"] in TERMINAL_MOVE_STATES:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the move task is still {latest['Status']} after {REDRIVE_TIMEOUT_SECONDS} s")
            time.sleep(POLL_SECONDS)
    result = RedriveResult(latest["Status"], moved, to_move)
    if result.status == "COMPLETED":
        console.print(f"COMPLETED: {moved} message(s) are back in {stack.queue_name}; the worker picks them up now.")
    else:
        console.print(f"[red]{result.status}[/]: {latest.get('FailureReason', 'no reason given')}")
    return result


def set_mapping(stack: Stack, enabled: bool) -> str:
    """Pause (disable) or resume (enable) the event source mapping; returns its UUID."""
    aws.require_up()
    lambda_ = aws.client("lambda")
    mapping = find_mapping(lambda_, stack.function_name, queue_arn(aws.client("sqs"), queue_url(stack.queue_name)))
    if mapping is None:
        raise LabError(f"no event source mapping for {stack.function_name}: run `make up`")
    state = "Enabled" if enabled else "Disabled"
    with console.status(f"Waiting for the mapping {mapping['UUID']} to be {state}"):
        set_mapping_enabled(lambda_, mapping["UUID"], enabled)
    if enabled:
        console.print(f"The mapping is Enabled: Lambda polls {stack.queue_name} again.")
    else:
        console.print(f"The mapping is Disabled: messages stay in {stack.queue_name} until `make resume`.")
    return mapping["UUID"]


def set_worker_rule(stack: Stack, value: str | None) -> None:
    """Set the worker's MAX_QUANTITY_PER_ORDER (None: back to the code's default)."""
    aws.require_up()
    lambda_ = aws.client("lambda")
    variables = (
        lambda_.get_function_configuration(FunctionName=stack.function_name).get("Environment", {}).get("Variables", {})
    )
    if value is None:
        variables.pop(RULE_VARIABLE, None)
    else:
        variables[RULE_VARIABLE] = value
    with console.status(f"Updating {stack.function_name}'s configuration"):
        lambda_.update_function_configuration(FunctionName=stack.function_name, Environment={"Variables": variables})
        lambda_.get_waiter("function_updated_v2").wait(FunctionName=stack.function_name)
    if value is None:
        console.print(
            f"Fixed: {stack.function_name} accepts orders of any usual size again. "
            "Now `make redrive` sends the rejected orders back."
        )
    else:
        console.print(
            f"Broken: {stack.function_name} now rejects orders of more than {value} item(s) "
            f"({RULE_VARIABLE}={value}). Send orders with `make producer` and watch `make dlq`."
        )


def purge(stack: Stack) -> None:
    aws.require_up()
    sqs = aws.client("sqs")
    for name in (stack.queue_name, stack.dlq_name):
        sqs.purge_queue(QueueUrl=queue_url(name))
        console.print(f"Purged {name}.")


# `make as ROLE=<role>`: the lab's roles, by what they are for.
ROLES = {
    "producer": "producer_role_name",
    "worker": "role_name",
    "operator": "operator_role_name",
    "api": "api_role_name",
}


def run_as(stack: Stack, role: str, awscli_args: list[str]) -> int:
    """Run an AWS CLI command (awslocal) with credentials for one of the lab's
    roles, from STS AssumeRole: what its policy does not allow is denied, as on
    AWS. Returns the command's exit code."""
    if role not in ROLES:
        raise LabError(f"which role? make as ROLE=<role> with one of: {', '.join(ROLES)}")
    if not awscli_args:
        raise LabError('which command? make as ROLE=producer CMD="sqs send-message --queue-url ... --message-body ..."')
    aws.require_up()
    role_name = getattr(stack, ROLES[role])
    credentials = aws.role_credentials(role_name, session_name="student")
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }
    awslocal = Path(sys.executable).with_name("awslocal")
    console.print(f"As role {role_name} (credentials from sts assume-role):", style="dim")
    return subprocess.run(
        [str(awslocal) if awslocal.exists() else "awslocal", *awscli_args], env=environment
    ).returncode
