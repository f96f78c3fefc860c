"""SQS event source mappings that behave like AWS's: concurrent batches, long polling.

LocalStack 4.14.0 polls each mapping from one thread, one batch at a time,
waits its poll interval (1 s) after every batch and backs off (up to 10 s) on
an empty queue. So a mapping processes at most BatchSize records a second,
ScalingConfig.MaximumConcurrency means nothing, and an order sent to an idle
queue waits for the end of a back-off sleep.

AWS runs up to MaximumConcurrency batches of a mapping at once (each in its own
execution environment) and long-polls the queue. This module does the same
with LocalStack's own parts: the patched factory wraps the SqsPoller that
LocalStack built in ``ConcurrentPolling``, which runs that many poller threads
until the mapping is stopped, and the poller's receive long-polls when the
mapping has no batching window. Processing, filtering, partial batch responses
and deletes stay LocalStack's code. Applied in memory at LocalStack's start by
the ``on_infra_start`` hook in plugins.py; no installed file is changed.
"""

import logging
import os
import threading
import weakref

from localstack import config
from localstack.services.lambda_.event_source_mapping.esm_worker_factory import EsmWorkerFactory
from localstack.services.lambda_.event_source_mapping.pollers.poller import EmptyPollResultsException
from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import SqsPoller
from localstack.utils.backoff import ExponentialBackoff
from localstack.utils.patch import Patch

LOG = logging.getLogger(__name__)

# AWS starts an SQS mapping with five concurrent batches and scales from there;
# a lab on two cores stays at the starting point unless the mapping says otherwise.
DEFAULT_MAXIMUM_CONCURRENCY = 5
# A long poll returns as soon as a message arrives, so this only bounds how long
# disabling a mapping (or shutting down) waits for a poll in progress.
LONG_POLL_SECONDS = int(os.environ.get("LAB_ESM_LONG_POLL_SECONDS") or 2)


def maximum_concurrency(esm_config: dict) -> int:
    return (esm_config.get("ScalingConfig") or {}).get("MaximumConcurrency") or DEFAULT_MAXIMUM_CONCURRENCY


class ConcurrentPolling:
    """Stands in for the worker's poller: ``poll_events`` runs ``concurrency``
    loops over LocalStack's SqsPoller and returns when the mapping stops."""

    def __init__(self, poller: SqsPoller, stopped: threading.Event, concurrency: int) -> None:
        self.poller = poller
        self.stopped = stopped
        self.concurrency = concurrency

    def __getattr__(self, name):  # everything else is the SqsPoller's
        return getattr(self.poller, name)

    def poll_events(self) -> None:
        threads = [
            threading.Thread(target=self._poll_until_stopped, name=f"esm-poller-{self.poller.source_arn}-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _poll_until_stopped(self) -> None:
        on_error = ExponentialBackoff(initial_interval=1, max_interval=config.LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_ERROR_SEC)
        while not self.stopped.is_set():
            try:
                # Receives (long polling), invokes the function and deletes what succeeded.
                self.poller.poll_events()
                on_error.reset()
            except EmptyPollResultsException:
                pass  # the receive has already waited for a message: poll again at once
            except Exception as error:  # the queue gone, LocalStack stopping: back off, as LocalStack does
                LOG.error("Polling %s failed: %s", self.poller.source_arn, error)
                self.stopped.wait(on_error.next_backoff())

    def close(self) -> None:
        self.poller.close()


def _long_poll_without_batching_window(params, **kwargs) -> None:
    # SqsPoller short-polls (WaitTimeSeconds 0) when the mapping has no batching
    # window; AWS's pollers long-poll, which returns the moment a message arrives.
    if not params.get("WaitTimeSeconds") and not params.get("sqs_override_wait_time_seconds"):
        params["WaitTimeSeconds"] = LONG_POLL_SECONDS


# The latest worker of each mapping. LocalStack updates a mapping (enabling or
# disabling it too) by stopping its worker and creating a new one, and a new
# disabled worker reports Disabled at once, while the old one's pollers may
# still be in a long poll and receive a message sent "after" the disable.
_workers: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()


def _start_after(worker, previous) -> None:
    """Create (start, or report Disabled) only once the previous worker's pollers
    have ended: until then the mapping stays Enabling/Disabling, as on AWS."""
    create = worker.create

    def create_when_previous_stopped():
        def wait_then_create():
            if previous._poller_thread is not None:
                previous._poller_thread.join()
            create()

        threading.Thread(target=wait_then_create, name=f"esm-handover-{worker.uuid}", daemon=True).start()

    worker.create = create_when_previous_stopped


def _concurrent_esm_worker(get_esm_worker, factory: EsmWorkerFactory):
    worker = get_esm_worker(factory)
    previous = _workers.get(worker.uuid)
    _workers[worker.uuid] = worker
    if previous is not None:
        _start_after(worker, previous)
    if isinstance(worker.poller, SqsPoller):
        worker.poller.source_client.meta.events.register_first(
            "provide-client-params.sqs.ReceiveMessage",
            _long_poll_without_batching_window,
            unique_id="lab-esm-long-poll",
        )
        # The worker's stop/delete set this event; its own loop then ends after ours.
        worker.poller = ConcurrentPolling(worker.poller, worker._shutdown_event, maximum_concurrency(factory.esm_config))
    return worker


def apply() -> None:
    Patch.function(EsmWorkerFactory.get_esm_worker, _concurrent_esm_worker).apply()
    LOG.info("SQS event source mappings: up to MaximumConcurrency (default %d) batches at once, long polling",
             DEFAULT_MAXIMUM_CONCURRENCY)
