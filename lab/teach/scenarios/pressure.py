"""Load and back-pressure: the same POST through an API wired straight to its
consumer and then through a queue, and one load at three MaximumConcurrency
settings."""

import statistics
import time

from lab.core import aws
from lab.core.aws_facts import fact
from lab.core.console import console
from lab.core.waiting import wait_for
from lab.stack.mapping import set_mapping_enabled
from lab.stack.provision import provision
from lab.stack.teardown import temporary_stack
from lab.teach.scenarios.kit import WAIT_SECONDS, new_order, say
from lab.watch.facts import (
    now_ms,
    stored_orders,
)
from lab.watch.observe import recent_invocations

NO_QUEUE_ORDERS = 10  # per phase


NO_QUEUE_WORK_MS = 300  # the slow worker's time per order


BROKEN = {"MAX_QUANTITY_PER_ORDER": "1"}  # what `make break` does: orders of 2 items are rejected


def call_through(url: str, body: str) -> tuple[int, float]:
    """One order POSTed as a producer's client does: (the answer's status, how long it waited)."""
    started = time.monotonic()
    status, _ = aws.post_json(url, body)
    return status, time.monotonic() - started


def no_queue() -> dict:
    """The sheet's first argument, measured with the same request to the same API:
    POST /no-queue/orders hands the order straight to the worker and waits for
    it, so the caller fails with a broken worker and slows with a slow one;
    POST /orders puts it in the queue, and the caller does neither."""

    def orders(label: str, **fields) -> list[tuple[str, str]]:
        return [new_order(label, items=[{"sku": "BOOK-42", "quantity": 2}], **fields) for _ in range(NO_QUEUE_ORDERS)]

    with temporary_stack("scn-noqueue", api=True, enabled=False, function_environment=BROKEN) as deployed:
        direct, queued = f"{deployed.api_url}/no-queue/orders", f"{deployed.api_url}/orders"
        say(
            "mistake",
            f"the API hands each order straight to {deployed.stack.function_name} and waits "
            "(POST /no-queue/orders, a synchronous integration): no queue",
        )
        rejected = orders("direct")
        calls = [call_through(direct, body) for _, body in rejected]
        failed = sum(1 for status, _ in calls if status != 200)
        say(
            "effect",
            f"worker broken (it rejects orders of 2 items): {failed} of {len(calls)} requests failed "
            f"(answered {', '.join(str(status) for status in sorted({status for status, _ in calls}))}); "
            "the caller has the error, "
            "and nobody keeps those orders",
        )
        deployed = provision(deployed.stack.with_changes(function_environment={}))
        slow = orders("slow", sleep_ms=NO_QUEUE_WORK_MS)
        waits = [seconds for _, seconds in (call_through(direct, body) for _, body in slow)]
        say(
            "effect",
            f"worker slow ({NO_QUEUE_WORK_MS} ms an order): the caller waited "
            f"{statistics.median(waits):.2f} s per order (median), {sum(waits):.1f} s for {len(waits)}: "
            "as slow as the worker",
        )

        deployed = provision(deployed.stack.with_changes(function_environment=BROKEN, enabled=False))
        say(
            "fix",
            "the same orders to POST /orders (the API puts each in the queue), while the worker is broken and stopped",
        )
        answers = [call_through(queued, body) for _, body in rejected + slow]
        accepted = sum(1 for status, _ in answers if status == 202)
        sends = [seconds for _, seconds in answers]
        waiting = wait_for(
            lambda: aws.queue_depth(deployed.queue_url)["visible"] == accepted and accepted,
            WAIT_SECONDS,
            "every accepted order waiting in the queue",
        )
        stored_while_down = stored_orders(deployed.bucket) - len(slow)  # the slow ones were stored by the direct calls
        say(
            "after",
            f"{accepted} of {len(answers)} answered 202 Accepted in {sum(sends):.2f} s "
            f"({statistics.median(sends) * 1000:.0f} ms each, median); {waiting} wait in the queue, "
            f"{stored_while_down} processed",
        )
        started = time.monotonic()
        deployed = provision(deployed.stack.with_changes(function_environment={}, enabled=True))
        wait_for(
            lambda: stored_orders(deployed.bucket) == len(rejected) + len(slow),
            WAIT_SECONDS,
            "every order stored once the worker is fixed and started",
        )
        say(
            "after",
            f"worker fixed and started: all {len(answers)} orders stored {time.monotonic() - started:.1f} s "
            f"later, the {len(rejected)} the direct calls lost among them",
        )
        return {
            "direct_failed": failed,
            "direct_calls": len(calls),
            "direct_slow_waits": waits,
            "queued": accepted,
            "waiting": waiting,
            "stored_while_down": stored_while_down,
            "stored_after_fix": stored_orders(deployed.bucket),
        }


SCALING_ORDERS = 100


SCALING_WORK_MS = 200  # each order; a batch of ten takes two seconds

# Every order must be stored at every setting, so each stack is set as AWS advises
# for a function behind a queue: a visibility timeout six times the function
# timeout. Ten environments starting at once on two busy cores took longer than
# the lab's 10 s visibility timeout, and their batches came back while they still ran.
SCALING_FUNCTION_TIMEOUT = 10
SCALING_STACK = dict(
    function_timeout=SCALING_FUNCTION_TIMEOUT,
    visibility_timeout=fact("six_times_rule")["factor"] * SCALING_FUNCTION_TIMEOUT,
    max_receive_count=fact("max_receive_count_advised")["advised"],
)


SCALING_CAPS = (2, 5, 10)


def scaling() -> dict:
    """One load, waiting in the queue, drained at three MaximumConcurrency
    settings: how many batches ran at once, how many invocations, how long.
    Each setting gets a stack of its own, created with the mapping disabled, so
    that nothing is polled before the whole load is waiting."""
    results = {}
    console.print(
        f"{SCALING_ORDERS} orders of {SCALING_WORK_MS} ms each wait in the queue; then the mapping "
        "is enabled and drains them, once per setting:"
    )
    for cap in SCALING_CAPS:
        with temporary_stack(f"scn-scale{cap}", enabled=False, maximum_concurrency=cap, **SCALING_STACK) as deployed:
            aws.send_batch(
                deployed.queue_url,
                [new_order(f"scale{cap}", sleep_ms=SCALING_WORK_MS)[1] for _ in range(SCALING_ORDERS)],
            )
            since_ms, started = now_ms(), time.monotonic()
            set_mapping_enabled(aws.client("lambda"), deployed.mapping_uuid, True)
            wait_for(
                lambda: stored_orders(deployed.bucket) == SCALING_ORDERS,
                WAIT_SECONDS,
                f"the {SCALING_ORDERS} orders stored with MaximumConcurrency {cap}",
                describe=lambda: (
                    f"{stored_orders(deployed.bucket)} stored, "
                    f"{aws.queue_depth(deployed.dlq_url)['visible']} in the DLQ"
                ),
            )
            seconds = time.monotonic() - started
            function = deployed.stack.function_name
            peak = (aws.concurrent_executions(function, seconds + 0.5) or {}).get("peak")
            invocations = wait_for(
                lambda: (
                    (found := [i for i in recent_invocations(function, since_ms) if i.processed])  # noqa: B023 -- waited on in this iteration
                    and sum(i.processed for i in found) >= SCALING_ORDERS
                    and found
                ),
                WAIT_SECONDS,
                "the worker's log line for every order",
            )
        results[cap] = {"peak": peak, "invocations": len(invocations), "seconds": round(seconds, 1)}
        console.print(
            f"  MaximumConcurrency {cap}: {peak} batches at once, {len(invocations)} invocations, "
            f"all stored in {seconds:.1f} s ({SCALING_ORDERS / seconds:.0f} orders/s)"
        )
    console.print(
        f"{SCALING_ORDERS} orders were about {SCALING_ORDERS // 10} invocations at every setting: "
        "a batch of ten is one execution."
    )
    return results
