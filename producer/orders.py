"""The producer as a library: ``send(Options(count=50, poison_share=0.1))``.

Which orders are poison or fail on purpose is decided by position, not by
chance, so two runs with the same options send the same kinds of orders.
Every send that fails is counted in the Summary with its reason.
"""

import json
import math
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lab.core import aws, settings
from lab.core.console import error_console as console  # stdout carries --json's result


@dataclass(frozen=True)
class Options:
    """What to send; the command line's options (`python -m producer --help`) with the same names."""

    count: int = 10
    rate: float = 0  # orders per second; 0: as fast as the queue takes them
    poison_share: float = 0.0  # orders that can never be processed
    fail_share: float = 0.0  # orders that fail their first deliveries...
    fail_attempts: tuple[int, int] = (2, 2)  # ...this many (a range the orders cycle through)
    sleep_ms: int = 0  # every order this slow to process
    slow_share: float = 0.0  # or this share of them...
    slow_ms: int = 500  # ...this slow
    queue: str = field(default_factory=lambda: aws.lab_stack().queue_name)  # orders, or orders.fifo
    groups: int = 3  # FIFO queues: message groups (customers) to spread orders over
    endpoint_url: str = field(default_factory=lambda: settings.ENDPOINT_URL)
    run_id: str | None = None  # prefix of the order ids (default: random)
    quiet: bool = False  # no progress bar

    def __post_init__(self):
        for name in ("poison_share", "fail_share", "slow_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)} is not a share between 0 and 1")
        for name in ("count", "rate", "sleep_ms", "slow_ms"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be a number, not negative")
        low, high = self.fail_attempts
        if not 0 <= low <= high:
            raise ValueError(f"fail_attempts={self.fail_attempts}: give a range low-high with 0 <= low <= high")
        if self.groups < 1:
            raise ValueError(f"groups={self.groups} must be at least 1")


@dataclass
class Summary:
    queue_url: str
    requested: int
    sent: int = 0
    failed: int = 0
    failure_reasons: Counter = field(default_factory=Counter)
    poison: int = 0
    fail_attempts: int = 0
    seconds: float = 0.0
    order_ids: list[str] = field(default_factory=list)  # accepted by the queue
    poison_order_ids: list[str] = field(default_factory=list)  # accepted, and poison
    # Refused, or never sent (the queue stopped answering): certainly not in the queue.
    unsent_order_ids: list[str] = field(default_factory=list)
    # The connection broke after the batch went out: in the queue or not, nobody knows.
    unconfirmed_order_ids: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {
            "queue_url": self.queue_url,
            "requested": self.requested,
            "sent": self.sent,
            "failed": self.failed,
            "failure_reasons": dict(self.failure_reasons),
            "poison": self.poison,
            "fail_attempts": self.fail_attempts,
            "seconds": round(self.seconds, 3),
            "messages_per_second": round(self.per_second, 1),
            "order_ids": self.order_ids,
            "poison_order_ids": self.poison_order_ids,
            "unsent_order_ids": self.unsent_order_ids,
            "unconfirmed_order_ids": self.unconfirmed_order_ids,
        }


def share_picks(index: int, share: float, phase: float = 0.0) -> bool:
    """True for about `share` of the indexes, spread evenly and deterministically.
    Kinds picked with different phases fall on different orders (5% poison and
    10% failing are 15% of the orders, not 10%)."""
    return math.floor((index + 1) * share + phase) > math.floor(index * share + phase)


def make_order(run_id: str, index: int, args: "Options") -> tuple[str, str, str]:
    """(kind, order id, body) of the index-th order of this run."""
    order_id = f"{run_id}-{index:05d}"
    if share_picks(index, args.poison_share):
        # Valid JSON with no email: the worker can never process it.
        return "poison", order_id, json.dumps({"orderId": order_id, "note": "poison: no email"})
    order = {
        "orderId": order_id,
        "email": f"customer{index}@example.com",
        "items": [{"sku": "BOOK-42", "quantity": 1 + index % 3}],
        "total": round(12.5 * (1 + index % 3), 2),
    }
    kind = "valid"
    if share_picks(index, args.fail_share, phase=0.5):
        low, high = args.fail_attempts
        order["fail_attempts"] = low + index % (high - low + 1)  # cycles through low..high
        kind = "fail_attempts"
    if args.sleep_ms:
        order["sleep_ms"] = args.sleep_ms
    elif args.slow_share and share_picks(index, args.slow_share, phase=0.25):
        order["sleep_ms"] = args.slow_ms
    return kind, order_id, json.dumps(order)


def send(args: "Options", summary: Summary | None = None) -> Summary:
    """Send the orders; pass a Summary to watch it fill while this runs (make bench does).
    Raises botocore's EndpointConnectionError when LocalStack does not answer, and
    ClientError (QueueDoesNotExist) when the queue is missing."""
    sqs = aws.client("sqs", args.endpoint_url)
    queue_url = sqs.get_queue_url(QueueName=args.queue)["QueueUrl"]
    summary = summary or Summary(queue_url="", requested=args.count)
    summary.queue_url = queue_url
    run_id = args.run_id or uuid.uuid4().hex[:8]
    # Below 10 messages per second, send one at a time so the rate is smooth.
    batch_size = aws.SQS_BATCH_LIMIT if not args.rate or args.rate >= aws.SQS_BATCH_LIMIT else 1
    progress = Progress(
        TextColumn("sending orders"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=args.quiet,
    )
    started = time.monotonic()
    with progress:
        task = progress.add_task("send", total=args.count)
        for first in range(0, args.count, batch_size):
            if args.rate:
                # Pace by schedule, not by sleeping a fixed time per batch, so
                # slow sends do not lower the overall rate.
                due = started + first / args.rate
                time.sleep(max(0.0, due - time.monotonic()))
            entries, kinds = [], {}
            for index in range(first, min(first + batch_size, args.count)):
                kind, order_id, body = make_order(run_id, index, args)
                kinds[order_id] = kind
                entry = {"Id": str(index), "MessageBody": body}
                if args.queue.endswith(".fifo"):
                    # Orders of one customer stay in order; the order id deduplicates.
                    entry["MessageGroupId"] = f"customer-{index % args.groups}"
                    entry["MessageDeduplicationId"] = order_id
                entries.append(entry)
            ids = {entry["Id"]: order_id for entry, order_id in zip(entries, kinds, strict=False)}
            try:
                response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            except EndpointConnectionError as error:
                # LocalStack is gone: nothing more will be sent. Say so for every remaining order.
                reason = f"LocalStack stopped answering ({error})"
                remaining = [make_order(run_id, index, args)[1] for index in range(first, args.count)]
                summary.unsent_order_ids += remaining
                summary.failed += len(remaining)
                summary.failure_reasons[reason] += len(remaining)
                progress.advance(task, len(remaining))
                break
            except (ReadTimeoutError, ConnectionClosedError) as error:
                summary.unconfirmed_order_ids += list(kinds)
                summary.failed += len(entries)
                summary.failure_reasons[f"no answer after sending ({error})"] += len(entries)
                progress.advance(task, len(entries))
                continue
            except (ClientError, BotoCoreError) as error:
                response = {
                    "Failed": [{"Id": entry["Id"], "Code": "Error", "Message": str(error)} for entry in entries]
                }
            for accepted in response.get("Successful", []):
                order_id = ids[accepted["Id"]]
                summary.sent += 1
                summary.order_ids.append(order_id)
                summary.poison += kinds[order_id] == "poison"
                summary.fail_attempts += kinds[order_id] == "fail_attempts"
                if kinds[order_id] == "poison":
                    summary.poison_order_ids.append(order_id)
            for failure in response.get("Failed", []):
                summary.failed += 1
                summary.unsent_order_ids.append(ids[failure["Id"]])
                summary.failure_reasons[f"{failure['Code']}: {failure.get('Message', '')}"] += 1
            progress.advance(task, len(entries))
    summary.seconds = time.monotonic() - started
    return summary
