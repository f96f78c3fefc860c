"""The executor's plugins, without LocalStack running: the record of concurrent
invocations (`make status` and the dashboard show it), and the version check."""

import pytest

from lab_executor import concurrency


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(concurrency.time, "time", lambda: now[0])
    return now


def test_running_and_peak_within_the_window(clock):
    tracker = concurrency.Tracker()
    first = tracker.started("worker")
    clock[0] += 1
    second = tracker.started("worker")
    clock[0] += 1
    tracker.finished("worker", first)
    clock[0] += 1
    third = tracker.started("worker")
    assert tracker.report("worker", 60) == {"function": "worker", "running": 2, "peak": 2, "window_seconds": 60}
    tracker.finished("worker", second)
    tracker.finished("worker", third)
    clock[0] += 100  # all of it now older than the window
    assert tracker.report("worker", 60)["peak"] == 0


def test_an_end_and_a_start_at_the_same_instant_do_not_overlap(clock):
    tracker = concurrency.Tracker()
    tracker.finished("worker", tracker.started("worker"))
    tracker.started("worker")
    assert tracker.report("worker", 60)["peak"] == 1


def test_functions_are_counted_apart(clock):
    tracker = concurrency.Tracker()
    tracker.started("a")
    tracker.started("b")
    assert (tracker.report("a", 60)["peak"], tracker.report("b", 60)["running"]) == (1, 1)


def test_the_plugins_refuse_any_localstack_but_the_one_they_patch():
    from lab_executor.version import unsupported_localstack

    assert unsupported_localstack() is None  # the venv's (or the image's) LocalStack
    assert unsupported_localstack("4.15.0").startswith("lab: the lab's LocalStack plugins need LocalStack 4.14.0")


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

