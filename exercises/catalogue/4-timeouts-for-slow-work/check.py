"""Exercise 4: a 20 s job finishes on its first delivery and is delivered once."""

from lab.teach.judging import SIX_TIMES, SLACK_SECONDS, Criterion, Run, order_body, settle

SLOW_JOB_MS = 20_000
SLOW_JOB_SECONDS = SLOW_JOB_MS // 1000
STACK = {"max_receive_count": 2}


def check(run: Run) -> list[Criterion]:
    """Judged by the job's own deliveries (the worker logs each one it completes), so a
    timeout of an earlier check's job, still retried on this stack, cannot count."""
    stack, job = run.stack, run.order_id("job")
    run.send([order_body(job, sleep_ms=SLOW_JOB_MS)])
    limit = SLOW_JOB_MS / 1000 + stack.max_receive_count * stack.visibility_timeout + SLACK_SECONDS
    settle(
        lambda: run.stored(job) or run.in_dlq(job) or run.redelivered(job),
        limit,
        f"the {SLOW_JOB_SECONDS} s job to be stored (or delivered again)",
    )
    if run.stored(job):  # a second delivery, if the visibility timeout ran out under the first, may still run
        settle(lambda: run.queue_settled() and run.receive_counts(job), limit, "every delivery of the job to end")
    counts = run.receive_counts(job)
    finished = 1 in counts  # the worker logs a delivery that completed; a timed-out one logs nothing
    if stack.function_timeout * 1000 <= SLOW_JOB_MS:
        why = (
            f"the function times out at {stack.function_timeout} s: its timeout must be longer than the "
            "work, with room for a slow start"
        )
    else:
        why = f"its first delivery did not finish: LAB_STACK={stack.suffix} make logs shows why"
    return [
        Criterion(f"the {SLOW_JOB_SECONDS} s job finishes on its first delivery, without a timeout", finished, why),
        Criterion(
            "it is delivered once: no duplicate while it works",
            finished and len(counts) == 1,
            f"it was delivered {len(counts)} times: the visibility timeout ({stack.visibility_timeout} s) "
            "ran out while a delivery still worked (a cold start counts too); AWS advises "
            f"{SIX_TIMES['factor_text']} times the function timeout ({SIX_TIMES.source})"
            if finished
            else "first make the job finish",
        ),
    ]
