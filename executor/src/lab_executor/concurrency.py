"""Concurrent executions per function, as the executor sees them.

`make status` and the dashboard show how many invocations of a function ran at
once. The executor knows exactly when each one starts and ends (CloudWatch log
timestamps do not: LocalStack stamps an invocation's lines when it stores
them), so it keeps the recent intervals here, and LocalStack serves them at
``GET /_lab/concurrency?function=<name>&window=<seconds>`` (registered by the
``on_infra_start`` hook in plugins.py).

A request counts as AWS counts concurrency: in flight from when it needed an
environment. The first invocation of an on-demand environment counts from the
environment's start, its Init phase included: AWS's picture of concurrency shows
an environment busy from its Init to the end of the request that started it
(<https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html>).
"""

import threading
import time
from collections import defaultdict, deque

from localstack.http import Request, route

KEPT_INTERVALS = 2000  # per function: far more than a minute of batches


class Tracker:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, dict[int, float]] = defaultdict(dict)  # function -> {token: started}
        self.ended: dict[str, deque] = defaultdict(lambda: deque(maxlen=KEPT_INTERVALS))
        self.tokens = iter(range(1 << 62))

    def started(self, function: str, since: float | None = None) -> int:
        """An invocation in flight from ``since`` (a time.time()), or from now."""
        with self.lock:
            token = next(self.tokens)
            self.running[function][token] = since if since is not None else time.time()
            return token

    def finished(self, function: str, token: int) -> None:
        with self.lock:
            started = self.running[function].pop(token)
            self.ended[function].append((started, time.time()))

    def report(self, function: str, window_seconds: float) -> dict:
        """Running now, and the most that ran at once within the window."""
        now = time.time()
        since = now - window_seconds
        with self.lock:
            intervals = [(s, e) for s, e in self.ended[function] if e >= since]
            # Still running: it ends after every edge in the window (an end at `now`
            # would sort before a start at `now` and hide an invocation just begun).
            intervals += [(s, float("inf")) for s in self.running[function].values()]
            running = len(self.running[function])
        edges = sorted([(max(s, since), 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
        current = peak = 0
        for _, change in edges:  # an end sorts before a start at the same instant
            current += change
            peak = max(peak, current)
        return {"function": function, "running": running, "peak": peak, "window_seconds": window_seconds}


TRACKER = Tracker()


class ConcurrencyEndpoint:
    @route("/_lab/concurrency", methods=["GET"])
    def concurrency(self, request: Request) -> dict:
        function = request.args.get("function", "")
        window = float(request.args.get("window", 60))
        return TRACKER.report(function, window)
