"""The worker's order validation (unit tests: no LocalStack needed)."""

import importlib.util
import json
from pathlib import Path

import pytest

WORKER_SOURCE = Path(__file__).resolve().parent.parent / "functions" / "order_worker" / "app.py"


@pytest.fixture(scope="module")
def worker():
    with pytest.MonkeyPatch.context() as patch:
        # What Lambda and provisioning set; the module reads them at import.
        for name, value in {
            "ORDER_BUCKET": "unit-test-bucket",
            "SENDER_EMAIL": "orders@lab.example.com",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        spec = importlib.util.spec_from_file_location("order_worker_app", WORKER_SOURCE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module


@pytest.mark.parametrize(
    "order",
    [
        {"orderId": "123", "email": "user@test.com"},
        {"orderId": "A-1", "email": "a@b.co", "items": [{"sku": "X", "quantity": 2}], "total": 25.0},
        {"orderId": "slow", "email": "a@b.co", "sleep_ms": 10, "fail_attempts": 2},
    ],
)
def test_valid_orders_pass(worker, order):
    assert worker.parse_order(json.dumps(order)) == order


@pytest.mark.parametrize(
    "body, says",
    [
        ("this is not JSON", "body is not JSON"),
        ('{"email": "user@test.com"}', "orderId"),
        ('{"orderId": "123"}', "email"),
        ('{"orderId": "123", "email": "not-an-address"}', "email"),
        ('{"orderId": "../etc/passwd", "email": "user@test.com"}', "orderId"),
        ('{"orderId": "1", "email": "a@b.co", "items": [{"sku": "X", "quantity": 0}]}', "quantity"),
        ('{"orderId": "1", "email": "a@b.co", "total": -5}', "total"),
        ('["orderId", "email"]', "object"),
    ],
)
def test_invalid_orders_are_poison(worker, body, says):
    with pytest.raises(worker.PoisonMessage, match=says):
        worker.parse_order(body)
