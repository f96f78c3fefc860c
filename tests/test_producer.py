"""The producer CLI: deterministic mixes, clear errors, nothing dropped silently."""

import json
import socket
import subprocess
import sys

import pytest

from helpers import emails_for, stored_order_ids, wait_for
from producer.cli import make_order, parse_args, share_picks


def producer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "producer", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("share, expected", [(0.0, 0), (0.1, 10), (0.25, 25), (1.0, 100)])
def test_shares_pick_exactly_that_many_orders(share, expected):
    assert sum(share_picks(index, share) for index in range(100)) == expected


def test_the_same_arguments_make_the_same_orders():
    args = parse_args(["--poison-share", "0.2", "--fail-share", "0.3", "--run-id", "r"])
    first = [make_order("r", index, args) for index in range(20)]
    assert first == [make_order("r", index, args) for index in range(20)]
    kinds = [kind for kind, _, _ in first]
    assert kinds.count("poison") == 4
    assert "fail_attempts" in kinds


@pytest.mark.parametrize(
    "args, says",
    [
        (["--count", "-1"], "must not be negative"),
        (["--poison-share", "2"], "is not a share between 0 and 1"),
        (["--rate", "fast"], "invalid"),
    ],
)
def test_bad_arguments_get_a_clear_error(args, says):
    result = producer(*args)
    assert result.returncode == 2
    assert says in result.stderr


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
        "--count", "10", "--poison-share", "0.2", "--fail-share", "0.0",
        "--queue", stack.stack.queue_name, "--json", "--quiet",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["sent"], summary["failed"], summary["poison"]) == (10, 0, 2)
    args = parse_args(["--poison-share", "0.2"])
    run_id = summary["order_ids"][0].rsplit("-", 1)[0]
    valid = {order_id for kind, order_id, _ in (make_order(run_id, i, args) for i in range(10)) if kind == "valid"}
    assert len(valid) == 8
    wait_for(lambda: stored_order_ids(stack.bucket) >= valid, 60, "the 8 valid orders stored")
    wait_for(lambda: len(emails_for(valid)) == 8, 60, "8 emails, one per valid order")
