"""The lab's state survives `make stop`, a crash and an unreadable snapshot:
a second host-mode lab of the test's own, stopped, killed and started again
through the same `python -m lab` commands the Makefile runs."""

import io
import json
import os
import time
import zipfile
from pathlib import Path

from helpers import emails_per_order, only_in_host_mode, order, run_lab, wait_for
from lab.core import aws
from lab.core.processes import group_members
from lab.core.settings import Stack

pytestmark = only_in_host_mode("a LocalStack of its own, stopped and killed")
STACK = Stack()  # the names `make up` gives
# Long enough to outlast a stop and a start on a loaded machine: the message is
# still in flight afterwards, and the test ends its wait itself.
IN_FLIGHT_SECONDS = 300
DELAY_SECONDS = 300
TIMEOUT_SECONDS = 90


class OwnLab:
    def __init__(self, env: dict) -> None:
        self.env = {**env, "LAB_DASHBOARD": "0"}  # not what is tested here, and it polls every second
        self.endpoint = f"http://127.0.0.1:{env['LAB_PORT']}"
        self.snapshot = Path(env["LAB_STATE_DIR"]) / "snapshot" / "snapshot.pickle"

    def run(self, *command: str) -> str:
        result = run_lab(*command, env=self.env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def client(self, service: str):
        return aws.client(service, self.endpoint)

    def queue_url(self, name: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]

    def stored(self) -> set[str]:
        listing = self.client("s3").list_objects_v2(Bucket=STACK.bucket_name, Prefix="orders/")
        return {item["Key"].removeprefix("orders/").removesuffix(".json") for item in listing.get("Contents", [])}

    def stored_order(self, order_id: str) -> dict:
        """The order as the worker stored it: the object's bytes, not only its key."""
        body = self.client("s3").get_object(Bucket=STACK.bucket_name, Key=f"orders/{order_id}.json")["Body"]
        return json.loads(body.read())["order"]

    def emailed(self) -> set[str]:
        return {aws.emailed_order_id(message) for message in aws.sent_emails(self.endpoint)}

    def depth(self, queue_url: str) -> dict[str, int]:
        return aws.queue_depth(queue_url, self.endpoint)

    def deliveries(self, message_id: str) -> list[int]:
        """The receive counts the worker logged for a message, in order."""
        events = self.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{STACK.function_name}")["events"]
        records = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
        return [r["receive_count"] for r in records if r.get("message_id") == message_id]

    def last_save(self) -> float:
        return (aws.get_json("/_lab/snapshot", self.endpoint).get("last_save") or {}).get("at", 0)


def test_the_lab_comes_back_after_a_stop_and_a_crash_and_starts_clean_from_an_unreadable_snapshot(lab_env):
    """One lab through all three (each LocalStack start costs the suite a few
    seconds of CPU): a clean stop, then a crash, then a snapshot that cannot be read."""
    # A crash keeps what the last periodic snapshot saved: one every 2 s.
    lab = OwnLab({**lab_env, "LAB_SNAPSHOT_INTERVAL_SECONDS": "2"})
    comes_back_after_a_stop(lab)
    comes_back_after_a_crash(lab, Path(lab_env["LAB_STATE_DIR"]) / "localstack.pid")
    creates_again_a_function_whose_code_did_not_come_back(lab)
    starts_clean_from_an_unreadable_snapshot(lab)
    starts_clean_from_a_snapshot_a_service_refuses(lab)


def comes_back_after_a_stop(lab: OwnLab) -> None:
    """Its messages (waiting, in flight, delayed, dead), orders and emails; and it carries on."""
    lab.run("lab", "up")
    sqs = lab.client("sqs")
    queue_url, dlq_url = lab.queue_url(STACK.queue_name), lab.queue_url(STACK.dlq_name)
    sqs.send_message(QueueUrl=queue_url, MessageBody=order("before-the-stop"))
    wait_for(
        lambda: "before-the-stop" in lab.stored() and "before-the-stop" in lab.emailed(),
        TIMEOUT_SECONDS,
        "the first order stored and emailed",
    )

    lab.run("lab", "pause")  # what follows waits in the queue
    poison_id = sqs.send_message(QueueUrl=queue_url, MessageBody="not an order")["MessageId"]
    received = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=IN_FLIGHT_SECONDS)["Messages"]
    assert [m["MessageId"] for m in received] == [poison_id]  # in flight, received once
    waiting = [f"waiting-{n}" for n in range(3)]
    for order_id in waiting:
        sqs.send_message(QueueUrl=queue_url, MessageBody=order(order_id))
    sqs.send_message(QueueUrl=queue_url, MessageBody=order("delayed"), DelaySeconds=DELAY_SECONDS // 2)
    sqs.send_message(QueueUrl=dlq_url, MessageBody="parked in the DLQ")
    before = {"queue": lab.depth(queue_url), "dlq": lab.depth(dlq_url)}
    assert before["queue"] == {"visible": 3, "in_flight": 1, "delayed": 1}

    leave_a_mapping_without_its_function(lab, queue_url)
    stopped = lab.run("lab", "stop")
    assert "state is kept" in stopped
    # LocalStack alone first: `make up` also provisions, which enables the mapping again.
    started = lab.run("lab", "start")
    assert "Restored the lab as `make stop` left it" in started

    assert {"queue": lab.depth(queue_url), "dlq": lab.depth(dlq_url)} == before
    assert "before-the-stop" in lab.stored() and "before-the-stop" in lab.emailed()
    # Each start empties LocalStack's temporary files, as a new container has none:
    # the order's bytes came back from the saved state (they once came back empty).
    assert lab.stored_order("before-the-stop")["orderId"] == "before-the-stop"
    # The receipt handle from before the stop still names the message in flight.
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=received[0]["ReceiptHandle"], VisibilityTimeout=0)
    lab.run("lab", "up")  # provisions on top of what came back: the mapping runs again
    wait_for(
        lambda: set(waiting) <= lab.stored() and set(waiting) <= lab.emailed(),
        TIMEOUT_SECONDS,
        "the waiting orders stored and emailed by the restored function and mapping",
    )
    dead = wait_for(
        lambda: len(found := aws.peek_messages(dlq_url, lab.endpoint)) == 2 and found,
        TIMEOUT_SECONDS,
        "the poison message in the DLQ beside the parked one",
    )
    assert poison_id in {m["MessageId"] for m in dead}
    counts = wait_for(
        lambda: (found := lab.deliveries(poison_id)) and len(found) >= 2 and found,
        TIMEOUT_SECONDS,
        "the poison message's deliveries after the restart",
    )
    assert counts == [2, 3], "its receive count carried on from before the stop, up to maxReceiveCount 3"


def leave_a_mapping_without_its_function(lab: OwnLab, queue_url: str) -> None:
    """AWS and LocalStack keep a mapping whose function was deleted; LocalStack 4.14.0
    cannot restore one, and before the lab left it out it failed the whole load."""
    lambda_ = lab.client("lambda")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    lambda_.create_function(
        FunctionName="deleted-later",
        Runtime="python3.13",
        Handler="app.handler",
        Role=f"arn:aws:iam::000000000000:role/{STACK.role_name}",
        Code={"ZipFile": code.getvalue()},
    )
    lambda_.get_waiter("function_active_v2").wait(FunctionName="deleted-later")
    queue_arn = lab.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    lambda_.create_event_source_mapping(
        FunctionName="deleted-later", Enabled=False, EventSourceArn=queue_arn["Attributes"]["QueueArn"]
    )
    lambda_.delete_function(FunctionName="deleted-later")
    assert [
        m["FunctionArn"].endswith(":deleted-later")
        for m in lambda_.list_event_source_mappings(EventSourceArn=queue_arn["Attributes"]["QueueArn"])[
            "EventSourceMappings"
        ]
    ].count(True) == 1


def comes_back_after_a_crash(lab: OwnLab, pid_file: Path) -> None:
    """What the last periodic snapshot saved, the paused mapping included."""
    lab.run("lab", "pause")
    queue_url = lab.queue_url(STACK.queue_name)
    sqs = lab.client("sqs")
    sqs.purge_queue(QueueUrl=queue_url)  # the delayed order of the first part
    sent_ids = {sqs.send_message(QueueUrl=queue_url, MessageBody=order(f"kept-{n}"))["MessageId"] for n in range(5)}
    sent_at = time.time()  # LocalStack runs on this machine's clock
    wait_for(lambda: lab.last_save() > sent_at, TIMEOUT_SECONDS, "a snapshot taken after the orders were sent")

    pgid = int(pid_file.read_text())
    os.killpg(pgid, 9)  # no shutdown hook runs: only the periodic snapshot is left
    wait_for(lambda: not group_members(pgid), 30, "LocalStack gone")

    started = lab.run("lab", "start")  # LocalStack alone: `make up` would enable the mapping again
    assert "stopped without `make stop`" in started
    assert {m["MessageId"] for m in aws.peek_messages(queue_url, lab.endpoint)} == sent_ids
    mapping = lab.client("lambda").list_event_source_mappings(FunctionName=STACK.function_name)
    assert [m["State"] for m in mapping["EventSourceMappings"]] == ["Disabled"], "paused, as before the crash"


def creates_again_a_function_whose_code_did_not_come_back(lab: OwnLab) -> None:
    """A saved state without the function's code archive (as a lab saved before S3's
    keys were stable left it): the function is created again from its code, and the
    orders that waited in the queue are processed, each once."""
    from localstack.state import pickle as state_pickle

    from lab_executor.persistence import _dumps

    queue_url, dlq_url = lab.queue_url(STACK.queue_name), lab.queue_url(STACK.dlq_name)
    waiting = {json.loads(m["Body"])["orderId"] for m in aws.peek_messages(queue_url, lab.endpoint)}
    assert len(waiting) == 5, "the orders kept across the crash wait in the queue (the mapping is paused)"
    dead = {m["MessageId"] for m in aws.peek_messages(dlq_url, lab.endpoint)}
    lab.run("lab", "stop")
    state = state_pickle.loads(lab.snapshot.read_bytes())
    code_buckets = [bucket for bucket in state["extras"]["s3"] if bucket.startswith("awslambda-")]
    assert code_buckets, "the functions' code archives are in the saved state"
    for bucket in code_buckets:
        del state["extras"]["s3"][bucket]
    lab.snapshot.write_bytes(_dumps(state))

    started = lab.run("lab", "up")
    assert "could not start" not in started and "could not be read" not in started, started
    wait_for(lambda: waiting <= lab.stored(), TIMEOUT_SECONDS, "the waiting orders stored by the function made again")
    wait_for(lambda: waiting <= set(emails_per_order(lab.endpoint)), TIMEOUT_SECONDS, "the waiting orders emailed")
    wait_for(lambda: aws.queue_is_empty(queue_url, lab.endpoint), TIMEOUT_SECONDS, "the queue empty")
    emails = emails_per_order(lab.endpoint)
    assert {order_id: emails[order_id] for order_id in waiting} == dict.fromkeys(waiting, 1), "each emailed once"
    assert {m["MessageId"] for m in aws.peek_messages(dlq_url, lab.endpoint)} == dead, "the DLQ as it was"


def starts_clean_from_an_unreadable_snapshot(lab: OwnLab) -> None:
    """A disk that filled up, say: one line says so, the file is kept aside, the lab starts clean."""
    queue_url = lab.queue_url(STACK.queue_name)
    lab.run("lab", "stop")
    lab.snapshot.write_bytes(b"not a snapshot")
    started = lab.run("lab", "up")
    said = [line for line in started.splitlines() if "could not be read" in line]
    assert len(said) == 1, started
    moved = [path for path in lab.snapshot.parent.iterdir() if path.name.startswith("snapshot.unreadable-")]
    assert len(moved) == 1 and str(moved[0]) in said[0]
    assert moved[0].read_bytes() == b"not a snapshot"
    assert not aws.peek_messages(queue_url, lab.endpoint), "a clean lab: the kept orders went with the snapshot"
    lab.client("sqs").send_message(QueueUrl=queue_url, MessageBody=order("after-a-clean-start"))
    wait_for(lambda: lab.stored() == {"after-a-clean-start"}, TIMEOUT_SECONDS, "an order stored by the clean lab")


def starts_clean_from_a_snapshot_a_service_refuses(lab: OwnLab) -> None:
    """A snapshot that reads, but that Lambda (loaded last) refuses: the services loaded
    before it are emptied again, so the lab is as clean as the line says."""
    from localstack.state import pickle as state_pickle

    from lab_executor.persistence import _dumps

    lab.run("lab", "pause")
    queue_url = lab.queue_url(STACK.queue_name)
    lab.client("sqs").send_message(QueueUrl=queue_url, MessageBody=order("in-a-refused-snapshot"))
    lab.run("lab", "stop")
    state = state_pickle.loads(lab.snapshot.read_bytes())
    state["services"]["lambda"].append(state["services"]["lambda"][0])  # one store more than Lambda has
    lab.snapshot.write_bytes(_dumps(state))
    started = lab.run("lab", "up")
    assert [line for line in started.splitlines() if "could not be read" in line and "loading it failed" in line]
    assert not aws.peek_messages(queue_url, lab.endpoint), "SQS, loaded before Lambda refused, is empty again"
    assert "in-a-refused-snapshot" not in lab.stored()
    lab.client("sqs").send_message(QueueUrl=queue_url, MessageBody=order("after-a-refused-snapshot"))
    wait_for(lambda: "after-a-refused-snapshot" in lab.stored(), TIMEOUT_SECONDS, "an order stored by the clean lab")
