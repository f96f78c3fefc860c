"""The exercises' catalogue and files, offline: each has starter files and a
reference solution of the same names, the settings a stack.json may change are
those its starter names, and `make report` gathers the results and the quiz."""

import json

import pytest

from lab.core.errors import LabError
from lab.core.settings import SettingsError
from lab.teach import exercises, quiz


def test_there_are_at_least_six_exercises_each_with_starter_files_and_a_solution_that_differs():
    assert len(exercises.catalogue()) >= 6
    for item in exercises.catalogue().values():
        starter, solution = item.starter, item.solution
        names = sorted(path.name for path in starter.iterdir())
        assert names and names == sorted(path.name for path in solution.iterdir()), item.name
        assert any((starter / name).read_text() != (solution / name).read_text() for name in names), item.name
        for path in [*starter.glob("*.py"), *solution.glob("*.py")]:
            compile(path.read_text(), str(path), "exec")  # a SyntaxError names the file
        assert item.task and item.title


def test_a_workspace_stack_json_sets_the_named_settings_and_nothing_else(tmp_path):
    item = exercises.exercise(4)
    (tmp_path / "stack.json").write_text(json.dumps({"function_timeout": 30, "visibility_timeout": 180}))
    stack = exercises.stack_of(item, tmp_path, "ex4t")
    assert (stack.function_timeout, stack.visibility_timeout, stack.suffix, stack.api) == (30, 180, "ex4t", False)
    assert stack.max_receive_count == item.stack["max_receive_count"]
    (tmp_path / "stack.json").write_text(json.dumps({"batch_size": 1}))
    with pytest.raises(SettingsError, match="keys"):
        exercises.stack_of(item, tmp_path)
    (tmp_path / "stack.json").write_text("{function_timeout: 30")
    with pytest.raises(SettingsError, match="not JSON"):
        exercises.stack_of(item, tmp_path)


def test_a_solution_names_the_exercise_s_own_queue(tmp_path):
    exercises.copy_files(exercises.exercise(6).solution, tmp_path, "arn:aws:sqs:r:1:orders-ex6")
    policy = json.loads((tmp_path / "producer-policy.json").read_text())
    assert policy["Statement"][0]["Resource"] == "arn:aws:sqs:r:1:orders-ex6"


def test_an_unknown_exercise_is_one_clear_error():
    with pytest.raises(LabError, match="make exercise lists them"):
        exercises.exercise("9")


def test_the_report_holds_each_exercise_s_last_check_and_the_quiz(tmp_path, monkeypatch):
    monkeypatch.setattr(quiz, "RESULT_FILE", tmp_path / "quiz.json")
    quiz.run("a" * len(quiz.QUESTIONS))
    exercises.record(exercises.exercise(1), [exercises.Criterion("moves", True)], tmp_path)
    exercises.record(exercises.exercise(2), [exercises.Criterion("names one", False, "hint")], tmp_path)
    report = json.loads(exercises.report(tmp_path).read_text())
    assert (report["passed"], report["of"]) == (1, len(exercises.catalogue()))
    assert report["exercises"]["2"]["criteria"] == [{"name": "names one", "passed": False, "hint": "hint"}]
    assert report["exercises"]["3"]["passed"] is None
    assert report["quiz"]["score"] == json.loads((tmp_path / "quiz.json").read_text())["score"]
    assert report["written_at"] and report["student"]
    monkeypatch.setenv("LAB_HOST_USER", "ana")  # what scripts/lab-in-docker passes from the host
    monkeypatch.setenv("LAB_HOST_NAME", "room 3/pc 7")
    written = exercises.report(tmp_path)
    assert written.name == "report-ana-room_3_pc_7.json"
    assert json.loads(written.read_text())["student"] == "ana"


def test_each_wrong_answer_is_a_student_s_files_with_what_check_must_say():
    """exercises/catalogue/<exercise>/wrong/<mistake>/: the files a student edits (those of the
    starter), unlike the starter and the solution, and expect.txt (the integration
    tests, -m exercises, check that `make check` fails on it saying that)."""
    found = {number: exercises.wrong_answers(number) for number in exercises.catalogue()}
    assert sum(len(answers) for answers in found.values()) >= 6
    for number, answers in found.items():
        item = exercises.exercise(number)
        starter, solution = item.starter, item.solution
        for answer in answers:
            files = {path.name for path in answer.iterdir()} - {exercises.EXPECTED}
            assert files and files <= {path.name for path in starter.iterdir()}, answer
            assert (answer / exercises.EXPECTED).read_text().strip(), answer
            for name in files:
                text = (answer / name).read_text()
                assert text != (starter / name).read_text(), f"{answer.name}/{name} is the starter"
                assert not (solution / name).exists() or text != (solution / name).read_text(), answer


def test_a_new_exercise_is_a_folder_the_engine_finds(tmp_path):
    """Adding an exercise touches no engine code: a folder with its task, its check,
    its starter and its solution is found, numbered and described by its files."""
    folder = tmp_path / "7-throw-away"
    for kind, text in (("starter", "{}"), ("solution", '{"max_receive_count": 3}')):
        (folder / kind).mkdir(parents=True)
        (folder / kind / "stack.json").write_text(text)
    (folder / "task.md").write_text("# A throw-away exercise\n\nSend {ORDERS} orders,\nthen look.\n")
    (folder / "check.py").write_text(
        "from lab.teach.judging import QUICK, Criterion\n\n"
        "ORDERS = 3\nSTACK = QUICK\n\n\n"
        "def check(run):\n    return [Criterion('judged', True)]\n"
    )
    (tmp_path / "notes").mkdir()  # a folder that is not an exercise's is left alone
    found = exercises.catalogue(tmp_path)
    assert list(found) == [7]
    item = found[7]
    assert (item.name, item.title, item.task) == ("7-throw-away", "A throw-away exercise", "Send 3 orders, then look.")
    assert item.stack == exercises.catalogue()[2].stack  # QUICK, from the helpers every check uses
    assert item.check(None) == [exercises.Criterion("judged", True)]
    assert (item.seed, item.solve, item.starter) == (None, None, folder / "starter")


def test_an_exercise_folder_without_its_check_says_what_it_needs(tmp_path):
    (tmp_path / "8-half-done" / "starter").mkdir(parents=True)
    (tmp_path / "8-half-done" / "task.md").write_text("# Half done\n")
    with pytest.raises(LabError, match="needs check.py, solution"):
        exercises.catalogue(tmp_path)
