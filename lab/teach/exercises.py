"""Exercises the lab checks by behaviour: `make exercise`, `check`, `solution`,
`reset`, `report`.

Each exercise has starter files (exercises/starters/<n>-<name>/) that a student
edits in a workspace of their own (exercises/<n>-<name>/, not in git) and a
stack of its own (suffix ex<n>; `LAB_STACK=ex<n> make dlq`, `make logs`... look
at it). `make check` deploys the workspace to that stack (an app.py is the
function, a stack.json the settings it names, a producer-policy.json the
producer's role), sends orders made for the exercise and judges what happened:
stored orders, emails, the DLQ, receive counts, denied calls; never the files.
"""

import json
import re
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from lab.core import aws, settings
from lab.core.aws_facts import fact
from lab.core.console import console, duration
from lab.core.errors import LabError
from lab.core.processes import hand_over
from lab.core.settings import SettingsError, Stack
from lab.core.waiting import wait_for
from lab.stack.provision import Deployed, provision, set_mapping_enabled, teardown
from lab.teach import scenarios
from lab.watch import observe

SIX_TIMES = fact("six_times_rule")  # AWS's advised visibility timeout, with its source

ROOT = settings.PROJECT_ROOT / "exercises"  # the workspaces, results and report
STARTERS = ROOT / "starters"
SOLUTIONS = ROOT / "solutions"
# The wrong answers students write, each a folder of files beside what `make check`
# must say of it (EXPECTED): exercises/wrong/<exercise>/<the mistake>/.
WRONG_ANSWERS = ROOT / "wrong"
EXPECTED = "expect.txt"
QUEUE_ARN_PLACEHOLDER = "{{QUEUE_ARN}}"  # a solution file names the exercise's own queue
# A check waits this long beyond what the stack's own timeouts explain (a cold
# start on a busy laptop, LocalStack's requeue period) before it calls a criterion failed.
SLACK_SECONDS = 30
SLOW_JOB_MS = 20_000
WANTED_RECEIVES = 4


class ExerciseError(LabError):
    """An exercise that does not exist, or a workspace that is not there."""


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
        return order_id in observe.object_ids(self.deployed.bucket, "orders/")

    def in_dlq(self, order_id: str) -> bool:
        return any(order_id in message["Body"] for message in aws.peek_messages(self.deployed.dlq_url))

    def queue_settled(self) -> bool:
        """Nothing visible and nothing in flight: every delivery is over."""
        return aws.queue_is_empty(self.deployed.queue_url)

    def receive_counts(self, order_id: str) -> list[int]:
        return scenarios.worker_receive_counts(self.stack.function_name, order_id)

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
    return scenarios.denial(call, **arguments).startswith("AccessDenied")


# --- 1. A DLQ after exactly four receives -------------------------------------------------------


def check_dead_letter_queue(run: Run) -> list[Criterion]:
    stack, good, poison = run.stack, run.order_id("good"), run.order_id("poison")
    run.send([order_body(good), json.dumps({"orderId": poison})])  # no email: never a valid order
    counts = lambda: run.receive_counts(poison)  # noqa: E731
    limit = (WANTED_RECEIVES + 2) * stack.visibility_timeout + SLACK_SECONDS
    moved = settle(
        lambda: run.in_dlq(poison) or max(counts(), default=0) > WANTED_RECEIVES + 1,
        limit,
        "the poison message to reach the DLQ",
    ) and run.in_dlq(poison)
    if moved:  # the last delivery's log line may trail the move
        settle(lambda: max(counts(), default=0) >= stack.max_receive_count, SLACK_SECONDS, "the worker's log")
    receives = max(counts(), default=0)
    if not stack.dead_letter_queue:
        why = (
            "the queue has no redrive policy, so the poison is retried until retention deletes it "
            f"({duration(stack.retention_seconds)})"
        )
    else:
        why = (
            f"received {receives} times and still in the queue: "
            "maxReceiveCount is the number of receives before it moves"
        )
    return [
        Criterion("the poison message ends in the dead-letter queue", moved, why),
        Criterion(
            f"it moves after exactly {WANTED_RECEIVES} receives",
            moved and receives == WANTED_RECEIVES,
            f"it was received {receives} times; the queue's maxReceiveCount decides how many",
        ),
        Criterion(
            "a good order is still stored",
            bool(settle(lambda: run.stored(good), SLACK_SECONDS, "the good order to be stored")),
            "the worker no longer processes good orders: keep the settings within AWS's rules",
        ),
    ]


# --- 2. A partial batch response ----------------------------------------------------------------


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
                    "SentTimestamp": str(observe.now_ms()),
                    "SenderId": settings.ACCOUNT_ID,
                    "ApproximateFirstReceiveTimestamp": str(observe.now_ms()),
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


def check_partial_batch_response(run: Run) -> list[Criterion]:
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


# --- 3. An idempotent email ---------------------------------------------------------------------


def new_execution_environments(run: Run) -> None:
    """A change to the function's configuration, as a deploy makes: Lambda serves the
    next invocations from new execution environments, which remember nothing of the
    old ones (neither memory nor /tmp). The same on AWS."""
    lambda_, name = aws.client("lambda"), run.stack.function_name
    variables = lambda_.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
    lambda_.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**variables, "LAB_CHECK_DEPLOY": uuid.uuid4().hex[:8]}}
    )
    lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)


def invoke_at_once(run: Run, events: list[dict]) -> list[dict]:
    """Invoke the function with each event at the same moment (each waits for its
    answer, so each busy environment makes Lambda start another)."""
    lambda_ = aws.client("lambda")
    with ThreadPoolExecutor(len(events)) as pool:
        return list(
            pool.map(
                lambda event: lambda_.invoke(FunctionName=run.stack.function_name, Payload=json.dumps(event)), events
            )
        )


DUPLICATE_HINT = (
    "record that this order's email went out where every execution environment sees it, keyed by "
    "its orderId, in one step that only one delivery can win: an S3 put with IfNoneMatch='*' "
    "(a set in memory or a file in /tmp is gone in a new environment; a look, then a write, lets two "
    "deliveries at once both send)"
)


def check_idempotent_email(run: Run) -> list[Criterion]:
    """The duplicate delivered the ways SQS and Lambda deliver one: in the same batch;
    later, in a new execution environment; and at the same moment, in two."""
    twice, once, later, together = (run.order_id(label) for label in ("twice", "once", "later", "together"))
    run.send([order_body(twice), order_body(twice), order_body(once), order_body(later)])
    settle(
        lambda: run.queue_settled() and all(run.stored(o) for o in (twice, once, later)),
        60,
        "the first orders processed",
    )

    new_execution_environments(run)
    run.send([order_body(later)])  # once more, after its first delivery was done
    settle(lambda: run.queue_settled(), 60, "the later copy processed in a new execution environment")

    new_execution_environments(run)  # none warm: each copy starts an environment of its own
    answers = invoke_at_once(run, [sqs_event(run, {f"{run.run_id}-copy-{n}": order_body(together)}) for n in (1, 2)])
    raised = [answer for answer in answers if "FunctionError" in answer]

    emails = {order_id: scenarios.emails_about(order_id) for order_id in (twice, once, later, together)}
    failed = [order_id for order_id in (twice, once, later) if run.in_dlq(order_id)]
    return [
        Criterion(
            "each order is stored",
            all(run.stored(o) for o in (twice, once, later, together)),
            "an order was not stored: keep storing every order",
        ),
        Criterion(
            "two copies in one batch: one email",
            emails[twice] == 1,
            f"it got {emails[twice]} emails: before sending, {DUPLICATE_HINT}",
        ),
        Criterion(
            "an order delivered once: one email",
            emails[once] == 1,
            f"it got {emails[once]} emails: a first delivery must still send",
        ),
        Criterion(
            "a copy delivered again later, in a new execution environment: one email",
            emails[later] == 1,
            f"it got {emails[later]} emails: {DUPLICATE_HINT}",
        ),
        Criterion(
            "two copies at the same moment, in two execution environments: one email",
            emails[together] == 1,
            f"it got {emails[together]} emails: {DUPLICATE_HINT}",
        ),
        Criterion(
            "the duplicate deliveries succeed",
            not failed and not raised,
            "a duplicate failed (it went to the DLQ, or the function raised): a duplicate is not an error; "
            "skip the email and succeed",
        ),
    ]


# --- 4. Timeouts for a 20 s job -----------------------------------------------------------------


def check_timeouts_for_slow_work(run: Run) -> list[Criterion]:
    """Judged by the job's own deliveries (the worker logs each one it completes), so a
    timeout of an earlier check's job, still retried on this stack, cannot count."""
    stack, job = run.stack, run.order_id("job")
    run.send([order_body(job, sleep_ms=SLOW_JOB_MS)])
    limit = SLOW_JOB_MS / 1000 + stack.max_receive_count * stack.visibility_timeout + SLACK_SECONDS
    settle(
        lambda: run.stored(job) or run.in_dlq(job) or run.redelivered(job),
        limit,
        f"the {SLOW_JOB_MS // 1000} s job to be stored (or delivered again)",
    )
    if run.stored(job):  # a second delivery, if the visibility timeout ran out under the first, may still run
        settle(lambda: run.queue_settled() and run.receive_counts(job), limit, "every delivery of the job to end")
    counts = run.receive_counts(job)
    finished = 1 in counts  # the worker logs a delivery that completed; a timed-out one logs nothing
    if stack.function_timeout * 1000 <= SLOW_JOB_MS:
        why = (
            f"the function times out at {stack.function_timeout} s: its timeout must be longer than the "
            "work, with room for a slow start"
        )
    else:
        why = f"its first delivery did not finish: LAB_STACK={stack.suffix} make logs shows why"
    return [
        Criterion(f"the {SLOW_JOB_MS // 1000} s job finishes on its first delivery, without a timeout", finished, why),
        Criterion(
            "it is delivered once: no duplicate while it works",
            finished and len(counts) == 1,
            f"it was delivered {len(counts)} times: the visibility timeout ({stack.visibility_timeout} s) "
            "ran out while a delivery still worked (a cold start counts too); AWS advises "
            f"{SIX_TIMES['factor_text']} times the function timeout ({SIX_TIMES.source})"
            if finished
            else "first make the job finish",
        ),
    ]


# --- 5. Fix a bug, then redrive -----------------------------------------------------------------

SHOP_ORDERS = 10


def shop_orders(stack: Stack) -> dict[str, str]:
    """The orders exercise 5 starts with: every third has two items (the bug's trigger)."""
    return {
        f"{stack.suffix}-shop-{n}": order_body(f"{stack.suffix}-shop-{n}", items=2 if n % 3 == 0 else 1)
        for n in range(SHOP_ORDERS)
    }


def seed_shop(deployed: Deployed) -> None:
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


def redrive_after_fix(deployed: Deployed) -> None:
    from lab.stack.operations import redrive

    redrive(deployed.stack)


def check_fix_and_redrive(run: Run) -> list[Criterion]:
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
        settle(
            lambda: all(run.stored(order_id) for order_id in orders) and run.queue_settled(),
            60,
            "the shop's orders to be stored",
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
    emails = {order_id: scenarios.emails_about(order_id) for order_id in orders}
    criteria.append(
        Criterion(
            f"every one of the shop's {SHOP_ORDERS} orders is stored, and emailed once",
            not missing and set(emails.values()) == {1},
            f"{len(missing)} not stored"
            + (f"; emails per order: {sorted(emails.values())}" if not missing else "")
            + ("" if waiting or not missing else "; they are gone: make reset N=5, then make exercise N=5"),
        )
    )
    return criteria


# --- 6. The producer's least-privilege policy ---------------------------------------------------

# What a producer must never be allowed on the order store, beside every SQS action but one.
S3_ACTIONS_NOT_FOR_A_PRODUCER = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:DeleteBucket",
    "s3:PutBucketPolicy",
)


def extra_permissions(document: dict, run: Run) -> list[str]:
    """Every permission the policy grants beyond sqs:SendMessage on the queue: each SQS
    action (AWS's own list, from botocore's model of SQS) on the queue and the DLQ,
    the order store's S3 actions, judged by the lab's IAM evaluator, the one that
    denies the function's and `make as`'s requests (the plugin's /_lab/iam/decide)."""
    import botocore.session

    # A batch needs its single action's permission (SendMessageBatch: sqs:SendMessage);
    # it is no IAM action of its own.
    sqs_actions = sorted(
        f"sqs:{name}"
        for name in botocore.session.get_session().get_service_model("sqs").operation_names
        if not name.endswith("Batch")
    )
    asked = [(action, queue_arn(run.stack.queue_name)) for action in sqs_actions if action != "sqs:SendMessage"]
    asked += [(action, queue_arn(run.stack.dlq_name)) for action in sqs_actions]
    bucket = f"arn:aws:s3:::{run.stack.bucket_name}"
    asked += [
        (action, bucket if action.endswith(("Bucket", "BucketPolicy")) else f"{bucket}/orders/x.json")
        for action in S3_ACTIONS_NOT_FOR_A_PRODUCER
    ]
    status, answer = aws.post_json(
        f"{settings.ENDPOINT_URL}/_lab/iam/decide", json.dumps({"policy": document, "requests": asked})
    )
    if status != 200:
        raise ExerciseError(f"the lab's IAM evaluator did not answer ({status}: {answer}): make up, then make check")
    return [f"{action} on {resource}" for action, resource in answer["allowed"]]


def check_producer_policy(run: Run) -> list[Criterion]:
    status = aws.denied_requests([run.stack.producer_role_name])
    if not status or not status.get("enforced"):
        return [
            Criterion(
                "IAM enforcement is on",
                False,
                "this LocalStack does not enforce IAM: start the lab with LAB_IAM_ENFORCEMENT=1 make up",
            )
        ]
    role = run.stack.producer_role_name
    try:
        document = json.loads((run.workspace / "producer-policy.json").read_text())
        aws.client("iam").put_role_policy(
            RoleName=role, PolicyName=run.stack.policy_name, PolicyDocument=json.dumps(document)
        )
    except (ValueError, ClientError) as error:
        return [Criterion("the policy is a valid IAM policy", False, f"producer-policy.json: {error}")]
    sqs, queue, dlq = aws.client_as(role, "sqs"), run.deployed.queue_url, run.deployed.dlq_url
    body = order_body(run.order_id("sent"))
    return [
        Criterion(
            "the producer can send orders to its queue",
            not denied(sqs.send_message, QueueUrl=queue, MessageBody=body),
            f"allow sqs:SendMessage on the queue: {run.deployed.queue_arn}",
        ),
        Criterion(
            "it cannot receive from the queue",
            denied(sqs.receive_message, QueueUrl=queue),
            "a producer that can receive can take orders from the worker: allow sending only",
        ),
        Criterion(
            "it cannot delete or purge",
            denied(sqs.purge_queue, QueueUrl=queue)
            and denied(sqs.delete_message, QueueUrl=queue, ReceiptHandle="none"),
            "a producer that can purge can lose every order: no sqs:* and no sqs:Delete*/Purge*",
        ),
        Criterion(
            "it cannot send to another queue (the DLQ)",
            denied(sqs.send_message, QueueUrl=dlq, MessageBody=body),
            'name the queue\'s ARN as the Resource, not "*"',
        ),
        Criterion(
            "it can do nothing outside SQS",
            denied(aws.client_as(role, "s3").list_buckets),
            'no "Action": "*": list the one action it needs',
        ),
        Criterion(
            "nothing else: every other SQS action on the queue and the DLQ, and the order store, denied",
            not (extra := extra_permissions(document, run)),
            f"it also allows {extra[0] if extra else ''}"
            f"{f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''}: "
            "allow sqs:SendMessage alone, on the queue's ARN",
        ),
    ]


@dataclass(frozen=True)
class Exercise:
    number: int
    slug: str
    title: str
    task: str
    stack: dict  # the exercise stack's settings, before the workspace's stack.json
    check: Callable
    seed: Callable[[Deployed], None] | None = None  # what `make exercise` does after deploying
    solve: Callable[[Deployed], None] | None = None  # what the solution does beyond its files

    @property
    def name(self) -> str:
        return f"{self.number}-{self.slug}"


QUICK = {"function_timeout": 3, "visibility_timeout": 4, "max_receive_count": 2}
# Duplicates made by the check itself, not by a loaded machine: AWS's advice, a
# visibility timeout six times the function timeout and maxReceiveCount 5, so a
# slow cold start brings no batch back and no good order to the DLQ.
AS_AWS_ADVISES = {
    "function_timeout": 3,
    "visibility_timeout": SIX_TIMES["factor"] * 3,
    "max_receive_count": fact("max_receive_count_advised")["advised"],
}
EXERCISES = {
    exercise.number: exercise
    for exercise in (
        Exercise(
            1,
            "dead-letter-queue",
            "A dead-letter queue after exactly four receives",
            "A message the worker can never process (poison) must land in the dead-letter queue after "
            f"exactly {WANTED_RECEIVES} receives, no more and no fewer, while good orders are still processed. "
            "Edit stack.json (the queue's settings).",
            {"function_timeout": 3, "visibility_timeout": 4},
            check_dead_letter_queue,
        ),
        Exercise(
            2,
            "partial-batch-response",
            "Only the failed records come back",
            "One bad record in a batch must not send the good ones back to the queue: with "
            "ReportBatchItemFailures on the mapping, the good records are deleted and only the bad one is "
            "retried, then moved to the DLQ. Edit app.py.",
            QUICK,
            check_partial_batch_response,
        ),
        Exercise(
            3,
            "idempotent-email",
            "A duplicate delivery sends no second email",
            "SQS delivers at least once: the same order can arrive twice, in one batch, later in a new "
            "execution environment, or at the same moment in another one. The customer must get exactly one "
            "confirmation email per order, and the duplicate delivery must still succeed. Edit app.py.",
            AS_AWS_ADVISES,
            check_idempotent_email,
        ),
        Exercise(
            4,
            "timeouts-for-slow-work",
            "Timeouts for a 20 s job",
            f"Every order takes {SLOW_JOB_MS // 1000} s of work. Choose the function timeout and the queue's "
            "visibility timeout so that the job finishes without timing out and is never delivered a second "
            "time while it still works. Edit stack.json.",
            {"max_receive_count": 2},
            check_timeouts_for_slow_work,
        ),
        Exercise(
            5,
            "fix-and-redrive",
            "Fix the bug, then redrive",
            f"The shop's worker has a bug: `make exercise N=5` sent {SHOP_ORDERS} orders and the ones it hits "
            "are in the dead-letter queue. Find the bug (LAB_STACK=ex5 make logs, LAB_STACK=ex5 make dlq), "
            "fix app.py, deploy it (make check N=5 does), redrive the DLQ (LAB_STACK=ex5 make redrive): every "
            "order stored once, one email each.",
            QUICK,
            check_fix_and_redrive,
            seed=seed_shop,
            solve=redrive_after_fix,
        ),
        Exercise(
            6,
            "producer-policy",
            "The producer's least-privilege policy",
            "Write the producer role's policy: it may send orders to its queue and do nothing else (not "
            "receive, delete or purge, not send elsewhere, nothing outside SQS). IAM enforcement must be on "
            "(it is unless LAB_IAM_ENFORCEMENT=0). Edit producer-policy.json.",
            QUICK,
            check_producer_policy,
        ),
    )
}


def exercise(number) -> Exercise:
    try:
        return EXERCISES[int(number)]
    except (KeyError, ValueError):
        raise ExerciseError(f"no exercise {number!r}: make exercise lists them (1 to {len(EXERCISES)})") from None


def workspace_of(item: Exercise, root: Path = ROOT) -> Path:
    return root / item.name


def stack_of(item: Exercise, workspace: Path, suffix: str | None = None, **changes) -> Stack:
    """The exercise's stack: its own settings, then what the workspace's stack.json names."""
    overrides = dict(item.stack)
    chosen = workspace / "stack.json"
    if chosen.exists():
        try:
            document = json.loads(chosen.read_text())
        except ValueError as error:
            raise SettingsError(f"{chosen}: not JSON ({error})") from None
        allowed = set(json.loads((STARTERS / item.name / "stack.json").read_text()))
        if not isinstance(document, dict) or set(document) - allowed:
            raise SettingsError(f"{chosen}: an object with the keys {sorted(allowed)} only")
        overrides.update(document)
    return Stack(suffix=suffix or f"ex{item.number}", api=False, **{**overrides, **changes})


def deploy(item: Exercise, workspace: Path, suffix: str | None = None, **changes) -> Deployed:
    """The workspace on the exercise's stack: its app.py as the function, if it has one."""
    stack = stack_of(item, workspace, suffix, **changes)
    source = workspace if (workspace / "app.py").exists() else settings.FUNCTION_SOURCE_DIR
    with console.status(f"Deploying {workspace.name} to the stack {stack.suffix}"):
        return provision(stack, source_dir=source)


def shown(path: Path) -> str:
    """A path as the student finds it: within the project, relative (the same on the
    host and in the tools container)."""
    return str(path.relative_to(settings.PROJECT_ROOT)) if path.is_relative_to(settings.PROJECT_ROOT) else str(path)


def copy_files(source: Path, workspace: Path, arn_of_the_queue: str = "") -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    hand_over(workspace, workspace.parent)
    for path in source.iterdir():
        if path.name == EXPECTED:
            continue
        (workspace / path.name).write_text(path.read_text().replace(QUEUE_ARN_PLACEHOLDER, arn_of_the_queue))
        hand_over(workspace / path.name, workspace.parent)


def wrong_answers(number) -> list[Path]:
    """The folders of the wrong answers kept for an exercise (the tests try each)."""
    folder = WRONG_ANSWERS / exercise(number).name
    return sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []


def queue_arn(name: str) -> str:
    """The ARN of one of the lab's queues (what a solution's policy names)."""
    return f"arn:aws:sqs:{settings.REGION}:{settings.ACCOUNT_ID}:{name}"


def try_answer(number, answer: Path, root: Path = ROOT, suffix: str | None = None) -> None:
    """Put an answer's files (the solution, or a wrong one) into the workspace, as a student would write them."""
    item = exercise(number)
    copy_files(answer, workspace_of(item, root), queue_arn(stack_of(item, STARTERS / item.name, suffix).queue_name))


def prepare(number, root: Path = ROOT, suffix: str | None = None) -> Deployed:
    """The workspace (the starter files, unless it exists: a student's work is never
    overwritten) and the exercise's stack deployed from it."""
    item = exercise(number)
    workspace = workspace_of(item, root)
    if not workspace.exists():
        copy_files(STARTERS / item.name, workspace)
    deployed = deploy(item, workspace, suffix)
    if item.seed:
        item.seed(deployed)
    console.print(f"[bold]Exercise {item.number}: {item.title}[/]\n{item.task}\n")
    console.print(f"Your files: {shown(workspace)}/ ({', '.join(sorted(p.name for p in workspace.iterdir()))})")
    console.print(
        f"Your stack: queue {deployed.stack.queue_name}, function {deployed.stack.function_name} "
        f"(LAB_STACK={deployed.stack.suffix} make status shows it)"
    )
    console.print(f"When you think it works: make check N={item.number}")
    return deployed


def check(number, root: Path = ROOT, suffix: str | None = None) -> list[Criterion]:
    """Deploy the workspace, run the exercise's orders, print and record each criterion."""
    item = exercise(number)
    workspace = workspace_of(item, root)
    if not workspace.exists():
        raise ExerciseError(f"exercise {item.number} is not started: make exercise N={item.number}")
    try:
        run = Run(deploy(item, workspace, suffix, enabled=False), workspace)
    except (SettingsError, ClientError) as error:
        criteria = [Criterion("your settings deploy", False, str(error))]
    else:
        criteria = item.check(run)
        for criterion in criteria:
            criterion.hint = "" if criterion.passed else criterion.hint
        set_mapping_enabled(aws.client("lambda"), run.deployed.mapping_uuid, True)  # the stack as the student left it
    console.print(f"[bold]Exercise {item.number}: {item.title}[/]")
    for criterion in criteria:
        mark = "[green]PASS[/]" if criterion.passed else "[red]FAIL[/]"
        console.print(f"  {mark}  {criterion.name}" + ("" if criterion.passed else f"\n        hint: {criterion.hint}"))
    record(item, criteria, root)
    return criteria


def solution(number, root: Path = ROOT, suffix: str | None = None) -> None:
    """For instructors: the reference solution into the workspace (and what it does beyond files)."""
    item = exercise(number)
    workspace = workspace_of(item, root)
    try_answer(number, SOLUTIONS / item.name, root, suffix)
    console.print(f"The reference solution is in {shown(workspace)}/.")
    if item.solve:
        item.solve(deploy(item, workspace, suffix))
    console.print(f"make check N={item.number} judges it.")


def reset(number=None, root: Path = ROOT, suffix: str | None = None) -> None:
    """The starter files back, and the exercise's stack removed (make exercise deploys it again)."""
    for item in [exercise(number)] if number else EXERCISES.values():
        workspace = workspace_of(item, root)
        if number or workspace.exists():
            shutil.rmtree(workspace, ignore_errors=True)
            copy_files(STARTERS / item.name, workspace)
            with console.status(f"Removing the stack of exercise {item.number}"):
                teardown(stack_of(item, workspace, suffix))
            console.print(f"Exercise {item.number}: {shown(workspace)}/ holds the starter files again.")


def results_file(root: Path) -> Path:
    return root / "results.json"


def record(item: Exercise, criteria: list[Criterion], root: Path) -> None:
    path = results_file(root)
    results = json.loads(path.read_text()) if path.exists() else {}
    results[str(item.number)] = {
        "name": item.name,
        "passed": all(c.passed for c in criteria),
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "criteria": [asdict(c) for c in criteria],
    }
    path.write_text(json.dumps(results, indent=2) + "\n")
    hand_over(path, root)


def listing(root: Path = ROOT) -> None:
    path = results_file(root)
    results = json.loads(path.read_text()) if path.exists() else {}
    for item in EXERCISES.values():
        state = results.get(str(item.number))
        mark = "not checked" if not state else ("[green]passed[/]" if state["passed"] else "[red]not yet[/]")
        console.print(f"  {item.number}. {item.title:<52} {mark}")
    console.print("Start one with make exercise N=<n>; make check N=<n> judges it.")


def report(root: Path = ROOT) -> Path:
    """One JSON file per student, for an instructor to collect: every exercise's last
    check and the quiz's score."""
    from lab.teach import quiz as quiz_module

    path = results_file(root)
    results = json.loads(path.read_text()) if path.exists() else {}
    quiz = quiz_module.RESULT_FILE
    user, host = quiz_module.student_and_machine()
    document = {
        "student": user,
        "machine": host,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exercises": {
            str(n): results.get(str(n), {"name": item.name, "passed": None}) for n, item in EXERCISES.items()
        },
        "passed": sum(1 for r in results.values() if r.get("passed")),
        "of": len(EXERCISES),
        "quiz": json.loads(quiz.read_text()) if quiz.exists() else None,
    }
    target = root / re.sub(r"[^A-Za-z0-9_.-]", "_", f"report-{user}-{host}.json")
    target.write_text(json.dumps(document, indent=2) + "\n")
    hand_over(target, root)
    console.print(
        f"Wrote {shown(target)}: {document['passed']} of {len(EXERCISES)} exercises passed"
        + (f", quiz {document['quiz'].get('score')}" if document["quiz"] else ", no quiz yet")
    )
    return target
