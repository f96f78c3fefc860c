"""`make cost`: what the lab's run since `make up` would have cost on AWS.

The counts are the lab's own: the requests LocalStack served for the stack's
queues, bucket and function, counted as AWS bills them (the lab's plugin,
executor/request_counts.py: the mapping's empty long polls included, each
64 KB of an SQS payload one request); the invocations and their billed
duration from the function's REPORT lines; the emails from the worker's
receipts. The prices come from lab/watch/prices.json, each with its source. The
what-if rows are computed from the same counts.
"""

import json
import math
import urllib.error
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from lab.core import aws
from lab.core.console import console
from lab.core.settings import Stack

PRICES_FILE = Path(__file__).with_name("prices.json")
# S3 bills PUT, COPY, POST and LIST at one price, GET and the rest at another;
# DELETE requests are free.
S3_PUT_CLASS = {
    "PutObject",
    "CopyObject",
    "PostObject",
    "ListObjects",
    "ListObjectsV2",
    "ListBuckets",
    "CreateBucket",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
}
S3_FREE = {"DeleteObject", "DeleteObjects", "DeleteBucket"}
LONG_POLL_SECONDS = 20  # a Lambda poller's long poll on an idle queue
MONTH_SECONDS = 30 * 24 * 3600


def prices() -> dict:
    return json.loads(PRICES_FILE.read_text())


def counted_resources(stack: Stack) -> list[str]:
    return [stack.queue_name, stack.dlq_name, stack.bucket_name, stack.function_name]


def reset(stack: Stack) -> None:
    """Start the stack's counts from now (`make up` does)."""
    query = urllib.parse.urlencode([("resource", name) for name in counted_resources(stack)])
    try:
        aws.post_to_localstack(f"/_lab/requests/reset?{query}")
    except urllib.error.HTTPError:
        pass  # a LocalStack without the lab's plugin counts nothing


@dataclass
class Usage:
    """What the stack did since its counts were reset."""

    since: float
    sqs: dict[str, int]  # operation -> billed requests, the queue and its DLQ together
    sqs_requests: dict[str, int]  # operation -> requests as made
    s3: dict[str, int]  # operation -> requests
    invocations: int
    billed_ms: int
    records: int  # records the function was handed (processed and failed)
    memory_mb: int
    emails: int
    fifo: bool

    @property
    def gb_seconds(self) -> float:
        return self.memory_mb / 1024 * self.billed_ms / 1000


def usage(stack: Stack) -> Usage:
    from lab.watch.observe import recent_invocations

    query = urllib.parse.urlencode([("resource", name) for name in counted_resources(stack)])
    answer = aws.get_json(f"/_lab/requests?{query}")
    sqs, sqs_requests, s3 = {}, {}, {}
    for row in answer["counts"]:
        if row["service"] == "sqs":
            sqs[row["operation"]] = sqs.get(row["operation"], 0) + row["billed"]
            sqs_requests[row["operation"]] = sqs_requests.get(row["operation"], 0) + row["requests"]
        elif row["service"] == "s3" and row["resource"] == stack.bucket_name:
            s3[row["operation"]] = s3.get(row["operation"], 0) + row["requests"]
    since_ms = int(answer["since"] * 1000)
    reported = [i for i in recent_invocations(stack.function_name, since_ms) if i.duration_ms is not None]
    memory = aws.observer_client("lambda").get_function_configuration(FunctionName=stack.function_name)["MemorySize"]
    # S3's LastModified has whole seconds: an email sent in the second of the reset
    # shows an earlier time than the reset's own (the guide's run once counted 95 of 100).
    emails = sum(
        1
        for item in _objects(stack.bucket_name, "emails/")
        if item["LastModified"].timestamp() >= math.floor(answer["since"])
    )
    return Usage(
        since=answer["since"],
        sqs=sqs,
        sqs_requests=sqs_requests,
        s3=s3,
        invocations=len(reported),
        billed_ms=sum(math.ceil(i.duration_ms) for i in reported),
        records=sum(i.processed + i.failed for i in reported),
        memory_mb=memory,
        emails=emails,
        fifo=stack.fifo,
    )


def _objects(bucket: str, prefix: str) -> list[dict]:
    pages = aws.observer_client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item for page in pages for item in page.get("Contents", [])]


def bill(seen: Usage, price: dict) -> list[tuple[str, float, str, float]]:
    """(what, how many, unit, cost in USD) per line of the bill."""
    p = {name: entry["usd"] for name, entry in price["prices"].items()}
    sqs_price = p["sqs_fifo_request"] if seen.fifo else p["sqs_standard_request"]
    lines = [(f"SQS {operation}", count, "request", count * sqs_price) for operation, count in sorted(seen.sqs.items())]
    lines += [
        ("Lambda invocations", seen.invocations, "invocation", seen.invocations * p["lambda_request"]),
        (
            f"Lambda compute ({seen.memory_mb} MB x {seen.billed_ms} ms billed)",
            round(seen.gb_seconds, 3),
            "GB-second",
            seen.gb_seconds * p["lambda_gb_second_x86"],
        ),
    ]
    puts = sum(n for op, n in seen.s3.items() if op in S3_PUT_CLASS)
    gets = sum(n for op, n in seen.s3.items() if op not in S3_PUT_CLASS and op not in S3_FREE)
    lines += [
        ("S3 PUT/LIST requests", puts, "request", puts * p["s3_put_request"]),
        ("S3 GET requests", gets, "request", gets * p["s3_get_request"]),
        ("SES emails", seen.emails, "email", seen.emails * p["ses_email"]),
    ]
    return lines


def always_free_part(seen: Usage, price: dict) -> float:
    """What AWS's always-free monthly amounts (SQS requests, Lambda requests and
    GB-seconds; prices.json) would take off this bill. Not SES's emails nor S3's
    requests: no always-free offer covers them. (Accounts opened since July 2025
    are on a credit-based free plan instead of 12-month offers; the always-free
    amounts are not those credits.)"""
    p = {name: entry["usd"] for name, entry in price["prices"].items()}
    free = {name: entry["amount"] for name, entry in price["free_tier_per_month"].items()}
    sqs_price = p["sqs_fifo_request"] if seen.fifo else p["sqs_standard_request"]
    return (
        min(sum(seen.sqs.values()), free["sqs_requests"]) * sqs_price
        + min(seen.invocations, free["lambda_requests"]) * p["lambda_request"]
        + min(seen.gb_seconds, free["lambda_gb_seconds"]) * p["lambda_gb_second_x86"]
    )


def what_if(seen: Usage, stack: Stack, price: dict) -> list[tuple[str, str, float]]:
    """(what if, what it changes, cost in USD), from the same counts."""
    p = {name: entry["usd"] for name, entry in price["prices"].items()}
    sqs_price = p["sqs_fifo_request"] if seen.fifo else p["sqs_standard_request"]
    records = max(seen.records, 1)
    ms_per_record = seen.billed_ms / records
    rows = []
    for batch in (1, 10):
        invocations = math.ceil(records / batch)
        # Each batch: one receive that returns it, one delete of it, one invocation.
        cost = 2 * invocations * sqs_price + invocations * p["lambda_request"]
        rows.append(
            (
                f"batch size {batch}, the same {seen.records} records",
                f"{invocations} receives, {invocations} deletes, {invocations} invocations",
                cost,
            )
        )
    pollers = stack.maximum_concurrency
    for name, seconds in (
        ("long polling (20 s), as Lambda's pollers do", LONG_POLL_SECONDS),
        ("short polling, once a second (a hand-written consumer)", 1),
    ):
        receives = pollers * MONTH_SECONDS // seconds
        rows.append(
            (
                f"an idle queue for a month, {pollers} pollers, {name}",
                f"{receives:,} empty receives",
                receives * sqs_price,
            )
        )
    receives = stack.retention_seconds // max(stack.visibility_timeout, 1)
    gb_seconds = receives * seen.memory_mb / 1024 * max(ms_per_record, 1) / 1000
    rows.append(
        (
            f"one poison message, no DLQ, retried until retention ({stack.retention_seconds // 86400} days) "
            f"ends, every {stack.visibility_timeout} s",
            f"{receives:,} receives and invocations",
            receives * (sqs_price + p["lambda_request"]) + gb_seconds * p["lambda_gb_second_x86"],
        )
    )
    rows.append(
        (
            "this run's compute on arm64 instead of x86_64",
            f"{seen.gb_seconds:.3f} GB-s",
            seen.gb_seconds * p["lambda_gb_second_arm64"],
        )
    )
    return rows


def show(stack: Stack) -> Usage:
    aws.require_up()
    price, seen = prices(), usage(stack)
    table = Table(
        title=f"What {stack.queue_name} -> {stack.function_name} did since `make up`, at AWS's prices "
        f"({price['region']}, read {price['read']}; lab/watch/prices.json)",
        title_justify="left",
    )
    for column in ("what", "count", "unit", "USD"):
        table.add_column(column, justify="left" if column in ("what", "unit") else "right")
    lines = bill(seen, price)
    for what, count, unit, usd in lines:
        table.add_row(what, f"{count:,}" if isinstance(count, int) else str(count), unit, f"{usd:.8f}")
    table.add_row("[bold]total[/]", "", "", f"[bold]{sum(line[3] for line in lines):.8f}[/]")
    console.print(table)
    free = price["free_tier_per_month"]
    console.print(
        f"Always free each month (not subtracted above; SES and S3 have no such amount): "
        f"{free['sqs_requests']['amount']:,} SQS requests "
        f"(this run: {sum(seen.sqs.values()):,}), {free['lambda_requests']['amount']:,} Lambda requests "
        f"({seen.invocations:,}), {free['lambda_gb_seconds']['amount']:,} GB-seconds ({seen.gb_seconds:.3f})."
    )
    ifs = Table(title="What if (from the same counts)", title_justify="left")
    for column in ("what if", "that is", "USD"):
        ifs.add_column(column, justify="right" if column == "USD" else "left")
    for what, that, usd in what_if(seen, stack, price):
        ifs.add_row(what, that, f"{usd:.6f}")
    console.print(ifs)
    return seen
