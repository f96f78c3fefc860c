"""A function for testing the local executor: it does what the event asks."""

import ctypes
import logging
import os
import sys
import time

logger = logging.getLogger()
logger.setLevel(logging.INFO)

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
