"""The event source mapping from the queue to the worker: its settings, created
or updated, and enabled or disabled with a wait until it is."""

from lab.core.console import Report, quiet
from lab.core.settings import Stack
from lab.core.waiting import wait_for

MAPPING_ENABLED_TIMEOUT_SECONDS = 60


def mapping_settings(stack: Stack) -> dict:
    mapping = dict(
        BatchSize=stack.batch_size,
        FunctionResponseTypes=["ReportBatchItemFailures"] if stack.report_batch_item_failures else [],
        FilterCriteria={"Filters": [{"Pattern": pattern} for pattern in stack.filter_patterns]},
        ScalingConfig={"MaximumConcurrency": stack.maximum_concurrency},
    )
    if not stack.fifo:  # FIFO sources take no batching window
        mapping["MaximumBatchingWindowInSeconds"] = stack.batching_window
    return mapping


def find_mapping(lambda_, function_name: str, source_arn: str) -> dict | None:
    mappings = lambda_.list_event_source_mappings(FunctionName=function_name, EventSourceArn=source_arn)[
        "EventSourceMappings"
    ]
    return mappings[0] if mappings else None


def wait_for_mapping_state(lambda_, uuid: str, state: str, report: Report) -> None:
    """Poll until the mapping reaches the state (there is no boto3 waiter for mappings)."""
    report(
        f"waiting for event source mapping {uuid} to be {state} (up to {MAPPING_ENABLED_TIMEOUT_SECONDS} s)",
        waiting=True,
    )
    wait_for(
        lambda: lambda_.get_event_source_mapping(UUID=uuid)["State"] == state,
        MAPPING_ENABLED_TIMEOUT_SECONDS,
        f"event source mapping {uuid} to be {state}",
    )


def ensure_mapping(lambda_, stack: Stack, source_arn: str, report: Report) -> str:
    wanted = mapping_settings(stack)
    state = "Enabled" if stack.enabled else "Disabled"
    existing = find_mapping(lambda_, stack.function_name, source_arn)
    if existing is None:
        uuid = lambda_.create_event_source_mapping(
            FunctionName=stack.function_name, EventSourceArn=source_arn, Enabled=stack.enabled, **wanted
        )["UUID"]
    else:
        uuid = existing["UUID"]
        have = {key: existing.get(key) for key in wanted}
        have["FunctionResponseTypes"] = existing.get("FunctionResponseTypes", [])
        have["FilterCriteria"] = existing.get("FilterCriteria", {"Filters": []})
        if have != wanted or existing["State"] not in (state, state.replace("ed", "ing")):
            lambda_.update_event_source_mapping(UUID=uuid, Enabled=stack.enabled, **wanted)
    wait_for_mapping_state(lambda_, uuid, state, report)
    return uuid


def set_mapping_enabled(lambda_, uuid: str, enabled: bool, report: Report = quiet) -> None:
    lambda_.update_event_source_mapping(UUID=uuid, Enabled=enabled)
    wait_for_mapping_state(lambda_, uuid, "Enabled" if enabled else "Disabled", report)
