"""Visibility timeouts that end on time.

LocalStack 4.14.0 returns in-flight messages whose visibility timeout has
expired to their queue from a worker that runs once a second, so every retry
comes up to a second late and a poison message reaches the DLQ up to
maxReceiveCount seconds after AWS would move it. The lab runs that worker every
REQUEUE_PERIOD_SECONDS while any queue has a message in flight or delayed (it
only looks at the head of each queue's in-flight heap, so a short period costs
little), and at LocalStack's own period when none has: waking ten times a
second for nothing was more than half of an idle LocalStack's CPU. Applied in memory at
LocalStack's start by the ``on_infra_start`` hook in plugins.py.
"""

import logging
import os
import time

from localstack.services.sqs.provider import QueueUpdateWorker
from localstack.utils.patch import Patch
from localstack.utils.scheduler import Scheduler
from localstack.utils.threads import start_thread

LOG = logging.getLogger(__name__)

REQUEUE_PERIOD_SECONDS = float(os.environ.get("LAB_SQS_REQUEUE_PERIOD_SECONDS") or 0.1)
# With nothing in flight or delayed: LocalStack's own period. A message received
# or delayed meanwhile is seen within it, and its visibility timeout or delay (whole
# seconds) ends no sooner, so only a visibility timeout of 0 can come back late.
IDLE_PERIOD_SECONDS = 1.0


def _anything_pending(worker: QueueUpdateWorker) -> bool:
    return any(queue.inflight or queue.delayed for queue in worker.iter_queues())


def _start_with_short_period(_start, self: QueueUpdateWorker) -> None:
    # QueueUpdateWorker.start, with a period that depends on what is pending.
    with self.mutex:
        if self.thread:
            return
        scheduler = self.scheduler = Scheduler()

        def update_then_schedule_the_next() -> None:
            try:
                self.do_update_all_queues()  # logs its own errors, queue by queue
                pending = _anything_pending(self)
            except Exception:  # e.g. a queue created while iterating: look again soon
                LOG.debug("lab: re-queueing expired messages failed", exc_info=True)
                pending = True
            period = REQUEUE_PERIOD_SECONDS if pending else IDLE_PERIOD_SECONDS
            scheduler.schedule(update_then_schedule_the_next, start=time.time() + period)

        scheduler.schedule(update_then_schedule_the_next)
        self.thread = start_thread(lambda *_args: scheduler.run(), name="sqs-queue-update-worker")


def apply() -> Patch:
    patch = Patch.function(QueueUpdateWorker.start, _start_with_short_period)
    patch.apply()
    return patch
