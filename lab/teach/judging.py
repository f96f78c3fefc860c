"""What an exercise's check (exercises/catalogue/<n>-<slug>/check.py) is judged
with: one run of the exercise's stack, the orders it sends, the criteria it
returns, and waits that tell a criterion not met from a slow machine. The
engine (lab/teach/exercises.py) deploys the workspace and calls `check(run)`."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab.core import aws, settings
from lab.core.aws_facts import fact
from lab.core.console import console
from lab.core.settings import Stack
from lab.core.waiting import wait_for
from lab.stack.mapping import set_mapping_enabled
from lab.stack.provision import Deployed
from lab.teach.scenarios.deploys import denial
from lab.watch import facts

SIX_TIMES = fact("six_times_rule")  # AWS's advised visibility timeout, with its source
# A check waits this long beyond what the stack's own timeouts explain (a cold
# start on a busy laptop, LocalStack's requeue period) before it calls a criterion failed.
SLACK_SECONDS = 30
# Stack settings an exercise's check.py may start from (its STACK).
QUICK = {"function_timeout": 3, "visibility_timeout": 4, "max_receive_count": 2}
# Duplicates made by the check itself, not by a loaded machine: AWS's advice, a
# visibility timeout six times the function timeout and maxReceiveCount 5, so a
# slow cold start brings no batch back and no good order to the DLQ.
AS_AWS_ADVISES = {
    "function_timeout": 3,
    "visibility_timeout": SIX_TIMES["factor"] * 3,
    "max_receive_count": fact("max_receive_count_advised")["advised"],
}


@dataclass
class Criterion:
    name: str
    passed: bool
    hint: str = ""


@dataclass
class Run:
    """One check of one exercise: its deployed stack and the ids of its orders."""

    deployed: Deployed
    workspace: Path | None = None  # the student's files
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])

    @property
    def stack(self) -> Stack:
        return self.deployed.stack

    def order_id(self, label: str) -> str:
        return f"{self.stack.suffix}-{label}-{self.run_id}"

    def send(self, bodies: list[str]) -> None:
        """Send while the mapping is off (check deploys it so), then switch it on: the
        orders arrive as one batch where they fit in one."""
        aws.send_batch(self.deployed.queue_url, bodies)
        set_mapping_enabled(aws.client("lambda"), self.deployed.mapping_uuid, True)

    def stored(self, order_id: str) -> bool:
        return order_id in facts.object_ids(self.deployed.bucket, "orders/")

    def in_dlq(self, order_id: str) -> bool:
        return any(order_id in message["Body"] for message in aws.peek_messages(self.deployed.dlq_url))

    def queue_settled(self) -> bool:
        """Nothing visible and nothing in flight: every delivery is over."""
        return aws.queue_is_empty(self.deployed.queue_url)

    def receive_counts(self, order_id: str) -> list[int]:
        return facts.receive_counts(self.stack.function_name, order_id)

    def redelivered(self, order_id: str) -> bool:
        """Whether the queue holds the order after a receive already: a delivery failed or outlasted its time."""
        return any(
            order_id in message["Body"] and int(message["Attributes"]["ApproximateReceiveCount"]) > 1
            for message in aws.peek_messages(self.deployed.queue_url)
        )


def order_body(order_id: str, items: int = 1, **extra) -> str:
    lines = [{"sku": f"SKU-{n}", "quantity": 1} for n in range(items)]
    return json.dumps(
        {"orderId": order_id, "email": f"{order_id}@example.com", "items": lines, "total": 10.0 * items, **extra}
    )


def settle(condition: Callable[[], object], seconds: float, what: str):
    """Wait up to `seconds` for condition() to be truthy, saying what for; its last value."""
    with console.status(f"Waiting for {what} (up to {seconds:.0f} s)"):
        try:
            return wait_for(condition, seconds, what)
        except TimeoutError:  # a criterion not met: judged, not an error
            return condition()


def denied(call, **arguments) -> bool:
    """Whether IAM refused the call (any other answer, success or not, means it was allowed)."""
    return denial(call, **arguments).startswith("AccessDenied")


def sqs_event(run: Run, bodies: dict[str, str]) -> dict:
    """An SQS event as the mapping builds it: message id -> body."""
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": "not-used-by-the-function",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(facts.now_ms()),
                    "SenderId": settings.ACCOUNT_ID,
                    "ApproximateFirstReceiveTimestamp": str(facts.now_ms()),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": run.deployed.queue_arn,
                "awsRegion": settings.REGION,
            }
            for message_id, body in bodies.items()
        ]
    }


def queue_arn(name: str) -> str:
    """The ARN of one of the lab's queues (what a solution's policy names)."""
    return f"arn:aws:sqs:{settings.REGION}:{settings.ACCOUNT_ID}:{name}"
