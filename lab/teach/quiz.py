"""`make quiz`: an offline self-check on what the lab showed. Multiple choice;
each answer is explained, with the guide step (docs/LAB.md) where the lab
shows it, and the score is kept for `make report` (exercises/quiz.json).

Interactive in a terminal; `make quiz ANSWERS=bacd...` answers in one go (one
letter per question, in order), as a script or a test does.

Each question's choices are shown in an order of their own, shuffled with the
student's name and machine as the seed: the same for every attempt of one
student (a score can be reproduced), different between students, and with
each letter the answer about a third of the time, so that none is worth
guessing. The file keeps the last and the best attempt.
"""

import getpass
import json
import os
import random
import socket
import sys
import time
from dataclasses import dataclass

from lab.core import settings
from lab.core.aws_facts import fact
from lab.core.console import console
from lab.core.errors import LabError
from lab.core.processes import hand_over

RESULT_FILE = settings.PROJECT_ROOT / "exercises" / "quiz.json"
RETENTION = fact("retention")
MAXIMUM_CONCURRENCY = fact("maximum_concurrency")
SCALING = fact("mapping_scaling")
SIX_TIMES = fact("six_times_rule")
FIFO_DEDUPLICATION = fact("fifo_deduplication")
DLQ_CLOCK = fact("dlq_keeps_enqueue_time")


@dataclass(frozen=True)
class Question:
    text: str
    choices: tuple[str, ...]
    answer: int  # index into choices
    why: str
    step: str  # where docs/LAB.md shows it
    source: str = ""  # the AWS page for a number or rule the answer states (lab/core/aws_facts.json)


QUESTIONS = (
    Question(
        "How does an SQS message reach a Lambda function?",
        (
            "SQS pushes each message to the function",
            "The event source mapping polls the queue and invokes the function with a batch",
            "The function must call ReceiveMessage in its code",
        ),
        1,
        "Lambda's event source mapping long-polls the queue for you and invokes the function with "
        "what it received; nothing is pushed, and the function contains no polling code.",
        "step 2",
    ),
    Question(
        "The function raises an exception for a batch. What happens to its messages?",
        (
            "Lambda invokes the function again at once",
            "They are deleted",
            "They stay in the queue and become visible again when the visibility timeout ends, then are received again",
        ),
        2,
        "The mapping does not re-invoke on an error: it simply does not delete the messages, and they "
        "reappear after the visibility timeout.",
        "step 4",
    ),
    Question(
        "What does the visibility timeout guarantee?",
        (
            "That each message is processed exactly once",
            "That a received message is hidden from other consumers for that long; duplicates can still happen",
            "That failed messages go to the DLQ",
        ),
        1,
        "It only hides a message while one consumer works on it. A timeout, a crash or work longer than "
        "the timeout brings it back: at-least-once delivery remains.",
        "step 3, scenario short-visibility",
    ),
    Question(
        "A standard queue delivers a message twice. What keeps the customer from getting two emails?",
        (
            "Nothing: standard queues never deliver twice",
            "A FIFO queue",
            "An idempotent worker: effects keyed by the order id, done at most once",
        ),
        2,
        "Delivery is at least once, so the effects must be idempotent; the lab's worker writes each "
        "order once and claims the email before sending it.",
        "scenario exactly-once",
    ),
    Question(
        "Without a dead-letter queue, how long is a poison message retried?",
        ("For ever", "Until the queue's retention period ends and it is deleted", "Three times"),
        1,
        f"Every receive fails and the message comes back until the retention period "
        f"({RETENTION['default_short']} by default) deletes it: thousands of wasted invocations, then the "
        "message is gone.",
        "step 12, scenario no-dlq",
        RETENTION.source,
    ),
    Question(
        "When does a message move to the DLQ?",
        ("After its receive count passes maxReceiveCount", "After the first failure", "When the function times out"),
        0,
        "The queue's redrive policy moves it once it has been received maxReceiveCount times without being deleted.",
        "step 5",
    ),
    Question(
        "With ReportBatchItemFailures and one bad record in a batch of ten, what comes back?",
        ("All ten", "Only the record the function reported as failed", "Nothing"),
        1,
        "The partial batch response names the failed records; the mapping deletes the rest.",
        "exercise 2 (make exercise N=2), Partial batch responses",
    ),
    Question(
        "100 orders wait in the queue, batch size 10. About how many invocations?",
        ("100", "About 10", "Exactly 1"),
        1,
        "A batch of ten is one execution: ten messages are not ten executions.",
        "step 7, scenario scaling",
        fact("batch_size").source,
    ),
    Question(
        "On AWS, a mapping without MaximumConcurrency facing a growing queue...",
        (
            "runs one batch at a time",
            "starts with a few concurrent batches and adds more as the queue grows, up to the account's limits",
            "runs exactly five batches at once, always",
        ),
        1,
        f"It scales up from {SCALING['start']}; MaximumConcurrency ({MAXIMUM_CONCURRENCY['min']} to "
        f"{MAXIMUM_CONCURRENCY['max']}) caps it, and setting it to 5 keeps it at 5.",
        "step 7",
        SCALING.source,
    ),
    Question(
        "The worker is slow. What happens to the producer?",
        ("It slows down too", "Nothing: its sends return at once and the orders wait in the queue", "Its sends fail"),
        1,
        "The queue is the buffer: sending takes milliseconds whatever the consumer does; with a direct "
        "call the producer would wait for, and fail with, the consumer.",
        "step 8, scenario no-queue",
    ),
    Question(
        "Which permissions does the worker's role need on the queue?",
        ("sqs:SendMessage", "sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes", "sqs:* on every queue"),
        1,
        "The mapping uses the function's role to read the queue; without them AWS refuses the mapping.",
        "step 9, scenario missing-permission",
        fact("mapping_permissions").source,
    ),
    Question(
        "Is polling free?",
        (
            "Yes, Lambda polls for nothing",
            "No: the mapping's receives are SQS requests, the empty ones too",
            "Only FIFO queues charge for it",
        ),
        1,
        "You pay per SQS request, and the mapping's long polls are requests even when they return "
        "nothing; long polling keeps their number down.",
        "step 10",
    ),
    Question(
        "What should the visibility timeout be, compared with the function timeout?",
        (
            "Shorter",
            f"Equal or longer (AWS advises {SIX_TIMES['factor_text']} times, with room for the batching window)",
            "It does not matter",
        ),
        1,
        "A shorter one brings a message back while it is still being processed: AWS refuses such a "
        "mapping, and the lab does too.",
        "scenario short-visibility, The lab's numbers",
        SIX_TIMES.source,
    ),
    Question(
        "A FIFO queue...",
        (
            "delivers exactly once whatever the consumer does",
            "keeps order within a message group and drops "
            f"duplicate sends within {FIFO_DEDUPLICATION['minutes_text']} minutes; a failed message still comes "
            "back",
            "has no visibility timeout",
        ),
        1,
        "Deduplication applies to sends; processing is still at least once, and a failing message "
        "holds its group back until it succeeds or moves to the DLQ.",
        "step 14",
        FIFO_DEDUPLICATION.source,
    ),
    Question(
        "A message from a standard queue has been in the DLQ for a while. On AWS, what counts against "
        "the DLQ's retention?",
        (
            "The time since it moved to the DLQ",
            "The time since it was first sent to the source queue",
            "Nothing: DLQs keep messages for ever",
        ),
        1,
        "On a standard queue the enqueue time is kept, so the DLQ's retention must be longer than the "
        "source's (LocalStack differs: it restarts the clock).",
        "step 12",
        DLQ_CLOCK.source,
    ),
    Question(
        "The queue is 'a waiting room'. What are Lambda functions?",
        (
            "Permanent servers that read the queue",
            "Workers that come and go: invoked when there is work, as many at once as the mapping allows",
            "A part of the queue",
        ),
        1,
        "Execution environments start when batches arrive and go away when idle; the messages wait safely meanwhile.",
        "step 15",
    ),
)


LETTERS = "abcdefg"


def source_of(question: Question) -> str:
    return f"; AWS: {question.source}" if question.source else ""


def student_and_machine() -> tuple[str, str]:
    """Who answers, where: from the tools container, the host's (scripts/lab-in-docker passes them)."""
    return (
        os.environ.get("LAB_HOST_USER") or getpass.getuser(),
        os.environ.get("LAB_HOST_NAME") or socket.gethostname(),
    )


def default_seed() -> str:
    return "@".join(student_and_machine())


def answer_positions(seed: str) -> list[int]:
    """Where each question's right answer stands for this student: every position
    in turn, shuffled, so that each letter is the answer about as often as the next
    (with 16 questions of three choices, 5 or 6 times): one letter every time scores
    at most 6."""
    positions = [index % len(question.choices) for index, question in enumerate(QUESTIONS)]
    random.Random(seed).shuffle(positions)
    return positions


def shown_order(number: int, question: Question, seed: str) -> list[int]:
    """The indices of the question's choices, in the order this student sees them."""
    others = [index for index in range(len(question.choices)) if index != question.answer]
    random.Random(f"{seed}/{number}").shuffle(others)
    position = answer_positions(seed)[number - 1] % len(question.choices)
    return others[:position] + [question.answer] + others[position:]


def answer_key(seed: str) -> str:
    """The right letters, in order, as this seed shows the choices (for scripts and tests)."""
    return "".join(LETTERS[shown_order(n, q, seed).index(q.answer)] for n, q in enumerate(QUESTIONS, start=1))


def _read_answer(number: int, question: Question, order: list[int]) -> str:
    console.print(f"\n[bold]{number}. {question.text}[/]")
    letters = tuple(LETTERS[: len(order)])  # one letter each: "ab" is no answer
    for letter, index in zip(letters, order, strict=True):
        console.print(f"   {letter}) {question.choices[index]}")
    while (given := console.input("Your answer: ").strip().lower()) not in letters:
        console.print(f"   one of {', '.join(letters)}")
    return given


def _refuse_letters_that_are_not_choices(answers: str) -> None:
    for number, (letter, question) in enumerate(zip(answers.lower(), QUESTIONS, strict=True), start=1):
        if letter not in LETTERS[: len(question.choices)]:
            raise LabError(
                f"ANSWERS: letter {number} is {letter!r}, and question {number} has only "
                f"{', '.join(LETTERS[: len(question.choices)])}"
            )


def _kept(result: dict) -> dict:
    """The file's new content: this attempt as the last, the best so far, how many."""
    before = json.loads(RESULT_FILE.read_text()) if RESULT_FILE.exists() else {}
    # A file written before the best was kept holds one attempt, which was its best.
    best_before = before.get("best") or (before if "score" in before else None)
    best = result if best_before is None or result["score"] > best_before["score"] else best_before
    attempts = before.get("attempts", 1 if before else 0) + 1
    return {**result, "best": {k: best[k] for k in ("score", "out_of", "at")}, "attempts": attempts}


def run(answers: str | None = None, seed: str | None = None) -> dict:
    """Ask (or take the answers given), explain each, save and return the score."""
    seed = seed or default_seed()
    if answers is None and not sys.stdin.isatty():
        raise LabError(
            f"make quiz asks in a terminal; or answer in one go: make quiz ANSWERS=abca... ({len(QUESTIONS)} letters)"
        )
    if answers is not None and len(answers) != len(QUESTIONS):
        raise LabError(f"ANSWERS has {len(answers)} letters; the quiz has {len(QUESTIONS)} questions")
    if answers is not None:
        _refuse_letters_that_are_not_choices(answers)
    score = 0
    for number, question in enumerate(QUESTIONS, start=1):
        order = shown_order(number, question, seed)
        given = answers[number - 1].lower() if answers is not None else _read_answer(number, question, order)
        right = LETTERS[order.index(question.answer)]
        where = f"[dim](see {question.step}{source_of(question)})[/]"
        if given == right:
            score += 1
            console.print(f"{number}. [green]right[/] ({right}): {question.why} {where}")
        else:
            console.print(
                f"{number}. [red]{given} is not it; {right}) {question.choices[question.answer]}[/]: "
                f"{question.why} {where}"
            )
    result = {"score": score, "out_of": len(QUESTIONS), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    RESULT_FILE.parent.mkdir(exist_ok=True)
    kept = _kept(result)
    RESULT_FILE.write_text(json.dumps(kept) + "\n")
    hand_over(RESULT_FILE, RESULT_FILE.parent)
    where = (
        RESULT_FILE.relative_to(settings.PROJECT_ROOT)
        if RESULT_FILE.is_relative_to(settings.PROJECT_ROOT)
        else RESULT_FILE
    )
    console.print(
        f"\n[bold]Score: {score} of {len(QUESTIONS)}[/] (kept in {where}; best of "
        f"{kept['attempts']} attempt(s): {kept['best']['score']})"
    )
    return result
