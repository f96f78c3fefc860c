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
"""

import base64
import contextlib
import http.client
import json
import math
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RUNTIME_API = "/2018-06-01/runtime"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100  # the figure Lambda's error message names: 6291556
# How often the runtime's memory is read while it works (init, an invocation); idle, once a second.
MEMORY_CHECK_SECONDS = 0.05
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
LOOPBACK = "127.0.0.1"
# Lambda limits the Init phase to 10 s for on-demand environments; past it, Init runs
# again within the first invocation, under the function timeout. Provisioned
# environments get 130 s or the function timeout, whichever is longer
# (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>).
ON_DEMAND_INIT_LIMIT_SECONDS = 10.0
PROVISIONED_INIT_LIMIT_SECONDS = 130.0
# How often to check that LocalStack, our parent, is still alive.
PARENT_CHECK_SECONDS = 1.0
OUTPUT_POLL_SECONDS = 0.2
# Calls home must never use a proxy from the environment.
NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# awslambdaric sends an error's cause in a header (Lambda-Runtime-Function-XRay-Error-Cause),
# and a long error message makes it long. Python's HTTP server refuses a header
# line over 64 KB (431), and the runtime then dies; Lambda's runtime API takes
# it. 1 MiB, as the Go server of AWS's runtime interface emulator. The setting
# is the http module's own, in this process only.
http.client._MAXLINE = 1024 * 1024


@dataclass
class Invocation:
    request_id: str
    function_arn: str
    payload: bytes
    trace_id: str
    deadline_ms: int
    started: float = field(default_factory=time.monotonic)
    lines_before_start: list[str] = field(default_factory=list)
    timer: threading.Timer | None = None
    done: bool = False
    # Set by finish(); the /invoke request waiting for it answers with result.
    finished: threading.Event = field(default_factory=threading.Event)
    result: dict | None = None


def describe_exit(code: int) -> str:
    """Exit status in the words Lambda uses ("exit status 1", "signal: segmentation fault")."""
    if code < 0:
        name = signal.strsignal(-code) or f"signal {-code}"
        return f"signal: {name.lower()}"
    return f"exit status {code}"


def resident_mb(pid: int) -> float | None:
    """The process's resident memory now, or None where /proc cannot tell (not Linux)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES / (1024 * 1024)
    except (OSError, IndexError, ValueError):
        return None


def run_queue_wait_seconds(pid: int) -> float:
    """How long the process has waited for a CPU while ready to run (the kernel's
    run_delay), 0 where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def max_memory_used_mb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return math.ceil(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return None


def init_report(runtime: "Runtime", status: str) -> str:
    """Lambda's log line for an Init phase that did not end ready."""
    duration_ms = (time.monotonic() - runtime.started) * 1000
    return f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: {runtime.init_phase}\tStatus: {status}"


class Runtime:
    """The runtime child process (awslambdaric running the handler) and its output."""

    def __init__(self, environment: "Environment", init_phase: str = "init") -> None:
        self.environment = environment
        self.invocations: queue.Queue[Invocation] = queue.Queue()
        self.started = time.monotonic()
        self.init_duration_ms: float | None = None
        self.ready = threading.Event()  # set when it first asks for an invocation
        # "init": Lambda's Init phase, with its limit; "invoke": Init run again within
        # an invocation, under the function timeout (after an Init that ran out).
        self.init_phase = init_phase
        self.ended_on_purpose = False
        # Set while it runs code (its init, then each invocation): when its memory is watched.
        self.working = threading.Event()
        self.working.set()
        self.out_of_memory = False
        self.peak_mb = 0.0
        self.output_lock = threading.Lock()
        self.partial_line = b""
        read_fd, write_fd = os.pipe()
        # The function's variables as Lambda's runtime has them (function_environment),
        # none of this process's own; its imports: its code (the working folder,
        # first on the path as /var/task is on AWS), then PYTHONPATH's runtime
        # packages, then the standard library. -S: no site-packages of the host's.
        env = dict(environment.function_env)
        env["AWS_LAMBDA_RUNTIME_API"] = f"{LOOPBACK}:{environment.port}"
        self.process = subprocess.Popen(
            [environment.python, "-S", "-m", "awslambdaric", env["_HANDLER"]],
            env=env,
            cwd=environment.task_root,
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
        )
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.output_fd: int | None = read_fd
        threading.Thread(target=self._pump_output, daemon=True, name="output").start()
        threading.Thread(target=self._watch, daemon=True, name="watch").start()
        threading.Thread(target=self._enforce_memory, daemon=True, name="memory").start()
        if init_phase == "init":
            threading.Thread(target=self._limit_init, daemon=True, name="init-limit").start()

    def drain_output(self) -> None:
        """Move everything the runtime has written so far into the environment's log."""
        with self.output_lock:
            while self.output_fd is not None:
                try:
                    chunk = os.read(self.output_fd, 65536)
                except BlockingIOError:
                    return
                if not chunk:
                    os.close(self.output_fd)
                    self.output_fd = None
                    chunk = b"\n" if self.partial_line else b""
                *lines, self.partial_line = (self.partial_line + chunk).split(b"\n")
                self.environment.add_output(line.decode(errors="replace") for line in lines)

    def _pump_output(self) -> None:
        while self.output_fd is not None:
            try:
                select.select([self.output_fd], [], [], OUTPUT_POLL_SECONDS)
            except (OSError, ValueError):  # closed by a concurrent drain
                return
            self.drain_output()

    def _watch(self) -> None:
        code = self.process.wait()
        self.drain_output()
        self.environment.runtime_exited(self, code)

    def _enforce_memory(self) -> None:
        """Lambda ends a function that uses more than its memory size. The host has no
        cgroup for it here, so its resident memory is read while it works, and the
        runtime is killed past the size, as the kernel's limit kills it on AWS: with a
        check every MEMORY_CHECK_SECONDS, an allocation faster than that overshoots
        for that long before it ends (docs/LAB.md lists the difference)."""
        limit = self.environment.memory_limit_mb
        while self.process.poll() is None:
            if not self.working.wait(timeout=1.0):
                continue
            used = resident_mb(self.process.pid)
            if used is None:
                return  # no /proc: not enforced (docs/LAB.md says where)
            self.peak_mb = max(self.peak_mb, used)
            if used > limit:
                self.out_of_memory = True
                self.process.kill()
                return
            time.sleep(MEMORY_CHECK_SECONDS)  # the next reading, not a wait for a condition

    @property
    def initialized(self) -> bool:
        return self.ready.is_set()

    def init_seconds(self) -> float:
        """Its Init phase so far, less the time it waited for a CPU: on a laptop busy
        with other programs a cold start takes longer than on Lambda, where an
        environment's CPU share is its own, and that is not the function's doing."""
        return time.monotonic() - self.started - run_queue_wait_seconds(self.process.pid)

    def _limit_init(self) -> None:
        limit = self.environment.init_limit_seconds
        while not self.ready.wait(timeout=max(limit - self.init_seconds(), 0.05)):
            if self.process.poll() is not None:
                return  # it exited during init: runtime_exited reports that
            if self.init_seconds() >= limit:
                self.environment.init_timed_out(self)
                return

    def end(self) -> None:
        self.ended_on_purpose = True
        if self.process.poll() is None:
            self.process.kill()


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


class Handler(BaseHTTPRequestHandler):
    environment: Environment
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
