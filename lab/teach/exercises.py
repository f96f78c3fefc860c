"""Exercises the lab checks by behaviour: `make exercise`, `check`, `solution`,
`reset`, `report`.

Each exercise is one folder, exercises/catalogue/<n>-<slug>/, found here by
its name: task.md (its title, then the task; {NAME} stands for a constant of
its check), check.py (STACK, the exercise stack's settings, and check(run) ->
criteria; seed(deployed) and solve(deployed) when `make exercise` and the
solution do more than deploy), starter/ and solution/ (the files a student
edits), wrong/<mistake>/ (the wrong answers students write, each with
expect.txt: what `make check` must say of it). Adding one touches no code here.

A student edits a workspace of their own (exercises/<n>-<slug>/, not in git) on
a stack of its own (suffix ex<n>; `LAB_STACK=ex<n> make dlq`, `make logs`...
look at it). `make check` deploys the workspace to that stack (an app.py is the
function, a stack.json the settings it names, a producer-policy.json the
producer's role), runs the check and judges what happened: stored orders,
emails, the DLQ, receive counts, denied calls; never the files.
"""

import hashlib
import importlib.util
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from botocore.exceptions import ClientError

from lab.core import aws, settings
from lab.core.console import console
from lab.core.errors import LabError
from lab.core.processes import hand_over
from lab.core.settings import SettingsError, Stack
from lab.stack.mapping import set_mapping_enabled
from lab.stack.provision import Deployed, provision
from lab.stack.teardown import teardown
from lab.teach import quiz as quiz_module
from lab.teach.judging import Criterion, Run, queue_arn

ROOT = settings.PROJECT_ROOT / "exercises"  # the workspaces, results and report
CATALOGUE = ROOT / "catalogue"  # one folder an exercise
FOLDER_NAME = re.compile(r"(\d+)-([a-z0-9]+(?:-[a-z0-9]+)*)")
EXPECTED = "expect.txt"  # in a wrong answer's folder: what `make check` must say of it
QUEUE_ARN_PLACEHOLDER = "{{QUEUE_ARN}}"  # a solution file names the exercise's own queue

__all__ = ["Criterion", "Run"]  # what a test of an exercise uses beside the engine


@dataclass(frozen=True)
class Exercise:
    number: int
    slug: str
    title: str
    task: str
    folder: Path
    stack: dict  # the exercise stack's settings, before the workspace's stack.json
    check: Callable[[Run], list[Criterion]]
    seed: Callable[[Deployed], None] | None = None  # what `make exercise` does after deploying
    solve: Callable[[Deployed], None] | None = None  # what the solution does beyond its files

    @property
    def name(self) -> str:
        return f"{self.number}-{self.slug}"

    @property
    def starter(self) -> Path:
        return self.folder / "starter"

    @property
    def solution(self) -> Path:
        return self.folder / "solution"

    @property
    def wrong(self) -> Path:
        return self.folder / "wrong"


def load(folder: Path) -> Exercise:
    """One exercise from its folder: the task's text and the check module's names."""
    number, slug = FOLDER_NAME.fullmatch(folder.name).groups()
    missing = [name for name in ("task.md", "check.py", "starter", "solution") if not (folder / name).exists()]
    if missing:
        raise LabError(f"{folder}: an exercise's folder needs {', '.join(missing)} (docs/DEVELOPING.md)")
    spec = importlib.util.spec_from_file_location(f"lab_exercise_{number}", folder / "check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    title, _, task = (folder / "task.md").read_text().partition("\n")
    constants = {name: value for name, value in vars(module).items() if name.isupper()}
    return Exercise(
        number=int(number),
        slug=slug,
        title=title.removeprefix("#").strip(),
        task=" ".join(task.format_map(constants).split()),
        folder=folder,
        stack=dict(module.STACK),
        check=module.check,
        seed=getattr(module, "seed", None),
        solve=getattr(module, "solve", None),
    )


@cache
def catalogue(folder: Path = CATALOGUE) -> dict[int, Exercise]:
    """Every exercise in the folder, by number."""
    found = [load(path) for path in sorted(folder.iterdir()) if path.is_dir() and FOLDER_NAME.fullmatch(path.name)]
    return {item.number: item for item in sorted(found, key=lambda item: item.number)}


@cache
def catalogue_version(folder: Path = CATALOGUE) -> str:
    """A fingerprint of the exercises and the quiz's questions: two reports with the
    same one were judged by the same checks and asked the same questions. Line
    endings do not count (a Windows checkout may turn them into CRLF)."""
    digest = hashlib.sha256()
    # What Python and the file manager leave beside the files is not content.
    files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.name[0] != "."]
    for path in sorted(files):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()[:12]


def exercise(number) -> Exercise:
    exercises = catalogue()
    try:
        return exercises[int(number)]
    except (KeyError, ValueError):
        numbers = ", ".join(map(str, exercises))
        raise LabError(f"no exercise {number!r}: make exercise lists them ({numbers})") from None


def workspace_of(item: Exercise, root: Path = ROOT) -> Path:
    return root / item.name


def stack_of(item: Exercise, workspace: Path, suffix: str | None = None, **changes) -> Stack:
    """The exercise's stack: its own settings, then what the workspace's stack.json names."""
    overrides = dict(item.stack)
    chosen = workspace / "stack.json"
    if chosen.exists():
        try:
            document = json.loads(chosen.read_text())
        except ValueError as error:
            raise SettingsError(f"{chosen}: not JSON ({error})") from None
        allowed = set(json.loads((item.starter / "stack.json").read_text()))
        if not isinstance(document, dict) or set(document) - allowed:
            raise SettingsError(f"{chosen}: an object with the keys {sorted(allowed)} only")
        overrides.update(document)
    return Stack(suffix=suffix or f"ex{item.number}", api=False, **{**overrides, **changes})


def deploy(item: Exercise, workspace: Path, suffix: str | None = None, **changes) -> Deployed:
    """The workspace on the exercise's stack: its app.py as the function, if it has one."""
    stack = stack_of(item, workspace, suffix, **changes)
    source = workspace if (workspace / "app.py").exists() else settings.FUNCTION_SOURCE_DIR
    with console.status(f"Deploying {workspace.name} to the stack {stack.suffix}"):
        return provision(stack, source_dir=source)


def shown(path: Path) -> str:
    """A path as the student finds it: within the project, relative (the same on the
    host and in the tools container)."""
    return str(path.relative_to(settings.PROJECT_ROOT)) if path.is_relative_to(settings.PROJECT_ROOT) else str(path)


def copy_files(source: Path, workspace: Path, arn_of_the_queue: str = "") -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    hand_over(workspace, workspace.parent)
    for path in source.iterdir():
        if path.name == EXPECTED:
            continue
        (workspace / path.name).write_text(path.read_text().replace(QUEUE_ARN_PLACEHOLDER, arn_of_the_queue))
        hand_over(workspace / path.name, workspace.parent)


def wrong_answers(number) -> list[Path]:
    """The folders of the wrong answers kept for an exercise (the tests try each)."""
    folder = exercise(number).wrong
    return sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []


def try_answer(number, answer: Path, root: Path = ROOT, suffix: str | None = None) -> None:
    """Put an answer's files (the solution, or a wrong one) into the workspace, as a student would write them."""
    item = exercise(number)
    copy_files(answer, workspace_of(item, root), queue_arn(stack_of(item, item.starter, suffix).queue_name))


def prepare(number, root: Path = ROOT, suffix: str | None = None) -> Deployed:
    """The workspace (the starter files, unless it exists: a student's work is never
    overwritten) and the exercise's stack deployed from it."""
    item = exercise(number)
    workspace = workspace_of(item, root)
    if not workspace.exists():
        copy_files(item.starter, workspace)
    deployed = deploy(item, workspace, suffix)
    if item.seed:
        item.seed(deployed)
    console.print(f"[bold]Exercise {item.number}: {item.title}[/]\n{item.task}\n")
    console.print(f"Your files: {shown(workspace)}/ ({', '.join(sorted(p.name for p in workspace.iterdir()))})")
    console.print(
        f"Your stack: queue {deployed.stack.queue_name}, function {deployed.stack.function_name} "
        f"(LAB_STACK={deployed.stack.suffix} make status shows it)"
    )
    console.print(f"When you think it works: make check N={item.number}")
    return deployed


def check(number, root: Path = ROOT, suffix: str | None = None) -> list[Criterion]:
    """Deploy the workspace, run the exercise's orders, print and record each criterion."""
    item = exercise(number)
    workspace = workspace_of(item, root)
    if not workspace.exists():
        raise LabError(f"exercise {item.number} is not started: make exercise N={item.number}")
    try:
        run = Run(deploy(item, workspace, suffix, enabled=False), workspace)
    except (SettingsError, ClientError) as error:
        criteria = [Criterion("your settings deploy", False, str(error))]
    else:
        criteria = item.check(run)
        for criterion in criteria:
            criterion.hint = "" if criterion.passed else criterion.hint
        set_mapping_enabled(aws.client("lambda"), run.deployed.mapping_uuid, True)  # the stack as the student left it
    console.print(f"[bold]Exercise {item.number}: {item.title}[/]")
    for criterion in criteria:
        mark = "[green]PASS[/]" if criterion.passed else "[red]FAIL[/]"
        console.print(f"  {mark}  {criterion.name}" + ("" if criterion.passed else f"\n        hint: {criterion.hint}"))
    record(item, criteria, root)
    return criteria


def solution(number, root: Path = ROOT, suffix: str | None = None) -> None:
    """For instructors: the reference solution into the workspace (and what it does beyond files)."""
    item = exercise(number)
    workspace = workspace_of(item, root)
    try_answer(number, item.solution, root, suffix)
    console.print(f"The reference solution is in {shown(workspace)}/.")
    if item.solve:
        item.solve(deploy(item, workspace, suffix))
    console.print(f"make check N={item.number} judges it.")


def reset(number=None, root: Path = ROOT, suffix: str | None = None) -> None:
    """The starter files back, and the exercise's stack removed (make exercise deploys it again)."""
    for item in [exercise(number)] if number else catalogue().values():
        workspace = workspace_of(item, root)
        if number or workspace.exists():
            shutil.rmtree(workspace, ignore_errors=True)
            copy_files(item.starter, workspace)
            with console.status(f"Removing the stack of exercise {item.number}"):
                teardown(stack_of(item, workspace, suffix))
            console.print(f"Exercise {item.number}: {shown(workspace)}/ holds the starter files again.")


def results_file(root: Path) -> Path:
    return root / "results.json"


def record(item: Exercise, criteria: list[Criterion], root: Path) -> None:
    path = results_file(root)
    results = json.loads(path.read_text()) if path.exists() else {}
    results[str(item.number)] = {
        "name": item.name,
        "passed": all(c.passed for c in criteria),
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "criteria": [asdict(c) for c in criteria],
    }
    path.write_text(json.dumps(results, indent=2) + "\n")
    hand_over(path, root)


def listing(root: Path = ROOT) -> None:
    path = results_file(root)
    results = json.loads(path.read_text()) if path.exists() else {}
    for item in catalogue().values():
        state = results.get(str(item.number))
        mark = "not checked" if not state else ("[green]passed[/]" if state["passed"] else "[red]not yet[/]")
        console.print(f"  {item.number}. {item.title:<52} {mark}")
    console.print("Start one with make exercise N=<n>; make check N=<n> judges it.")


def report(root: Path = ROOT) -> Path:
    """One JSON file per student, for an instructor to collect: every exercise's last
    check and the quiz's score."""
    path = results_file(root)
    results = json.loads(path.read_text()) if path.exists() else {}
    quiz = quiz_module.RESULT_FILE
    user, host = quiz_module.student_and_machine()
    document = {
        "student": user,
        "machine": host,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "catalogue_version": catalogue_version(),
        "exercises": {
            str(n): results.get(str(n), {"name": item.name, "passed": None}) for n, item in catalogue().items()
        },
        "passed": sum(1 for r in results.values() if r.get("passed")),
        "of": len(catalogue()),
        "quiz": json.loads(quiz.read_text()) if quiz.exists() else None,
    }
    target = root / re.sub(r"[^A-Za-z0-9_.-]", "_", f"report-{user}-{host}.json")
    target.write_text(json.dumps(document, indent=2) + "\n")
    hand_over(target, root)
    console.print(
        f"Wrote {shown(target)}: {document['passed']} of {len(catalogue())} exercises passed"
        + (f", quiz {document['quiz'].get('score')}" if document["quiz"] else ", no quiz yet")
    )
    return target
