"""What the unit tests share (a module of its own: two folders of tests each
have a conftest, and `from conftest import` would find either)."""

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKER_DIR = PROJECT_ROOT / "functions" / "order_worker"
REQUEST_NUMBERS = iter(range(1, 1 << 30))


def not_in_tools_container(why: str):
    return pytest.mark.skipif(os.environ.get("LAB_MODE") == "tools", reason=f"not in the tools container: {why}")


@dataclass
class LambdaContextForTests:
    """The attributes of Lambda's context object the worker and Powertools read;
    the time left is what the test says."""

    remaining_ms: int = 30_000
    aws_request_id: str = field(default_factory=lambda: f"request-{next(REQUEST_NUMBERS)}")
    function_name: str = "order-worker"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:order-worker"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
