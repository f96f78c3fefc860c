"""SQS event source mappings that behave like AWS's: concurrent batches, long polling.

LocalStack 4.14.0 polls each mapping from one thread, one batch at a time,
waits its poll interval (1 s) after every batch and backs off (up to 10 s) on
an empty queue. So a mapping processes at most BatchSize records a second,
ScalingConfig.MaximumConcurrency means nothing, and an order sent to an idle
queue waits for the end of a back-off sleep.

AWS long-polls the queue and runs up to MaximumConcurrency batches of a mapping
at once (each in its own execution environment), starting with five. This
module does the same with LocalStack's own parts: the patched factory wraps the
SqsPoller that LocalStack built in ``ConcurrentPolling``, which runs that many
poller threads until the mapping is stopped; the receive long-polls. With a
batching window, many pollers would each gather their own share of a quiet
queue (four messages, four invocations of one), so then one poller gathers,
each receive that comes back full (BatchSize records: more is waiting) wakes one
more, up to MaximumConcurrency, and an extra poller whose receive comes back
short goes back to sleep. Processing, filtering, partial batch responses and deletes
stay LocalStack's code; the receives, deletes and invocations go straight to
LocalStack's providers (direct_calls). Applied in memory at LocalStack's start by the
``on_infra_start`` hook in plugins.py; no installed file is changed.
"""

import logging
import os
import threading
import weakref

from localstack import config
from localstack.services.lambda_.event_source_mapping.esm_worker_factory import EsmWorkerFactory
from localstack.services.lambda_.event_source_mapping.pollers.poller import EmptyPollResultsException
from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import SqsPoller
from localstack.services.sqs.constants import HEADER_LOCALSTACK_SQS_OVERRIDE_WAIT_TIME_SECONDS
from localstack.utils.backoff import ExponentialBackoff
from localstack.utils.patch import Patch

from lab_executor import direct_calls

LOG = logging.getLogger(__name__)

# AWS starts an SQS mapping with five concurrent batches and scales from there;
# a lab on two cores stays at the starting point unless the mapping says otherwise.
DEFAULT_MAXIMUM_CONCURRENCY = 5
# A long poll returns as soon as a message arrives, so this only bounds how long
# disabling a mapping (or shutting down) waits for a poll in progress.
LONG_POLL_SECONDS = int(os.environ.get("LAB_ESM_LONG_POLL_SECONDS") or 2)


def maximum_concurrency(esm_config: dict) -> int:
    return (esm_config.get("ScalingConfig") or {}).get("MaximumConcurrency") or DEFAULT_MAXIMUM_CONCURRENCY


# How many messages the last ReceiveMessage of this thread returned: each poller
# thread reads its own (LocalStack's internal clients are shared, so one handler
# serves every mapping).
_last_receive = threading.local()


def _count_received(parsed, **kwargs) -> None:
    _last_receive.count = len(parsed.get("Messages") or [])


class ConcurrentPolling:
    """Stands in for the worker's poller: ``poll_events`` runs up to
    ``concurrency`` loops over LocalStack's SqsPoller, as many as the queue keeps
    busy, and returns when the mapping stops."""

    def __init__(self, poller: SqsPoller, stopped: threading.Event, concurrency: int) -> None:
        self.poller = poller
        self.stopped = stopped
        self.concurrency = concurrency
        # With a batching window, one poller gathers and others join as the queue fills.
        self.gathering = bool(poller.maximum_batching_window)
        self.scaling = threading.Condition()
        self.active = 1 if self.gathering else concurrency
        self.to_wake = 0

    def __getattr__(self, name):  # everything else is the SqsPoller's
        return getattr(self.poller, name)

    def poll_events(self) -> None:
        # Without a window every poller is always active; with one, only the first.
        threads = [
            threading.Thread(
                target=self._poll_until_stopped,
                args=(n == 0 or not self.gathering,),
                name=f"esm-poller-{self.poller.source_arn}-{n}",
                daemon=True,
            )
            for n in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _poll_until_stopped(self, always_active: bool) -> None:
        on_error = ExponentialBackoff(
            initial_interval=1, max_interval=config.LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_ERROR_SEC
        )
        active = always_active
        while not self.stopped.is_set():
            if not active:
                active = self._woken()
                continue
            _last_receive.count = 0
            try:
                # Receives (long polling), invokes the function and deletes what succeeded.
                self.poller.poll_events()
                on_error.reset()
            except EmptyPollResultsException:
                pass  # the receive has already waited for a message: poll again at once
            except Exception as error:  # noqa: BLE001 -- the queue gone, LocalStack stopping: back off, as LocalStack does
                LOG.error("Polling %s failed: %s", self.poller.source_arn, error)
                self.stopped.wait(on_error.next_backoff())
            if _last_receive.count >= self.poller.batch_size:
                self._wake_another()  # a full batch: more is probably waiting
            elif not always_active:
                active = self._go_idle()

    def _wake_another(self) -> None:
        with self.scaling:
            if self.active + self.to_wake < self.concurrency:
                self.to_wake += 1
                self.scaling.notify()

    def _woken(self) -> bool:
        """Wait to be needed (up to a long poll's time, to see the mapping stop)."""
        with self.scaling:
            if not self.to_wake:
                self.scaling.wait(timeout=LONG_POLL_SECONDS)
            if not self.to_wake:
                return False
            self.to_wake -= 1
            self.active += 1
            return True

    def _go_idle(self) -> bool:
        with self.scaling:
            self.active -= 1
        return False

    def close(self) -> None:
        self.poller.close()


def _receive_like_aws(params, context, **kwargs) -> None:
    """The mapping's ReceiveMessage, before SqsPoller's own client hooks see it."""
    if window := params.pop("sqs_override_wait_time_seconds", None):
        # A batching window gathers records until the batch is full or the window
        # ends. SqsPoller asks LocalStack's SQS to gather only for windows above
        # 20 s (its hook ignores shorter ones), so any shorter window was a plain
        # long poll that returned at the first message: pass every window on.
        context[HEADER_LOCALSTACK_SQS_OVERRIDE_WAIT_TIME_SECONDS] = str(window)
    elif not params.get("WaitTimeSeconds"):
        # SqsPoller short-polls (WaitTimeSeconds 0) when the mapping has no batching
        # window; AWS's pollers long-poll, which returns the moment a message arrives.
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
        events = worker.poller.source_client.meta.events
        events.register_first(
            "provide-client-params.sqs.ReceiveMessage", _receive_like_aws, unique_id="lab-esm-long-poll"
        )
        events.register("after-call.sqs.ReceiveMessage", _count_received, unique_id="lab-esm-count-received")
        if direct_calls.ENABLED:  # receive, delete and invoke skip the clients and the chain (see direct_calls)
            poller = worker.poller
            poller.source_client = direct_calls.DirectClient(
                poller.source_client, "sqs", direct_calls.SQS_OPERATIONS, poller.source_arn
            )
            sender = poller.processor.sender
            sender.target_client = direct_calls.DirectClient(
                sender.target_client, "lambda", direct_calls.LAMBDA_OPERATIONS, sender.target_arn
            )
        # The worker's stop/delete set this event; its own loop then ends after ours.
        worker.poller = ConcurrentPolling(
            worker.poller, worker._shutdown_event, maximum_concurrency(factory.esm_config)
        )
    return worker


def apply() -> None:
    Patch.function(EsmWorkerFactory.get_esm_worker, _concurrent_esm_worker).apply()
    LOG.info(
        "SQS event source mappings: up to MaximumConcurrency (default %d) batches at once, long polling; "
        "with a batching window, one gathering poller and more while receives come back full",
        DEFAULT_MAXIMUM_CONCURRENCY,
    )
