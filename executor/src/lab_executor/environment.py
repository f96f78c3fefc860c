"""One Lambda execution environment, run by the local executor as a subprocess.

It plays the part that Lambda's init process plays on AWS:

- it serves the executor's ``POST /invoke`` and answers it, when the
  invocation ends, with the result and the invocation's logs (one request per
  invocation; readiness and start-up errors go to LocalStack's executor
  endpoint, ``$LOCALSTACK_RUNTIME_ENDPOINT``);
- it serves the Lambda Runtime API (``/2018-06-01/runtime/...``) to the runtime,
  which is AWS's own runtime interface client, ``awslambdaric``, running the
  handler in a child process, so the context object, the error shapes and the
  log format are the real ones;
- it enforces the function timeout and outlives a runtime that crashes: either
  way the invocation ends as an error and a fresh runtime is started, as AWS
  resets the environment; it limits the Init phase as Lambda does (10 s, then
  init again within the first invocation's timeout);
- it collects the runtime's output per invocation, framed by START, END and
  REPORT lines, which LocalStack stores in CloudWatch Logs.

Here: the environment's state and what ends an invocation; its HTTP server is
runtime_api.py, the runtime child process runtime_process.py.
"""

import base64
import http.client
import json
import math
import os
import signal
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer

from lab_executor.runtime_api import MAX_RESPONSE_BYTES, Handler
from lab_executor.runtime_process import LOOPBACK, Invocation, Runtime, describe_exit, init_report, max_memory_used_mb

# Lambda limits the Init phase to 10 s for on-demand environments; past it, Init runs
# again within the first invocation, under the function timeout. Provisioned
# environments get 130 s or the function timeout, whichever is longer
# (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>).
ON_DEMAND_INIT_LIMIT_SECONDS = 10.0
PROVISIONED_INIT_LIMIT_SECONDS = 130.0
# How often to check that LocalStack, our parent, is still alive.
PARENT_CHECK_SECONDS = 1.0
# Calls home must never use a proxy from the environment.
NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# awslambdaric sends an error's cause in a header (Lambda-Runtime-Function-XRay-Error-Cause),
# and a long error message makes it long. Python's HTTP server refuses a header
# line over 64 KB (431), and the runtime then dies; Lambda's runtime API takes
# it. 1 MiB, as the Go server of AWS's runtime interface emulator. The setting
# is the http module's own, in this process only.
http.client._MAXLINE = 1024 * 1024


class Environment:
    def __init__(self) -> None:
        self.port = int(os.environ["LAB_EXECUTOR_PORT"])
        self.task_root = os.environ["LAMBDA_TASK_ROOT"]
        self.timeout_seconds = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
        self.memory_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.memory_limit_mb = int(self.memory_mb)
        self.function_env: dict[str, str] = json.loads(os.environ["LAB_FUNCTION_ENVIRONMENT"])
        provisioned = self.function_env.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency"
        self.init_limit_seconds = (
            max(PROVISIONED_INIT_LIMIT_SECONDS, self.timeout_seconds) if provisioned else ON_DEMAND_INIT_LIMIT_SECONDS
        )
        # A synchronous response's limit, 6 MB (LocalStack's setting where it has one):
        # <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>.
        self.max_response_bytes = int(os.environ.get("LOCALSTACK_MAX_PAYLOAD_SIZE") or MAX_RESPONSE_BYTES)
        self.version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.localstack_endpoint = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"]
        self.runtime_id = os.environ["LOCALSTACK_RUNTIME_ID"]
        self.python = os.environ.get("LAB_RUNTIME_PYTHON") or sys.executable
        # One lock orders everything that changes the invocation in progress.
        self.lock = threading.RLock()
        self.current: Invocation | None = None
        self.ready_reported = False
        # Set when the handler could not be loaded (an import error, a crash
        # during init) and no invocation has failed with it yet.
        self.init_error: dict | None = None
        self.output: list[str] = []
        self.runtime: Runtime | None = None  # started once the Runtime API listens

    # -- output -----------------------------------------------------------------
    def add_output(self, lines) -> None:
        for line in lines:
            print(line, flush=True)  # also kept in the environment's own log file
            self.output.append(line)

    def take_output(self) -> list[str]:
        self.runtime.drain_output()
        with self.runtime.output_lock:
            lines, self.output = self.output, []
        return lines

    # -- calls to LocalStack ---------------------------------------------------------
    def post_to_localstack(self, path: str, body: bytes) -> None:
        request = urllib.request.Request(
            self.localstack_endpoint + path,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with NO_PROXY_OPENER.open(request, timeout=30) as response:
            response.read()

    # -- invocation life cycle -------------------------------------------------------
    def begin(self, invocation: Invocation) -> None:
        with self.lock:
            invocation.lines_before_start = self.take_output()
            self.current = invocation
            if self.init_error is not None:
                self.fail_with_init_error(invocation)
                return
            if not self.runtime.initialized:
                # A fresh runtime still starting (after a timeout, a crash, an Init past
                # its limit): its Init runs within this invocation, under its timeout.
                self.runtime.init_phase = "invoke"
            invocation.timer = threading.Timer(self.timeout_seconds, self.time_out, args=(invocation,))
            invocation.timer.daemon = True
            invocation.timer.start()
            self.runtime.working.set()
            self.runtime.invocations.put(invocation)

    def finish(self, invocation: Invocation, outcome: str, body: bytes, note: str = "", status: str = "") -> bool:
        """End the invocation once: post its logs, then its response or error."""
        with self.lock:
            if invocation.done:
                return False
            invocation.done = True
            if invocation.timer is not None:
                invocation.timer.cancel()
            self.current = None
            self.runtime.working.clear()
            duration_ms = (time.monotonic() - invocation.started) * 1000
            request_id = invocation.request_id
            report = [
                f"REPORT RequestId: {request_id}",
                f"Duration: {duration_ms:.2f} ms",
                f"Billed Duration: {math.ceil(duration_ms)} ms",
                f"Memory Size: {self.memory_mb} MB",
            ]
            used = max_memory_used_mb(self.runtime.process.pid)
            if used is None and self.runtime.peak_mb:  # the runtime is gone: what was seen of it
                used = math.ceil(self.runtime.peak_mb)
            if used is not None:
                report.append(f"Max Memory Used: {used} MB")
            if self.runtime.init_duration_ms is not None:
                report.append(f"Init Duration: {self.runtime.init_duration_ms:.2f} ms")
                self.runtime.init_duration_ms = None  # reported with the first invocation only
            if outcome == "timeout":
                report.append("Status: timeout")
            elif status:
                report.append(status)
            lines = [
                *invocation.lines_before_start,
                f"START RequestId: {request_id} Version: {self.version}",
                *self.take_output(),
                *([note] if note else []),
                f"END RequestId: {request_id}",
                "\t".join(report),
            ]
            invocation.result = {
                "is_error": outcome != "success",
                "payload": base64.b64encode(body).decode(),
                "logs": "\n".join(lines) + "\n",
            }
            invocation.finished.set()
            return True

    def fail(
        self,
        invocation: Invocation,
        error_type: str,
        message: str,
        outcome="error",
        with_request_id: bool = True,
        status: str = "",
    ) -> None:
        text = f"RequestId: {invocation.request_id} Error: {message}" if with_request_id else message
        body = json.dumps({"errorMessage": text, "errorType": error_type}).encode()
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.finish(invocation, outcome, body, note=f"{timestamp} {invocation.request_id} {message}", status=status)

    def time_out(self, invocation: Invocation) -> None:
        with self.lock:
            if invocation.done:
                return
            # Stop the handler where it is, as Lambda does, and start afresh.
            old_runtime = self.runtime
            old_runtime.end()
            old_runtime.process.wait()
            if not old_runtime.initialized:  # its Init ran into the function timeout
                invocation.lines_before_start.extend(self.take_output())  # its output, before the report
                invocation.lines_before_start.append(init_report(old_runtime, "timeout"))
            self.fail(
                invocation,
                "Sandbox.Timedout",
                f"Task timed out after {self.timeout_seconds:.2f} seconds",
                outcome="timeout",
            )
            self.runtime = Runtime(self)

    def response_too_large(self, invocation: Invocation) -> None:
        """Lambda's runtime API refuses the response (413) and the invocation fails;
        awslambdaric then exits on the refusal, so a fresh runtime starts here at
        once, as Lambda resets the environment, before the next invocation can
        reach the one that is ending."""
        with self.lock:
            self.fail(
                invocation,
                "Function.ResponseSizeTooLarge",
                f"Response payload size exceeded maximum allowed payload size ({self.max_response_bytes} bytes).",
                with_request_id=False,
            )
            self.runtime.end()
            self.runtime = Runtime(self)

    def runtime_exited(self, runtime: Runtime, code: int) -> None:
        with self.lock:
            if runtime.ended_on_purpose or runtime is not self.runtime:
                return
            # Killed past its memory size: Lambda names it so, with the signal that ended it.
            error_type = "Runtime.OutOfMemory" if runtime.out_of_memory else "Runtime.ExitError"
            if not runtime.initialized:
                # The runtime died during init without reporting an init error.
                message = f"Runtime exited during init: {describe_exit(code)}"
                self.report_init_error({"errorType": error_type, "errorMessage": message})
                return
            if self.current is not None:
                self.fail(
                    self.current,
                    error_type,
                    f"Runtime exited with error: {describe_exit(code)}",
                    status=f"Status: error\tError Type: {error_type}" if runtime.out_of_memory else "",
                )
            self.runtime = Runtime(self)

    def report_ready_once(self) -> None:
        """Tell LocalStack the environment is up (once): its invocations come then."""
        if not self.ready_reported:
            self.ready_reported = True
            self.post_to_localstack(f"/status/{self.runtime_id}/ready", b"{}")

    def runtime_ready(self, runtime: Runtime) -> None:
        """The runtime asked for its first invocation: its init phase is over."""
        with self.lock:
            if not runtime.initialized:
                runtime.ready.set()
                if runtime.init_phase == "init":  # an Init run within an invocation is in its Duration
                    runtime.init_duration_ms = (time.monotonic() - runtime.started) * 1000
                if self.current is None:
                    runtime.working.clear()  # until its first invocation
            self.report_ready_once()

    def init_timed_out(self, runtime: Runtime) -> None:
        """Its Init phase ran past the limit. As Lambda does, log it, and run Init
        again within the first invocation, under the function timeout: the
        environment reports ready, so that the invocation comes, with a fresh
        runtime starting."""
        with self.lock:
            if runtime is not self.runtime or runtime.initialized or self.current is not None:
                return  # it became ready meanwhile, or an invocation's timeout governs it now
            runtime.end()
            runtime.process.wait()
            runtime.drain_output()  # what it printed during init comes before the report, as on AWS
            self.add_output([init_report(runtime, "timeout")])
            self.runtime = Runtime(self, init_phase="invoke")
            self.report_ready_once()

    def report_init_error(self, error: dict) -> None:
        """The handler could not be loaded. As on AWS, the environment still comes
        up; the invocation in progress (or the next one) fails with this error and
        logs it, and the one after that runs init again. So a broken deployment's
        messages take the retry / DLQ path with the reason in CloudWatch, and a
        runtime killed during init costs one failed delivery."""
        with self.lock:
            if self.init_error is not None:
                return
            self.init_error = error
            if self.runtime is not None:
                self.runtime.drain_output()  # its traceback goes to the failing invocation's log
                self.runtime.end()
            if not self.ready_reported:
                self.report_ready_once()
            elif (current := self.current) is not None:
                self.fail_with_init_error(current)

    def fail_with_init_error(self, invocation: Invocation) -> None:
        error, self.init_error = self.init_error, None
        self.finish(
            invocation,
            "error",
            json.dumps(error).encode(),
            note=f"[ERROR] {error.get('errorType', 'Runtime.Unknown')}: {error.get('errorMessage', '')}",
        )
        self.runtime = Runtime(self)  # init again, for the next invocation

    def shutdown(self, *_args) -> None:
        if self.runtime is not None:
            self.runtime.end()
        os._exit(0)

    def watch_parent(self) -> None:
        parent = os.getppid()
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        self.shutdown()


def main() -> None:
    environment = Environment()
    Handler.environment = environment
    server = ThreadingHTTPServer((LOOPBACK, environment.port), Handler)
    server.daemon_threads = True
    environment.runtime = Runtime(environment)
    signal.signal(signal.SIGTERM, environment.shutdown)
    threading.Thread(target=environment.watch_parent, daemon=True, name="parent").start()
    server.serve_forever()


if __name__ == "__main__":
    main()
