"""Watching the lab: what `make status`, `make logs` and `make trace` show.

Everything here reads; nothing receives a message or changes a setting. Queue
contents are peeked through LocalStack's developer endpoint, so watching never
disturbs visibility timeouts or receive counts.
"""

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from lab.core import aws
from lab.core.console import console
from lab.core.settings import Stack
from lab.watch.facts import count_objects, log_events, now_ms, parse_record

REFRESH_SECONDS = 1.0
RECENT_LOG_SECONDS = 300  # how far back status and logs look
RECENT_INVOCATIONS = 8
CONCURRENCY_WINDOW_SECONDS = 60
REPORT_LINE = re.compile(r"^REPORT RequestId: (?P<id>\S+)\s+Duration: (?P<ms>[\d.]+) ms")


def clock(timestamp_ms: float) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]


def record_time_ms(record: dict, fallback_ms: int) -> int:
    """When the worker logged the record (Powertools' timestamp); LocalStack stamps
    every line of an invocation with the time the invocation ended."""
    try:
        moment = datetime.strptime(record["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z")
    except (KeyError, ValueError):
        return fallback_ms
    return int(moment.timestamp() * 1000)


@dataclass
class Invocation:
    request_id: str
    started_ms: int
    processed: int = 0
    failed: int = 0
    duration_ms: float | None = None
    ended_ms: int | None = None  # when LocalStack stored its REPORT line
    errors: list[str] = field(default_factory=list)
    highest_receive: int = 0  # the largest ApproximateReceiveCount among its records
    timed_out: bool = False

    @property
    def outcome(self) -> str:
        if self.failed and not self.processed:
            return "failed"
        return "partial" if self.failed else "ok"


def recent_invocations(function_name: str, since_ms: int) -> list[Invocation]:
    invocations: dict[str, Invocation] = {}
    for event in log_events(function_name, since_ms):
        message = event["message"].rstrip("\n")
        if report := REPORT_LINE.match(message):
            invocation = invocations.setdefault(report["id"], Invocation(report["id"], event["timestamp"]))
            invocation.duration_ms = float(report["ms"])
            invocation.ended_ms = event["timestamp"]
            invocation.timed_out = "Status: timeout" in message
        elif (record := parse_record(message)) and record.get("function_request_id"):
            invocation = invocations.setdefault(
                record["function_request_id"], Invocation(record["function_request_id"], event["timestamp"])
            )
            invocation.highest_receive = max(invocation.highest_receive, int(record.get("receive_count") or 0))
            if record["outcome"] == "processed":
                invocation.processed += 1
            else:
                invocation.failed += 1
                invocation.errors.append(record.get("error", "?"))
    return sorted(invocations.values(), key=lambda invocation: invocation.started_ms)


@dataclass
class StatusReading:
    queues: dict[str, dict]
    mapping: dict | None
    orders_stored: int
    emails_sent: int
    invocations: list[Invocation]
    taken_ms: int
    concurrency: dict | None = None  # running now, and the peak over CONCURRENCY_WINDOW_SECONDS
    denied: dict | None = None  # requests of the stack's roles that IAM denied: count, latest


def queue_state(name: str) -> dict:
    sqs = aws.observer_client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    messages = aws.peek_messages(url)
    oldest = min((int(m["Attributes"]["SentTimestamp"]) for m in messages), default=None)
    return {
        "url": url,
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
        "oldest_age_s": None if oldest is None else (now_ms() - oldest) / 1000,
        "retention_s": int(attributes["MessageRetentionPeriod"]),
        "arn": attributes["QueueArn"],
    }


def read_status(
    stack: Stack, log_seconds: float = RECENT_LOG_SECONDS, concurrency_seconds: float = CONCURRENCY_WINDOW_SECONDS
) -> StatusReading:
    """Queues, mapping, effects, the invocations of the last log_seconds, and
    the most concurrent executions within the last concurrency_seconds."""
    queues = {name: queue_state(name) for name in (stack.queue_name, stack.dlq_name)}
    lambda_ = aws.observer_client("lambda")
    mappings = lambda_.list_event_source_mappings(
        FunctionName=stack.function_name, EventSourceArn=queues[stack.queue_name]["arn"]
    )["EventSourceMappings"]
    # Stacks share the SES sender, so this stack's emails are counted by the
    # receipts its worker writes next to the orders (see functions/order_worker).
    stored, emails = (count_objects(stack.bucket_name, prefix) for prefix in ("orders/", "emails/"))
    invocations = recent_invocations(stack.function_name, now_ms() - int(log_seconds * 1000))
    concurrency = aws.concurrent_executions(stack.function_name, concurrency_seconds)
    denied = aws.denied_requests(stack.role_names)
    return StatusReading(
        queues, mappings[0] if mappings else None, stored, emails, invocations, now_ms(), concurrency, denied
    )


def render(stack: Stack, reading: StatusReading) -> Group:
    queues = Table(title=f"Queues at {clock(reading.taken_ms)}", title_justify="left")
    for column in ("queue", "visible", "in flight", "delayed", "oldest"):
        queues.add_column(column, justify="left" if column == "queue" else "right")
    for name, state in reading.queues.items():
        oldest = "-" if state["oldest_age_s"] is None else f"{state['oldest_age_s']:.0f} s"
        style = "bold red" if name == stack.dlq_name and state["visible"] else ""
        queues.add_row(name, str(state["visible"]), str(state["in_flight"]), str(state["delayed"]), oldest, style=style)

    mapping = reading.mapping
    if mapping:
        mapping_line = (
            f"Mapping {stack.queue_name} -> {stack.function_name}: [bold]{mapping['State']}[/], "
            f"batch size {mapping['BatchSize']}, window {mapping.get('MaximumBatchingWindowInSeconds', 0)} s, "
            f"{'ReportBatchItemFailures' if mapping.get('FunctionResponseTypes') else 'whole-batch failures'}"
        )
        limit = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency", "-")
        if reading.concurrency is not None:
            mapping_line += (
                f"\nConcurrent executions: {reading.concurrency['running']} now, "
                f"[bold]{reading.concurrency['peak']}[/] "
                f"at most in the last {CONCURRENCY_WINDOW_SECONDS} s (MaximumConcurrency {limit})"
            )
    else:
        mapping_line = "Mapping: [red]none[/] (run `make up`)"
    effects = f"Orders stored: [bold]{reading.orders_stored}[/]   Emails sent: [bold]{reading.emails_sent}[/]"

    invocations = Table(title="Last invocations", title_justify="left")
    for column in ("time", "request", "records ok", "failed", "duration", "outcome"):
        invocations.add_column(column)
    for invocation in reading.invocations[-RECENT_INVOCATIONS:]:
        colour = {"ok": "green", "partial": "yellow", "failed": "red"}[invocation.outcome]
        duration = "-" if invocation.duration_ms is None else f"{invocation.duration_ms:.0f} ms"
        invocations.add_row(
            clock(invocation.started_ms),
            invocation.request_id[:8],
            str(invocation.processed),
            str(invocation.failed),
            duration,
            Text(invocation.outcome, style=colour),
        )
    lines = [queues, Text.from_markup(mapping_line), Text.from_markup(effects)]
    if reading.denied and reading.denied["count"]:
        latest = reading.denied["latest"] or {}
        lines.append(
            Text.from_markup(
                f"[bold red]Denied by IAM: {reading.denied['count']}[/] (the latest: {latest.get('role')} may not "
                f"{latest.get('action')} on {latest.get('resource')})"
            )
        )
    return Group(*lines, invocations)


def status(stack: Stack, once: bool) -> StatusReading:
    aws.require_up()
    reading = read_status(stack)
    if once:
        console.print(render(stack, reading))
        return reading
    with Live(render(stack, reading), console=console, refresh_per_second=4) as live:
        try:
            while True:
                time.sleep(REFRESH_SECONDS)
                reading = read_status(stack)
                live.update(render(stack, reading))
        except KeyboardInterrupt:
            pass
    return reading


def format_log_line(event: dict) -> Text | None:
    """One line per record outcome and per invocation (its REPORT); None for the rest."""
    message = event["message"].rstrip("\n")
    when = clock(event["timestamp"])
    if report := REPORT_LINE.match(message):
        return Text(f"{when}  invocation {report['id'][:8]} ended after {float(report['ms']):.0f} ms", style="dim")
    if "Task timed out" in message or "Runtime exited" in message:
        return Text(f"{when}  {message}", style="bold red")
    record = parse_record(message)
    if record is None:
        return None
    when = clock(record_time_ms(record, event["timestamp"]))
    order = record.get("order_id") or "(no orderId)"
    text = f"{when}  {record['outcome']:<9} order {order:<20} receive #{record.get('receive_count', '?')}"
    if record["outcome"] == "processed":
        return Text(f"{text}  stored={record.get('stored_now')} emailed={record.get('email_sent_now')}", style="green")
    return Text(f"{text}  {record.get('error', '')}: {record.get('reason', '')}", style="bold red")


def follow_logs(stack: Stack, follow: bool = True, since_seconds: int = RECENT_LOG_SECONDS) -> int:
    """Print the worker's log as one line per record and per invocation; follow until Ctrl-C."""
    aws.require_up()
    since = now_ms() - since_seconds * 1000
    seen: set[str] = set()
    printed = 0
    console.print(
        f"The log of {stack.function_name} (/aws/lambda/{stack.function_name}), "
        f"from {since_seconds} s ago{'; Ctrl-C stops' if follow else ''}:"
    )
    try:
        while True:
            for event in log_events(stack.function_name, since):
                if event["eventId"] in seen:
                    continue
                seen.add(event["eventId"])
                if (line := format_log_line(event)) is not None:
                    console.print(line)
                    printed += 1
            if not follow:
                return printed
            time.sleep(REFRESH_SECONDS)
    except KeyboardInterrupt:
        return printed


def messages_of_order(queue_name: str, order_id: str) -> Iterator[dict]:
    """The messages of a queue whose body is the order (peeked: nothing is received)."""
    for message in aws.peek_messages(aws.observer_client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]):
        try:
            body = json.loads(message["Body"])
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("orderId") == order_id:
            yield message


def trace(stack: Stack, order_id: str) -> list[tuple[float, str, str]]:
    """The life of one order, from the worker's log, the queues, the order store and the outbox."""
    aws.require_up()
    steps: list[tuple[float, str, str]] = []
    last_count = 0
    for event in log_events(stack.function_name, 0):
        record = parse_record(event["message"].rstrip("\n"))
        if record is None or record.get("order_id") != order_id:
            continue
        count = record.get("receive_count", 0)
        logged = record_time_ms(record, event["timestamp"])
        if record.get("sent_timestamp") and not steps:
            steps.append((record["sent_timestamp"], "sent", f"message {record.get('message_id', '?')}"))
        if count <= last_count:
            steps.append((logged - 1, "redriven", "back from the DLQ: the receive count starts again"))
        last_count = count
        if record["outcome"] == "processed":
            steps.append((logged, f"delivery #{count}", "processed"))
        else:
            steps.append((logged, f"delivery #{count}", f"failed: {record.get('error')}: {record.get('reason')}"))
    for queue_name, step in ((stack.queue_name, f"in {stack.queue_name}"), (stack.dlq_name, "in the DLQ")):
        for message in messages_of_order(queue_name, order_id):
            attributes = message["Attributes"]
            if not steps:  # never delivered: the queue still knows when it was sent
                steps.append((int(attributes["SentTimestamp"]), "sent", f"message {message['MessageId']}"))
            steps.append((now_ms(), step, f"now, after {attributes.get('ApproximateReceiveCount')} receives"))
    s3 = aws.observer_client("s3")
    stored_ms = None
    try:
        stored = json.loads(s3.get_object(Bucket=stack.bucket_name, Key=f"orders/{order_id}.json")["Body"].read())
        stored_ms = datetime.fromisoformat(stored["storedAt"]).timestamp() * 1000
        steps.append((stored_ms, "stored", f"s3://{stack.bucket_name}/orders/{order_id}.json"))
    except s3.exceptions.NoSuchKey:
        pass
    for email in aws.sent_emails():
        if aws.emailed_order_id(email) == order_id:
            # The outbox keeps whole seconds; the worker sends right after storing.
            sent = datetime.fromisoformat(email["Timestamp"]).replace(tzinfo=UTC).timestamp() * 1000
            steps.append(
                (
                    max(sent, stored_ms + 1) if stored_ms else sent,
                    "email sent",
                    f"to {email['Destination']['ToAddresses'][0]} (outbox time {email['Timestamp']})",
                )
            )
    steps.sort(key=lambda step: step[0])
    if not steps:
        console.print(
            f"No trace of order {order_id!r} in {stack.function_name}'s log of the last hours, "
            f"{stack.queue_name}, the DLQ, the order store or the outbox."
        )
        return steps
    table = Table(title=f"The life of order {order_id}", title_justify="left")
    for column in ("time (UTC)", "step", "details"):
        table.add_column(column)
    for when, step, details in steps:
        style = (
            "red"
            if "failed" in details or step == "in the DLQ"
            else ("green" if step in ("stored", "email sent") else "")
        )
        table.add_row(clock(when), step, details, style=style)
    console.print(table)
    return steps


def last_event(stack: Stack) -> dict | None:
    """The last SQS event the worker logged (it logs them with LAB_LOG_EVENT=1)."""
    aws.require_up()
    for event in reversed(log_events(stack.function_name, 0)):
        try:
            line = json.loads(event["message"])
        except ValueError:
            continue
        if isinstance(line, dict) and isinstance(line.get("message"), dict) and "Records" in line["message"]:
            console.print(f"The last event {stack.function_name} received ({clock(event['timestamp'])}):")
            console.print_json(data=line["message"], highlight=False)
            return line["message"]
    console.print(
        f"{stack.function_name} has logged no event: `LAB_LOG_EVENT=1 make up` has it log each one it "
        f"receives (then send orders); a plain `make up` turns it off again."
    )
    return None
