"""A FIFO batch's message groups, each handled on its own.

LocalStack 4.14.0 invokes the function once per message group of a batch it
received from a FIFO queue (AWS may mix groups in one invocation), in one loop:
when one group's invocation fails, the exception leaves the loop and the groups
after it are abandoned, in flight, until their visibility timeout ends. On AWS a
failing group holds back only its own messages ("the function attempts all
retries on the affected messages before Lambda receives additional messages
from the same group": services-sqs-scaling.html). The lab logs a group's
failure as LocalStack's loop does and goes on to the next group; the failed
group's messages stay in the queue and come back after their visibility
timeout, as they would. Applied in memory at LocalStack's start by the
``on_infra_start`` hook in plugins.py.
"""

import logging

from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import SqsPoller
from localstack.utils.patch import Patch

LOG = logging.getLogger(__name__)


def is_one_fifo_group(messages: list[dict]) -> bool:
    return bool(messages) and "MessageGroupId" in messages[0].get("Attributes", {})


def _each_group_on_its_own(handle_messages, self: SqsPoller, messages: list[dict]) -> None:
    if not is_one_fifo_group(messages):
        return handle_messages(self, messages)  # a standard queue's batch: as LocalStack does
    try:
        handle_messages(self, messages)
    except Exception as error:  # noqa: BLE001 -- as LocalStack's loop logs it, then the next group
        group = messages[0]["Attributes"]["MessageGroupId"]
        LOG.warning("Processing message group %s of %s failed: %s", group, self.source_arn, error)
    return None


def apply() -> Patch:
    patch = Patch.function(SqsPoller.handle_messages, _each_group_on_its_own)
    patch.apply()
    return patch
