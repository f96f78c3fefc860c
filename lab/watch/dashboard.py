"""The live dashboard: a page on 127.0.0.1 that draws the lab, updated every second.

A sampler thread reads the stack's status each second while the page is
open, every thirty seconds while nobody looks (the same reading `make status`
shows), and keeps the last ten minutes; the page (dashboard/static)
polls ``/api/state`` and draws it with uPlot, vendored so that it works offline.
"""

import json
import threading
import time
from collections import deque
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from lab.core import aws, settings
from lab.core.console import console
from lab.core.settings import Stack
from lab.watch import guide, observe
from lab.watch.facts import now_ms

STATIC_DIR = settings.PROJECT_ROOT / "dashboard" / "static"
SAMPLE_SECONDS = 1.0
# Nobody has asked for the page for WATCHED_SECONDS: sample every
# UNWATCHED_SAMPLE_SECONDS instead (a sample is a dozen calls to LocalStack and
# a read of the last minute's logs); the page's rates use the samples' times.
WATCHED_SECONDS = 10.0
UNWATCHED_SAMPLE_SECONDS = 30.0
HISTORY_SAMPLES = 600  # ten minutes
PREVIEW_CHARACTERS = 80
LOG_WINDOW_SECONDS = 60


class Sampler(threading.Thread):
    def __init__(self, stack: Stack, follow: bool = False) -> None:
        super().__init__(daemon=True, name="dashboard-sampler")
        self.stack = stack
        self.follow = follow  # the lab's own stack: after `LAB_FIFO=1 make up`, show the FIFO queue
        # request id -> (ok / partial / failed, records that failed), since the dashboard started
        self.outcomes: dict[str, tuple[str, int]] = {}
        self.started_ms = now_ms()
        self.samples: deque[dict] = deque(maxlen=HISTORY_SAMPLES)
        self.latest: dict = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.wake = threading.Event()  # a request after an unwatched spell: sample now
        self.last_request = 0.0
        self.interval = SAMPLE_SECONDS
        # For the guide's checks: what the student did since the dashboard started.
        self.progress = guide.Progress()
        self.baseline: dict[str, int] | None = None  # stored and denied at the first sample
        self.timed_out: set[str] = set()  # request ids
        self.redelivered: set[str] = set()  # request ids with a record received before
        self.redrives_before: set | None = None  # the DLQ's finished redrives at the first look

    def sample(self) -> None:
        # Only the last minute of logs (invocations are counted once, by request
        # id), so a sample costs the same after an hour as after a minute.
        if self.follow:
            self.stack = aws.lab_stack()
        # The most in flight at once since the previous sample.
        reading = observe.read_status(self.stack, LOG_WINDOW_SECONDS, self.interval)
        for invocation in reading.invocations:
            if (invocation.ended_ms or 0) >= self.started_ms:  # complete (its REPORT is in), and ours
                self.outcomes[invocation.request_id] = (invocation.outcome, invocation.failed)
                if invocation.timed_out:
                    self.timed_out.add(invocation.request_id)
                if invocation.highest_receive >= 2:
                    self.redelivered.add(invocation.request_id)
        queue, dlq = reading.queues[self.stack.queue_name], reading.queues[self.stack.dlq_name]
        point = {
            "t": reading.taken_ms / 1000,
            "visible": queue["visible"],
            "in_flight": queue["in_flight"],
            "dlq": dlq["visible"] + dlq["in_flight"],
            "stored": reading.orders_stored,
            "emails": reading.emails_sent,
            "invocations": len(self.outcomes),
            "errors": sum(1 for outcome, _ in self.outcomes.values() if outcome != "ok"),
            "failed_records": sum(failed for _, failed in self.outcomes.values()),
            # The most in flight at once since the previous sample.
            "concurrency": (reading.concurrency or {}).get("peak", 0),
            "denied": (reading.denied or {}).get("count", 0),  # requests of the stack's roles IAM denied
        }
        now = now_ms()
        poison = [
            {
                "id": message["MessageId"],
                "receives": message["Attributes"].get("ApproximateReceiveCount", "?"),
                "age_s": round((now - int(message["Attributes"]["SentTimestamp"])) / 1000),
                "body": message["Body"][:PREVIEW_CHARACTERS],
            }
            for message in aws.peek_messages(dlq["url"])
        ]
        mapping = reading.mapping or {}
        self.progress.update(self.facts(reading, point, mapping, dlq["arn"]), point["t"])
        with self.lock:
            self.samples.append(point)
            self.latest = {
                "stack": {
                    "queue": self.stack.queue_name,
                    "dlq": self.stack.dlq_name,
                    "function": self.stack.function_name,
                },
                "mapping": {
                    "state": mapping.get("State", "none"),
                    "batch_size": mapping.get("BatchSize"),
                    "maximum_concurrency": (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency"),
                },
                "poison": poison,
                "guide": dict(self.progress.done),
            }

    def facts(self, reading: observe.StatusReading, point: dict, mapping: dict, dlq_arn: str) -> guide.Facts:
        if self.baseline is None:
            self.baseline = {"stored": point["stored"], "denied": point["denied"]}
        return guide.Facts(
            mapping_state=mapping.get("State", "none"),
            batch_size=mapping.get("BatchSize"),
            visible=point["visible"],
            in_flight=point["in_flight"],
            dlq=point["dlq"],
            stored=point["stored"] - self.baseline["stored"],
            denied=point["denied"] - self.baseline["denied"],
            timeouts=len(self.timed_out),
            redelivered=len(self.redelivered),
            redrives=0 if "redriven" in self.progress.done else self.redrives_since_start(dlq_arn),
            retention_seconds=reading.queues[self.stack.queue_name]["retention_s"],
            fifo=self.stack.fifo,
        )

    def redrives_since_start(self, dlq_arn: str) -> int:
        # A finished task has no handle; its start time tells it apart. Not compared
        # with a clock: LocalStack 4.14.0 takes a UTC time for local time here, so
        # its StartedTimestamp is hours off on a machine whose zone is not UTC.
        tasks = aws.observer_client("sqs").list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        completed = {task.get("StartedTimestamp") for task in tasks if task["Status"] == "COMPLETED"}
        if self.redrives_before is None:
            self.redrives_before = completed
        return len(completed - self.redrives_before)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sample()
            except Exception as error:  # noqa: BLE001 -- LocalStack restarting: keep the page alive
                console.print(f"dashboard: sample failed ({error}); retrying")
            watched = time.monotonic() - self.last_request < WATCHED_SECONDS
            self.interval = SAMPLE_SECONDS if watched else UNWATCHED_SAMPLE_SECONDS
            self.wake.wait(self.interval)
            self.wake.clear()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def state(self) -> dict:
        if time.monotonic() - self.last_request >= WATCHED_SECONDS:
            self.wake.set()  # back to a sample a second, from now
        self.last_request = time.monotonic()
        with self.lock:
            return {"samples": list(self.samples), **self.latest}


def handler_for(sampler: Sampler):
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(STATIC_DIR), **kwargs)

        def log_message(self, format, *args):  # the terminal is for the lab, not access logs
            pass

        def do_GET(self):
            path = self.path.split("?")[0]
            if path in ("/api/state", "/api/guide"):
                body = json.dumps(sampler.state() if path == "/api/state" else guide.steps()).encode()
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

    return Handler


def start(stack: Stack, port: int, follow: bool = False) -> tuple[ThreadingHTTPServer, Sampler]:
    """Serve the dashboard on 127.0.0.1:port (DASHBOARD_LISTEN_HOST) in the background; returns (server, sampler)."""
    sampler = Sampler(stack, follow)
    sampler.start()
    server = ThreadingHTTPServer((settings.DASHBOARD_LISTEN_HOST, port), handler_for(sampler))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="dashboard-http").start()
    return server, sampler


def serve(stack: Stack, port: int, follow: bool = False) -> None:
    aws.require_up()
    server, sampler = start(stack, port, follow)
    console.print(f"Dashboard: http://{settings.HOST}:{port}/ (updates every second; Ctrl-C stops)")
    try:
        while True:
            time.sleep(SAMPLE_SECONDS)
    except KeyboardInterrupt:
        sampler.stop()
        server.shutdown()
