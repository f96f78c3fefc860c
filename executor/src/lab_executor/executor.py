"""The ``local`` runtime executor: each Lambda execution environment is a
subprocess of LocalStack instead of a Docker container.

LocalStack drives every executor the same way (see
``localstack/services/lambda_/invocation/runtime_executor.py``): ``start`` an
environment with Lambda's environment variables, wait until it reports ready to
the executor endpoint, POST invocations to its ``/invoke``, and read the result
it posts back. The subprocess (``lab_executor.environment``) plays the part of
Lambda's init process; this class only starts, addresses and stops it.
"""

import base64
import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)
from localstack.utils.net import get_free_tcp_port

from lab_executor import runtimes
from lab_executor.concurrency import TRACKER
from lab_executor.function_environment import function_environment

LOG = logging.getLogger(__name__)

# Environments run on this machine (or in the LocalStack container) and talk
# to LocalStack over loopback, so nothing here is reachable from outside.
LOOPBACK = "127.0.0.1"
STOP_GRACE_SECONDS = 2
LOG_TAIL_BYTES = 64 * 1024
INVOKE_TIMEOUT_MARGIN_SECONDS = 30
# Variables of LocalStack's own process that the environment process needs (the
# function's own process sees function_environment's variables, none of these).
INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH", "SSL_CERT_FILE", "TMPDIR")


def unsupported_reason(function_version: FunctionVersion) -> str | None:
    """Why this executor cannot run the function, or None if it can."""
    function_config = function_version.config
    if function_config.package_type != PackageType.Zip:
        return (
            "the lab's local executor runs zip-packaged Python functions only; "
            "container images need LocalStack's docker executor"
        )
    runtime = function_config.runtime or ""
    if not runtime.startswith("python"):
        return (
            f"the lab's local executor runs Python runtimes only, not {runtime!r}; "
            "use a python3.x runtime or LocalStack's docker executor"
        )
    return None


class LocalRuntimeExecutor(RuntimeExecutor):
    process: subprocess.Popen | None

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.process = None
        self._connection: http.client.HTTPConnection | None = None
        self._invoke_lock = threading.Lock()
        self.executor_endpoint = ExecutorEndpoint(self.id, container_address=LOOPBACK)
        self.log_path = Path(config.dirs.tmp) / "lab-executor" / f"{self.id}.log"
        # When the request that needed this environment began waiting for it
        # (on-demand only): its first invocation is in flight from then (TRACKER).
        self._first_request_since: float | None = None

    def start(self, env_vars: dict[str, str]) -> None:
        if env_vars.get("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand") == "on-demand":
            self._first_request_since = time.time()
        code_dir = str(self.function_version.config.code.get_unzipped_code_location())
        self.executor_endpoint.container_port = get_free_tcp_port()
        self.executor_endpoint.start()

        env = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
        env.update({name: str(value) for name, value in env_vars.items()})
        runtime = self.function_version.config.runtime
        interpreter = runtimes.interpreter_for(runtime, self.function_version.id.function_name)
        # What the function's own process sees (function_environment): the
        # environment process reads its own variables, and passes on only these.
        function_env = function_environment(
            env_vars,
            runtime,
            task_root=code_dir,
            runtime_dir=runtimes.runtime_packages(Path(config.dirs.tmp) / "lab-runtime"),
            python_path=interpreter.extra_path,
            configured=self.function_version.config.environment or {},
        )
        env.update(
            {
                "LAMBDA_TASK_ROOT": code_dir,
                "LAB_EXECUTOR_PORT": str(self.executor_endpoint.container_port),
                # The environment process must find this package wherever LocalStack
                # found it (a venv, or a mounted folder); the function never sees this path.
                "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
                # The Python the function's runtime runs on (see runtimes).
                "LAB_RUNTIME_PYTHON": interpreter.executable,
                "LAB_FUNCTION_ENVIRONMENT": json.dumps(function_env),
            }
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lab_executor.environment"],
                env=env,
                cwd=code_dir,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        threading.Thread(
            target=self._fail_startup_if_process_dies, daemon=True, name=f"lab-env-watch-{self.id}"
        ).start()
        self.executor_endpoint.wait_for_startup()

    def _fail_startup_if_process_dies(self) -> None:
        # Without this, an environment that dies before reporting ready would
        # leave LocalStack waiting for its full startup timeout.
        code = self.process.wait()
        future = self.executor_endpoint.startup_future
        if future is not None and not future.done():
            message = f"execution environment process exited with code {code} before it was ready"
            future.set_exception(StatusErrorException(message, payload=message.encode()))

    def stop(self) -> None:
        self._drop_connection()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            self.executor_endpoint.shutdown()
        except Exception as e:  # noqa: BLE001 -- the endpoint may never have been registered
            LOG.debug("Error while stopping executor endpoint %s: %s", self.id, e)

    def get_address(self) -> str:
        return LOOPBACK

    def get_endpoint_from_executor(self) -> str:
        return LOOPBACK

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{LOOPBACK}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        """One request per invocation, answered when it ends with its result and
        logs, on a kept-alive connection: LocalStack's own path takes three
        (invoke, then logs and result posted back through its gateway)."""
        request_id = payload["invoke-id"]
        function = self.function_version.id.function_name
        token = TRACKER.started(function, since=self._first_request_since)
        self._first_request_since = None
        try:
            return self._invoke(request_id, payload)
        finally:
            TRACKER.finished(function, token)

    def _invoke(self, request_id: str, payload: dict[str, str]) -> InvocationResult:
        with self._invoke_lock:
            try:
                connection = self._connection or self._connect()
                connection.request(
                    "POST", "/invoke", body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                answer = json.loads(response.read())
                self._connection = connection
            except (OSError, http.client.HTTPException, ValueError) as error:
                self._drop_connection()
                message = f"RequestId: {request_id} Error: the execution environment stopped answering ({error})"
                body = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()
                return InvocationResult(request_id, body, is_error=True, logs=None)
        return InvocationResult(request_id, base64.b64decode(answer["payload"]), answer["is_error"], answer["logs"])

    def _connect(self) -> http.client.HTTPConnection:
        # The environment enforces the function timeout; this only guards against a hang.
        timeout = self.function_version.config.timeout + INVOKE_TIMEOUT_MARGIN_SECONDS
        connection = http.client.HTTPConnection(LOOPBACK, self.executor_endpoint.container_port, timeout=timeout)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def get_logs(self) -> str:
        try:
            with open(self.log_path, "rb") as log_file:
                log_file.seek(0, os.SEEK_END)
                log_file.seek(max(0, log_file.tell() - LOG_TAIL_BYTES))
                return log_file.read().decode(errors="replace")
        except FileNotFoundError:
            return "The execution environment was not started"

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if reason := unsupported_reason(function_version):
            # LocalStack turns this into State=Failed with this text as StateReason.
            raise LambdaRuntimeException(reason)
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        # LocalStack removes the unzipped code itself; nothing else was prepared.
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            import awslambdaric  # noqa: F401
        except ImportError:
            LOG.warning("The lab's local executor needs awslambdaric: pip install awslambdaric")
            return False
        return True
