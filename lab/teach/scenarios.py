"""The classic mistakes, each shown and then fixed: `make scenario NAME=<name>`.

Every scenario builds stacks of its own (named `scn-…`, removed at the end),
makes the mistake, observes its effect, applies the fix and observes again.
It returns what it observed, which the tests check.
"""

import importlib.metadata
import json
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import ClientError

from lab.core import aws, settings
from lab.core.console import console, duration
from lab.core.waiting import wait_for
from lab.stack.mapping import set_mapping_enabled
from lab.stack.policies import worker_policy
from lab.stack.provision import provision
from lab.stack.teardown import temporary_stack
from lab.watch.facts import (
    count_timeouts,
    deliveries,
    emails_about,
    function_log,
    now_ms,
    receive_counts,
    stored_orders,
)
from lab.watch.observe import recent_invocations

NAIVE_WORKER_DIR = settings.PROJECT_ROOT / "functions" / "naive_worker"
WAIT_SECONDS = 90
RECEIVE_WAIT_SECONDS = 1


def say(kind: str, text: str) -> None:
    colour = {"mistake": "red", "effect": "yellow", "fix": "green", "after": "green"}.get(kind, "white")
    console.print(f"[bold {colour}]{kind.upper():>8}[/]  {text}")


def new_order(label: str, **fields) -> tuple[str, str]:
    order_id = f"{label}-{uuid.uuid4().hex[:6]}"
    return order_id, json.dumps({"orderId": order_id, "email": f"{order_id}@example.com", **fields})


def hand_written_consumer(
    deployed, visibility: int, work_seconds: float, delete: bool, run_seconds: float, seen: list
) -> None:
    """What people write before they meet Lambda: receive, work, (maybe) delete.
    Its work is the naive one: write the order and send the email, every time."""
    sqs, s3, ses = aws.client("sqs"), aws.client("s3"), aws.client("ses")
    stop_at = time.monotonic() + run_seconds
    while time.monotonic() < stop_at:
        messages = sqs.receive_message(
            QueueUrl=deployed.queue_url,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        for message in messages:
            order = json.loads(message["Body"])
            seen.append(int(message["Attributes"]["ApproximateReceiveCount"]))
            time.sleep(work_seconds)  # the work itself
            s3.put_object(Bucket=deployed.bucket, Key=f"orders/{order['orderId']}.json", Body=message["Body"].encode())
            ses.send_email(
                Source=deployed.stack.sender_email,
                Destination={"ToAddresses": [order["email"]]},
                Message={
                    "Subject": {"Data": f"Order {order['orderId']} received"},
                    "Body": {"Text": {"Data": "Thank you!"}},
                },
            )
            if delete:
                sqs.delete_message(QueueUrl=deployed.queue_url, ReceiptHandle=message["ReceiptHandle"])


def run_consumers(deployed, count: int, **consumer) -> list[int]:
    seen: list[int] = []
    threads = [
        threading.Thread(target=hand_written_consumer, args=(deployed,), kwargs={**consumer, "seen": seen})
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seen


def short_visibility() -> dict:
    work, short, long = 3, 1, 10
    results = {}
    for phase, visibility in (("mistake", short), ("fix", long)):
        with temporary_stack("scn-visibility", enabled=False) as deployed:
            order_id, body = new_order("slow")
            aws.client("sqs").send_message(QueueUrl=deployed.queue_url, MessageBody=body)
            if phase == "mistake":
                say("mistake", f"two consumers; the visibility timeout is {short} s but the work takes {work} s")
            else:
                say("fix", f"the same two consumers with a visibility timeout of {long} s, longer than the work")
            receives = run_consumers(
                deployed, 2, visibility=visibility, work_seconds=work, delete=True, run_seconds=work + 3
            )
            emails = wait_for(lambda: emails_about(order_id), WAIT_SECONDS, "the email")  # noqa: B023 -- waited on in this iteration
            results[phase] = {"receives": len(receives), "emails": emails}
            say(
                "effect" if phase == "mistake" else "after",
                f"order {order_id} was received {len(receives)} time(s) and {emails} email(s) went out",
            )
    return results


def no_dlq() -> dict:
    with temporary_stack("scn-nodlq", dead_letter_queue=False, function_timeout=3, visibility_timeout=3) as deployed:
        order_id, _ = new_order("poison")
        say("mistake", "a queue with no dead-letter queue, and a message the worker can never process")
        aws.client("sqs").send_message(QueueUrl=deployed.queue_url, MessageBody=json.dumps({"orderId": order_id}))
        limit = deployed.stack.max_receive_count
        counts = wait_for(
            lambda: (c := receive_counts(deployed.stack.function_name, order_id)) and max(c) > limit + 1 and c,
            WAIT_SECONDS,
            f"more than {limit + 1} receives",
        )
        say(
            "effect",
            f"received {max(counts)} times and counting: it is retried until the queue's retention "
            f"ends ({duration(deployed.stack.retention_seconds)}), costing an invocation each time and "
            "hiding real failures",
        )
        say("fix", f"add a RedrivePolicy (maxReceiveCount {limit}) to the same queue")
        provision(deployed.stack.with_changes(dead_letter_queue=True))
        in_dlq = wait_for(lambda: aws.peek_messages(deployed.dlq_url), WAIT_SECONDS, "the message in the DLQ")
        say("after", f"on its next receive it moved to {deployed.stack.dlq_name}; `make dlq` shows it")
        return {"receives_before_fix": max(counts), "in_dlq_after_fix": len(in_dlq)}


def exactly_once() -> dict:
    results = {}
    for phase, source in (("mistake", NAIVE_WORKER_DIR), ("fix", settings.FUNCTION_SOURCE_DIR)):
        with temporary_stack("scn-once", source_dir=source) as deployed:
            order_id, body = new_order("dup")
            if phase == "mistake":
                say("mistake", "a worker that assumes each message arrives once (no idempotent write)")
            else:
                say("fix", "the lab's worker: a conditional write per orderId and an email receipt")
            sqs = aws.client("sqs")
            for _ in range(2):  # a producer that retried a send it thought had failed
                sqs.send_message(QueueUrl=deployed.queue_url, MessageBody=body)
            wait_for(
                lambda: len(receive_counts(deployed.stack.function_name, order_id)) >= 2,  # noqa: B023 -- waited on in this iteration
                WAIT_SECONDS,
                "both deliveries",
            )
            # Deleted means its invocation finished: every email it sends is out.
            wait_for(lambda: aws.queue_is_empty(deployed.queue_url), WAIT_SECONDS, "both messages deleted")
            emails = emails_about(order_id)
            results[phase] = {"deliveries": 2, "emails": emails}
            say("effect" if phase == "mistake" else "after", f"the same order delivered twice gave {emails} email(s)")
    return results


def heavy_work() -> dict:
    results = {}
    for phase, timeout in (("mistake", 2), ("fix", 6)):
        # The lesson is the timeout: the visibility covers a cold start too, or a
        # busy machine would show redeliveries before any timeout.
        visibility = timeout + settings.COLD_START_ALLOWANCE_SECONDS
        with temporary_stack("scn-heavy", function_timeout=timeout, visibility_timeout=visibility) as deployed:
            order_id, body = new_order("heavy", sleep_ms=3000)
            say(
                "mistake" if phase == "mistake" else "fix",
                f"work of 3 s in a function with a {timeout} s timeout (visibility {visibility} s)",
            )
            aws.client("sqs").send_message(QueueUrl=deployed.queue_url, MessageBody=body)
            if phase == "mistake":
                dlq = wait_for(lambda: aws.peek_messages(deployed.dlq_url), WAIT_SECONDS, "the order in the DLQ")
                timeouts = wait_for(
                    lambda: (
                        count_timeouts(deployed.stack.function_name) >= deployed.stack.max_receive_count
                        and count_timeouts(deployed.stack.function_name)
                    ),
                    WAIT_SECONDS,
                    "the timeouts in the log",
                    describe=lambda: function_log(deployed.stack.function_name),
                )
                results[phase] = {"timeouts": timeouts, "in_dlq": len(dlq), "stored": stored_orders(deployed.bucket)}
                say("effect", f"{timeouts} timeouts, each retried after the visibility timeout, then the DLQ")
            else:
                counts = wait_for(
                    lambda: receive_counts(deployed.stack.function_name, order_id),  # noqa: B023 -- waited on in this iteration
                    WAIT_SECONDS,
                    "the order processed",
                )
                results[phase] = {"deliveries": len(counts), "stored": stored_orders(deployed.bucket)}
                say("after", f"stored on delivery {counts[-1]}; keep heavy work short or give it the time it needs")
    return results


def forgot_delete() -> dict:
    results = {}
    visibility, run_seconds = 2, 9
    for phase, delete in (("mistake", False), ("fix", True)):
        with temporary_stack("scn-nodelete", enabled=False) as deployed:
            order_id, body = new_order("again")
            aws.client("sqs").send_message(QueueUrl=deployed.queue_url, MessageBody=body)
            say(
                "mistake" if phase == "mistake" else "fix",
                "a hand-written consumer that "
                + ("never deletes what it processed" if not delete else "deletes each message once it is processed"),
            )
            receives = run_consumers(
                deployed, 1, visibility=visibility, work_seconds=0, delete=delete, run_seconds=run_seconds
            )
            emails = emails_about(order_id)
            results[phase] = {"receives": len(receives), "max_receive_count": max(receives), "emails": emails}
            say(
                "effect" if phase == "mistake" else "after",
                f"in {run_seconds} s the order was received {len(receives)} time(s) "
                f"(receive count {max(receives)}) and {emails} email(s) went out",
            )
    return results


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
        with temporary_stack(f"scn-scale{cap}", enabled=False, maximum_concurrency=cap) as deployed:
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


MISSING_PERMISSION_ORDERS = 3


def denial(call, **arguments) -> str:
    """What AWS answers a call the role may not make: its error code and message."""
    try:
        call(**arguments)
    except ClientError as error:
        return f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
    return "allowed"


def role_without(deployed, action: str) -> None:
    """The worker's role as provisioning writes it, less one action."""
    policy = worker_policy(deployed.stack, deployed.queue_arn)
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != action]
    policy["Statement"] = [statement for statement in policy["Statement"] if statement["Action"]]
    aws.client("iam").put_role_policy(
        RoleName=deployed.stack.role_name, PolicyName=deployed.stack.policy_name, PolicyDocument=json.dumps(policy)
    )


def failure_reasons(function_name: str) -> list[str]:
    return [record.get("reason", "") for record in deliveries(function_name, outcome="failed")]


def missing_permission() -> dict:
    """Least privilege that bites: the producer's role may send and nothing else;
    a worker whose role lost s3:PutObject fails every order into the DLQ until
    the role is fixed and the DLQ redriven; a mapping whose function may not
    receive is refused."""
    from lab.stack.operations import redrive

    results = {}
    with temporary_stack("scn-iam", enabled=False, function_timeout=3, visibility_timeout=3) as deployed:
        stack, producer = deployed.stack, deployed.stack.producer_role_name
        sqs = aws.client_as(producer, "sqs")
        sent = sqs.send_message(QueueUrl=deployed.queue_url, MessageBody=new_order("iam")[1])["MessageId"]
        received = denial(sqs.receive_message, QueueUrl=deployed.queue_url)
        purged = denial(sqs.purge_queue, QueueUrl=deployed.queue_url)
        say("effect", f"as role {producer}: SendMessage accepted; ReceiveMessage: {received}")
        say("effect", f"PurgeQueue too: {purged.split(':')[0]}. The producer can read nothing and lose nothing")
        results["producer"] = {"sent": bool(sent), "receive": received, "purge": purged}
        aws.client("sqs").purge_queue(QueueUrl=deployed.queue_url)

        role_without(deployed, "s3:PutObject")
        say("mistake", f"{stack.role_name} loses s3:PutObject (a policy edited by hand, a typo in a template)")
        orders = [body for _, body in (new_order("iam") for _ in range(MISSING_PERMISSION_ORDERS))]
        aws.send_batch(deployed.queue_url, orders)
        set_mapping_enabled(aws.client("lambda"), deployed.mapping_uuid, True)
        wait_for(
            lambda: len(aws.peek_messages(deployed.dlq_url)) == len(orders),
            WAIT_SECONDS,
            f"the {len(orders)} orders in the DLQ",
        )
        reasons = failure_reasons(stack.function_name)
        denied = sum("AccessDenied" in reason and "s3:PutObject" in reason for reason in reasons)
        say(
            "effect",
            f"{len(reasons)} deliveries failed, {denied} of them AccessDenied on s3:PutObject; "
            f"{stored_orders(deployed.bucket)} stored, {len(orders)} in the DLQ",
        )
        stack = provision(stack.with_changes(enabled=True)).stack  # the role as provisioning writes it
        say("fix", f"the role as `make up` writes it, then a redrive of {stack.dlq_name}")
        redrive(stack)
        wait_for(
            lambda: stored_orders(deployed.bucket) == len(orders), WAIT_SECONDS, "every order stored after the fix"
        )
        say("after", f"{stored_orders(deployed.bucket)} of {len(orders)} orders stored")
        results["worker"] = {
            "failed": len(reasons),
            "access_denied": denied,
            "stored_after_fix": stored_orders(deployed.bucket),
        }

        lambda_ = aws.client("lambda")
        set_mapping_enabled(lambda_, deployed.mapping_uuid, False)
        role_without(deployed, "sqs:ReceiveMessage")
        say(
            "mistake",
            f"the mapping is switched off; {stack.role_name} loses sqs:ReceiveMessage; the mapping is "
            "switched on again",
        )
        refused = denial(lambda_.update_event_source_mapping, UUID=deployed.mapping_uuid, Enabled=True)
        say("effect", f"switching it on is refused: {refused}")
        results["mapping"] = refused
    return results


# requests and what it imports, beyond what Lambda's runtime already has (urllib3 comes with boto3).
REQUESTS_AND_ITS_DEPENDENCIES = ("requests", "charset-normalizer", "idna", "certifi")


def import_errors(function_name: str) -> list[str]:
    """The init failures Lambda logged for the function: `[ERROR] Runtime.…: …` lines."""
    return [
        line.removeprefix("[ERROR] ")
        for line in function_log(function_name).splitlines()
        if line.startswith("[ERROR] Runtime.ImportModuleError")
    ]


def unpackaged_import() -> dict:
    """The worker imports a package its zip does not carry (the machine that
    wrote it has it installed): every delivery fails before any order code runs,
    with Lambda's error, until requirements.txt packages it."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="scn-import-") as folder:
        source = Path(folder) / "order_worker"
        shutil.copytree(settings.FUNCTION_SOURCE_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
        app = source / "app.py"
        app.write_text(
            app.read_text().replace(
                "import boto3\n", "import boto3\nimport requests  # to call a shipping service, say\n", 1
            )
        )
        for phase in ("mistake", "fix"):
            if phase == "fix":
                pins = "".join(
                    f"{name}=={importlib.metadata.version(name)}\n" for name in REQUESTS_AND_ITS_DEPENDENCIES
                )
                with open(source / "requirements.txt", "a") as requirements:
                    requirements.write(pins)
            say(
                phase,
                "the worker imports requests, "
                + (
                    "which this machine has installed and its zip does not carry"
                    if phase == "mistake"
                    else "now pinned in its requirements.txt, so its zip carries it"
                ),
            )
            with temporary_stack("scn-import", source) as deployed:
                order_id, body = new_order("import")
                aws.client("sqs").send_message(QueueUrl=deployed.queue_url, MessageBody=body)
                function = deployed.stack.function_name
                if phase == "mistake":
                    errors = wait_for(
                        lambda: import_errors(function),  # noqa: B023 -- waited on in this iteration
                        WAIT_SECONDS,
                        "the delivery's failure in the log",
                        describe=lambda: function_log(function),  # noqa: B023 -- waited on in this iteration
                    )
                    results[phase] = {"error": errors[0], "stored": stored_orders(deployed.bucket)}
                    say(
                        "effect",
                        f"{errors[0]}; {stored_orders(deployed.bucket)} stored: the order waits for a retry, "
                        "then the DLQ, as every order would",
                    )
                else:
                    wait_for(lambda: stored_orders(deployed.bucket) == 1, WAIT_SECONDS, "the order stored")
                    results[phase] = {"errors": len(import_errors(function)), "stored": stored_orders(deployed.bucket)}
                    say("after", f"the order stored, {len(import_errors(function))} import errors")
    return results


SCENARIOS: dict[str, tuple[str, Callable[[], dict]]] = {
    "short-visibility": ("a visibility timeout shorter than the work", short_visibility),
    "no-dlq": ("no dead-letter queue", no_dlq),
    "exactly-once": ("assuming exactly-once delivery", exactly_once),
    "heavy-work": ("heavy work in the function", heavy_work),
    "forgot-delete": ("a consumer that forgets to delete", forgot_delete),
    "scaling": ("one load at three MaximumConcurrency settings", scaling),
    "missing-permission": ("least privilege that bites: what a role may not do is denied", missing_permission),
    "no-queue": ("the same POST through an API wired straight to its consumer, then through a queue", no_queue),
    "unpackaged-import": ("a package the function imports and its zip does not carry", unpackaged_import),
}


def run(name: str) -> dict:
    aws.require_up()
    if name not in SCENARIOS:
        raise KeyError(name)
    title, scenario = SCENARIOS[name]
    console.print(f"[bold]Scenario {name}: {title}[/]")
    return scenario()
