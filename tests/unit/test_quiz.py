"""`make quiz` offline: every question has one right answer among its choices,
says why and where the lab shows it, the score counts right answers, and no
letter can be guessed: each student sees the choices in an order of their own."""

import json
from collections import Counter

import pytest

from lab.core.errors import LabError
from lab.teach import quiz

SEED = "ana@laptop-7"


@pytest.fixture(autouse=True)
def result_file(tmp_path, monkeypatch):
    monkeypatch.setattr(quiz, "RESULT_FILE", tmp_path / "quiz.json")
    return tmp_path / "quiz.json"


def test_every_question_is_answerable_and_explained():
    assert 15 <= len(quiz.QUESTIONS) <= 20
    for question in quiz.QUESTIONS:
        assert 0 <= question.answer < len(question.choices) and len(set(question.choices)) == len(question.choices)
        assert question.why and question.step


def test_all_right_scores_full_and_is_kept(result_file):
    assert quiz.run(quiz.answer_key(SEED), seed=SEED)["score"] == len(quiz.QUESTIONS)
    assert json.loads(result_file.read_text())["score"] == len(quiz.QUESTIONS)


def test_each_wrong_answer_costs_one_point():
    key = quiz.answer_key(SEED)
    wrong = "".join("a" if right != "a" else "b" for right in key)
    assert quiz.run(wrong, seed=SEED)["score"] == 0
    assert quiz.run(key[:2] + wrong[2:], seed=SEED)["score"] == 2


def test_one_letter_every_time_scores_a_third_at_most_whoever_answers():
    """Each student's key has every letter as the answer a third of the time (5 or 6
    of 16): `bbbb...` scored 13 of 16 before the choices were placed so."""
    for n in range(200):
        key = quiz.answer_key(f"student-{n}@host")
        assert set(Counter(key).values()) <= {5, 6}, key
    counts = Counter(letter for n in range(200) for letter in quiz.answer_key(f"student-{n}@host"))
    assert set(counts) == {"a", "b", "c"}
    assert quiz.run("b" * len(quiz.QUESTIONS), seed=SEED)["score"] <= 6


def test_the_order_is_the_same_for_a_student_every_time_and_differs_between_students():
    assert quiz.answer_key(SEED) == quiz.answer_key(SEED)
    assert len({quiz.answer_key(f"student-{n}@host") for n in range(10)}) == 10


def test_a_letter_that_is_not_a_choice_is_refused_not_scored(result_file):
    answers = "z" + quiz.answer_key(SEED)[1:]
    with pytest.raises(LabError, match="letter 1 is 'z', and question 1 has only a, b, c"):
        quiz.run(answers, seed=SEED)
    assert not result_file.exists()


def test_the_file_keeps_the_last_and_the_best_attempt(result_file):
    key = quiz.answer_key(SEED)
    quiz.run(key, seed=SEED)
    wrong = "".join("a" if right != "a" else "b" for right in key)
    quiz.run(wrong, seed=SEED)
    kept = json.loads(result_file.read_text())
    assert (kept["score"], kept["best"]["score"], kept["attempts"]) == (0, len(quiz.QUESTIONS), 2)


def test_a_wrong_number_of_answers_is_one_line():
    with pytest.raises(LabError, match="the quiz has 16 questions"):
        quiz.run("abc")


def test_asked_in_a_terminal_only_one_of_the_letters_shown_is_taken(monkeypatch):
    typed = iter(["ab", "", "z", "c"])
    monkeypatch.setattr(quiz.console, "input", lambda _prompt: next(typed))
    assert quiz._read_answer(1, quiz.QUESTIONS[0], [0, 1, 2]) == "c"


def test_a_file_from_before_the_best_was_kept_counts_as_one_attempt(result_file):
    result_file.write_text(json.dumps({"score": 15, "out_of": 16, "at": "2026-12-01T10:00:00+0000"}) + "\n")
    quiz.run("a" * len(quiz.QUESTIONS), seed=SEED)
    kept = json.loads(result_file.read_text())
    assert (kept["best"]["score"], kept["attempts"]) == (15, 2)
