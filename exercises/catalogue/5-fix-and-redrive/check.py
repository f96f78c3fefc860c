"""Exercise 5: the bug fixed, the DLQ redriven, every shop order stored and emailed once.
`make exercise N=5` seeds the stack with the shop's orders (seed); the solution redrives (solve)."""

import json

from lab.core import aws
from lab.core.settings import Stack
from lab.stack.operations import redrive
from lab.stack.provision import Deployed
from lab.teach.judging import QUICK, SLACK_SECONDS, Criterion, Run, order_body, settle
from lab.watch import facts

SHOP_ORDERS = 10
# QUICK's retries (maxReceiveCount 2), with time for a whole batch: the shop's
# orders come in one batch, and a worker that claims an email and then times out
# before sending it has lost that email for good (exercise 3's trade-off). On a
# loaded machine, a batch's S3 and SES calls can take longer than QUICK's 3 s.
STACK = {**QUICK, "function_timeout": 10, "visibility_timeout": 12}


def shop_orders(stack: Stack) -> dict[str, str]:
    """The orders exercise 5 starts with: every third has two items (the bug's trigger)."""
    return {
        f"{stack.suffix}-shop-{n}": order_body(f"{stack.suffix}-shop-{n}", items=2 if n % 3 == 0 else 1)
        for n in range(SHOP_ORDERS)
    }


def seed(deployed: Deployed) -> None:
    orders = shop_orders(deployed.stack)
    run = Run(deployed)
    if any(run.stored(order_id) for order_id in orders) or aws.peek_messages(deployed.dlq_url):
        return  # seeded before: the DLQ holds what the bug rejected
    run.send(list(orders.values()))
    rejected = sum(1 for body in orders.values() if len(json.loads(body)["items"]) > 1)
    limit = (deployed.stack.max_receive_count + 1) * deployed.stack.visibility_timeout + SLACK_SECONDS
    settle(
        lambda: len(aws.peek_messages(deployed.dlq_url)) >= rejected and run.queue_settled(),
        limit,
        f"the shop's {SHOP_ORDERS} orders to be processed (the bug rejects {rejected})",
    )


def solve(deployed: Deployed) -> None:
    """What the solution does beyond its files: the redrive."""
    redrive(deployed.stack)


def check(run: Run) -> list[Criterion]:
    stack, fresh = run.stack, run.order_id("three-items")
    orders = shop_orders(stack)
    waiting = [order_id for order_id in orders if run.in_dlq(order_id)]
    run.send([order_body(fresh, items=3)])
    limit = (stack.max_receive_count + 1) * stack.visibility_timeout + SLACK_SECONDS
    settle(lambda: run.stored(fresh) or run.in_dlq(fresh), limit, "an order of three items to be processed")
    fixed = run.stored(fresh)
    criteria = [
        Criterion(
            "an order of several items is processed",
            fixed,
            f"it went to the DLQ: the bug is still there (LAB_STACK={stack.suffix} make logs shows "
            "the error; the DLQ holds the orders it hit)",
        )
    ]
    if fixed and not waiting:
        # Emailed too: a duplicate delivery can finish, and delete the message,
        # while the delivery that claimed the email is still sending it.
        def done() -> bool:
            emailed = facts.emails_per_order()
            stored = all(run.stored(order_id) and emailed[order_id] for order_id in orders)
            return stored and run.queue_settled()

        settle(
            done,
            60,
            "the shop's orders to be stored and emailed",
        )
    waiting = [order_id for order_id in orders if run.in_dlq(order_id)]
    criteria.append(
        Criterion(
            "the dead-letter queue is empty",
            not waiting,
            f"{len(waiting)} orders wait in the DLQ: with the fix deployed (make check deployed it), redrive them: "
            f"LAB_STACK={stack.suffix} make redrive, then make check N=5",
        )
    )
    missing = [order_id for order_id in orders if not run.stored(order_id)]
    emailed = facts.emails_per_order()
    emails = {order_id: emailed[order_id] for order_id in orders}
    unsent = sum(1 for count in emails.values() if count == 0)
    criteria.append(
        Criterion(
            f"every one of the shop's {SHOP_ORDERS} orders is stored, and emailed once",
            not missing and set(emails.values()) == {1},
            f"{len(missing)} not stored"
            + (f"; emails per order: {sorted(emails.values())}" if not missing else "")
            + ("" if waiting or not missing else "; they are gone: make reset N=5, then make exercise N=5")
            + (
                f"; {unsent} stored without an email: a delivery claimed it and failed before sending "
                f"(LAB_STACK={stack.suffix} make logs shows how)"
                if unsent and not missing
                else ""
            ),
        )
    )
    return criteria
