"""A batching window that gathers for the whole window.

With a batching window the mapping asks SQS to gather (LocalStack's
``poll_empty_queue``) until the batch is full or the window ends. LocalStack
4.14.0's ``StandardQueue.receive`` takes the time elapsed since the receive
began off the time left once per message, so after a message that came
halfway through the window the time left is gone, and the receive returns
with whatever is already in the queue: seven orders sent at once arrived as
six, and a seventh alone one window later. The lab gathers again for the
time really left. Applied in memory at LocalStack's start by the
``on_infra_start`` hook in plugins.py.
"""

import time

from localstack.services.sqs.models import ReceiveMessageResult, StandardQueue
from localstack.utils.patch import Patch


def _gather_until_full_or_the_window_ends(
    receive, self, num_messages=1, wait_time_seconds=None, visibility_timeout=None, *, poll_empty_queue=False
):
    if not (poll_empty_queue and wait_time_seconds):  # a plain receive or long poll: LocalStack's own
        return receive(self, num_messages, wait_time_seconds, visibility_timeout, poll_empty_queue=poll_empty_queue)
    deadline = time.monotonic() + wait_time_seconds
    gathered = ReceiveMessageResult()
    while True:
        part = receive(
            self,
            num_messages - len(gathered.successful),
            max(deadline - time.monotonic(), 0.001),
            visibility_timeout,
            poll_empty_queue=True,
        )
        gathered.successful += part.successful
        gathered.receipt_handles += part.receipt_handles
        gathered.dead_letter_messages += part.dead_letter_messages
        if len(gathered.successful) >= num_messages or time.monotonic() >= deadline:
            return gathered


def apply() -> Patch:
    patch = Patch.function(StandardQueue.receive, _gather_until_full_or_the_window_ends)
    patch.apply()
    return patch
