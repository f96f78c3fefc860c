"""Each classic mistake shows the effect it claims, and its fix removes it."""

import subprocess
import sys

from lab.teach import scenarios
from lab.teach.scenarios import deploys, pressure


def test_a_visibility_timeout_shorter_than_the_work_processes_an_order_twice(localstack):
    seen = scenarios.short_visibility()
    assert seen["mistake"] == {"receives": 2, "emails": 2}
    assert seen["fix"] == {"receives": 1, "emails": 1}


def test_without_a_dlq_a_poison_message_comes_back_until_a_redrive_policy_moves_it(localstack):
    seen = scenarios.no_dlq()
    assert seen["receives_before_fix"] > 4  # beyond the maxReceiveCount (3) a DLQ would have enforced
    assert seen["in_dlq_after_fix"] == 1


def test_assuming_exactly_once_sends_duplicate_emails_and_idempotency_does_not(localstack):
    seen = scenarios.exactly_once()
    # At least once: each of the two messages is delivered at least once, and a busy
    # machine can deliver one again; the naive worker emails on every delivery.
    assert seen["mistake"]["deliveries"] >= 2 and seen["mistake"]["emails"] >= 2
    assert seen["fix"]["deliveries"] >= 2 and seen["fix"]["emails"] == 1


def test_heavy_work_times_out_into_the_dlq_until_the_timeout_fits_it(localstack):
    seen = scenarios.heavy_work()
    assert seen["mistake"] == {"timeouts": 3, "in_dlq": 1, "stored": 0}
    assert seen["fix"] == {"deliveries": 1, "stored": 1}


def test_a_consumer_that_never_deletes_processes_the_order_again_and_again(localstack):
    seen = scenarios.forgot_delete()
    assert seen["mistake"]["receives"] >= 3 and seen["mistake"]["max_receive_count"] >= 3
    assert seen["mistake"]["emails"] == seen["mistake"]["receives"]
    assert seen["fix"] == {"receives": 1, "max_receive_count": 1, "emails": 1}


def test_a_package_the_zip_does_not_carry_fails_every_delivery_until_it_is_packaged(localstack):
    seen = scenarios.unpackaged_import()
    assert seen["mistake"] == {
        "error": "Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'",
        "stored": 0,
    }
    assert seen["fix"] == {"errors": 0, "stored": 1}


def test_an_unknown_scenario_lists_the_names():
    result = subprocess.run([sys.executable, "-m", "lab", "scenario", "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert all(name in result.stdout for name in scenarios.SCENARIOS)


def test_without_a_queue_the_producer_fails_and_waits_with_its_consumer_and_with_one_it_does_neither(localstack):
    seen = scenarios.no_queue()
    orders = pressure.NO_QUEUE_ORDERS
    assert seen["direct_failed"] == seen["direct_calls"] == orders, "every direct call to the broken worker failed"
    # A synchronous call cannot return before the work is done: the producer waits it out.
    assert min(seen["direct_slow_waits"]) >= pressure.NO_QUEUE_WORK_MS / 1000
    assert seen["queued"] == seen["waiting"] == 2 * orders, "with a queue, every send succeeded with no consumer"
    assert seen["stored_while_down"] == 0
    assert seen["stored_after_fix"] == 2 * orders, "and once fixed, the worker processed all, the lost ones too"


def test_a_role_that_may_not_is_denied_an_order_fails_into_the_dlq_and_a_mapping_is_refused(localstack):
    seen = scenarios.missing_permission()
    assert seen["producer"]["sent"]
    assert seen["producer"]["receive"].startswith("AccessDenied: User: arn:aws:sts::000000000000:assumed-role/")
    assert "is not authorized to perform: sqs:ReceiveMessage on resource: arn:aws:sqs:" in seen["producer"]["receive"]
    assert seen["producer"]["purge"].startswith("AccessDenied:")
    orders = deploys.MISSING_PERMISSION_ORDERS
    # The orders failed for the permission until the DLQ took them (the scenario
    # waits for all three there, none stored). Not "three AccessDenied an order": on
    # a loaded machine a delivery can also time out (no reason logged) or return a
    # record untried when its time runs short, and each counts toward maxReceiveCount.
    assert seen["worker"]["failed"] >= orders and seen["worker"]["access_denied"] >= 1
    assert seen["worker"]["stored_after_fix"] == orders
    assert seen["mapping"] == (
        "InvalidParameterValueException: The function execution role does not have "
        "permissions to call ReceiveMessage on SQS"
    )
