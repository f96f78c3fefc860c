"""The lab's state survives a stop and a crash: snapshots of LocalStack's stores.

LocalStack's free edition has the state machinery (``localstack.state``: each
service hands its state containers to a ``StateVisitor``, with lifecycle hooks
around a save and a load, and the Lambda provider restarts functions and
mappings after a load) but no plugin that writes or reads snapshots. This is
that plugin, for the services the lab uses:

- at start, before the ready.d scripts provision the lab, the snapshot in
  ``LAB_SNAPSHOT_DIR`` is loaded, one service after another in an order where
  each one's dependencies come first (a function's code lives in S3, its role in
  IAM, its mapping reads SQS);
- while LocalStack runs, a thread saves the snapshot every
  ``LAB_SNAPSHOT_INTERVAL_SECONDS``, and the shutdown hook saves it once more
  before the services stop, so a crash loses at most one interval;
- each save is pickled by a forked child, from its copy of LocalStack's memory
  as it was at the fork (see ``Snapshots.save``);
- a snapshot is written to a temporary file, flushed to disk and renamed over
  the previous one, so a crash in the middle of a save leaves the last good one;
- a snapshot that cannot be read is moved aside and the lab starts clean,
  saying so in one line (LocalStack's log, and ``GET /_lab/snapshot``, which
  ``make up`` prints).

What a snapshot holds: SQS queues with every message (visible, delayed and in
flight, with receive counts and timestamps: in-flight messages come back when
their visibility timeout ends, by the wall clock), S3 buckets with their
objects' bytes (LocalStack keeps those outside its stores, in temporary files),
SES's outbox, IAM, STS, CloudWatch Logs, and Lambda's functions and mappings.
Not kept: multipart uploads in progress, CloudWatch metrics.
"""

import io
import logging
import os
import pickle
import select
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from localstack.http import Request, route
from localstack.state import AssetDirectory, StateVisitor
from localstack.state import pickle as state_pickle

from lab_executor.outside_stores import BEFORE_RESTORE_HOOK, RESTORE_EXTRAS, S3Bodies, ses_outbox

LOG = logging.getLogger(__name__)

FORMAT = 1
# Dependencies first: Lambda restores functions from code in S3, with roles from
# IAM, and restarts mappings that poll SQS.
SERVICES_IN_LOAD_ORDER = ("sts", "iam", "s3", "sqs", "ses", "logs", "lambda")
SNAPSHOT_NAME = "snapshot.pickle"
# Written after the save at shutdown, removed at start: whether the last run
# ended with a clean stop (everything saved) or not (up to an interval lost).
STOPPED_CLEANLY_NAME = "stopped-cleanly"
# A save that takes longer is stopped (the previous snapshot stays).
SAVE_TIMEOUT_SECONDS = 300


class SnapshotFailed(Exception): ...


# Locks come back new and free. dill would restore one in the state it was
# pickled in, and restores every RLock as held by "thread 0" (it calls
# _acquire_restore even for an RLock nobody held): the first thread to touch it
# waits forever (Lambda's code lock, seen as "Failed to restore function
# version"). A Condition comes back on its (restored) lock with no waiters: the
# threads that waited on it are gone. An Event keeps whether it was set.
def _new_lock(pickler, obj) -> None:
    pickler.save_reduce(threading.Lock, (), obj=obj)


def _new_rlock(pickler, obj) -> None:
    pickler.save_reduce(threading.RLock, (), obj=obj)


def _new_condition(pickler, obj) -> None:
    pickler.save_reduce(threading.Condition, (obj._lock,), obj=obj)


def _event(is_set: bool) -> threading.Event:
    event = threading.Event()
    if is_set:
        event.set()
    return event


def _same_event(pickler, obj) -> None:
    pickler.save_reduce(_event, (obj.is_set(),), obj=obj)


LOCK_TYPES = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}


class _LabPickler(pickle.Pickler):
    """Python's C pickler with the same reducers: on the lab's stores it is some
    forty times faster than dill's pure-Python one (0.14 s against 5.5 s for a
    14 MB snapshot). dill stays the fallback, for state only it can pickle."""

    def reducer_override(self, obj):
        if (new := LOCK_TYPES.get(type(obj))) is not None:
            return new, ()
        if isinstance(obj, threading.Condition):
            return threading.Condition, (obj._lock,)
        if isinstance(obj, threading.Event):
            return _event, (obj.is_set(),)
        return NotImplemented


def _dumps(state: dict) -> bytes:
    buffer = io.BytesIO()
    try:
        _LabPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
        return buffer.getvalue()
    except (pickle.PicklingError, TypeError, AttributeError):  # a lambda in a store, say
        return state_pickle.dumps(state)  # (no logging here: this runs in the forked child)


state_pickle.add_dispatch_entry(type(threading.Lock()), _new_lock)
state_pickle.add_dispatch_entry(type(threading.RLock()), _new_rlock)
state_pickle.add_dispatch_entry(threading.Condition, _new_condition, subclasses=True)
state_pickle.add_dispatch_entry(threading.Event, _same_event, subclasses=True)


def snapshot_dir() -> Path | None:
    value = os.environ.get("LAB_SNAPSHOT_DIR", "")
    return Path(value) if value else None


def interval_seconds() -> float:
    return float(os.environ.get("LAB_SNAPSHOT_INTERVAL_SECONDS", "5"))


class _Collector(StateVisitor):
    """The state containers a service hands over, in the order it hands them."""

    def __init__(self) -> None:
        self.containers: list[Any] = []

    def visit(self, state_container: Any) -> None:
        self.containers.append(state_container)


def _containers(service) -> list[Any]:
    collector = _Collector()
    service.accept_state_visitor(collector)
    # S3's AssetDirectory is its folder of temporary files; the objects' bytes
    # are saved on their own (see _s3_bodies).
    return [c for c in collector.containers if not isinstance(c, AssetDirectory)]


def _replace_contents(live: dict, loaded: dict) -> None:
    """Put what was loaded into the container the service holds on to (a module
    global, an AccountRegionBundle or a moto BackendDict: both dicts, with
    attributes). The loaded objects keep their references to each other."""
    with getattr(live, "lock", None) or threading.RLock():
        dict.clear(live)
        live.__dict__.update({k: v for k, v in loaded.__dict__.items() if k != "lock"})
        dict.update(live, loaded)
        for value in live.values():  # RegionBundles share the bundle's lock
            if hasattr(value, "lock") and hasattr(live, "lock"):
                value.lock = live.lock


def _reset(names) -> None:
    """Empty the services' stores, through their own reset hooks (Lambda stops its
    environments and mappings first). Best effort, service by service: LocalStack
    must start whatever one of them does."""
    from localstack.services.plugins import SERVICE_PLUGINS

    for name in reversed(names):
        try:
            service = SERVICE_PLUGINS.require(name)
            service.lifecycle_hook.on_before_state_reset()
            for live in _containers(service):
                if hasattr(live, "reset"):
                    live.reset()  # an AccountRegionBundle or a moto BackendDict
                else:
                    dict.clear(live)
            service.lifecycle_hook.on_after_state_reset()
        except Exception:
            LOG.exception("lab: emptying %s after a failed load failed", name)


# --- what changed since the last save ------------------------------------------------
# Operations that only read. Every other request to a service changes its state,
# except a ReceiveMessage that found nothing (the mapping's long polls of an idle
# queue). What changes without a request (a visibility timeout ending) needs no
# save: the saved deadline ends the same way after a restart.
READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Head", "Filter", "Lookup", "Test")


def changes_state(operation: str, service_response: dict | None) -> bool:
    if operation == "ReceiveMessage":
        return bool((service_response or {}).get("Messages"))
    return not operation.startswith(READ_ONLY_PREFIXES)


class ChangeCounter:
    """A response handler in LocalStack's chain: counts requests that change state."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _chain, context, _response) -> None:
        if context.operation is not None and changes_state(context.operation.name, context.service_response):
            self.count += 1  # unlocked: two at once may count one, and one is enough to save


# --- saving and loading ----------------------------------------------------------
class Snapshots:
    def __init__(self, directory: Path, interval: float) -> None:
        self.directory = directory
        self.interval = interval
        self.path = directory / SNAPSHOT_NAME
        self.stopped_cleanly = directory / STOPPED_CLEANLY_NAME
        self.lock = threading.Lock()  # one save at a time
        self.s3_bodies = S3Bodies()
        self.changes = ChangeCounter()
        self.saved_changes = 0  # the count the last save saw (a restored snapshot is as good as a save)
        self.stopped = threading.Event()
        self.status: dict[str, Any] = {
            "directory": str(directory),
            "interval_seconds": interval,
            "restored": None,
            "discarded": None,
            "last_save": None,
        }

    def _plan(self) -> dict:
        """What to save, as references, taken in the parent (a service's own
        lookups and hooks may take locks that another thread holds at the fork)."""
        from localstack.services.plugins import SERVICE_PLUGINS

        services = {}
        for name in SERVICES_IN_LOAD_ORDER:
            if not SERVICE_PLUGINS.is_running(name):
                continue
            service = SERVICE_PLUGINS.get_service(name)
            service.lifecycle_hook.on_before_state_save()
            services[name] = _containers(service)
        extras = {}
        if "s3" in services:
            extras["s3"] = self.s3_bodies.plan()
        if "ses" in services:
            extras["ses"] = ses_outbox()
        return {"services": services, "extras": extras}

    def save(self) -> None:
        """Save in a forked child, as Redis's BGSAVE does: the child holds a copy
        of LocalStack's memory as it was at the fork, which no request changes
        while it is pickled (pickling the live stores in a thread failed under
        load: "dictionary changed size during iteration"), and LocalStack's own
        threads run on meanwhile, the GIL not shared with the pickling."""
        with self.lock:
            seen = self.changes.count
            if seen == self.saved_changes and self.path.exists():
                return  # nothing changed: the snapshot on disk is the state
            started = time.monotonic()
            plan = self._plan()
            self.directory.mkdir(parents=True, exist_ok=True)
            reader, writer = os.pipe()
            as_of = time.time()  # the snapshot holds the state of this moment
            with warnings.catch_warnings():
                # The child runs only the pickling below and leaves with os._exit:
                # it takes no lock another thread could have held at the fork.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                os.close(reader)
                self._save_in_child(plan, writer, as_of)  # never returns
            os.close(writer)
            answer = self._answer(reader, pid)
            if not answer.startswith("saved "):
                raise SnapshotFailed(answer)
            self.saved_changes = seen  # a change counted after `seen` is saved next time
            self.status["last_save"] = {
                "at": as_of,
                "seconds": round(time.monotonic() - started, 3),
                "bytes": int(answer.split()[1]),
            }

    def _save_in_child(self, plan: dict, writer: int, as_of: float) -> None:
        code = 1
        # LocalStack's handlers would start a shutdown in here: `make stop`
        # signals the whole process group, and this copy should just end.
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signal_number, signal.SIG_DFL)
        try:
            extras = dict(plan["extras"])
            if "s3" in extras:
                extras["s3"] = S3Bodies.read(extras["s3"])
            data = _dumps({"format": FORMAT, "saved_at": as_of, "services": plan["services"], "extras": extras})
            temporary = self.path.with_suffix(".tmp")
            with open(temporary, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
            os.write(writer, f"saved {len(data)}".encode())
            code = 0
        except BaseException as error:  # noqa: BLE001 -- told to the parent, which logs it
            os.write(writer, f"{type(error).__name__}: {error}"[:2000].encode())
        finally:
            os._exit(code)

    @staticmethod
    def _answer(reader: int, pid: int) -> str:
        deadline = time.monotonic() + SAVE_TIMEOUT_SECONDS
        chunks = []
        with os.fdopen(reader, "rb") as pipe:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([pipe], [], [], left)[0]:
                    os.kill(pid, signal.SIGKILL)
                    chunks = [f"the save took more than {SAVE_TIMEOUT_SECONDS} s and was stopped".encode()]
                    break
                chunk = pipe.read1(4096)
                if not chunk:
                    break
                chunks.append(chunk)
        os.waitpid(pid, 0)
        return b"".join(chunks).decode(errors="replace") or "the saving process ended without a word"

    def load(self) -> None:
        """Load the snapshot if there is one. One that cannot be read is moved
        aside, and the lab starts clean; the line that says so is kept for make up."""
        stopped_cleanly = self.stopped_cleanly.exists()
        self.stopped_cleanly.unlink(missing_ok=True)  # until this run stops cleanly
        if not self.path.exists():
            return
        started = time.monotonic()
        try:
            state = state_pickle.loads(self.path.read_bytes())
            if not isinstance(state, dict) or state.get("format") != FORMAT:
                raise ValueError(f"not a snapshot of format {FORMAT}")
        except Exception as error:  # noqa: BLE001 -- any unreadable file: the lab must still start
            self._discard(f"{type(error).__name__}: {error}")
            return
        try:
            self._inject(state)
        except Exception as error:  # a snapshot its services refuse: the lab must still start
            LOG.exception("lab: loading the snapshot failed")
            _reset(SERVICES_IN_LOAD_ORDER)  # clean, as the line says: nothing half-loaded to save again
            self._discard(f"loading it failed, {type(error).__name__}: {error}")
            return
        self.status["restored"] = {
            "saved_at": state["saved_at"],
            "seconds": round(time.monotonic() - started, 3),
            "bytes": self.path.stat().st_size,
            "stopped_cleanly": stopped_cleanly,
        }
        LOG.info(
            "lab: state restored from %s (saved %s)",
            self.path,
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state["saved_at"])),
        )

    def _discard(self, why: str) -> None:
        moved = self.path.with_name(f"snapshot.unreadable-{time.strftime('%Y%m%d-%H%M%S')}.pickle")
        os.replace(self.path, moved)
        message = (
            f"The lab's saved state could not be read ({why[:200]}): the lab starts clean, "
            f"and the unreadable snapshot was moved to {moved}"
        )
        self.status["discarded"] = message
        LOG.error("lab: %s", message)

    def _inject(self, state: dict) -> None:
        from localstack.services.plugins import SERVICE_PLUGINS

        for name in SERVICES_IN_LOAD_ORDER:
            if name not in state["services"]:
                continue
            service = SERVICE_PLUGINS.require(name)
            hook = service.lifecycle_hook
            hook.on_before_state_load()
            for live, loaded in zip(_containers(service), state["services"][name], strict=True):
                _replace_contents(live, loaded)
            if name in state["extras"]:
                RESTORE_EXTRAS[name](state["extras"][name])
            if name in BEFORE_RESTORE_HOOK:
                BEFORE_RESTORE_HOOK[name]()
            hook.on_after_state_load()

    # The thread that saves every interval.
    def run_periodically(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.save()
            except Exception:  # a failed save must not stop the next one
                LOG.exception("lab: saving the lab's state failed; the previous snapshot stays")

    def start(self) -> None:
        if self.interval > 0:
            threading.Thread(target=self.run_periodically, name="lab-snapshots", daemon=True).start()

    def stop_and_save(self) -> None:
        self.stopped.set()
        self.save()
        self.stopped_cleanly.touch()


SNAPSHOTS: Snapshots | None = None


def restore_and_start() -> None:
    global SNAPSHOTS
    directory = snapshot_dir()
    if directory is None:
        return
    from localstack.aws.handlers import run_custom_response_handlers

    SNAPSHOTS = Snapshots(directory, interval_seconds())
    SNAPSHOTS.load()
    run_custom_response_handlers.append(SNAPSHOTS.changes)
    SNAPSHOTS.start()


def save_at_shutdown() -> None:
    if SNAPSHOTS is not None:
        SNAPSHOTS.stop_and_save()
        LOG.info("lab: state saved to %s", SNAPSHOTS.path)


class SnapshotEndpoint:
    """GET /_lab/snapshot: what was restored or discarded at start, and the last save."""

    @route("/_lab/snapshot", methods=["GET"])
    def snapshot(self, request: Request) -> dict:
        return SNAPSHOTS.status if SNAPSHOTS else {"directory": None}
