"""`make class-report DIR=<folder>`: the reports a class handed in (`make report`
writes one per student) as one table: a row per student, a column per exercise
(passed, failed with the first criterion missed, or not tried) and the quiz's
score; under it, the class's totals per exercise and per quiz question, which
say what lesson the class missed. Printed, and written beside the reports as an
HTML page to open or print.

A file that is not a report, or a second report of the same student on the same
machine (the older one), is named in one line and left out. Reports of another
version of the exercises or the quiz (another catalogue_version) are shown and
marked, and left out of the totals: their checks and questions were not these.
"""

import html
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.table import Table

from lab.core import settings
from lab.core.console import console
from lab.core.errors import LabError
from lab.core.processes import hand_over
from lab.teach import exercises, quiz

PAGE = "class-report.html"


@dataclass(frozen=True)
class Student:
    file: str
    name: str
    machine: str
    written_at: str
    version: str
    exercises: dict[str, dict]  # number -> {"passed": True | False | None, "criteria": [...]}
    quiz: dict | None

    @property
    def current(self) -> bool:
        return self.version == exercises.catalogue_version()


def cell(result: dict | None) -> str:
    """An exercise's cell: passed, the first criterion missed, or not tried."""
    if not result or result.get("passed") is None:
        return "not tried"
    if result["passed"]:
        return "passed"
    missed = [c.get("name", "?") for c in result.get("criteria", []) if not c.get("passed")]
    return f"failed: {missed[0]}" if missed else "failed"


def quiz_cell(result: dict | None) -> str:
    if not result:
        return "not tried"
    best = result.get("best", {}).get("score", result["score"])
    return f"{result['score']}/{result['out_of']}" + (f" (best {best})" if best != result["score"] else "")


def result_cells(student: Student, numbers: list[str]) -> list[str]:
    """A student's cells after their name and machine: each exercise's, then the quiz's."""
    return [*(cell(student.exercises.get(n)) for n in numbers), quiz_cell(student.quiz)]


def why_not_a_report(document) -> str:
    """'' for a document `make report` could have written; else what is wrong with it."""
    if not isinstance(document, dict):
        return "not a JSON object"
    for key, kind in (("student", str), ("machine", str), ("written_at", str), ("exercises", dict)):
        if not isinstance(document.get(key), kind):
            return f"no {key!r}"
    if not all(isinstance(result, dict) for result in document["exercises"].values()):
        return "an exercise's result is not an object"
    answers = document.get("quiz")
    if answers is not None and not (
        isinstance(answers, dict) and isinstance(answers.get("score"), int) and isinstance(answers.get("out_of"), int)
    ):
        return "its quiz has no score"
    try:
        datetime.fromisoformat(document["written_at"])
    except ValueError:
        return f"written_at is not a time: {document['written_at']!r}"
    return ""


def read(folder: Path) -> tuple[list[Student], list[str]]:
    """The students' reports in folder, one per student and machine; and a line
    for each file left out."""
    if not folder.is_dir():
        # The tools container (a machine with only Docker) sees exercises/ of the host and nothing else.
        inside = " under exercises/ (what the tools container sees)" if settings.MODE == "tools" else ""
        raise LabError(
            f"{folder} is not a folder: put the collected reports in one{inside}, then make class-report DIR=<it>"
        )
    students: dict[tuple[str, str], Student] = {}
    left_out = []
    for path in sorted(folder.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            left_out.append(f"{path.name}: not JSON ({error}); left out")
            continue
        if problem := why_not_a_report(document):
            left_out.append(f"{path.name}: not a report of make report ({problem}); left out")
            continue
        student = Student(
            file=path.name,
            name=document["student"],
            machine=document["machine"],
            written_at=document["written_at"],
            version=str(document.get("catalogue_version", "")),
            exercises=document["exercises"],
            quiz=document.get("quiz"),
        )
        key = (student.name, student.machine)
        if (earlier := students.get(key)) is not None:
            newer, older = sorted((earlier, student), key=lambda s: s.written_at, reverse=True)
            students[key] = newer
            left_out.append(f"{older.file}: {older.name} on {older.machine} again, older than {newer.file}; left out")
            continue
        students[key] = student
    return sorted(students.values(), key=lambda s: (s.name.lower(), s.machine)), left_out


def exercise_totals(students: list[Student]) -> list[tuple[str, int, int, int]]:
    """(exercise, passed, failed, not tried) over the reports of this version."""
    current = [s for s in students if s.current]
    totals = []
    for number, item in exercises.catalogue().items():
        cells = [cell(s.exercises.get(str(number))) for s in current]
        passed, untried = cells.count("passed"), cells.count("not tried")
        totals.append((f"{number}. {item.title}", passed, len(cells) - passed - untried, untried))
    return totals


def question_totals(students: list[Student]) -> list[tuple[str, str, int, int]]:
    """(question, the guide's step, missed, answered) over this version's reports
    with a quiz, the most missed first."""
    answered = [s.quiz for s in students if s.current and s.quiz and isinstance(s.quiz.get("missed"), list)]
    totals = [
        (f"{number}. {question.text}", question.step, sum(number in q["missed"] for q in answered), len(answered))
        for number, question in enumerate(quiz.load_questions(), start=1)
    ]
    return sorted(totals, key=lambda total: -total[2])


def page(students: list[Student], left_out: list[str], folder: Path) -> str:
    """The report as one HTML page with nothing to fetch: it opens offline and prints."""
    numbers = [str(n) for n in exercises.catalogue()]

    def row(cells, header=False):
        tag = "th" if header else "td"
        return "<tr>" + "".join(f"<{tag}>{html.escape(str(c))}</{tag}>" for c in cells) + "</tr>"

    def table(head, rows):
        return f"<table>{row(head, header=True)}{''.join(row(r) for r in rows)}</table>"

    students_rows = [
        [s.name, s.machine, *result_cells(s, numbers)] + [s.written_at + ("" if s.current else " (another version)")]
        for s in students
    ]
    parts = [
        f"<h1>The class's results: {len(students)} students</h1>",
        f"<p>From {html.escape(str(folder))}; this lab's exercises and quiz: version "
        f"{exercises.catalogue_version()}.</p>",
        table(["student", "machine", *(f"exercise {n}" for n in numbers), "quiz", "written"], students_rows),
        "<h2>Per exercise</h2>",
        table(["exercise", "passed", "failed", "not tried"], exercise_totals(students)),
        "<h2>Per quiz question, the most missed first</h2>",
        table(["question", "shown in the guide", "missed", "of"], question_totals(students)),
    ]
    if left_out:
        parts += ["<h2>Left out</h2>", "<ul>", *(f"<li>{html.escape(line)}</li>" for line in left_out), "</ul>"]
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "th,td{border:1px solid #999;padding:.3em .6em;text-align:left;vertical-align:top}"
        "th{background:#eee}"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Class report</title>'
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def show(folder: str) -> Path:
    """Print the class's table and totals; write the page beside the reports."""
    where = Path(folder).expanduser().resolve()
    students, left_out = read(where)
    for line in left_out:
        console.print(f"[yellow]{line}[/]")
    if not students:
        raise LabError(f"no report in {where} (make report writes one per student: report-<who>-<machine>.json)")
    numbers = [str(n) for n in exercises.catalogue()]
    table = Table(title=f"The class's results: {len(students)} students")
    for heading in ("student", "machine", *(f"ex. {n}" for n in numbers), "quiz"):
        table.add_column(heading)
    for s in students:
        name = s.name if s.current else f"{s.name} (another version)"
        table.add_row(name, s.machine, *result_cells(s, numbers))
    console.print(table)
    current = sum(s.current for s in students)
    console.print(
        f"The class's totals, over the {current} reports of this lab's exercises and quiz"
        + (f" ({len(students) - current} of another version left out):" if current < len(students) else ":")
    )
    for exercise, passed, failed, untried in exercise_totals(students):
        console.print(f"  {exercise}: {passed} passed, {failed} failed, {untried} not tried")
    missed = [total for total in question_totals(students) if total[2]]
    if missed:
        console.print("The quiz's most missed questions:")
        for question, step, count, answered in missed[:5]:
            console.print(f"  {count} of {answered}: {question} (shown in {step})")
    target = where / PAGE
    target.write_text(page(students, left_out, where), encoding="utf-8")
    hand_over(target, where)
    console.print(f"Wrote {exercises.shown(target)}: open it in a browser to read or print.")
    return target
