"""Every exercise as `make check` judges it: it fails on the starter files, with
the hint that says what to change, passes on the reference solution, and fails
on each wrong answer kept in each exercise's wrong/ with the hint that says why. Slow
(a 20 s job, retries into a DLQ), so opt-in: TEST_ARGS="-m exercises"; CI runs it."""

import json

import pytest

from helpers import unique_suffix
from lab.stack.teardown import teardown
from lab.teach import exercises

# What the first failing criterion's hint says about the starter files.
STARTER_HINTS = {
    1: "no redrive policy",
    2: "the function raised",
    3: "record that this order's email went out",  # however often a loaded machine delivered it
    4: "the function times out at 10 s",
    5: "the bug is still there",
    6: "allow sending only",
}


@pytest.mark.exercises
@pytest.mark.parametrize("number", sorted(exercises.catalogue()))
def test_check_fails_on_the_starter_files_with_a_hint_and_passes_on_the_solution(number, tmp_path):
    item, suffix = exercises.exercise(number), f"ex{number}{unique_suffix()}"
    try:
        exercises.prepare(number, root=tmp_path, suffix=suffix)
        failed = [c for c in exercises.check(number, root=tmp_path, suffix=suffix) if not c.passed]
        assert failed, "the starter files pass"
        assert STARTER_HINTS[number] in failed[0].hint, failed

        exercises.solution(number, root=tmp_path, suffix=suffix)
        unmet = [c for c in exercises.check(number, root=tmp_path, suffix=suffix) if not c.passed]
        assert not unmet, unmet
        recorded = json.loads(exercises.results_file(tmp_path).read_text())[str(number)]
        assert recorded["passed"] is True and recorded["name"] == item.name
    finally:
        teardown(exercises.stack_of(item, exercises.workspace_of(item, tmp_path), suffix))


WRONG_ANSWERS = [
    (number, answer) for number in sorted(exercises.catalogue()) for answer in exercises.wrong_answers(number)
]


@pytest.mark.exercises
@pytest.mark.parametrize("number,answer", WRONG_ANSWERS, ids=[f"{n}-{a.name}" for n, a in WRONG_ANSWERS])
def test_check_rejects_a_wrong_answer_students_write_and_says_why(number, answer, tmp_path):
    item, suffix = exercises.exercise(number), f"ex{number}{unique_suffix()}"
    try:
        exercises.prepare(number, root=tmp_path, suffix=suffix)
        exercises.try_answer(number, answer, root=tmp_path, suffix=suffix)
        failed = [c for c in exercises.check(number, root=tmp_path, suffix=suffix) if not c.passed]
        expected = (answer / exercises.EXPECTED).read_text().strip()
        assert any(expected in f"{c.name}: {c.hint}" for c in failed), (expected, failed)
    finally:
        teardown(exercises.stack_of(item, exercises.workspace_of(item, tmp_path), suffix))
