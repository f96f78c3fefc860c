"""Settings: what AWS would refuse is refused before anything is created, with
a line that says what to do; a bad LAB_* variable never breaks an import."""

import os
import subprocess
import sys

import boto3
import pytest
from botocore.stub import Stubber

from lab.core import aws, settings
from lab.core.console import duration
from lab.core.settings import SettingsError, Stack
from lab.stack.functions import function_environment
from unit_support import PROJECT_ROOT


@pytest.mark.parametrize(
    "overrides, says",
    [
        (dict(visibility_timeout=2, function_timeout=3), "shorter than FUNCTION_TIMEOUT"),
        (dict(max_receive_count=0), "MAX_RECEIVE_COUNT=0 is outside 1..1000"),
        (dict(maximum_concurrency=1), "MAXIMUM_CONCURRENCY=1 is outside 2..1000"),
        (dict(batch_size=11, batching_window=0), "BATCH_SIZE=11 needs BATCHING_WINDOW"),
        (dict(fifo=True, batch_size=20, batching_window=1), "a FIFO queue allows batches of at most 10"),
        (dict(time_margin_ms=5000, function_timeout=5), "TIME_MARGIN_MS=5000 must be"),
        (dict(function_timeout=901, visibility_timeout=1000), "FUNCTION_TIMEOUT=901 is outside"),
        (dict(retention_seconds=59), "RETENTION_SECONDS=59 is outside 60..1209600"),
    ],
)
def test_settings_aws_would_refuse_are_refused_with_what_to_do(overrides, says):
    with pytest.raises(SettingsError, match=says):
        Stack(**overrides).validate()


def test_the_defaults_and_a_large_batch_with_a_window_are_accepted():
    Stack().validate()
    Stack(batch_size=100, batching_window=1).validate()
    Stack(retention_seconds=60, dlq_retention_seconds=60).validate()


def lab(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_a_bad_variable_is_one_line_from_any_command_and_importing_still_works():
    imported = subprocess.run(
        [sys.executable, "-c", "import lab.core.settings, lab.stack.provision"],
        env={**os.environ, "LAB_PORT": "four"},
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    result = lab("dlq", LAB_PORT="four")
    assert result.returncode == 2
    assert result.stdout.strip().splitlines() == [
        "lab: refused: LAB_PORT='four' is not a valid int; unset it or fix it"
    ]


def test_a_negative_snapshot_interval_is_one_line_saying_what_zero_means():
    result = lab("dlq", LAB_SNAPSHOT_INTERVAL_SECONDS="-5")
    assert result.returncode == 2
    assert result.stdout.strip().splitlines() == [
        "lab: refused: LAB_SNAPSHOT_INTERVAL_SECONDS=-5 is negative; use 0 to save only at a clean stop"
    ]


def test_retention_and_event_logging_reach_what_is_deployed():
    assert [duration(seconds) for seconds in (60, 90, 120, 3600, 4 * 86400, 14 * 86400)] == [
        "60 s",
        "90 s",
        "2 minutes",
        "1 hour",
        "4 days",
        "14 days",
    ]
    assert function_environment(Stack())["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    assert function_environment(Stack(log_event=True))["POWERTOOLS_LOGGER_LOG_EVENT"] == "true"


def test_later_commands_follow_the_queue_type_make_up_recorded(monkeypatch):
    lambda_ = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(aws, "client", lambda service, endpoint_url=None: lambda_)
    monkeypatch.setattr(aws, "is_up", lambda: True)
    monkeypatch.delenv("LAB_FIFO", raising=False)
    monkeypatch.setattr(settings, "_DOTENV", {})
    with Stubber(lambda_) as stub:
        for recorded in ("true", "false"):
            stub.add_response(
                "get_function",
                {"Configuration": {}, "Tags": {aws.FIFO_TAG: recorded}},
                {"FunctionName": "order-worker"},
            )
        assert aws.lab_stack().queue_name == "orders.fifo"  # after `LAB_FIFO=1 make up`
        assert aws.lab_stack().queue_name == "orders"  # after a plain `make up`
        monkeypatch.setenv("LAB_FIFO", "0")
        assert aws.lab_stack().queue_name == "orders"  # given now, it wins, and nothing is asked
        stub.assert_no_pending_responses()
