"""Processes on this machine, read from /proc (Linux).

`make soak`, `make bench` and the tests watch LocalStack and the functions'
processes this way. It works in both modes: a container's processes are in the
host's /proc too.
"""

import os
import threading
import time
from dataclasses import dataclass, field

LOCALSTACK_MARKER = b"localstack.runtime.main"  # in LocalStack's command line


def pids() -> list[int]:
    """Every process on the machine (those that end meanwhile are skipped by callers)."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _read(pid: int, name: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as file:
            return file.read()
    except OSError:  # gone, or not ours to read
        return b""


def command_line(pid: int) -> bytes:
    return _read(pid, "cmdline")


def runs_function(pid: int, function_name: str | None = None) -> bool:
    """True for an execution environment or runtime of that function (of any, without a name)."""
    variables = _read(pid, "environ").split(b"\0")
    if function_name is not None:
        return f"AWS_LAMBDA_FUNCTION_NAME={function_name}".encode() in variables
    return any(variable.startswith(b"AWS_LAMBDA_FUNCTION_NAME=") for variable in variables)


def rss_mb(pid: int) -> float:
    for line in _read(pid, "status").decode(errors="replace").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class MemorySampler:
    """Samples, every `interval` seconds until stopped, the resident memory of the
    emulator (processes whose command line has `emulator_marker`) and of the
    function processes (of one function, or of all), and how many execution
    environments the function has."""

    emulator_marker: bytes = LOCALSTACK_MARKER
    function_name: str | None = None
    interval: float = 1.0
    rows: list[tuple[float, float, float, int]] = field(default_factory=list)  # t, emulator MB, functions MB, environments
    stopping: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        emulator = functions = 0.0
        environments = 0
        for pid in pids():
            command = command_line(pid)
            if self.emulator_marker in command:
                emulator += rss_mb(pid)
            elif runs_function(pid, self.function_name):
                functions += rss_mb(pid)
                environments += b"lab_executor.environment" in command
        self.rows.append((time.time(), emulator, functions, environments))

    def start(self) -> "MemorySampler":
        threading.Thread(target=self._run, daemon=True, name="memory-sampler").start()
        return self

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()

    def peak(self, column: int) -> float:
        return max((row[column] for row in self.rows), default=0)

    def emulator_growth(self) -> tuple[float, float]:
        """The emulator's mean resident memory over the first and the last quarter of the samples."""
        quarter = max(1, len(self.rows) // 4)

        def mean(rows) -> float:
            return sum(row[1] for row in rows) / len(rows) if rows else 0.0

        return mean(self.rows[:quarter]), mean(self.rows[-quarter:])
