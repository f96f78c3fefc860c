"""The producer: sends orders to the lab's queue with SendMessageBatch.

    python -m producer --count 50 --rate 20 --poison-share 0.1 --fail-share 0.2

Which orders are poison or fail on purpose is decided by position, not by
chance, so two runs with the same arguments send the same kinds of orders.
Every send that fails is counted and reported with its reason; the exit code
is 0 only when every order was accepted by the queue.
"""

import argparse
import json
import math
import re
import sys
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
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lab import aws, settings

SQS_BATCH_LIMIT = 10
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
EXIT_SOME_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
console = Console(stderr=True, highlight=False, soft_wrap=True)


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


def make_order(run_id: str, index: int, args) -> tuple[str, str, str]:
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


def send(args, summary: Summary | None = None) -> Summary:
    """Send the orders; pass a Summary to watch it fill while this runs (make bench does)."""
    sqs = aws.client("sqs", args.endpoint_url)
    queue_url = sqs.get_queue_url(QueueName=args.queue)["QueueUrl"]
    summary = summary or Summary(queue_url="", requested=args.count)
    summary.queue_url = queue_url
    run_id = args.run_id or uuid.uuid4().hex[:8]
    # Below 10 messages per second, send one at a time so the rate is smooth.
    batch_size = SQS_BATCH_LIMIT if not args.rate or args.rate >= SQS_BATCH_LIMIT else 1
    progress = Progress(
        TextColumn("sending orders"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=args.quiet,
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
            ids = {entry["Id"]: order_id for entry, order_id in zip(entries, kinds)}
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
                response = {"Failed": [{"Id": entry["Id"], "Code": "Error", "Message": str(error)} for entry in entries]}
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


def id_ranges(order_ids: list[str]) -> str:
    """run-00003..run-00009, run-00012: consecutive ids of a run as ranges."""
    ranges: list[list[str]] = []
    for order_id in order_ids:
        run, _, number = order_id.rpartition("-")
        if ranges and ranges[-1][1].rpartition("-")[0] == run and int(ranges[-1][1].rpartition("-")[2]) + 1 == int(number):
            ranges[-1][1] = order_id
        else:
            ranges.append([order_id, order_id])
    return ", ".join(first if first == last else f"{first}..{last}" for first, last in ranges)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m producer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)

    def share(text: str) -> float:
        value = float(text)
        if not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
        return value

    def positive(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text} must be at least 1")
        return value

    def non_negative(kind):
        def parse(text: str):
            value = kind(text)
            if not math.isfinite(value) or value < 0:
                raise argparse.ArgumentTypeError(f"{text} must be a number, not negative")
            return value
        return parse

    parser.add_argument("--count", "-n", type=non_negative(int), default=10, help="orders to send (default 10)")
    parser.add_argument("--rate", type=non_negative(float), default=0,
                        help="orders per second; 0 sends as fast as the queue takes them (default)")
    parser.add_argument("--poison-share", type=share, default=0.0,
                        help="share of orders that can never be processed (0..1)")
    parser.add_argument("--fail-share", type=share, default=0.0,
                        help="share of orders that fail their first deliveries (0..1)")
    def attempts(text: str) -> tuple[int, int]:
        low, _, high = text.partition("-")
        try:
            bounds = (int(low), int(high or low))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text} is not a number or a range such as 1-2") from None
        if not 0 <= bounds[0] <= bounds[1]:
            raise argparse.ArgumentTypeError(f"{text}: give a number, or a range low-high with 0 <= low <= high")
        return bounds

    parser.add_argument("--fail-attempts", type=attempts, default=(2, 2),
                        help="how many deliveries those orders fail: a number, or a range such as 1-2 "
                             "that the orders cycle through (default 2)")
    parser.add_argument("--sleep-ms", type=non_negative(int), default=0, help="make every order this slow to process")
    parser.add_argument("--slow-share", type=share, default=0.0, help="share of orders that are slow (see --slow-ms)")
    parser.add_argument("--slow-ms", type=non_negative(int), default=500,
                        help="how slow the --slow-share orders are to process (default 500)")
    parser.add_argument("--queue", default=settings.Stack().queue_name, help="queue name (default: the lab's)")
    parser.add_argument("--groups", type=positive, default=3,
                        help="FIFO queues only: how many message groups (customers) to spread orders over")
    parser.add_argument("--endpoint-url", default=settings.ENDPOINT_URL)
    def run_id(text: str) -> str:
        # Order ids go into S3 keys; the worker accepts [A-Za-z0-9._:-] only.
        if not RUN_ID_PATTERN.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{text!r}: use 1 to 64 letters, digits, '.', '_', ':' or '-'")
        return text

    parser.add_argument("--run-id", type=run_id, help="prefix of the order ids (default: random)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        summary = send(args)
    except EndpointConnectionError:
        console.print(f"[red]producer:[/] cannot reach LocalStack at {args.endpoint_url}: start the lab with `make up`")
        return EXIT_UNREACHABLE
    except ClientError as error:
        if "NonExistentQueue" in error.response["Error"]["Code"]:
            console.print(f"[red]producer:[/] queue {args.queue!r} does not exist at {args.endpoint_url}: run `make up`")
            return EXIT_UNREACHABLE
        raise
    if args.json:
        print(json.dumps(summary.as_dict()))
    valid = summary.sent - summary.poison - summary.fail_attempts
    low, high = args.fail_attempts
    console.print(
        f"sent {summary.sent} of {summary.requested} orders ({valid} valid, {summary.poison} poison, "
        f"{summary.fail_attempts} failing their first {low if low == high else f'{low}-{high}'} deliveries) "
        f"to {summary.queue_url} in {summary.seconds:.2f} s ({summary.per_second:.0f} msg/s); "
        f"{summary.failed} failed to send"
    )
    for reason, count in summary.failure_reasons.items():
        console.print(f"  [red]{count} not sent:[/] {reason}")
    if summary.unsent_order_ids:
        console.print(f"  [red]not in the queue:[/] {id_ranges(summary.unsent_order_ids)}")
    if summary.unconfirmed_order_ids:
        console.print(f"  [yellow]unconfirmed (may be in the queue):[/] {id_ranges(summary.unconfirmed_order_ids)}")
    return EXIT_SOME_FAILED if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
