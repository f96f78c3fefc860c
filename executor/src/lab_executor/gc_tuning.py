"""Python's cyclic garbage collector, tuned for LocalStack's long-lived heap.

LocalStack is one long-running process with a large heap that only grows
while the lab works: botocore's service models, moto's backends, the queues,
buckets, logs and emails. With Python's default thresholds (2000, 10, 10) the
collector walks that heap again and again under load: during make bench's
trivial-handler run, perf showed about a fifth of LocalStack's CPU in
``gc_collect_main`` and its traversal helpers (docs/PERFORMANCE.md).

- ``gc.freeze()`` once LocalStack is ready: what start-up built (modules,
  service models, plugins) lives as long as the process, so no collection
  needs to walk it again.
- A first-generation threshold of LAB_GC_THRESHOLD allocations (default
  50,000, instead of 2,000): young collections come a twenty-fifth as often,
  and so do the full ones they count towards. Cyclic garbage waits a little
  longer to be freed; nothing else changes (reference counting frees the rest
  at once).
"""

import gc
import logging
import os

LOG = logging.getLogger(__name__)
THRESHOLD = int(os.environ.get("LAB_GC_THRESHOLD") or 50_000)


def apply() -> None:
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    if THRESHOLD > 0:
        gc.set_threshold(THRESHOLD, second, third)
    LOG.info("Garbage collector: %d start-up objects frozen, thresholds %s", gc.get_freeze_count(), gc.get_threshold())
