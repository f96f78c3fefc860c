"""``GET /_lab/memory``: what LocalStack's heap holds, by package, for make bench's
memory profile (bench/memory_profile.py) and for anyone finding where it goes.

It reads Python's own tracer, tracemalloc, which costs memory and time and is
therefore off unless LocalStack was started with ``PYTHONTRACEMALLOC=1`` (the
profile does that); off, it says so. Each traced block is counted where it was
allocated, under the package of that file: ``botocore``, ``moto``,
``localstack/services/s3``, or ``python`` for the standard library.
"""

import re
import tracemalloc
from collections import Counter

from localstack.http import Request, route

TOP = 25
# site-packages/<package>/..., and LocalStack by service: the heap's holders by owner.
PACKAGE = re.compile(r"site-packages/(localstack/services/[^/]+|localstack/[^/]+|[^/]+)")


def owner(filename: str) -> str:
    found = PACKAGE.search(filename)
    if found:
        return found.group(1).removesuffix(".py")
    return "python" if "/lib/python3" in filename else filename


def holders(snapshot: tracemalloc.Snapshot) -> tuple[Counter, Counter]:
    sizes: Counter = Counter()
    blocks: Counter = Counter()
    for statistic in snapshot.statistics("filename"):
        where = owner(statistic.traceback[0].filename)
        sizes[where] += statistic.size
        blocks[where] += statistic.count
    return sizes, blocks


class MemoryEndpoint:
    @route("/_lab/memory", methods=["GET"])
    def memory(self, request: Request) -> dict:
        if not tracemalloc.is_tracing():
            return {"tracing": False, "hint": "start LocalStack with PYTHONTRACEMALLOC=1 to trace its heap"}
        sizes, blocks = holders(tracemalloc.take_snapshot())
        return {
            "tracing": True,
            "traced_mb": round(sum(sizes.values()) / 2**20, 1),
            "top": [
                {"owner": where, "mb": round(size / 2**20, 1), "blocks": blocks[where]}
                for where, size in sizes.most_common(TOP)
            ],
        }
