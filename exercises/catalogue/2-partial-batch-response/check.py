"""Exercise 2: invoked directly, the function names the bad record only; through the queue,
the poison alone reaches the DLQ and every good order of its batch is stored."""

import json

from lab.core import aws
from lab.teach.judging import QUICK, SLACK_SECONDS, Criterion, Run, order_body, settle, sqs_event

STACK = QUICK


def check(run: Run) -> list[Criterion]:
    bad = f"{run.run_id}-bad"
    event = sqs_event(
        run,
        {
            f"{run.run_id}-good-1": order_body(run.order_id("direct-1")),
            bad: "{not json",
            f"{run.run_id}-good-2": order_body(run.order_id("direct-2")),
        },
    )
    response = aws.client("lambda").invoke(FunctionName=run.stack.function_name, Payload=json.dumps(event))
    answer = json.loads(response["Payload"].read() or b"null")
    named = (
        {item.get("itemIdentifier") for item in (answer or {}).get("batchItemFailures", [])}
        if isinstance(answer, dict)
        else set()
    )
    if "FunctionError" in response:
        hint = (
            "the function raised, so the whole batch would come back, the good records too: catch each "
            "record's error and name the failed ones in batchItemFailures"
        )
    elif named != {bad}:
        hint = (
            f"it answered {json.dumps(answer)}: the answer must be "
            f'{{"batchItemFailures": [{{"itemIdentifier": "<the failed record\'s messageId>"}}]}}, that record only'
        )
    else:
        hint = ""
    criteria = [Criterion("invoked with one bad record of three, it names that record only", not hint, hint)]

    goods = [run.order_id(f"good-{n}") for n in range(5)]
    poison = run.order_id("poison")
    run.send(
        [
            order_body(goods[0]),
            order_body(goods[1]),
            json.dumps({"orderId": poison}),
            *(order_body(order_id) for order_id in goods[2:]),
        ]
    )
    limit = (run.stack.max_receive_count + 1) * run.stack.visibility_timeout + SLACK_SECONDS
    settle(lambda: run.in_dlq(poison) and run.queue_settled(), limit, "the poison to reach the DLQ")
    retried = [order_id for order_id in goods if run.in_dlq(order_id)]
    stored = [order_id for order_id in goods if run.stored(order_id)]
    criteria += [
        Criterion(
            "through the queue, the poison alone goes to the DLQ",
            run.in_dlq(poison) and not retried,
            f"{len(retried)} good orders went to the DLQ with the poison: each time, the whole batch failed"
            if retried
            else "the poison did not reach the DLQ: it must be reported as failed",
        ),
        Criterion(
            "every good order of that batch is stored",
            len(stored) == len(goods),
            f"{len(goods) - len(stored)} of {len(goods)} good orders were never stored: the records after "
            "a bad one must still be processed",
        ),
    ]
    return criteria
