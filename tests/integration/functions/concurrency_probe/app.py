"""Reports when each invocation ran, from inside the function, so a test can
count how many batches of a mapping were in flight at once."""

import json
import os
import time


def handler(event, context):
    started = time.time()
    # The work: long enough that batches polled at once overlap.
    time.sleep(max(json.loads(record["body"])["work_ms"] for record in event["Records"]) / 1000)
    print(
        json.dumps(
            {
                "probe": "invocation",
                "started": started,
                "ended": time.time(),
                "records": len(event["Records"]),
                "pid": os.getpid(),
            }
        )
    )
