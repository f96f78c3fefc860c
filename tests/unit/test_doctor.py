"""`make doctor` (scripts/doctor): each thing the lab needs, simulated missing by a
stand-in command on PATH, is a FAIL row with the one thing to do, and the exit
code is 0 only when nothing is missing. The real machine's run is in the note of
the issue that added it (`make doctor`, host and Docker only)."""

import os
import socket
import subprocess
import sys
import time

import pytest

from unit_support import PROJECT_ROOT

DOCTOR = PROJECT_ROOT / "scripts" / "doctor"
GB = 2**30

# A machine where everything is fine, command by command (bash bodies).
HEALTHY = {
    "docker": """case "$*" in
  "info --format {{.MemTotal}}") echo $((8 * 1024 * 1024 * 1024)) ;;
  "info --format {{.SystemTime}}") date -u +%Y-%m-%dT%H:%M:%S.000000000Z ;;
  "compose version --short") echo 2.40.3 ;;
  "version --format {{.Server.Version}}") echo 28.0.0 ;;
  *"config --images"*) echo sqs-lambda-lab/localstack:latest ;;
  "image inspect"*) exit 1 ;;  # no image of the lab built
  *) exit 0 ;;
esac""",
    "free": 'echo "              total        used        free      shared  buff/cache   available"\n'
    'echo "Mem:           7900        2000        3000         100        2900        5000"',
    "df": 'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"\necho "/dev/x 100000000 1 50000000 1% /"',
    "uname": "echo x86_64",
    "curl": "exit 7",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def machine(tmp_path):
    """Runs the doctor on a simulated machine: HEALTHY's commands, changed as a test says."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".installed").touch()
    (venv / ".installed-tools").touch()

    def run(python=True, **commands) -> subprocess.CompletedProcess:
        stand_ins = tmp_path / "bin"
        stand_ins.mkdir(exist_ok=True)
        for name, body in {**HEALTHY, **commands}.items():
            path = stand_ins / name
            path.write_text(f"#!/usr/bin/env bash\n{body}\n")
            path.chmod(0o755)
        environment = {
            "PATH": f"{stand_ins}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PYENV_ROOT": str(tmp_path / "no-pyenv"),
            # A Python 3.12+ found, or none (find-python refuses a LAB_PYTHON that does not run).
            "LAB_PYTHON": sys.executable if python else str(tmp_path / "no-python"),
            "VENV": str(venv if python else tmp_path / "no-venv"),
            "LAB_PORT": str(free_port()),
            "LAB_DASHBOARD_PORT": str(free_port()),
        }
        return subprocess.run(
            [str(DOCTOR)], env={**environment, **run.environment}, capture_output=True, text=True, timeout=120
        )

    run.environment = {}
    run.venv = venv
    return run


def failures(result) -> list[tuple[str, str]]:
    """The FAIL rows: (what, the line under it saying what to do)."""
    lines = result.stdout.splitlines()
    return [(line[8:32].strip(), lines[n + 1].split("-> ")[-1]) for n, line in enumerate(lines) if line[2:6] == "FAIL"]


def test_a_machine_with_everything_is_ready(machine):
    result = machine()
    assert (result.returncode, failures(result)) == (0, []), result.stdout + result.stderr
    assert "Ready: make up works here with the network off." in result.stdout


@pytest.mark.parametrize(
    "change, python, what, to_do",
    [
        ({"docker": "exit 1"}, False, "Python 3.12 or newer", "install Docker Desktop"),
        ({"docker": HEALTHY["docker"].replace("echo 2.40.3", "exit 1")}, True, "Docker Compose v2", "Compose plugin"),
        ({"free": HEALTHY["free"].replace("5000", "700")}, True, "free memory", "close programs"),
        ({"df": HEALTHY["df"].replace("50000000", "2000")}, True, "free disk", "free 1024 MB"),
        ({"uname": "echo i686"}, True, "processor", "x86_64 and arm64 only"),
        ({"git": f"echo {int(time.time()) + 10 * 86400}"}, True, "clock", "set the date and time"),
        (
            {"docker": HEALTHY["docker"].replace("date -u +", "date -u -d '-10 minutes' +")},
            True,
            "clock",
            "restart Docker Desktop",
        ),
        # Docker alone: the images not built from this folder; too little memory for Docker's VM.
        ({}, False, "the lab's images", "online: make build; offline: make load"),
        ({"docker": HEALTHY["docker"].replace("$((8 * ", "$((1 * ")}, False, "Docker's memory", "Resources, Memory"),
    ],
)
def test_each_missing_need_is_a_row_that_says_what_to_do(machine, change, python, what, to_do):
    result = machine(python=python, **change)
    assert result.returncode == 1 and "Not ready" in result.stdout, result.stdout
    assert [row for row in failures(result) if row[0] == what and to_do in row[1]], result.stdout


def test_docker_s_clock_in_another_time_zone_is_the_same_time(machine):
    # A POSIX zone (nine hours east of UTC), which needs no tzdata in the tools image.
    in_tokyo = HEALTHY["docker"].replace("date -u +%Y-%m-%dT%H:%M:%S.000000000Z", "TZ=JST-9 date +%FT%T+09:00")
    result = machine(docker=in_tokyo)
    assert (result.returncode, failures(result)) == (0, []), result.stdout


def test_a_missing_or_stale_venv_is_a_row(machine):
    (machine.venv / ".installed").unlink()
    to_do = "online: make venv; offline: make load (from the bundle of make bundle)"
    assert failures(machine()) == [("the lab's venv", to_do)]
    (machine.venv / ".installed").touch()
    os.utime(machine.venv / ".installed", (0, 0))  # older than requirements/lab.lock
    assert any("make up would install again" in line for line in machine().stdout.splitlines())


def test_test_tools_not_installed_are_a_row(machine):
    (machine.venv / ".installed-tools").unlink()
    to_do = "online: make tools; offline: make load (from a bundle of this version)"
    assert failures(machine()) == [("the test tools", to_do)]


def test_a_port_another_program_holds_is_a_row(machine):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        machine.environment = {"LAB_PORT": str(port)}
        found = failures(machine())
    assert found == [(f"port {port} (LocalStack)", "stop it, or give the lab another port: LAB_PORT=<port> in .env")]
