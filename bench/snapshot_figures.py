"""`make bench-snapshot`: what keeping the lab's state costs, in figures.

On a host-mode lab of its own (a free port, a state folder under /tmp), it
sends ORDERS orders through the real pipeline and waits until all are stored
and emailed, then reads the plugin's last periodic save (size, seconds), stops
the lab with `lab stop` and starts it again with `lab start` (the load time),
and finally measures the loss window of a crash: orders are sent at a steady
rate with the mapping paused, LocalStack is killed with SIGKILL, and after the
restart the orders that came back are counted. Prints the figures and writes
them to bench/snapshot-results.json.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from lab.core import aws, settings
from lab.core.console import console
from lab.core.processes import free_port
from lab.core.waiting import wait_for
from producer import Options, send

RESULTS = settings.PROJECT_ROOT / "bench" / "snapshot-results.json"
ORDERS = 20_000
CRASH_RATE_PER_SECOND = 50
CRASH_SEND_SECONDS = 12


class OwnLab:
    def __init__(self, state_dir: Path) -> None:
        self.env = {
            **os.environ,
            "LAB_PORT": str(free_port()),
            "LAB_STATE_DIR": str(state_dir),
            "LAB_MODE": "host",
            "LAB_DASHBOARD": "0",
        }
        self.endpoint = f"http://127.0.0.1:{self.env['LAB_PORT']}"
        self.pid_file = state_dir / "localstack.pid"

    def run(self, *command: str) -> float:
        """Seconds the command took; it must succeed."""
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "lab", *command],
            env=self.env,
            capture_output=True,
            text=True,
            cwd=settings.PROJECT_ROOT,
        )
        if result.returncode != 0:
            raise SystemExit(f"lab {' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        return time.monotonic() - started

    def status(self) -> dict:
        return aws.get_json("/_lab/snapshot", self.endpoint)

    def stored(self, bucket: str) -> int:
        paginator = aws.client("s3", self.endpoint).get_paginator("list_objects_v2")
        return sum(page.get("KeyCount", 0) for page in paginator.paginate(Bucket=bucket, Prefix="orders/"))


def fill_and_restart(lab: OwnLab, orders: int) -> dict:
    stack = settings.Stack()
    with console.status(f"Sending {orders:,} orders through the pipeline and waiting until all are stored"):
        started = time.monotonic()
        send(Options(count=orders, queue=stack.queue_name, endpoint_url=lab.endpoint, quiet=True))
        wait_for(lambda: lab.stored(stack.bucket_name) == orders, 3600, f"{orders:,} orders stored")
        wait_for(lambda: len(aws.sent_emails(lab.endpoint)) == orders, 600, f"{orders:,} emails sent")
        filled_seconds = time.monotonic() - started
    saved_before = lab.status()["last_save"]["at"]
    wait_for(lambda: lab.status()["last_save"]["at"] > saved_before, 120, "a periodic save of the full lab")
    save = lab.status()["last_save"]
    stop_seconds = lab.run("stop")
    start_seconds = lab.run("start")
    restored = lab.status()["restored"]
    assert lab.stored(stack.bucket_name) == orders, "every stored order came back"
    return {
        "orders": orders,
        "fill_seconds": round(filled_seconds, 1),
        "snapshot_bytes": save["bytes"],
        "save_seconds": save["seconds"],
        "stop_seconds": round(stop_seconds, 1),
        "start_seconds": round(start_seconds, 1),
        "load_seconds": restored["seconds"],
    }


def crash_loss(lab: OwnLab) -> dict:
    """Orders sent at a steady rate, mapping paused; SIGKILL; how many came back."""
    stack = settings.Stack()
    sqs = aws.client("sqs", lab.endpoint)
    queue_url = sqs.get_queue_url(QueueName=stack.queue_name)["QueueUrl"]
    lab.run("pause")
    sqs.purge_queue(QueueUrl=queue_url)
    sent: list[tuple[float, str]] = []
    stop = threading.Event()

    def sender() -> None:
        n = 0
        while not stop.is_set():
            message_id = sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"n": n}))["MessageId"]
            sent.append((time.time(), message_id))
            n += 1
            time.sleep(1 / CRASH_RATE_PER_SECOND)

    thread = threading.Thread(target=sender)
    thread.start()
    time.sleep(CRASH_SEND_SECONDS)  # a steady stream, then the crash in the middle of it
    last_save = lab.status()["last_save"]["at"]
    os.killpg(int(lab.pid_file.read_text()), 9)
    killed_at = time.time()
    stop.set()
    thread.join()
    acknowledged = [message_id for at, message_id in sent if at <= killed_at]
    lab.run("start")
    back = set()
    while batch := aws.peek_messages(queue_url, lab.endpoint):  # peek shows up to 10; receive to see the rest
        back |= {m["MessageId"] for m in batch}
        if len(batch) < 10:
            break
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]:
            back.add(message["MessageId"])
    lost = {message_id for message_id in acknowledged if message_id not in back}
    first_lost = min((at for at, message_id in sent if message_id in lost), default=killed_at)
    return {
        "acknowledged_sends": len(acknowledged),
        "lost": len(lost),
        "loss_window_seconds": round(killed_at - first_lost, 2),  # sent this long before the kill: lost
        "seconds_since_last_snapshot_at_kill": round(killed_at - last_save, 2),
        "interval_seconds": lab.status()["interval_seconds"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=ORDERS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lab-snapshot-bench-") as folder:
        lab = OwnLab(Path(folder) / "state")
        try:
            lab.run("up")
            figures = {"full_lab": fill_and_restart(lab, args.orders), "crash": crash_loss(lab)}
        finally:
            subprocess.run(
                [sys.executable, "-m", "lab", "down"], env=lab.env, capture_output=True, cwd=settings.PROJECT_ROOT
            )
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    console.print_json(data=figures)
    console.print(f"Written to {RESULTS.relative_to(settings.PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
