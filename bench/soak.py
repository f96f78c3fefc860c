"""`make soak`: many orders with poison, retries and slow ones, sent while the
worker runs; then every order is accounted for, to the message.

At the end every valid order has exactly one stored order, one email receipt
and one email in the SES outbox; every poison order is in the DLQ exactly once;
nothing else is anywhere; the queue is empty. Memory of LocalStack and of the
function's processes is sampled throughout (from /proc, so it works for both
modes on Linux), and the number of execution environments is checked against
the mapping's MaximumConcurrency. (Every LocalStack on the machine counts: run
it with one.)
"""

import json
import time
from collections import Counter
from dataclasses import dataclass

from rich.table import Table

from lab.core import aws, settings
from lab.core.console import console
from lab.core.processes import MemorySampler
from lab.core.waiting import wait_for
from lab.stack.provision import Deployed
from lab.stack.teardown import temporary_stack
from lab.watch.facts import log_events, object_ids
from lab.watch.observe import trace
from producer import Options, send

POISON_SHARE = 0.05
FAIL_SHARE = 0.10
SLOW_SHARE = 0.01
SLOW_MS = 500
# The worker stops starting records when its time runs short, so a batch does
# not time out as a whole; the visibility timeout covers the function timeout
# and a cold start on a busy machine (with visibility equal to the timeout, a
# batch that started cold was delivered again while it ran).
SOAK_FUNCTION_TIMEOUT = 5
# Orders that fail on purpose fail this many times at most. maxReceiveCount is
# AWS's recommended 5, not the lab's 3: a record can also be received without
# being tried (the worker returns it untried when its time runs short), and with
# a count of 3 one such receive took an order failing twice to the DLQ.
SOAK_FAIL_ATTEMPTS = (1, 2)
SOAK_STACK = dict(
    function_timeout=SOAK_FUNCTION_TIMEOUT,
    visibility_timeout=SOAK_FUNCTION_TIMEOUT + settings.COLD_START_ALLOWANCE_SECONDS,
    max_receive_count=5,
)


@dataclass
class SoakResult:
    sent: int
    valid: int
    poison: int
    retried: int
    seconds: float
    stored: int
    receipts: int
    emails: int
    in_dlq: int
    problems: list[str]
    peak_localstack_mb: float
    peak_functions_mb: float
    most_environments: int
    maximum_concurrency: int
    peak_concurrency: int | None  # batches in flight at once, as the lab's executor saw them
    localstack_mb_first_quarter: float
    localstack_mb_last_quarter: float


def run(deployed: Deployed, count: int, run_id: str) -> SoakResult:
    stack = deployed.stack
    memory = MemorySampler(function_name=stack.function_name).start()
    started = time.monotonic()
    summary = send(
        Options(
            count=count,
            queue=stack.queue_name,
            run_id=run_id,
            quiet=True,
            poison_share=POISON_SHARE,
            fail_share=FAIL_SHARE,
            fail_attempts=SOAK_FAIL_ATTEMPTS,
            slow_share=SLOW_SHARE,
            slow_ms=SLOW_MS,
        )
    )
    poison = set(summary.poison_order_ids)
    valid = set(summary.order_ids) - poison
    console.print(
        f"soak: sent {summary.sent} orders in {summary.seconds:.1f} s "
        f"({len(poison)} poison, {summary.fail_attempts} failing {'-'.join(map(str, SOAK_FAIL_ATTEMPTS))} times)"
    )
    # Enough for the worker's rate on a slow machine, plus the poison's retries.
    deadline = 300 + count / 10

    def dlq_ids() -> Counter:
        return Counter(_dlq_order_ids(deployed.dlq_url))

    with console.status(
        f"waiting for the queue to empty and {len(poison)} poison orders in the DLQ (up to {deadline:.0f} s)"
    ):
        wait_for(
            lambda: aws.queue_is_empty(deployed.queue_url) and sum(dlq_ids().values()) >= len(poison),
            deadline,
            "every order processed or in the DLQ",
        )
    seconds = time.monotonic() - started
    memory.stop()
    concurrency = aws.concurrent_executions(stack.function_name, seconds)

    stored, receipts = (object_ids(stack.bucket_name, prefix) for prefix in ("orders/", "emails/"))
    in_dlq = dlq_ids()
    emails = Counter(
        order_id for order_id in map(aws.emailed_order_id, aws.sent_emails()) if order_id.startswith(f"{run_id}-")
    )
    problems = []
    for what, found, expected in (
        ("stored orders", stored, valid),
        ("email receipts", receipts, valid),
        ("emails sent", emails, valid),
        ("DLQ messages", in_dlq, poison),
    ):
        if set(found) != expected:
            problems.append(f"{what}: {len(expected - set(found))} missing, {len(set(found) - expected)} unexpected")
        if duplicated := [key for key, n in found.items() if n > 1]:
            problems.append(f"{what}: {len(duplicated)} more than once, e.g. {duplicated[0]}")
    if summary.failed:
        problems.append(f"the producer failed to send {summary.failed}")
    if problems:  # what whoever reads the failure needs first
        timeouts = sum("Task timed out" in event["message"] for event in log_events(stack.function_name, 0))
        problems.append(f"(for diagnosis: {timeouts} invocations timed out)")
        odd = [key for key, n in emails.items() if n > 1] + [key for key in in_dlq if key in valid]
        for order_id in odd[:3]:
            steps = "; ".join(f"{step}: {what}" for _, step, what in trace(stack, order_id))
            problems.append(f"(the life of {order_id}: {steps})")
    first, last = memory.emulator_growth()
    return SoakResult(
        sent=summary.sent,
        valid=len(valid),
        poison=len(poison),
        retried=summary.fail_attempts,
        seconds=seconds,
        stored=sum(stored.values()),
        receipts=sum(receipts.values()),
        emails=sum(emails.values()),
        in_dlq=sum(in_dlq.values()),
        problems=problems,
        peak_localstack_mb=memory.peak(1),
        peak_functions_mb=memory.peak(2),
        most_environments=int(memory.peak(3)),
        maximum_concurrency=stack.maximum_concurrency,
        peak_concurrency=concurrency["peak"] if concurrency else None,
        localstack_mb_first_quarter=first,
        localstack_mb_last_quarter=last,
    )


def _dlq_order_ids(dlq_url: str) -> list[str]:
    ids = []
    for message in aws.peek_messages(dlq_url):
        try:
            ids.append(json.loads(message["Body"])["orderId"])
        except (ValueError, KeyError, TypeError):
            ids.append(f"(not an order: {message['MessageId']})")
    return ids


def report(result: SoakResult) -> None:
    table = Table(title="make soak", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in (
        ("orders sent", result.sent),
        ("valid / poison / failing first", f"{result.valid} / {result.poison} / {result.retried}"),
        ("stored / receipts / emails", f"{result.stored} / {result.receipts} / {result.emails}"),
        ("in the DLQ", result.in_dlq),
        ("lost or duplicated", len(result.problems)),
        ("seconds", f"{result.seconds:.0f}"),
        ("orders per second", f"{result.sent / result.seconds:.1f}"),
        ("LocalStack peak RSS", f"{result.peak_localstack_mb:.0f} MB"),
        (
            "LocalStack mean RSS, first / last quarter",
            f"{result.localstack_mb_first_quarter:.0f} / {result.localstack_mb_last_quarter:.0f} MB",
        ),
        ("function processes peak RSS", f"{result.peak_functions_mb:.0f} MB"),
        (
            "execution environments (most at once)",
            f"{result.most_environments} (MaximumConcurrency {result.maximum_concurrency})",
        ),
        ("batches in flight (most at once)", f"{result.peak_concurrency}"),
    ):
        table.add_row(name, str(value))
    console.print(table)
    for problem in result.problems:
        console.print(f"[red]{problem}[/]")


def main(count: int) -> int:
    aws.require_up()
    with temporary_stack("soak", **SOAK_STACK) as deployed:
        stack = deployed.stack
        console.print(f"soak: {count} orders through a stack of its own ({stack.queue_name} -> {stack.function_name})")
        result = run(deployed, count, run_id=f"soak-{stack.suffix}")
    report(result)
    return 1 if result.problems else 0


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    sys.exit(main(parser.parse_args().count))
