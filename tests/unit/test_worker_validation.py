"""The worker's order validation (unit tests: no LocalStack needed)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    "order",
    [
        {"orderId": "123", "email": "user@test.com"},
        {"orderId": "A-1", "email": "a@b.co", "items": [{"sku": "X", "quantity": 2}], "total": 25.0},
        {"orderId": "slow", "email": "a@b.co", "sleep_ms": 10, "fail_attempts": 2},  # the lab's fields pass through
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


# Hostile bodies: whatever arrives, the worker either reads a valid order or
# calls it poison, with a reason; nothing else escapes.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
order_like = st.fixed_dictionaries(
    {},
    optional={
        "orderId": st.text(max_size=140) | st.integers(),
        "email": st.text(max_size=40) | st.none(),
        "items": st.lists(st.fixed_dictionaries({}, optional={"sku": st.text(), "quantity": st.integers()})),
        "total": st.floats(allow_nan=False) | st.text(),
        "fail_attempts": st.integers(),
        "sleep_ms": st.integers(),
        "fail_mode": st.text(max_size=10),
        "extra": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(body=st.text() | json_values.map(json.dumps) | order_like.map(json.dumps))
def test_any_body_is_an_order_or_poison_with_a_reason(worker, body):
    try:
        order = worker.parse_order(body)
    except worker.PoisonMessage as error:
        assert str(error)
        return
    assert isinstance(order["orderId"], str) and isinstance(order["email"], str)


def test_deeply_nested_json_is_poison(worker):
    with pytest.raises(worker.PoisonMessage, match="nested too deeply"):
        worker.parse_order("[" * 100_000 + "]" * 100_000)


def test_a_one_mebibyte_body_is_poison_not_a_crash(worker):
    body = json.dumps({"orderId": "big", "email": "a@b.co", "items": [{"sku": "x" * (1024 * 1024), "quantity": 1}]})
    assert worker.parse_order(body)["orderId"] == "big"  # valid, if large
    with pytest.raises(worker.PoisonMessage):
        worker.parse_order("x" * (1024 * 1024))
