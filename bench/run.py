"""`make bench`: how fast the lab is, beside the ceilings of this machine and a peer emulator.

It starts a lab of its own (host mode, no dashboard: the dashboard's sampling
would take CPU from what is measured), measures, writes bench/results.json and
bench/results.html (charts drawn with the dashboard's uPlot), prints a table and stops the lab. Every figure that has a
ceiling on this machine is also given as a fraction of it, because absolute
numbers move from machine to machine.
"""

import contextlib
import json
import os
import subprocess
import sys
import time

from bench import picture
from bench.measure import (
    CEILING_ORDERS,
    COLD_INVOKES,
    IDLE_CPU_SECONDS,
    KEEPALIVE_SECONDS,
    LATENCY_MESSAGES,
    MEMORY_ORDERS,
    PROCESSES_PER_ENVIRONMENT,
    SHARED_HANDLER,
    THROUGHPUT_MESSAGES,
    WARM_INVOKES,
    allow_latency_objects,
    calls_per_order,
    counted_for,
    dashboard_mb,
    idle_cpu_percent,
    idle_latency_real_worker,
    installed_mb,
    invoke_latency,
    memory_now,
    raw_receive_delete,
    real_worker_ceiling,
    send_and_drain,
    shared_handler_latency,
    step,
    summary_ms,
    throughput,
    time_make_up,
    time_to_dlq,
)
from bench.peer import run_peer
from bench.targets import judge, print_table
from lab.core import aws, settings
from lab.core.console import console
from lab.core.processes import MemorySampler, stop_pid_file
from lab.core.settings import Stack
from lab.core.waiting import wait_for
from lab.stack.mapping import set_mapping_enabled
from lab.stack.teardown import temporary_stack

BENCH_DIR = settings.PROJECT_ROOT / "bench"
RESULTS_JSON = BENCH_DIR / "results.json"
RESULTS_PAGE = BENCH_DIR / "results.html"


def main() -> int:
    if aws.is_up():
        console.print("make bench starts a lab of its own and LocalStack is already running: run `make down` first")
        return 2
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30),
        },
        "localstack": settings.LOCALSTACK_VERSION,
        "figures": {},
    }
    step("what make up installs: a venv made from requirements/lab.lock, then the test tools added")
    installed = installed_mb()
    step(f"make up (everything installed; host mode, keep-alive {KEEPALIVE_SECONDS} s)")
    up_seconds = time_make_up(dashboard=True)
    memory = MemorySampler(interval=0.5).start()
    progress: dict[str, list] = {}
    stacks = contextlib.ExitStack()  # the bench's own stacks, removed at the end
    try:
        lab_stack = Stack()
        sqs = aws.client("sqs")
        queue_url = sqs.get_queue_url(QueueName=lab_stack.queue_name)["QueueUrl"]
        dlq_url = sqs.get_queue_url(QueueName=lab_stack.dlq_name)["QueueUrl"]
        localstack_idle_mb = memory_now()[0]
        dashboard_idle_mb = dashboard_mb()
        idle_cpu = idle_cpu_percent(IDLE_CPU_SECONDS)
        step(f"memory: {MEMORY_ORDERS} orders through the lab right after make up")
        send_and_drain(lab_stack.queue_name, queue_url, MEMORY_ORDERS)
        localstack_mb, functions_mb, environments = memory_now()
        dashboard_after_mb = dashboard_mb()
        _, worker_mb, worker_environments = memory_now(lab_stack.function_name)
        step("the dashboard stopped: its sampling would take CPU from what is measured next")
        stop_pid_file(settings.DASHBOARD_PID_FILE, b"dashboard")

        shared = stacks.enter_context(
            temporary_stack(
                "bench-shared",
                SHARED_HANDLER,
                function_timeout=30,
                visibility_timeout=30 + settings.COLD_START_ALLOWANCE_SECONDS,
            )
        )
        allow_latency_objects(shared, stacks)
        step(f"invoke latency: {COLD_INVOKES} cold, {WARM_INVOKES} warm")
        cold_ms, warm_ms = invoke_latency(shared.stack.function_name)

        step(f"idle end-to-end latency, real worker: {LATENCY_MESSAGES} orders, one at a time")
        latencies = idle_latency_real_worker(lab_stack, queue_url)
        step(f"idle end-to-end latency, shared handler: {LATENCY_MESSAGES} messages")
        shared_latencies = shared_handler_latency(None, shared.queue_url, shared.bucket)

        step(
            f"ceilings: raw SQS receive+delete of {THROUGHPUT_MESSAGES}, "
            f"and the real worker's calls for {CEILING_ORDERS} orders"
        )
        raw_rate, send_rate = raw_receive_delete(THROUGHPUT_MESSAGES)
        ceiling = real_worker_ceiling(lab_stack)

        progress["shared handler, batch 10"] = []
        trivial = throughput(shared.stack.queue_name, shared.queue_url, progress=progress["shared handler, batch 10"])
        progress["real worker, batch 10"] = []
        aws.post_to_localstack(f"/_lab/requests/reset?{counted_for(lab_stack)}")
        localstack_before_real_mb = memory_now()[0]
        real = throughput(lab_stack.queue_name, queue_url, progress=progress["real worker, batch 10"])
        localstack_after_real_mb = memory_now()[0]
        real_calls = calls_per_order(lab_stack, THROUGHPUT_MESSAGES)
        step("the cost of IAM enforcement: the same real worker with it off (throughput, then idle latency)")
        aws.set_iam_enforcement(False)
        try:
            progress["real worker, IAM not enforced"] = []
            real_unenforced = throughput(
                lab_stack.queue_name, queue_url, progress=progress["real worker, IAM not enforced"]
            )
            latencies_unenforced = idle_latency_real_worker(lab_stack, queue_url)
        finally:
            aws.set_iam_enforcement(True)
        big = stacks.enter_context(
            temporary_stack(
                "bench-batch100", batch_size=100, batching_window=1, function_timeout=60, visibility_timeout=120
            )
        )
        progress["real worker, batch 100, window 1 s"] = []
        batch100 = throughput(
            big.stack.queue_name, big.queue_url, progress=progress["real worker, batch 100, window 1 s"]
        )
        set_mapping_enabled(aws.client("lambda"), big.mapping_uuid, False)

        dlq_seconds = time_to_dlq(lab_stack, queue_url, dlq_url)
        step(f"idle: every execution environment released after the keep-alive ({KEEPALIVE_SECONDS} s)?")
        idle_since = time.perf_counter()
        wait_for(
            lambda: memory_now()[1] == 0, KEEPALIVE_SECONDS + 120, "the function processes to end after the keep-alive"
        )
        released_after = time.perf_counter() - idle_since
        localstack_after_idle_mb, functions_after_idle_mb, _ = memory_now()
        memory.stop()

        results.update(
            {
                "e2e_latency_ms": summary_ms(latencies),
                "e2e_latency_shared_handler_ms": summary_ms(shared_latencies),
                "throughput_msgs_per_s": round(real, 1),
                "trivial_throughput_msgs_per_s": round(trivial, 1),
                "real_worker_ceiling_msgs_per_s": round(ceiling, 1),
                "throughput_batch100_msgs_per_s": round(batch100, 1),
                # The same worker, the same run: every call its role makes checked, or none.
                "iam_enforcement": {
                    "on": {"throughput_msgs_per_s": round(real, 1), "e2e_latency_ms": summary_ms(latencies)},
                    "off": {
                        "throughput_msgs_per_s": round(real_unenforced, 1),
                        "e2e_latency_ms": summary_ms(latencies_unenforced),
                    },
                },
                "raw_sqs_receive_delete_msgs_per_s": round(raw_rate, 1),
                "raw_sqs_send_batch_msgs_per_s": round(send_rate, 1),
                "time_to_dlq_s": round(dlq_seconds, 2),
                "time_to_dlq_floor_s": lab_stack.max_receive_count * lab_stack.visibility_timeout,
                "warm_invoke_ms": round(warm_ms, 1),
                "cold_invoke_ms": round(cold_ms, 1),
                "up_warm_s": round(up_seconds, 2),
                "installed_mb": installed,
                "idle_cpu_percent_of_a_core": idle_cpu,
                # Proportional memory (PSS): a page shared by several processes counted once.
                "peak_mb": {
                    "localstack": round(memory.peak(1)),
                    "functions": round(memory.peak(2)),
                    "lab": round(memory.peak_total()),
                },
                "memory_mb": {
                    "localstack_idle_after_up": round(localstack_idle_mb),
                    "dashboard_idle_after_up": round(dashboard_idle_mb),
                    "lab_after_up": round(localstack_idle_mb + dashboard_idle_mb),
                    f"localstack_after_{MEMORY_ORDERS}_orders": round(localstack_mb),
                    f"dashboard_after_{MEMORY_ORDERS}_orders": round(dashboard_after_mb),
                    f"functions_after_{MEMORY_ORDERS}_orders": round(functions_mb),
                    f"environments_after_{MEMORY_ORDERS}_orders": environments,
                    f"lab_after_{MEMORY_ORDERS}_orders": round(localstack_mb + functions_mb + dashboard_after_mb),
                    "one_worker_environment": round(worker_mb / max(worker_environments, 1), 1),
                    "processes_per_environment": PROCESSES_PER_ENVIRONMENT,
                    "localstack_before_real_worker_run": round(localstack_before_real_mb),
                    "localstack_after_real_worker_run": round(localstack_after_real_mb),
                    "localstack_growth_kb_per_order": round(
                        (localstack_after_real_mb - localstack_before_real_mb) * 1024 / THROUGHPUT_MESSAGES, 2
                    ),
                    "keepalive_s": KEEPALIVE_SECONDS,
                    "environments_released_after_idle_s": round(released_after, 1),
                    "localstack_after_idle": round(localstack_after_idle_mb),
                    "functions_after_idle": round(functions_after_idle_mb),
                },
                "real_worker_calls_per_order": real_calls,
                "settings": {
                    "batch_size": lab_stack.batch_size,
                    "maximum_concurrency": lab_stack.maximum_concurrency,
                    "messages": THROUGHPUT_MESSAGES,
                    "latency_messages": LATENCY_MESSAGES,
                },
            }
        )
    finally:
        stacks.close()
        memory.stop()
        step("make down")
        subprocess.run([sys.executable, "-m", "lab", "down"], check=False, stdout=subprocess.DEVNULL)

    run_peer(results)
    peer = results["peer"]
    peer["ours_over_peer_throughput"] = round(
        results["trivial_throughput_msgs_per_s"] / peer["throughput_msgs_per_s"], 2
    )
    for share in ("p50", "p95"):
        peer[f"ours_over_peer_latency_{share}"] = round(
            results["e2e_latency_shared_handler_ms"][share] / peer["e2e_latency_ms"][share], 2
        )

    figures = results["figures"]
    figures["e2e_latency_p50_ms"] = results["e2e_latency_ms"]["p50"]
    figures["e2e_latency_p95_ms"] = results["e2e_latency_ms"]["p95"]
    figures["trivial_throughput_msgs_per_s"] = results["trivial_throughput_msgs_per_s"]
    figures["trivial_fraction_of_raw"] = round(trivial / raw_rate, 3)
    figures["real_worker_fraction_of_ceiling"] = round(real / ceiling, 3)
    figures["time_to_dlq_over_floor_s"] = round(dlq_seconds - results["time_to_dlq_floor_s"], 2)
    figures["warm_invoke_ms"] = results["warm_invoke_ms"]
    figures["up_warm_s"] = results["up_warm_s"]
    for name in ("ours_over_peer_throughput", "ours_over_peer_latency_p50", "ours_over_peer_latency_p95"):
        figures[name] = peer[name]
    memory_mb = results["memory_mb"]
    figures["installed_make_up_mb"] = results["installed_mb"]["make_up_venv_mb"]
    figures["environment_mb"] = memory_mb["one_worker_environment"]
    figures["environment_processes"] = memory_mb["processes_per_environment"]
    figures["lab_after_up_mb"] = memory_mb["lab_after_up"]
    figures["lab_after_1000_orders_mb"] = memory_mb[f"lab_after_{MEMORY_ORDERS}_orders"]
    figures["lab_peak_mb"] = results["peak_mb"]["lab"]
    figures["idle_cpu_percent_of_a_core"] = results["idle_cpu_percent_of_a_core"]["lab"]
    figures["localstack_growth_kb_per_order"] = memory_mb["localstack_growth_kb_per_order"]
    figures["functions_after_keepalive_mb"] = memory_mb["functions_after_idle"]
    results["targets"] = judge(results)
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    picture.write(RESULTS_PAGE, "the lab", latencies, progress, memory.rows, THROUGHPUT_MESSAGES)
    print_table(results)
    console.print(
        f"Wrote {RESULTS_JSON.relative_to(settings.PROJECT_ROOT)} and {RESULTS_PAGE.relative_to(settings.PROJECT_ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
