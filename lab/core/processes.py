"""Processes on this machine: the lab's helpers for finding, watching and
stopping them, and for the ports and sockets they hold, read from /proc (Linux).

Host mode starts and stops LocalStack and the dashboard with these; `make soak`,
`make bench` and the tests watch LocalStack and the functions' processes. It
works in both modes: a container's processes are in the host's /proc too.
"""

import errno
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field

from lab.core import settings
from lab.core.errors import LabError
from lab.core.waiting import POLL_SECONDS

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


def pss_mb(pid: int) -> float:
    """The process's proportional memory: its private pages, plus each shared page
    divided by the processes that share it (a forked child, a shared library). Summed
    over processes it counts every page once, where resident memory counts a shared
    page in each. Resident memory where the kernel has no smaps_rollup (before 4.14)."""
    for line in _read(pid, "smaps_rollup").decode(errors="replace").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return rss_mb(pid)


@dataclass
class MemorySampler:
    """Samples, every `interval` seconds until stopped, the proportional memory
    (pss_mb) of the emulator (processes whose command line has `emulator_marker`)
    and of the function processes (of one function, or of all), and how many
    execution environments the function has."""

    emulator_marker: bytes = LOCALSTACK_MARKER
    function_name: str | None = None
    interval: float = 1.0
    rows: list[tuple[float, float, float, int]] = field(
        default_factory=list
    )  # t, emulator MB, functions MB, environments (proportional memory)
    stopping: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        emulator = functions = 0.0
        environments = 0
        for pid in pids():
            command = command_line(pid)
            if self.emulator_marker in command:
                emulator += pss_mb(pid)
            elif runs_function(pid, self.function_name):
                functions += pss_mb(pid)
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

    def peak_total(self) -> float:
        """The highest sum of the emulator's and the functions' memory in one sample."""
        return max((row[1] + row[2] for row in self.rows), default=0)

    def emulator_growth(self) -> tuple[float, float]:
        """The emulator's mean resident memory over the first and the last quarter of the samples."""
        quarter = max(1, len(self.rows) // 4)

        def mean(rows) -> float:
            return sum(row[1] for row in rows) / len(rows) if rows else 0.0

        return mean(self.rows[:quarter]), mean(self.rows[-quarter:])


def process_alive(pid_file, command_part: bytes) -> int | None:
    """The pid in the file, if that process still runs and its command line has command_part."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    return pid if command_part in command_line(pid) else None


def stop_pid_file(pid_file, command_part: bytes) -> None:
    """Stop a helper process the lab started (the dashboard), if it runs."""
    if pid := process_alive(pid_file, command_part):
        stop_process_group(pid)
    pid_file.unlink(missing_ok=True)


def group_alive(pgid: int) -> bool:
    try:
        os.waitpid(pgid, os.WNOHANG)  # reap it if it is our child (make test)
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def stop_process_group(pgid: int) -> None:
    """SIGTERM the group (LocalStack stops its function environments), SIGKILL what stays."""
    for sig, grace in ((signal.SIGTERM, settings.STOP_TIMEOUT_SECONDS), (signal.SIGKILL, 5)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not group_alive(pgid):
                return
            time.sleep(POLL_SECONDS / 5)
    if group_alive(pgid):
        raise LabError(f"Processes of group {pgid} survived SIGKILL; see `ps -g {pgid}`")


def free_port() -> int:
    """A port nothing listens on now, for a second lab beside the first (tests, benches)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise LabError(
                f"Cannot listen on {host}:{port} ({error.strerror or error}): "
                "LAB_HOST must be an address of this machine, normally 127.0.0.1"
            ) from None
    return False


TCP_LISTEN = "0A"


def group_members(pgid: int) -> list[int]:
    members = []
    for pid in pids():
        entry = str(pid)
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # the command name may contain spaces; the fields after it do not
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def _address(hex_address: str) -> tuple[str, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1]), int(port, 16)
    # IPv6: four 32-bit words, each in host (little-endian) order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words), int(port, 16)


def listening_sockets(pgid: int) -> list[tuple[str, str, int]]:
    """(protocol, address, port) of every TCP socket listening, and every UDP
    socket bound, by a member of the process group."""
    inodes = set().union(*(socket_inodes(pid) for pid in group_members(pgid)))
    found = []
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/net/{protocol}") as table:
            for line in list(table)[1:]:
                parts = line.split()
                local, state, inode = parts[1], parts[3], int(parts[9])
                if inode in inodes and (protocol.startswith("udp") or state == TCP_LISTEN):
                    found.append((protocol, *_address(local)))
    return found


def hand_over(path, root) -> None:
    """Give a file written for the student to whoever owns the folder `root` (exercises/):
    in the tools container (root inside) on a Linux host, the student, so that their
    editor may change the file and they may delete it."""
    owner = root.stat()
    if os.geteuid() == 0 and (owner.st_uid, owner.st_gid) != (0, 0):
        os.chown(path, owner.st_uid, owner.st_gid)
