"""What `make up` says about the lab's saved state.

The lab's LocalStack plugin (executor/src/lab_executor/persistence.py) loads
the last snapshot when LocalStack starts, saves one every
SNAPSHOT_INTERVAL_SECONDS and at a clean stop, and tells at
``GET /_lab/snapshot`` what it restored or had to discard.
"""

import time

from lab.core import aws


def _clock(epoch_seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch_seconds))


def restored_line() -> str | None:
    """One line on what LocalStack brought back at its start, or None for a first start."""
    try:
        status = aws.get_json("/_lab/snapshot")
    except (OSError, ValueError):
        return None  # a LocalStack without the lab's plugin says nothing
    if status.get("discarded"):
        return f"[yellow]{status['discarded']}[/]"
    restored = status.get("restored")
    if not restored:
        return None
    saved = _clock(restored["saved_at"])
    if restored["stopped_cleanly"]:
        return (
            f"Restored the lab as `make stop` left it at {saved}: the queues with their messages, the DLQ, "
            "the stored orders, the emails, the function and its mapping."
        )
    return (
        f"[yellow]LocalStack stopped without `make stop` (a crash, a kill, a reboot): the lab is back as its last "
        f"snapshot had it, saved at {saved}; snapshots are taken every {status['interval_seconds']:g} s, "
        "so what happened in the seconds before it stopped may be missing.[/]"
    )
