"""What this machine can run at once, from its cores and its free memory: the
test suite's xdist workers, and the labs of their own that tests start (a
LocalStack each). A 2-core CI machine and an 8 GB laptop beside a browser each
take what they can carry; LAB_TEST_WORKERS and LAB_LABS_AT_ONCE (settings)
override the figures."""

import os

from lab.core import settings

# Integration tests mostly wait (a visibility timeout, a retry, a cold start):
# four workers a core keep two cores busy without queueing for them.
WORKERS_PER_CORE = 4
# What one worker's tests hold at a time: a stack's execution environments
# (up to MaximumConcurrency of about 60 MB each) and the worker itself.
MEMORY_PER_WORKER_MB = 400
# A lab a test starts for itself: LocalStack (about 600 MB after start) and its
# environments. Each takes a core while it starts, then mostly waits (for a
# retry, a visibility timeout, a retention period): one more than the cores.
MEMORY_PER_LAB_MB = 1500
LABS_BEYOND_CORES = 1


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what this process may use (a container's CPU set)
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def available_memory_mb() -> int:
    try:
        import psutil  # LocalStack's dependency, in every venv and image of the lab

        return psutil.virtual_memory().available // 2**20
    except ImportError:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20


def test_workers() -> int:
    if settings.TEST_WORKERS:
        return settings.TEST_WORKERS
    return max(1, min(WORKERS_PER_CORE * cores(), available_memory_mb() // MEMORY_PER_WORKER_MB))


def labs_at_once() -> int:
    if settings.LABS_AT_ONCE:
        return settings.LABS_AT_ONCE
    return max(1, min(cores() + LABS_BEYOND_CORES, available_memory_mb() // MEMORY_PER_LAB_MB))


def describe() -> str:
    return (
        f"{test_workers()} test workers and {labs_at_once()} labs of their own at once "
        f"({cores()} cores, {available_memory_mb():,} MB free)"
    )
