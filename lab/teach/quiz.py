"""`make quiz`: an offline self-check on what the lab showed. Multiple choice;
each answer is explained, with the guide step (docs/LAB.md) where the lab
shows it, and the score is kept for `make report` (exercises/quiz.json). The
questions are data: exercises/catalogue/quiz-questions.json.

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
from functools import cache

from lab.core import settings
from lab.core.aws_facts import fact
from lab.core.console import console
from lab.core.errors import LabError
from lab.core.processes import hand_over

RESULT_FILE = settings.PROJECT_ROOT / "exercises" / "quiz.json"
QUESTIONS_FILE = settings.PROJECT_ROOT / "exercises" / "catalogue" / "quiz-questions.json"


@dataclass(frozen=True)
class Question:
    text: str
    choices: tuple[str, ...]
    answer: int  # index into choices
    why: str
    step: str  # where docs/LAB.md shows it
    source: str = ""  # the AWS page for a number or rule the answer states (lab/core/aws_facts.json)


class Facts(dict):
    """The AWS facts by name, as a question's text names them: {retention[default_short]}."""

    def __missing__(self, name: str):
        return fact(name)


@cache
def load_questions(path=QUESTIONS_FILE) -> tuple[Question, ...]:
    """The questions of the file, each fact's value in its texts and its source beside."""
    facts = Facts()
    return tuple(
        Question(
            text=entry["question"].format_map(facts),
            choices=tuple(choice.format_map(facts) for choice in entry["choices"]),
            answer=entry["answer"],
            why=entry["why"].format_map(facts),
            step=entry["step"],
            source=fact(entry["fact"]).source if entry.get("fact") else "",
        )
        for entry in json.loads(path.read_text())["questions"]
    )


def __getattr__(name: str):
    """quiz.QUESTIONS, read when first asked for: the lab's images import the lab
    without exercises/ (LocalStack's container has no quiz to ask)."""
    if name == "QUESTIONS":
        return load_questions()
    raise AttributeError(name)


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
    positions = [index % len(question.choices) for index, question in enumerate(load_questions())]
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
    return "".join(LETTERS[shown_order(n, q, seed).index(q.answer)] for n, q in enumerate(load_questions(), start=1))


def _read_answer(number: int, question: Question, order: list[int]) -> str:
    console.print(f"\n[bold]{number}. {question.text}[/]")
    letters = tuple(LETTERS[: len(order)])  # one letter each: "ab" is no answer
    for letter, index in zip(letters, order, strict=True):
        console.print(f"   {letter}) {question.choices[index]}")
    while (given := console.input("Your answer: ").strip().lower()) not in letters:
        console.print(f"   one of {', '.join(letters)}")
    return given


def _refuse_letters_that_are_not_choices(answers: str) -> None:
    for number, (letter, question) in enumerate(zip(answers.lower(), load_questions(), strict=True), start=1):
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
    questions = load_questions()
    if answers is None and not sys.stdin.isatty():
        raise LabError(
            f"make quiz asks in a terminal; or answer in one go: make quiz ANSWERS=abca... ({len(questions)} letters)"
        )
    if answers is not None and len(answers) != len(questions):
        raise LabError(f"ANSWERS has {len(answers)} letters; the quiz has {len(questions)} questions")
    if answers is not None:
        _refuse_letters_that_are_not_choices(answers)
    score, missed = 0, []
    for number, question in enumerate(questions, start=1):
        order = shown_order(number, question, seed)
        given = answers[number - 1].lower() if answers is not None else _read_answer(number, question, order)
        right = LETTERS[order.index(question.answer)]
        where = f"[dim](see {question.step}{source_of(question)})[/]"
        if given == right:
            score += 1
            console.print(f"{number}. [green]right[/] ({right}): {question.why} {where}")
        else:
            missed.append(number)
            console.print(
                f"{number}. [red]{given} is not it; {right}) {question.choices[question.answer]}[/]: "
                f"{question.why} {where}"
            )
    # The questions missed, by number, for the class's totals (make class-report).
    result = {
        "score": score,
        "out_of": len(load_questions()),
        "missed": missed,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
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
        f"\n[bold]Score: {score} of {len(load_questions())}[/] (kept in {where}; best of "
        f"{kept['attempts']} attempt(s): {kept['best']['score']})"
    )
    return result
