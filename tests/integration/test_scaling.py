"""ScalingConfig.MaximumConcurrency, made real by the lab's plugin
(executor/src/lab_executor/esm_concurrency.py): up to that many batches of a
mapping in flight at once, each in an execution environment of its own, as
long as the queue keeps them busy; and a batching window that gathers."""

import json
from pathlib import Path

import pytest

from helpers import log_records, send_batch, wait_for
from lab.core import aws
from lab.stack.mapping import set_mapping_enabled
from lab.watch import observe

CONCURRENCY_PROBE = Path(__file__).parent / "functions" / "concurrency_probe"
MESSAGES = 20
WORK_MS = 400  # per batch of one: 20 batches take 8 s one at a time


def most_in_flight(invocations: list[dict]) -> int:
    """The largest number of invocations running at the same instant."""
    edges = sorted([(i["started"], 1) for i in invocations] + [(i["ended"], -1) for i in invocations])
    running = peak = 0
    for _, change in edges:  # an end sorts before a start at the same instant
        running += change
        peak = max(peak, running)
    return peak


def run_probe(make_stack, maximum_concurrency: int) -> tuple[int, float, int, int]:
    """Queue the work with the mapping disabled, then let it go:
    (peak in flight, batches/s, environments, peak as `make status` sees it)."""
    deployed = make_stack(
        source_dir=CONCURRENCY_PROBE, batch_size=1, maximum_concurrency=maximum_concurrency, enabled=False
    )
    for _ in range(MESSAGES // 10):
        send_batch(deployed.queue_url, [json.dumps({"work_ms": WORK_MS}) for _ in range(10)])
    set_mapping_enabled(aws.client("lambda"), deployed.mapping_uuid, True)
    function = deployed.stack.function_name
    invocations = wait_for(
        lambda: (
            (found := [r for r in log_records(function) if r.get("probe") == "invocation"])
            and len(found) >= MESSAGES
            and found
        ),
        60,
        f"{MESSAGES} invocations of {function}",
    )
    elapsed = max(i["ended"] for i in invocations) - min(i["started"] for i in invocations)
    status = observe.read_status(deployed.stack).concurrency
    return most_in_flight(invocations), MESSAGES / elapsed, len({i["pid"] for i in invocations}), status["peak"]


def test_maximum_concurrency_caps_the_batches_in_flight(make_stack):
    peak_2, rate_2, processes_2, status_2 = run_probe(make_stack, maximum_concurrency=2)
    peak_5, rate_5, processes_5, status_5 = run_probe(make_stack, maximum_concurrency=5)
    print(
        f"MaximumConcurrency 2: peak {peak_2} in flight ({status_2} by status), {rate_2:.1f} batches/s, "
        f"{processes_2} environments"
    )
    print(
        f"MaximumConcurrency 5: peak {peak_5} in flight ({status_5} by status), {rate_5:.1f} batches/s, "
        f"{processes_5} environments"
    )
    assert peak_2 == 2, "two pollers should keep exactly two batches in flight"
    assert peak_5 == 5
    assert (status_2, status_5) == (2, 5), "make status counts what the function saw"
    # The rates above are figures, not a claim: on a shared, loaded machine a
    # speed says more about the machine than about the lab (`make bench` measures).


# LocalStack 4.14.0 gathers only for windows over 20 s; the lab's plugin for any.
@pytest.mark.parametrize("window_seconds", [10, 30])
def test_a_batching_window_gathers_a_quiet_queue_into_one_batch(make_stack, window_seconds):
    """Four orders sent one by one to an idle mapping with a window arrive
    together, in one invocation, when the window ends (one poller gathers; more
    join only while receives come back full)."""
    # A message's visibility runs from the moment the gathering receive takes it,
    # so it must outlast the window (AWS's advice adds the window too).
    deployed = make_stack(
        source_dir=CONCURRENCY_PROBE, batching_window=window_seconds, visibility_timeout=window_seconds + 10
    )
    for _ in range(4):
        send_batch(deployed.queue_url, [json.dumps({"work_ms": 10})])
    function = deployed.stack.function_name
    invocations = wait_for(
        lambda: (
            (found := [r for r in log_records(function) if r.get("probe") == "invocation"])
            and sum(r["records"] for r in found) >= 4
            and found
        ),
        window_seconds + 60,
        "the four messages delivered",
    )
    assert [r["records"] for r in invocations] == [4]
