"""The short soak (make soak runs the long one): 500 orders with 5% poison, 10%
failing one or two deliveries and a few slow ones, sent while the worker runs.
Every order ends exactly once where it belongs, and nothing else is anywhere."""

import uuid

import pytest

from bench import soak

SOAK_ORDERS = 500  # opt-in and alone (make soak: 20,000)


# The heaviest test for the CPU: beside the suite it made `make test` pass six
# minutes on two cores. CI runs it on its own (make test TEST_ARGS="-m soak").
@pytest.mark.soak
def test_five_hundred_orders_every_one_accounted_for(make_stack, capsys):
    stack = make_stack(**soak.SOAK_STACK)
    result = soak.run(stack, SOAK_ORDERS, run_id=f"soak-{uuid.uuid4().hex[:6]}")
    with capsys.disabled():
        soak.report(result)
    assert result.problems == []
    assert result.sent == SOAK_ORDERS and result.poison == SOAK_ORDERS // 20 and result.retried == SOAK_ORDERS // 10
    assert result.stored == result.receipts == result.emails == result.valid == SOAK_ORDERS - SOAK_ORDERS // 20
    assert result.in_dlq == SOAK_ORDERS // 20
    # LocalStack starts an environment when none is free at the instant of an
    # invoke, and frees one just after its result: under load a poller's next
    # batch can find its environment not yet free. A few extra, not one per batch.
    assert 0 < result.most_environments <= 2 * result.maximum_concurrency, "execution environments leak"
    # A backlog keeps every poller of the mapping busy.
    assert result.peak_concurrency == result.maximum_concurrency
