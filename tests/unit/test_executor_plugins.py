"""The extension's own parts, without LocalStack running: the record of concurrent
invocations (`make status` and the dashboard show it), the version check, the
saved state's pickling, log batches, the collector's tuning, and the entry
points LocalStack finds them by. The patches of LocalStack's races and quirks
are in test_localstack_patches.py."""

import threading

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


def test_a_first_invocation_is_in_flight_from_its_environment_s_start(clock):
    # Two environments started together; the first finishes its request before the
    # second's Init is over. As AWS counts it, both requests were in flight at once.
    tracker = concurrency.Tracker()
    requested = clock[0]
    clock[0] += 1
    first = tracker.started("worker", since=requested)
    clock[0] += 2
    tracker.finished("worker", first)
    clock[0] += 1
    second = tracker.started("worker", since=requested)
    assert tracker.report("worker", 60)["peak"] == 2
    tracker.finished("worker", second)
    assert tracker.report("worker", 60)["peak"] == 2


def test_functions_are_counted_apart(clock):
    tracker = concurrency.Tracker()
    tracker.started("a")
    tracker.started("b")
    assert (tracker.report("a", 60)["peak"], tracker.report("b", 60)["running"]) == (1, 1)


def test_the_plugins_refuse_any_localstack_but_the_one_they_patch():
    from lab_executor.version import unsupported_localstack

    assert unsupported_localstack() is None  # the venv's (or the image's) LocalStack
    assert unsupported_localstack("4.15.0").startswith("lab: the lab's LocalStack plugins need LocalStack 4.14.0")


@pytest.mark.parametrize("pickler", ["C", "dill"])
def test_a_snapshot_brings_locks_back_free_and_events_as_they_were(pickler):
    """Both ways a snapshot is written: the C pickler, and dill for what only it can pickle."""
    pytest.importorskip("localstack.state")
    import queue

    from localstack.state import pickle as state_pickle

    from lab_executor import persistence  # registers the lab's reducers with dill too

    dumps = persistence._dumps if pickler == "C" else state_pickle.dumps
    held = threading.RLock()
    held.acquire()  # as a request thread would hold a store's lock during a save
    waiting = queue.Queue()
    waiting.put("message")
    flag = threading.Event()
    flag.set()
    back = state_pickle.loads(
        dumps(
            {
                "rlock": held,
                "free rlock": threading.RLock(),
                "lock": threading.Lock(),
                "queue": waiting,
                "set": flag,
                "unset": threading.Event(),
            }
        )
    )

    def acquired_by_another_thread(lock) -> bool:  # as the first request after a restart would
        got = []
        thread = threading.Thread(target=lambda: got.append(lock.acquire(timeout=1)))
        thread.start()
        thread.join()
        return got == [True]

    assert acquired_by_another_thread(back["rlock"]), "dill restores an RLock held by thread 0, forever"
    assert acquired_by_another_thread(back["free rlock"])
    assert acquired_by_another_thread(back["lock"])
    assert back["queue"].get(timeout=1) == "message"
    assert back["queue"].not_empty._lock is back["queue"].mutex, "conditions keep their restored lock"
    assert back["set"].is_set() and not back["unset"].is_set()


@pytest.mark.parametrize(
    "operation, response, changes",
    [
        ("SendMessage", {"MessageId": "m"}, True),
        ("ReceiveMessage", {"Messages": [{"MessageId": "m"}]}, True),  # its receive count and visibility change
        ("ReceiveMessage", {}, False),  # the mapping's long poll of an idle queue
        ("PutObject", {}, True),
        ("GetQueueAttributes", {}, False),
        ("ListObjectsV2", {}, False),
        ("FilterLogEvents", {}, False),
    ],
)
def test_an_idle_lab_is_not_saved_again(operation, response, changes):
    pytest.importorskip("localstack.state")
    from lab_executor.persistence import changes_state

    assert changes_state(operation, response) is changes


def test_invocation_logs_that_queued_up_are_stored_a_stream_at_a_time():
    pytest.importorskip("localstack.services.lambda_.invocation.logs")
    from localstack.services.lambda_.invocation.logs import QUEUE_SHUTDOWN, LogHandler, LogItem

    from lab_executor import log_batches

    handler = LogHandler("arn:aws:iam::000000000000:role/worker", "us-east-1")
    first = LogItem("/aws/lambda/w", "stream-a", "START 1\n\nREPORT 1")
    for item in (
        LogItem("/aws/lambda/w", "stream-b", "START 2"),
        LogItem("/aws/lambda/w", "stream-a", "START 3"),
        QUEUE_SHUTDOWN,
    ):
        handler.log_queue.put(item)
    batches, shutting_down = log_batches._take_batch(handler, first)
    assert [(stream, [e["message"] for e in events]) for _, stream, events in batches] == [
        ("stream-a", ["START 1\n", "REPORT 1\n", "START 3\n"]),  # in order; the empty line dropped, as LocalStack does
        ("stream-b", ["START 2\n"]),
    ]
    assert shutting_down


def test_a_lone_invocation_s_logs_are_stored_at_once_and_a_batch_stays_within_cloudwatch_s_limits():
    pytest.importorskip("localstack.services.lambda_.invocation.logs")
    from localstack.services.lambda_.invocation.logs import LogHandler, LogItem

    from lab_executor import log_batches

    handler = LogHandler("arn:aws:iam::000000000000:role/worker", "us-east-1")
    batches, shutting_down = log_batches._take_batch(handler, LogItem("g", "s", "alone"))
    assert [len(events) for *_, events in batches] == [1] and not shutting_down  # nothing waited for more
    line = "x" * 1000
    for _ in range(1000):
        handler.log_queue.put(LogItem("g", "s", line))
    batches, _ = log_batches._take_batch(handler, LogItem("g", "s", line))
    stored = sum(len(events) for *_, events in batches)
    assert stored * (len(line) + 1 + log_batches.EVENT_OVERHEAD_BYTES) < 1_048_576  # PutLogEvents' byte limit
    assert handler.log_queue.qsize() == 1000 + 1 - stored  # the rest waits for the next call


def test_the_collector_freezes_start_up_s_objects_and_collects_less_often(monkeypatch):
    import gc

    from lab_executor import gc_tuning

    thresholds = gc.get_threshold()
    monkeypatch.setattr(gc_tuning, "THRESHOLD", 50_000)
    try:
        gc_tuning.apply()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (50_000, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_every_plugin_of_plugins_py_is_an_entry_point_and_every_entry_point_loads():
    """LocalStack finds the plugins through the entry points in executor/pyproject.toml:
    a hook written in plugins.py and not listed there would never run."""
    import importlib
    import tomllib

    from lab_executor import plugins
    from unit_support import PROJECT_ROOT

    project = tomllib.loads((PROJECT_ROOT / "executor" / "pyproject.toml").read_text())["project"]
    listed = {name: target for group in project["entry-points"].values() for name, target in group.items()}
    for target in listed.values():
        module, _, attribute = target.partition(":")
        assert hasattr(importlib.import_module(module), attribute), target
    written = {name for name in vars(plugins) if name.startswith("lab_")}
    assert written <= {target.partition(":")[2] for target in listed.values()}, written


def test_every_module_of_the_extension_imports_in_a_process_of_its_own():
    """An execution environment runs `python -m lab_executor.environment`: a module
    that fails at import fails every invocation, and only the integration tier
    would see it. Every module, in a fresh interpreter."""
    import subprocess
    import sys

    from unit_support import PROJECT_ROOT

    modules = sorted(path.stem for path in (PROJECT_ROOT / "executor" / "src" / "lab_executor").glob("*.py"))
    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(f'lab_executor.{name}')"
    result = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
