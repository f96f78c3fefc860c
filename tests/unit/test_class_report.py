"""`make class-report`: the reports `make report` writes, collected from a class,
as one table and the class's totals; what is not a report, or a student's older
report, named in one line and left out; another version's reports marked and
kept out of the totals."""

import json
from pathlib import Path

import pytest

from lab.core.errors import LabError
from lab.teach import class_report, exercises, quiz
from lab.teach.judging import Criterion


def hand_in(tmp_path: Path, monkeypatch, who: str, checks: dict, answers: str | None, **changes) -> Path:
    """What student `who` hands in: make check's results for the exercises in
    checks (number -> criteria), make quiz with answers, then make report."""
    home = tmp_path / "students" / who
    home.mkdir(parents=True)
    monkeypatch.setattr(quiz, "RESULT_FILE", home / "quiz.json")
    monkeypatch.setenv("LAB_HOST_USER", who)
    monkeypatch.setenv("LAB_HOST_NAME", "room-3")
    if answers is not None:
        quiz.run(answers, seed=who)
    for number, criteria in checks.items():
        exercises.record(exercises.exercise(number), criteria, home)
    written = exercises.report(home)
    document = json.loads(written.read_text()) | changes
    collected = tmp_path / "class" / written.name
    collected.parent.mkdir(exist_ok=True)
    collected.write_text(json.dumps(document))
    return collected


def test_the_class_in_one_table_with_its_totals(tmp_path, monkeypatch, capsys):
    key = quiz.answer_key("ana")
    first_wrong = "b" if key[0] == "a" else "a"  # ana misses question 1 only
    hand_in(tmp_path, monkeypatch, "ana", {1: [Criterion("moves", True)]}, first_wrong + key[1:])
    hand_in(tmp_path, monkeypatch, "ben", {1: [Criterion("moves", False, "a hint")]}, None)
    # A report of an older exercise set: shown, marked, not counted.
    hand_in(tmp_path, monkeypatch, "cy", {1: [Criterion("moves", True)]}, None, catalogue_version="0ld")
    folder = tmp_path / "class"
    (folder / "notes.json").write_text('{"student": "dan"}')  # no machine, no exercises
    (folder / "broken.json").write_text('{"student": ')
    # ana's second copy, written earlier: the newer one is kept.
    older = json.loads((folder / "report-ana-room-3.json").read_text()) | {"written_at": "2020-01-01T00:00:00+00:00"}
    (folder / "report-ana-room-3 (1).json").write_text(json.dumps(older | {"exercises": {}}))

    page = class_report.show(str(folder))

    students, left_out = class_report.read(folder)
    assert [(s.name, s.current) for s in students] == [("ana", True), ("ben", True), ("cy", False)]
    assert [line.split(":")[0] for line in left_out] == ["broken.json", "notes.json", "report-ana-room-3 (1).json"]
    ana, ben, _ = students
    assert class_report.cell(ana.exercises["1"]) == "passed"
    assert class_report.cell(ben.exercises["1"]) == "failed: moves"
    assert class_report.cell(ben.exercises["2"]) == "not tried"
    assert class_report.quiz_cell(ana.quiz) == f"{len(quiz.QUESTIONS) - 1}/{len(quiz.QUESTIONS)}"
    assert class_report.quiz_cell(ben.quiz) == "not tried"
    first, *others = class_report.exercise_totals(students)
    assert first[1:] == (1, 1, 0)  # cy's pass is another version's
    assert all(total[1:] == (0, 0, 2) for total in others)
    most_missed, *rest = class_report.question_totals(students)
    assert most_missed[0].startswith("1. ") and most_missed[2:] == (1, 1)
    assert all(total[2] == 0 for total in rest)

    text = page.read_text()
    assert page == folder / "class-report.html" and "http" not in text  # nothing to fetch
    assert "failed: moves" in text and "(another version)" in text and "broken.json" in text
    printed = capsys.readouterr().out
    assert "left out" in printed and "1 of 1:" in printed


def test_a_folder_without_reports_is_one_line(tmp_path):
    with pytest.raises(LabError, match="put the collected reports in one"):
        class_report.show(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabError, match="no report in"):
        class_report.show(str(tmp_path / "empty"))


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"student": "x", "machine": "m", "written_at": "2026-12-07T00:00:00+00:00", "exercises": []},
        {"student": "x", "machine": "m", "written_at": "yesterday", "exercises": {}},
        {"student": "x", "machine": "m", "written_at": "2026-12-07T00:00:00+00:00", "exercises": {"1": "passed"}},
        {"student": "x", "machine": "m", "written_at": "2026-12-07T00:00:00+00:00", "exercises": {}, "quiz": 3},
    ],
)
def test_what_make_report_never_writes_is_named_not_read(document):
    assert class_report.why_not_a_report(document)
