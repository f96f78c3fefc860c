"""Invocation logs stored in CloudWatch Logs a batch at a time.

LocalStack hands each invocation's logs to one thread per function version,
which stores them with one PutLogEvents through its client and handler chain,
invocation by invocation. Under load the invocations come faster than that
thread stores them, and each call costs LocalStack's one process as much as a
small batch does. Here the thread takes whatever has queued up meanwhile and
stores each log stream's share with one call (up to CloudWatch Logs' limits),
the events in the order the invocations ended, each invocation's lines with the
time it was stored at, as LocalStack's own loop does. One invocation alone is
stored at once, as before: nothing waits to fill a batch. Applied in memory at
LocalStack's start by the ``on_infra_start`` hook in plugins.py.
"""

import logging
import time
from queue import Empty

from localstack.aws.connect import connect_to
from localstack.services.lambda_.invocation.logs import QUEUE_SHUTDOWN, LogHandler
from localstack.utils.aws.client_types import ServicePrincipal
from localstack.utils.patch import Patch

LOG = logging.getLogger(__name__)
# PutLogEvents takes up to 10,000 events and 1,048,576 bytes (each event's
# message plus 26 bytes); a batch stays well inside both.
MAX_EVENTS = 5000
MAX_BYTES = 512 * 1024
EVENT_OVERHEAD_BYTES = 26


def _events(item) -> list[dict]:
    # CloudWatch Logs refuses empty lines; each kept line keeps its newline, as LocalStack's loop does.
    now = int(time.time() * 1000)
    return [{"timestamp": now, "message": line + "\n"} for line in item.logs.split("\n") if line]


def _take_batch(handler: LogHandler, first) -> tuple[list[tuple[str, str, list[dict]]], bool]:
    """The first item and what queued up behind it, as (group, stream, events)
    per stream in first-seen order; and whether the shutdown pill was among them."""
    batches: dict[tuple[str, str], list[dict]] = {}
    size, count, item, shutting_down = 0, 0, first, False
    while True:
        events = _events(item)
        batches.setdefault((item.log_group, item.log_stream), []).extend(events)
        count += len(events)
        size += sum(len(e["message"]) + EVENT_OVERHEAD_BYTES for e in events)
        if count >= MAX_EVENTS or size >= MAX_BYTES:
            break
        try:
            item = handler.log_queue.get_nowait()
        except Empty:
            break
        if item is QUEUE_SHUTDOWN:
            shutting_down = True
            break
    return [(group, stream, events) for (group, stream), events in batches.items()], shutting_down


def _store(logs_client, group: str, stream: str, events: list[dict], region: str) -> None:
    if not events:
        return
    try:
        try:
            logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        except logs_client.exceptions.ResourceNotFoundException:  # the first logs of a new stream
            try:
                logs_client.create_log_group(logGroupName=group)
            except logs_client.exceptions.ResourceAlreadyExistsException:
                pass
            logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
            logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    except Exception as error:  # noqa: BLE001 -- logged and dropped, as LocalStack's own loop does
        LOG.warning("Error saving logs to group %s in region %s: %s", group, region, error)


def _run_log_loop_in_batches(_localstack_loop, self: LogHandler, *args, **kwargs) -> None:
    logs_client = connect_to.with_assumed_role(
        region_name=self.region, role_arn=self.role_arn, service_principal=ServicePrincipal.lambda_
    ).logs
    while not self._shutdown_event.is_set():
        first = self.log_queue.get()
        if first is QUEUE_SHUTDOWN:
            return
        batches, shutting_down = _take_batch(self, first)
        for group, stream, events in batches:
            _store(logs_client, group, stream, events, self.region)
        if shutting_down:
            return


def apply() -> None:
    Patch.function(LogHandler.run_log_loop, _run_log_loop_in_batches).apply()
