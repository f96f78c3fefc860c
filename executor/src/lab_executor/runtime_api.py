"""The environment's HTTP server: the executor's ``POST /invoke`` (answered when
the invocation ends) and the Lambda Runtime API (``/2018-06-01/runtime/...``)
that the runtime asks for its next invocation and posts its result to, with the
answers Lambda's own gives (InvalidRequestID, RequestEntityTooLarge).
"""

import contextlib
import json
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from lab_executor.runtime_process import Invocation

if TYPE_CHECKING:
    from lab_executor.environment import Environment

RUNTIME_API = "/2018-06-01/runtime"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100  # the figure Lambda's error message names: 6291556


class Handler(BaseHTTPRequestHandler):
    environment: "Environment"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle's
    # algorithm and delayed ACKs add about 40 ms to every invocation.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # keep the function's log free of access lines
        pass

    def reply(self, status: HTTPStatus, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        if self.path != f"{RUNTIME_API}/invocation/next":
            return self.reply(HTTPStatus.NOT_FOUND)
        environment = self.environment
        runtime = environment.runtime
        environment.runtime_ready(runtime)
        invocation = runtime.invocations.get()
        self.reply(
            HTTPStatus.OK,
            invocation.payload,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                "Lambda-Runtime-Trace-Id": invocation.trace_id,
            },
        )

    def do_POST(self) -> None:
        environment = self.environment
        body = self.read_body()
        parts = self.path.strip("/").split("/")
        if self.path == "/invoke":
            request = json.loads(body)
            invocation = Invocation(
                request_id=request["invoke-id"],
                function_arn=request["invoked-function-arn"],
                payload=request["payload"].encode(),
                trace_id=request.get("trace-id") or "",
                deadline_ms=int((time.time() + environment.timeout_seconds) * 1000),
            )
            environment.begin(invocation)
            # Answered when the invocation ends: the function timeout (our
            # timer) bounds the wait.
            invocation.finished.wait()
            return self.reply(
                HTTPStatus.OK, json.dumps(invocation.result).encode(), {"Content-Type": "application/json"}
            )
        if self.path == f"{RUNTIME_API}/init/error":
            environment.report_init_error(json.loads(body or b"{}"))
            return self.reply(HTTPStatus.ACCEPTED)
        # /2018-06-01/runtime/invocation/<request id>/response|error
        if len(parts) == 5 and parts[2] == "invocation" and parts[4] in ("response", "error"):
            request_id, kind = parts[3], parts[4]
            with environment.lock:
                current = environment.current
                if current is None or current.request_id != request_id:
                    # Too late (the invocation timed out) or unknown: as Lambda answers.
                    return self.reply(HTTPStatus.BAD_REQUEST, b'{"errorType":"InvalidRequestID"}')
                if kind == "response" and len(body) > environment.max_response_bytes:
                    environment.response_too_large(current)
                    with contextlib.suppress(OSError):  # the runtime it answers was just ended
                        self.reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b'{"errorType":"RequestEntityTooLarge"}')
                    return None
                environment.finish(current, "success" if kind == "response" else "error", body)
            return self.reply(HTTPStatus.ACCEPTED)
        self.reply(HTTPStatus.NOT_FOUND)
