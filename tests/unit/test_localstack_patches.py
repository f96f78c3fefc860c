"""Each patch of a LocalStack 4.14.0 internal that a race or a quirk needs, shown
needed: LocalStack's own code breaks the claim the test makes, the patched code
keeps it (executor/README.md lists them). None needs LocalStack running.
"""

import threading
import time

import pytest


def test_the_ses_outbox_can_be_read_while_an_email_goes_out():
    provider = pytest.importorskip("localstack.services.ses.provider")
    from lab_executor import ses_outbox

    class SendsWhileRead(dict):
        """An email whose filter check sends another one, as a request thread would during the read."""

        def get(self, key, default=None):
            provider.EMAILS[f"sent-during-the-read-{len(provider.EMAILS)}"] = {"Id": "later"}
            return super().get(key, default)

    reader = provider.SesServiceApiResource()
    request = type("Request", (), {"args": {}})()
    saved = dict(provider.EMAILS)
    try:
        provider.EMAILS.clear()
        provider.EMAILS["first"] = SendsWhileRead(Id="first")
        with pytest.raises(RuntimeError, match="changed size during iteration"):
            reader.on_get(request)  # LocalStack's own: the 500 the suite saw

        provider.EMAILS.clear()
        provider.EMAILS["first"] = SendsWhileRead(Id="first")
        patch = ses_outbox.apply()
        try:
            assert [m["Id"] for m in reader.on_get(request)["messages"]] == ["first"]
        finally:
            patch.undo()
        with pytest.raises(RuntimeError):
            reader.on_get(request)  # LocalStack's own again: the patch is undone
    finally:
        provider.EMAILS.clear()
        provider.EMAILS.update(saved)


def _second_request_while_the_first_adds_routes(service_name: str, second_alone_seconds: float) -> list[bool]:
    """Two first requests to a service: the second arrives while the first is adding
    the service's routes, and has second_alone_seconds to get through before the
    first may finish. Returns, in the order the loader let them through, whether
    the routes were in."""
    from localstack.aws.api.core import ServiceOperation
    from localstack.aws.handlers.service import ServiceRequestRouter
    from localstack.aws.handlers.service_plugin import ServiceLoader
    from localstack.services.plugins import Service

    adding, release = threading.Event(), threading.Event()

    class SlowRouter(ServiceRequestRouter):
        def add_skeleton(self, skeleton):
            adding.set()
            release.wait(30)
            self.add_handler(ServiceOperation(service_name, "VerifyEmailIdentity"), lambda *args: None)

    class Services:
        def exists(self, name):
            return True

        def require(self, name):
            return Service(name, skeleton=object())

    router = SlowRouter()
    loader = ServiceLoader(Services(), router)
    request = type("Context", (), {"service": type("Model", (), {"service_name": service_name})()})()
    routed_when_let_through = []

    def send():
        loader.require_service(None, request, None)
        routed_when_let_through.append(bool(router.handlers))

    first = threading.Thread(target=send)
    first.start()
    assert adding.wait(30), "the first request never started adding routes"
    second = threading.Thread(target=send)
    second.start()
    second.join(second_alone_seconds)
    release.set()
    first.join(30)
    second.join(30)
    return routed_when_let_through


def test_a_request_that_comes_while_its_service_loads_waits_for_the_routes(monkeypatch):
    from localstack.aws.handlers import service_plugin

    from lab_executor import service_loading

    monkeypatch.setattr(service_plugin, "is_api_enabled", lambda name: True)
    # LocalStack's own: the second request passes before any route is in (the 501
    # "no handler for operation" CI saw), without waiting for the first.
    assert _second_request_while_the_first_adds_routes("lab-own", second_alone_seconds=30) == [False, True]
    patch = service_loading.apply()
    try:
        # Given time to pass early, it waits for the routes instead.
        assert _second_request_while_the_first_adds_routes("lab-patched", second_alone_seconds=0.5) == [True, True]
    finally:
        patch.undo()


def test_expired_visibility_timeouts_are_looked_for_often_only_while_a_message_is_in_flight(monkeypatch):
    provider = pytest.importorskip("localstack.services.sqs.provider")
    models = pytest.importorskip("localstack.services.sqs.models")
    from lab_executor import sqs_visibility

    class Scheduled:
        """A scheduler that runs nothing by itself: the test runs each task, then reads when the next is due."""

        def __init__(self):
            self.calls = []

        def schedule(self, func, period=None, start=None, **_):
            self.calls.append({"func": func, "period": period, "start": start})

        def run(self):
            pass

    for module in (provider, sqs_visibility):
        monkeypatch.setattr(module, "Scheduler", Scheduled)
        monkeypatch.setattr(module, "start_thread", lambda *_args, **_kwargs: object())
    queue = models.StandardQueue("visibility", "us-east-1", "000000000000")

    def worker():
        started = provider.QueueUpdateWorker()
        monkeypatch.setattr(started, "iter_queues", lambda: iter([queue]))
        started.start()
        return started.scheduler

    # LocalStack's own: one task every second, so a retry comes up to a second late.
    assert [call["period"] for call in worker().calls] == [1]

    patch = sqs_visibility.apply()
    try:
        scheduler = worker()
    finally:
        patch.undo()

    def run_the_next_task() -> tuple[float, float]:
        """When the task after it is due, counted from just before the run and from just after it."""
        before = time.time()
        scheduler.calls[-1]["func"]()
        after = time.time()
        return scheduler.calls[-1]["start"] - before, scheduler.calls[-1]["start"] - after

    from_before, _ = run_the_next_task()  # nothing in flight: LocalStack's period, no ten wakes a second
    assert from_before >= sqs_visibility.IDLE_PERIOD_SECONDS

    queue.put({"MessageId": "1", "Body": "{}", "Attributes": {}, "MD5OfBody": ""})
    assert queue.receive(visibility_timeout=30).successful  # now in flight
    _, from_after = run_the_next_task()
    assert from_after <= sqs_visibility.REQUEUE_PERIOD_SECONDS < sqs_visibility.IDLE_PERIOD_SECONDS

    queue.inflight.clear()  # deleted, say: back to the idle period
    from_before, _ = run_the_next_task()
    assert from_before >= sqs_visibility.IDLE_PERIOD_SECONDS


def test_a_batching_window_gathers_messages_that_arrive_one_after_another():
    models = pytest.importorskip("localstack.services.sqs.models")
    from lab_executor import sqs_window

    # When the messages arrive is this test's input, not a wait for a result:
    # the first comes first_arrival_seconds into the receive, the others
    # arrival_gap_seconds apart, as orders sent one by one would.
    first_arrival_seconds, arrival_gap_seconds = 0.3, 0.02

    def gathered(window_seconds: float) -> int:
        """Seven messages arriving one after another during a gathering receive."""
        queue = models.StandardQueue("window", "us-east-1", "000000000000")

        def send_seven():
            time.sleep(first_arrival_seconds)
            for n in range(7):
                queue.put({"MessageId": str(n), "Body": "{}", "Attributes": {}, "MD5OfBody": ""})
                time.sleep(arrival_gap_seconds)

        sender = threading.Thread(target=send_seven)
        sender.start()
        try:
            return len(queue.receive(10, window_seconds, 30, poll_empty_queue=True).successful)
        finally:
            sender.join()

    # LocalStack's own: the time left shrinks by the time since the start for
    # every message, so the receive stops gathering before the seventh arrives.
    assert gathered(1) < 7
    patch = sqs_window.apply()
    try:
        assert gathered(1) == 7
    finally:
        patch.undo()


class FifoQueueForThePoller:
    """The SQS client LocalStack's SqsPoller polls: one receive answers with two
    message groups, A before B; deletes are recorded."""

    def __init__(self):
        self.meta = type("Meta", (), {"events": type("Events", (), {"register": lambda *_a, **_k: None})()})()
        self.deleted = []

    def receive_message(self, **_parameters):
        return {
            "Messages": [
                {
                    "MessageId": f"{group}{n}",
                    "ReceiptHandle": f"r-{group}{n}",
                    "Body": "{}",
                    "MD5OfBody": "",
                    "Attributes": {"MessageGroupId": group},
                }
                for group in "AB"
                for n in (1, 2)
            ]
        }

    def delete_message_batch(self, Entries, **_parameters):
        self.deleted += [entry["ReceiptHandle"].removeprefix("r-") for entry in Entries]


class FunctionFailingGroupA:
    def __init__(self):
        self.invoked = []

    def process_events_batch(self, events):
        group = events[0]["attributes"]["MessageGroupId"]
        self.invoked.append(group)
        if group == "A":
            raise RuntimeError("the function failed")


def test_a_failed_fifo_group_holds_back_only_its_own_messages(monkeypatch):
    """LocalStack's own SqsPoller.poll_events invokes the function once a message
    group; when group A's invocation fails, group B, received in the same batch,
    is never invoked (its messages stay in flight until their visibility timeout).
    With the plugin, B is invoked and deleted; A's messages stay for their retry."""
    from localstack.services.lambda_.event_source_mapping.pollers import sqs_poller

    from lab_executor import sqs_fifo_groups

    monkeypatch.setattr(sqs_poller, "get_queue_url", lambda _arn: "http://sqs/000000000000/orders.fifo")

    def one_poll() -> tuple[list[str], list[str]]:
        client, function = FifoQueueForThePoller(), FunctionFailingGroupA()
        poller = sqs_poller.SqsPoller(
            "arn:aws:sqs:us-east-1:000000000000:orders.fifo",
            {"SqsQueueParameters": {"BatchSize": 10}},
            client,
            function,
        )
        poller.__dict__["is_fifo_queue"] = True  # its cached answer, without asking SQS
        poller.poll_events()
        return function.invoked, client.deleted

    assert one_poll() == (["A"], [])  # LocalStack 4.14.0: B abandoned with A
    patch = sqs_fifo_groups.apply()
    try:
        assert one_poll() == (["A", "B"], ["B1", "B2"])
    finally:
        patch.undo()


def test_two_sam_transforms_at_once_both_find_the_region(monkeypatch, tmp_path):
    """LocalStack sets AWS_DEFAULT_REGION for a SAM transform and removes it after;
    a second transform running meanwhile loses it ("AWS Region cannot be found",
    a stack CREATE_FAILED in CI). samtranslator is stood in for by what it reads:
    boto3's default region, read after the other transform has had its chance to end."""
    import boto3

    transform_module = pytest.importorskip("localstack.services.cloudformation.engine.v2.change_set_model_transform")
    from lab_executor import sam_transforms

    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setattr(transform_module, "create_policy_loader", lambda: None)

    def regions_seen(first_alone_seconds: float) -> list:
        first_inside, second_started, first_done = threading.Event(), threading.Event(), threading.Event()
        seen = {}

        def transform_sam(template, parameters, loader):
            if template["who"] == "first":
                first_inside.set()
                second_started.wait(first_alone_seconds)  # the second starts meanwhile, if it can
            else:
                second_started.set()
                first_done.wait(30)  # reads its region after the first has ended
            seen[template["who"]] = boto3.session.Session().region_name
            return template

        monkeypatch.setattr(transform_module, "transform_sam", transform_sam)
        run = transform_module.ChangeSetModelTransform._apply_global_serverless_transformation

        def first():
            run("us-east-1", {"who": "first"}, {})
            first_done.set()

        second = threading.Thread(target=run, args=("us-east-1", {"who": "second"}, {}))
        threads = [threading.Thread(target=first), second]
        threads[0].start()
        assert first_inside.wait(30), "the first transform never started"
        threads[1].start()
        for thread in threads:
            thread.join(60)
        return [seen.get("first"), seen.get("second")]

    # LocalStack's own: the first's end removes the region from under the second.
    assert regions_seen(first_alone_seconds=30) == ["us-east-1", None]
    patch = sam_transforms.apply()
    try:
        # Given time to overlap, the second waits for the first instead.
        assert regions_seen(first_alone_seconds=0.5) == ["us-east-1", "us-east-1"]
    finally:
        patch.undo()
    undone = vars(transform_module.ChangeSetModelTransform)["_apply_global_serverless_transformation"]
    assert isinstance(undone, staticmethod)
