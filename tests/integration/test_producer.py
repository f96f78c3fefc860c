"""The producer CLI: deterministic mixes, clear errors, nothing dropped silently."""

import json
import socket
import subprocess
import sys

from helpers import emails_for, stored_order_ids, wait_for
from producer import Options, make_order


def producer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "producer", *args], capture_output=True, text=True, timeout=60)


def test_an_unreachable_endpoint_gets_one_clear_line():
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = producer("--count", "1", "--quiet", "--endpoint-url", f"http://127.0.0.1:{port}")
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert lines == [f"producer: cannot reach LocalStack at http://127.0.0.1:{port}: start the lab with `make up`"]


def test_a_missing_queue_is_named(localstack):
    result = producer("--count", "1", "--quiet", "--queue", "no-such-queue")
    assert result.returncode == 3
    assert "queue 'no-such-queue' does not exist" in result.stderr


def test_a_mixed_run_reports_each_kind_and_the_valid_ones_are_processed(stack):
    result = producer(
        "--count",
        "10",
        "--poison-share",
        "0.2",
        "--fail-share",
        "0.0",
        "--queue",
        stack.stack.queue_name,
        "--json",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["sent"], summary["failed"], summary["poison"]) == (10, 0, 2)
    args = Options(poison_share=0.2)
    run_id = summary["order_ids"][0].rsplit("-", 1)[0]
    valid = {order_id for kind, order_id, _ in (make_order(run_id, i, args) for i in range(10)) if kind == "valid"}
    assert len(valid) == 8
    wait_for(lambda: stored_order_ids(stack.bucket) >= valid, 60, "the 8 valid orders stored")
    wait_for(lambda: len(emails_for(valid)) == 8, 60, "8 emails, one per valid order")


class VanishingEndpoint:
    """A reverse proxy in front of LocalStack that passes `batches` SendMessageBatch
    calls, then disappears (its port closes), as LocalStack does when it stops."""

    def __init__(self, batches: int) -> None:
        import http.client
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from lab.core import settings

        proxy = self
        self.passed = 0

        class Forward(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                upstream = http.client.HTTPConnection(settings.HOST, settings.PORT, timeout=30)
                upstream.request(
                    "POST", self.path, body, {k: v for k, v in self.headers.items() if k.lower() != "host"}
                )
                answer = upstream.getresponse()
                content = answer.read()
                last = "SendMessageBatch" in self.headers.get("X-Amz-Target", "") and proxy.count_batch()
                if last:  # gone before the client can send another request
                    proxy.server.socket.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                if last:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(content)

        self.batches = batches
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        import threading

        threading.Thread(target=self.serve, daemon=True).start()

    def count_batch(self) -> bool:
        self.passed += 1
        return self.passed == self.batches

    def serve(self):
        try:
            self.server.serve_forever(poll_interval=0.05)
        except (OSError, ValueError):
            pass  # the socket was closed under it: that is the point


def test_when_localstack_stops_mid_send_the_producer_names_exactly_the_orders_not_sent(make_stack):
    from lab.core import aws

    stack = make_stack(enabled=False)  # what was sent stays in the queue, to compare
    endpoint = VanishingEndpoint(batches=7)
    result = producer(
        "--count",
        "200",
        "--queue",
        stack.stack.queue_name,
        "--endpoint-url",
        endpoint.url,
        "--run-id",
        "cut",
        "--json",
        "--quiet",
    )
    assert result.returncode != 0, "a producer that lost orders must not claim success"
    summary = json.loads(result.stdout)
    in_queue = {json.loads(m["Body"])["orderId"] for m in aws.peek_messages(stack.queue_url)}
    assert set(summary["order_ids"]) == in_queue and len(in_queue) == 70
    assert summary["unsent_order_ids"] == [f"cut-{n:05d}" for n in range(70, 200)]
    assert summary["unconfirmed_order_ids"] == []
    assert "130 not sent: LocalStack stopped answering" in result.stderr
    assert "not in the queue: cut-00070..cut-00199" in result.stderr
