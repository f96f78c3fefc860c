"""The runtime of one execution environment: AWS's runtime interface client
(``awslambdaric``) running the handler, as a child process of the environment
(environment.py). Its output is collected for the invocation's log; its memory
is limited to the function's memory size, and its Init phase as Lambda limits
it. Also what an invocation is while the environment tracks it.
"""

import math
import os
import queue
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab_executor.environment import Environment

# How often the runtime's memory is read while it works (init, an invocation); idle, once a second.
MEMORY_CHECK_SECONDS = 0.05
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
LOOPBACK = "127.0.0.1"
OUTPUT_POLL_SECONDS = 0.2


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
