"""A function for testing the local executor: it does what the event asks."""

import ctypes
import logging
import os
import sys
import time

logger = logging.getLogger()
logger.setLevel(logging.INFO)

# The function's configuration asks for an init that fails or never ends.
if os.environ.get("PROBE_INIT") == "raise":
    raise RuntimeError("the probe's init failed on purpose")
if os.environ.get("PROBE_INIT") == "hang":
    time.sleep(3600)  # an init that never ends (not a wait for a condition)
if os.environ.get("PROBE_INIT") == "hang-first":  # only the function's first init, for this name
    first_init_marker = f"/tmp/{os.environ['AWS_LAMBDA_FUNCTION_NAME']}.first-init"
    if not os.path.exists(first_init_marker):
        open(first_init_marker, "w").close()
        time.sleep(3600)

# The variables Lambda documents for a function's process (configuration-envvars.html).
LAMBDA_VARIABLES = (
    "_HANDLER",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "LANG",
    "PATH",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "TZ",
)

# Counts invocations served by this process, to show warm reuse.
INVOCATIONS_IN_THIS_PROCESS = 0


def handler(event, context):
    global INVOCATIONS_IN_THIS_PROCESS
    INVOCATIONS_IN_THIS_PROCESS += 1
    action = event.get("action", "context")
    print(f"probe action={action} marker={event.get('marker', '')}")
    logger.info("probe logged through the logging module")
    if action == "sleep":
        time.sleep(event["seconds"])  # the slow work the timeout test needs (not a wait)
    elif action == "exit":
        os._exit(event.get("code", 3))
    elif action == "segfault":
        ctypes.string_at(0)
    elif action == "raise":
        raise ValueError(event.get("message", "probe failure"))
    elif action == "respond":
        return "x" * event["bytes"]
    elif action == "allocate":
        held = []
        for _ in range(event["megabytes"]):  # each megabyte written, so that it is resident
            held.append(b"x" * (1024 * 1024))
        return len(held)
    elif action == "environment":
        return {
            "variables": {name: os.environ.get(name) for name in LAMBDA_VARIABLES},
            "all_names": sorted(os.environ),
            "sys_path": sys.path,
            "cwd": os.getcwd(),
        }
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": int(context.memory_limit_in_mb),
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_time_in_millis": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
        "invocations_in_this_process": INVOCATIONS_IN_THIS_PROCESS,
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "cwd": os.getcwd(),
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
    }
