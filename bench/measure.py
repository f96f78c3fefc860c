"""What `make bench` measures on the lab: latencies, throughput against the
ceilings of this machine (raw SQS, the real worker's own calls), memory, and the
time a poison message takes to reach the DLQ. bench/run.py runs them in order."""

import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import datetime

from lab.core import aws, settings
from lab.core.console import console
from lab.core.processes import LOCALSTACK_MARKER, MemorySampler, command_line, pids, process_alive, pss_mb
from lab.core.settings import Stack
from lab.core.waiting import wait_for
from lab.watch import cost
from producer import Options, Summary, send

SHARED_HANDLER = settings.PROJECT_ROOT / "bench" / "functions" / "shared_handler"
LATENCY_MESSAGES = int(os.environ.get("BENCH_LATENCY_MESSAGES", 200))
THROUGHPUT_MESSAGES = int(os.environ.get("BENCH_THROUGHPUT_MESSAGES", 5000))
WARM_INVOKES = 100
COLD_INVOKES = 3
CEILING_ORDERS = 500
DRAIN_TIMEOUT_SECONDS = 900
MEMORY_ORDERS = 1000  # sent right after make up: the lab's memory with some work done
# LocalStack releases an execution environment idle this long (LAMBDA_KEEPALIVE_MS;
# its default, 10 minutes, is the lab's). The bench's lab uses 90 s, longer than
# any pause between the runs that use an environment, to show the release.
KEEPALIVE_SECONDS = 90
IDLE_CPU_SECONDS = 60  # the lab up, nothing sent
# An execution environment is the environment server and the runtime (awslambdaric)
# (executor/src/lab_executor/environment.py).
PROCESSES_PER_ENVIRONMENT = 2


def step(text: str) -> None:
    console.print(f"[bold]bench:[/] {text}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def time_make_up(dashboard: bool = False) -> float:
    env = {
        **os.environ,
        "LAB_MODE": "host",
        "LAB_DASHBOARD": "1" if dashboard else "0",
        f"{settings.LOCALSTACK_OVERRIDE_PREFIX}LAMBDA_KEEPALIVE_MS": str(KEEPALIVE_SECONDS * 1000),
    }
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lab", "up"], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def invoke_latency(function_name: str) -> tuple[float, float]:
    """(median cold, median warm) round trip of a synchronous Invoke, in ms."""
    lambda_ = aws.client("lambda")
    payload = json.dumps({"Records": []}).encode()

    def invoke_ms() -> float:
        started = time.perf_counter()
        response = lambda_.invoke(FunctionName=function_name, Payload=payload)
        assert "FunctionError" not in response, response["Payload"].read()
        return (time.perf_counter() - started) * 1000

    cold = []
    for n in range(COLD_INVOKES):  # a configuration change retires the warm environments
        lambda_.update_function_configuration(
            FunctionName=function_name,
            Environment={"Variables": {**function_environment(function_name), "BENCH_COLD": str(n)}},
        )
        lambda_.get_waiter("function_updated_v2").wait(FunctionName=function_name)
        cold.append(invoke_ms())
    invoke_ms()
    warm = [invoke_ms() for _ in range(WARM_INVOKES)]
    return statistics.median(cold), statistics.median(warm)


def function_environment(function_name: str) -> dict:
    configuration = aws.client("lambda").get_function_configuration(FunctionName=function_name)
    return configuration.get("Environment", {}).get("Variables", {})


WARM_UP_MESSAGES = 10  # sent first and not counted: they start the execution environments


def one_at_a_time_latency(queue_url: str, bucket: str, message, handled_at, endpoint: str | None = None) -> list[float]:
    """Send one message at a time to an idle queue and wait for the object it leads
    to; ms from the send to the time the function wrote in that object.
    message(label) -> (body, key); handled_at(document) -> epoch seconds."""
    sqs, s3 = aws.client("sqs", endpoint), aws.client("s3", endpoint)
    run = uuid.uuid4().hex[:6]
    latencies = []
    for n in range(LATENCY_MESSAGES + WARM_UP_MESSAGES):
        body, key = message(f"lat-{run}-{n}")
        sent = time.time()
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        document = wait_for(lambda: _get_json(s3, bucket, key), 30, f"{key} written")  # noqa: B023
        if n >= WARM_UP_MESSAGES:
            latencies.append((handled_at(document) - sent) * 1000)
    return latencies


def idle_latency_real_worker(stack: Stack, queue_url: str) -> list[float]:
    """Send to order stored (its storedAt), one order at a time."""
    return one_at_a_time_latency(
        queue_url,
        stack.bucket_name,
        lambda label: (json.dumps({"orderId": label, "email": "a@example.com"}), f"orders/{label}.json"),
        lambda document: datetime.fromisoformat(document["storedAt"]).timestamp(),
    )


def allow_latency_objects(deployed, stacks: contextlib.ExitStack) -> None:
    """The shared handler writes latency/<id>.json, outside the worker's two
    prefixes: with IAM enforced its role needs that too, until the stack goes."""
    iam, name = aws.client("iam"), "bench-latency-objects"
    iam.put_role_policy(
        RoleName=deployed.stack.role_name,
        PolicyName=name,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{deployed.bucket}/latency/*",
                    }
                ],
            }
        ),
    )
    stacks.callback(iam.delete_role_policy, RoleName=deployed.stack.role_name, PolicyName=name)


def _get_json(s3, bucket: str, key: str) -> dict | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def drain(queue_url: str, endpoint: str | None = None) -> None:
    wait_for(
        lambda: aws.queue_is_empty(queue_url, endpoint),
        DRAIN_TIMEOUT_SECONDS,
        f"the queue {queue_url.rsplit('/', 1)[-1]} to drain",
    )


def throughput(queue_name: str, queue_url: str, endpoint: str | None = None, progress: list | None = None) -> float:
    """Send THROUGHPUT_MESSAGES as fast as the producer can; msg/s until the queue is empty."""
    step(f"{THROUGHPUT_MESSAGES} messages to {queue_name}, as fast as the producer sends them")
    options = Options(
        count=THROUGHPUT_MESSAGES, queue=queue_name, quiet=True, **({"endpoint_url": endpoint} if endpoint else {})
    )
    summary = Summary(queue_url=queue_url, requested=THROUGHPUT_MESSAGES)
    started = time.perf_counter()
    sending = threading.Thread(target=send, args=(options, summary), daemon=True)
    sending.start()
    if progress is not None:  # processed so far = sent so far - still in the queue
        threading.Thread(target=_sample_processed, args=(queue_url, started, summary, progress), daemon=True).start()
    sending.join()
    assert summary.sent == THROUGHPUT_MESSAGES, f"the producer sent {summary.sent} of {THROUGHPUT_MESSAGES}"
    drain(queue_url, endpoint)
    return THROUGHPUT_MESSAGES / (time.perf_counter() - started)


def _sample_processed(queue_url: str, started: float, summary: Summary, into: list) -> None:
    while True:
        sent = summary.sent
        depth = aws.queue_depth(queue_url)
        processed = sent - depth["visible"] - depth["in_flight"]
        into.append((time.perf_counter() - started, max(0, processed)))
        if processed >= THROUGHPUT_MESSAGES:
            return
        time.sleep(0.25)


def memory_now(function_name: str | None = None) -> tuple[float, float, int]:
    """(LocalStack MB, function processes MB, execution environments) now, proportional (PSS)."""
    sampler = MemorySampler(function_name=function_name)
    sampler.sample()
    _, emulator, functions, environments = sampler.rows[-1]
    return emulator, functions, environments


def send_and_drain(queue_name: str, queue_url: str, count: int) -> None:
    summary = Summary(queue_url=queue_url, requested=count)
    send(Options(count=count, queue=queue_name, quiet=True), summary)
    assert summary.sent == count, f"the producer sent {summary.sent} of {count}"
    drain(queue_url)


def counted_for(stack: Stack) -> str:
    """The stack's queue, DLQ, bucket and function, and "" (SES counts its sends there)."""
    return urllib.parse.urlencode([("resource", name) for name in [*cost.counted_resources(stack), ""]])


def calls_per_order(stack: Stack, orders: int) -> dict[str, float]:
    """The requests the stack's queue, bucket, function and SES served per order
    since POST /_lab/requests/reset (executor/request_counts.py)."""
    rows = aws.get_json(f"/_lab/requests?{counted_for(stack)}")["counts"]
    wanted = {
        ("sqs", "ReceiveMessage"),
        ("sqs", "DeleteMessageBatch"),
        ("s3", "PutObject"),
        ("ses", "SendEmail"),
        ("lambda", "Invoke"),
    }
    calls: dict[str, float] = {}
    for row in rows:
        if (row["service"], row["operation"]) in wanted:
            name = f"{row['service']}:{row['operation']}"
            calls[name] = calls.get(name, 0) + row["requests"] / orders
    return {name: round(value, 3) for name, value in sorted(calls.items())}


def fill(queue_url: str, count: int, endpoint: str | None = None) -> float:
    """SendMessageBatch from one client; returns msg/s."""
    sqs = aws.client("sqs", endpoint)
    started = time.perf_counter()
    for first in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "MessageBody": json.dumps({"n": first + n})} for n in range(min(10, count - first))
            ],
        )
    return count / (time.perf_counter() - started)


def raw_receive_delete(count: int, endpoint: str | None = None) -> tuple[float, float]:
    """The ceiling: one plain client receives and deletes `count` messages in 10s.
    Returns (receive+delete msg/s, batch send msg/s)."""
    sqs = aws.client("sqs", endpoint)
    url = sqs.create_queue(QueueName=f"bench-raw-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    sent_rate = fill(url, count, endpoint)
    done, started = 0, time.perf_counter()
    while done < count:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if messages:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
            )
            done += len(messages)
    rate = count / (time.perf_counter() - started)
    sqs.delete_queue(QueueUrl=url)
    return rate, sent_rate


def real_worker_ceiling(stack: Stack) -> float:
    """Orders/s at which one plain client gets LocalStack to serve the calls one
    order costs: a tenth of a receive and a batch delete, the conditional order
    put, the email claim (a conditional put), the SES send and the receipt put."""
    sqs, s3, ses = aws.client("sqs"), aws.client("s3"), aws.client("ses")
    url = sqs.create_queue(QueueName=f"bench-ceiling-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    fill(url, CEILING_ORDERS)
    run = uuid.uuid4().hex[:6]
    started = time.perf_counter()
    for first in range(0, CEILING_ORDERS, 10):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        for n in range(len(messages)):
            order_id = f"ceiling-{run}-{first + n}"
            s3.put_object(Bucket=stack.bucket_name, Key=f"bench/orders/{order_id}.json", Body=b"{}", IfNoneMatch="*")
            s3.put_object(Bucket=stack.bucket_name, Key=f"bench/emails/{order_id}.json", Body=b"{}", IfNoneMatch="*")
            ses.send_email(
                Source=stack.sender_email,
                Destination={"ToAddresses": ["a@example.com"]},
                Message={"Subject": {"Data": order_id}, "Body": {"Text": {"Data": "x"}}},
            )
            s3.put_object(Bucket=stack.bucket_name, Key=f"bench/emails/{order_id}.json", Body=b"{}")
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
    rate = CEILING_ORDERS / (time.perf_counter() - started)
    sqs.delete_queue(QueueUrl=url)
    return rate


def time_to_dlq(stack: Stack, queue_url: str, dlq_url: str) -> float:
    step(f"one poison order to the DLQ (floor: {stack.max_receive_count} x {stack.visibility_timeout} s)")
    marker = f"dlq-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps({"orderId": marker}))
    wait_for(lambda: any(marker in m["Body"] for m in aws.peek_messages(dlq_url)), 300, "the poison order in the DLQ")
    return time.perf_counter() - started


def shared_handler_latency(endpoint: str | None, queue_url: str, bucket: str) -> list[float]:
    """Send to handled (the shared handler's handledAt), one message at a time."""
    return one_at_a_time_latency(
        queue_url,
        bucket,
        lambda label: (json.dumps({"store": True, "id": label}), f"latency/{label}.json"),
        lambda document: document["handledAt"],
        endpoint,
    )


def summary_ms(latencies: list[float]) -> dict:
    return {
        name: round(percentile(latencies, share), 1)
        for name, share in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
    }


def dashboard_pid() -> int | None:
    return process_alive(settings.DASHBOARD_PID_FILE, b"dashboard")


def dashboard_mb() -> float:
    """The dashboard's proportional memory once it has sampled the lab (0 when it does not run)."""
    pid = dashboard_pid()
    if pid is None:
        return 0.0
    url = f"http://{settings.HOST}:{settings.DASHBOARD_PORT}/api/state"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status == 200
        except OSError:  # not listening yet
            return False

    wait_for(answers, 60, "the dashboard to answer /api/state")
    return pss_mb(pid)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far (/proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def idle_cpu_percent(seconds: float) -> dict[str, float]:
    """The CPU LocalStack and the dashboard use with nothing sent and no page open,
    as % of one core. The dashboard samples every second while its page asks, every
    thirty after (lab/watch/dashboard.py), so the interval starts once that has passed."""
    from lab.watch.dashboard import WATCHED_SECONDS

    localstack = [pid for pid in pids() if LOCALSTACK_MARKER in command_line(pid)]
    dashboard = [pid for pid in [dashboard_pid()] if pid is not None]

    def cpu_so_far() -> list[float]:
        return [sum(cpu_seconds(pid) for pid in group) for group in (localstack, dashboard)]

    with console.status(f"the lab idle for {WATCHED_SECONDS + seconds:.0f} s, nothing sent: its CPU"):
        time.sleep(WATCHED_SECONDS)  # the dashboard's page was last asked for just now
        before = cpu_so_far()
        started = time.perf_counter()
        time.sleep(seconds)  # a measuring interval: nothing is asserted after it
        used = cpu_so_far()
        elapsed = time.perf_counter() - started
    names = ("localstack", "dashboard")
    shares = {name: 100 * (after - first) / elapsed for name, first, after in zip(names, before, used, strict=True)}
    shares["lab"] = shares["localstack"] + shares["dashboard"]
    return {name: round(share, 2) for name, share in shares.items()}


def installed_mb() -> dict[str, float]:
    """What `make up` installs, measured: a venv made as `make venv` makes it (packages
    from uv's cache), then the test and bench tools added as `make test` adds them."""
    venv = settings.BUILD_DIR / "bench-install-venv"
    subprocess.run(["rm", "-rf", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)

    def install(which: str) -> float:
        subprocess.run(
            [str(settings.PROJECT_ROOT / "scripts" / "install-packages"), str(venv), which],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if which == "lab":
            subprocess.run(
                [str(settings.PROJECT_ROOT / "scripts" / "prepare-runtimes"), str(venv)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        du = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True, check=True)
        return float(du.stdout.split()[0])

    try:
        lab = install("lab")
        with_tools = install("test")
    finally:
        subprocess.run(["rm", "-rf", str(venv)], check=False)
    return {"make_up_venv_mb": lab, "test_and_bench_tools_mb": round(with_tools - lab)}
