"""``GET /_lab/memory``: what LocalStack's heap holds, by package, for make bench's
memory profile (bench/memory_profile.py) and for anyone finding where it goes.

It reads Python's own tracer, tracemalloc, which costs memory and time and is
therefore off unless LocalStack was started with ``PYTHONTRACEMALLOC=<frames>``
(the profile uses 25); off, it says so. Each traced block is counted under the
package that asked for it: of the frames of its allocation, the most recent one
outside the standard library (a service model decoded by ``json`` is
``botocore``'s): ``botocore``, ``moto``, ``localstack/services/s3``...
"""

import re
import tracemalloc
from collections import Counter

from localstack.http import Request, route

TOP = 25
# site-packages/<package>/..., and LocalStack by service: the heap's holders by owner.
PACKAGE = re.compile(r"site-packages/(localstack/services/[^/]+|localstack/[^/]+|[^/]+)")


def owner(traceback: tracemalloc.Traceback) -> str:
    """The package of the most recent frame that is not the standard library's."""
    for frame in reversed(traceback):  # tracemalloc keeps the oldest frame first
        found = PACKAGE.search(frame.filename)
        if found:
            return found.group(1).removesuffix(".py")
    return "python (no package among the frames kept)"


def holders(statistics: list[tracemalloc.Statistic]) -> tuple[Counter, Counter]:
    sizes: Counter = Counter()
    blocks: Counter = Counter()
    for statistic in statistics:
        where = owner(statistic.traceback)
        sizes[where] += statistic.size
        blocks[where] += statistic.count
    return sizes, blocks


def paths(statistics: list[tracemalloc.Statistic], wanted: str, depth: int = 8) -> list[dict]:
    """The owner's largest allocation sites: each the `depth` most recent frames
    outside the standard library, oldest first, with what they hold."""
    sizes: Counter = Counter()
    for statistic in statistics:
        if owner(statistic.traceback) == wanted:
            frames = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in statistic.traceback]
            site = tuple(f for f in frames if "/lib/python3" not in f and "<frozen" not in f)[-depth:]
            sizes[site] += statistic.size
    return [{"mb": round(size / 2**20, 1), "frames": list(site)} for site, size in sizes.most_common(TOP)]


class MemoryEndpoint:
    @route("/_lab/memory", methods=["GET"])
    def memory(self, request: Request) -> dict:
        """?owner=botocore adds that owner's largest allocation sites."""
        if not tracemalloc.is_tracing():
            return {"tracing": False, "hint": "start LocalStack with PYTHONTRACEMALLOC=25 to trace its heap"}
        # Grouped once, for both uses: on a traced heap this visits every live block.
        statistics = tracemalloc.take_snapshot().statistics("traceback")
        sizes, blocks = holders(statistics)
        report = {
            "tracing": True,
            "traced_mb": round(sum(sizes.values()) / 2**20, 1),
            "top": [
                {"owner": where, "mb": round(size / 2**20, 1), "blocks": blocks[where]}
                for where, size in sizes.most_common(TOP)
            ],
        }
        if request.args.get("owner"):
            report["sites"] = paths(statistics, request.args["owner"])
        return report
