"""`make bench-memory`: what LocalStack holds, by package, with Python's tracer
(tracemalloc, 25 frames an allocation) on: right after `make up`, and after MEMORY_ORDERS orders. Writes
bench/memory-profile.json and prints the top holders.

The tracer keeps a record of every live block, so LocalStack's own memory is
higher while it runs; the figures to compare with `make bench` are its
proportional memory in the same run (PSS, shown beside) and the holders' shares.
"""

import json
import os
import subprocess
import sys

from rich.table import Table

from bench.measure import MEMORY_ORDERS, memory_now, send_and_drain, step
from lab.core import aws, settings
from lab.core.console import console
from lab.core.settings import Stack

RESULTS = settings.PROJECT_ROOT / "bench" / "memory-profile.json"


def profile(when: str) -> dict:
    # A snapshot of a traced heap takes a while: every live block is visited.
    report = aws.get_json("/_lab/memory", timeout=300)
    if not report.get("tracing"):
        raise SystemExit(f"LocalStack does not trace its heap: {report.get('hint')}")
    report["localstack_pss_mb"] = round(memory_now()[0])
    step(f"{when}: {report['traced_mb']} MB traced, LocalStack {report['localstack_pss_mb']} MB (PSS, with the tracer)")
    return report


def main() -> int:
    if aws.is_up():
        console.print(
            "make bench-memory starts a lab of its own and LocalStack is already running: run `make down` first"
        )
        return 2
    env = {**os.environ, "LAB_MODE": "host", "LAB_DASHBOARD": "0", "PYTHONTRACEMALLOC": "25"}
    step("make up, LocalStack's heap traced (PYTHONTRACEMALLOC=25)")
    subprocess.run([sys.executable, "-m", "lab", "up"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        stack = Stack()
        queue_url = aws.client("sqs").get_queue_url(QueueName=stack.queue_name)["QueueUrl"]
        results = {"after_up": profile("after make up")}
        step(f"{MEMORY_ORDERS} orders through the lab")
        send_and_drain(stack.queue_name, queue_url, MEMORY_ORDERS)
        results[f"after_{MEMORY_ORDERS}_orders"] = profile(f"after {MEMORY_ORDERS} orders")
    finally:
        step("make down")
        subprocess.run([sys.executable, "-m", "lab", "down"], env=env, check=False, stdout=subprocess.DEVNULL)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    before, after = results["after_up"], results[f"after_{MEMORY_ORDERS}_orders"]
    grown = {row["owner"]: row["mb"] for row in after["top"]}
    table = Table(title="LocalStack's heap by owner (tracemalloc), MB", title_justify="left")
    for column in ("owner", "after make up", f"after {MEMORY_ORDERS} orders", "grew, KB an order"):
        table.add_column(column)
    for row in before["top"]:
        later = grown.get(row["owner"], 0.0)
        table.add_row(row["owner"], str(row["mb"]), str(later), f"{(later - row['mb']) * 1024 / MEMORY_ORDERS:.2f}")
    console.print(table)
    console.print(f"Wrote {RESULTS.relative_to(settings.PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
