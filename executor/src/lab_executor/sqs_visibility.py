"""Visibility timeouts that end on time.

LocalStack 4.14.0 returns in-flight messages whose visibility timeout has
expired to their queue from a worker that runs once a second, so every retry
comes up to a second late and a poison message reaches the DLQ up to
maxReceiveCount seconds after AWS would move it. The lab runs that worker every
REQUEUE_PERIOD_SECONDS instead (it only looks at the head of each queue's
in-flight heap, so a short period costs little). Applied in memory at
LocalStack's start by the ``on_infra_start`` hook in plugins.py.
"""

import os

from localstack.services.sqs.provider import QueueUpdateWorker
from localstack.utils.patch import Patch
from localstack.utils.scheduler import Scheduler
from localstack.utils.threads import start_thread

REQUEUE_PERIOD_SECONDS = float(os.environ.get("LAB_SQS_REQUEUE_PERIOD_SECONDS") or 0.1)


def _start_with_short_period(_start, self: QueueUpdateWorker) -> None:
    # QueueUpdateWorker.start, with the period as the only change.
    with self.mutex:
        if self.thread:
            return
        self.scheduler = Scheduler()
        self.scheduler.schedule(self.do_update_all_queues, period=REQUEUE_PERIOD_SECONDS)
        self.thread = start_thread(lambda *_args: self.scheduler.run(), name="sqs-queue-update-worker")


def apply() -> None:
    Patch.function(QueueUpdateWorker.start, _start_with_short_period).apply()
