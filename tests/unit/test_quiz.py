"""`make quiz` offline: every question has one right answer among its choices,
says why and where the lab shows it, and the score counts right answers."""

import json

import pytest

from lab import quiz
from lab.errors import LabError


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
    right = "".join("abcdefg"[q.answer] for q in quiz.QUESTIONS)
    assert quiz.run(right)["score"] == len(quiz.QUESTIONS)
    assert json.loads(result_file.read_text())["score"] == len(quiz.QUESTIONS)


def test_each_wrong_answer_costs_one_point():
    wrong = "".join("abcdefg"[(q.answer + 1) % len(q.choices)] for q in quiz.QUESTIONS)
    assert quiz.run(wrong)["score"] == 0
    two_right = "".join("abcdefg"[q.answer] for q in quiz.QUESTIONS[:2]) + wrong[2:]
    assert quiz.run(two_right)["score"] == 2


def test_a_wrong_number_of_answers_is_one_line():
    with pytest.raises(LabError, match="the quiz has 16 questions"):
        quiz.run("abc")
