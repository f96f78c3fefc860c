"""The operator commands behind `make dlq|redrive|pause|resume|break|fix|purge`."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def lab(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["dlq"],
        ["redrive"],
        ["pause"],
        ["resume"],
        ["break"],
        ["fix"],
        ["purge", "--yes"],
        ["status", "--once"],
        ["logs", "--no-follow"],
        ["trace", "some-order"],
    ],
)
def test_every_command_says_so_when_the_lab_is_not_up(command):
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = lab(*command, env={"LAB_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
    assert result.returncode == 3
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert lines == [f"lab: LocalStack does not answer at http://127.0.0.1:{port}: start the lab with `make up`"]


def test_commands_name_a_missing_queue(localstack):
    result = lab("dlq", env={"LAB_QUEUE_NAME": "no-such-lab"})
    assert result.returncode == 3
    assert "queue 'no-such-lab-dlq' does not exist" in result.stdout


def test_purge_asks_first_and_refuses_without_a_terminal(localstack):
    result = lab("purge")
    assert result.returncode == 2
    assert "make purge YES=1" in result.stdout


def test_dlq_lists_the_make_up_stacks_dead_letter_queue(lab_stack):
    shown = lab("dlq")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "orders-dlq" in shown.stdout
