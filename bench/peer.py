"""The peer emulator `make bench` measures beside the lab: MiniStack, in a venv
of its own, on loopback, started and stopped here, running the same shared
handler through the same kind of queue and mapping."""

import os
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

from bench.measure import (
    LATENCY_MESSAGES,
    SHARED_HANDLER,
    THROUGHPUT_MESSAGES,
    raw_receive_delete,
    shared_handler_latency,
    step,
    summary_ms,
    throughput,
)
from lab.core import aws, settings
from lab.core.processes import MemorySampler
from lab.core.waiting import wait_for

# The peer: MiniStack, in a venv of its own, on loopback, started and stopped here.
PEER_NAME = "MiniStack"
PEER_PACKAGE = "ministack==1.5.33"
# MiniStack runs Python functions with its own interpreter; AWS's runtime has
# boto3, so the peer's venv gets the boto3 that matches MiniStack's botocore pin.
PEER_EXTRAS = ["boto3==1.43.106"]
PEER_VENV = settings.BUILD_DIR / "ministack-venv"
PEER_PORT = int(os.environ.get("BENCH_PEER_PORT", 4599))
PEER_ENDPOINT = f"http://127.0.0.1:{PEER_PORT}"


def peer_python() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        step(f"installing {PEER_PACKAGE} into {PEER_VENV} (its own venv)")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", PEER_PACKAGE, *PEER_EXTRAS], check=True)
    return python


def shared_handler_zip() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(SHARED_HANDLER / "app.py", "app.py")
    return buffer.getvalue()


def run_peer(results: dict) -> None:
    python = peer_python()
    if aws.is_up(PEER_ENDPOINT):
        raise SystemExit(f"Port {PEER_PORT} answers already; stop what runs there or set BENCH_PEER_PORT")
    env = {
        **os.environ,
        "GATEWAY_PORT": str(PEER_PORT),
        "BIND_HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "LAMBDA_EXECUTOR": "local",
    }
    step(f"starting {PEER_NAME} on {PEER_ENDPOINT}")
    process = subprocess.Popen(
        [str(python), "-m", "ministack"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: aws.is_up(PEER_ENDPOINT), 60, f"{PEER_NAME} to answer on {PEER_ENDPOINT}")
        memory = MemorySampler(emulator_marker=b"-m\0ministack", interval=0.5).start()
        sqs, s3, lambda_ = (aws.client(name, PEER_ENDPOINT) for name in ("sqs", "s3", "lambda"))
        bucket = "bench-peer"
        s3.create_bucket(Bucket=bucket)
        queue_url = sqs.create_queue(QueueName="bench-peer", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lambda_.create_function(
            FunctionName="bench-peer",
            Runtime=settings.FUNCTION_RUNTIME,
            Handler="app.handler",
            Role=f"arn:aws:iam::{settings.ACCOUNT_ID}:role/bench",
            Code={"ZipFile": shared_handler_zip()},
            Timeout=30,
            Environment={"Variables": {"ORDER_BUCKET": bucket}},
        )
        lambda_.get_waiter("function_active_v2").wait(FunctionName="bench-peer")
        lambda_.create_event_source_mapping(
            FunctionName="bench-peer",
            EventSourceArn=queue_arn,
            BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )
        step(f"{PEER_NAME}: idle latency, {LATENCY_MESSAGES} messages")
        latencies = shared_handler_latency(PEER_ENDPOINT, queue_url, bucket)
        raw, _ = raw_receive_delete(THROUGHPUT_MESSAGES, PEER_ENDPOINT)
        rate = throughput("bench-peer", queue_url, PEER_ENDPOINT)
        memory.stop()
        results["peer"] = {
            "name": PEER_NAME,
            "version": PEER_PACKAGE.split("==")[1],
            "e2e_latency_ms": summary_ms(latencies),
            "throughput_msgs_per_s": round(rate, 1),
            "raw_sqs_receive_delete_msgs_per_s": round(raw, 1),
            "throughput_fraction_of_raw": round(rate / raw, 3),
            # Proportional memory (PSS), as the lab's.
            "peak_mb": {
                "emulator": round(memory.peak(1)),
                "functions": round(memory.peak(2)),
                "total": round(memory.peak_total()),
            },
        }
    finally:
        os.killpg(process.pid, 15)
        process.wait(20)
