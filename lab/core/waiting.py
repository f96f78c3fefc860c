"""Waiting for something to happen, with a deadline and a name for what is awaited."""

import time
from collections.abc import Callable

# Each look is a call or more to LocalStack, which serves the functions too, and
# the suite waits on a dozen things at once: a look a second is soon enough.
POLL_SECONDS = 1.0


def wait_for[T](
    condition: Callable[[], T], timeout: float, what: str, describe: Callable[[], object] | None = None
) -> T:
    """Poll until condition() is truthy and return its value; fail saying what was
    awaited, and what describe() tells of the state at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(POLL_SECONDS)
    state = f"\n{describe()}" if describe else ""
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}; last value: {last!r}{state}")
