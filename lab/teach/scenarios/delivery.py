"""The mistakes about delivery: a visibility timeout shorter than the work, no
dead-letter queue, assuming exactly-once, heavy work in the function, a
consumer that forgets to delete."""

import json

from lab.core import aws, settings
from lab.core.console import duration
from lab.core.waiting import wait_for
from lab.stack.provision import provision
from lab.stack.teardown import temporary_stack
from lab.teach.scenarios.kit import NAIVE_WORKER_DIR, WAIT_SECONDS, new_order, run_consumers, say
from lab.watch.facts import (
    count_timeouts,
    emails_about,
    function_log,
    receive_counts,
    stored_orders,
)


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
            emails, deliveries = emails_about(order_id), len(receive_counts(deployed.stack.function_name, order_id))
            results[phase] = {"deliveries": deliveries, "emails": emails}
            say(
                "effect" if phase == "mistake" else "after",
                f"the same order sent twice, delivered {deliveries} times, gave {emails} email(s)",
            )
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
