"""docs/LAB.md cannot drift from the code: every ```console block in it is run,
in order, against a lab of its own, and its output compared with what the guide
shows.

The comparison is loose where runs differ: ids, times, durations, rates and the
port; `…` in a shown line stands for anything, and a line `...` for any lines.
Each shown line must appear, in order, among the lines the command printed. A
block after `<!-- check: wait N -->` is run again until it matches, for up to N
seconds: the guide says how long a student may have to wait.

A line `<!-- check: a lab of its own -->` starts a part that needs nothing from
the parts before it (it begins with `make up`); each part runs in a host-mode
lab of its own, so the parts run side by side.

The run is opt-in (`LAB_MODE=host make test TEST_ARGS="-m guide"`; CI runs it):
its four labs beside the suite's own made `make test` take longer than six
minutes on a 2-core machine. The scenarios it shows run in `make test` too
(test_scenarios.py), on the suite's LocalStack.
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import lab_slot
from lab.core.processes import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GUIDE = PROJECT_ROOT / "docs" / "LAB.md"
COMMAND_TIMEOUT_SECONDS = 180
# A `make` command costs about a second of CPU (make, Python, boto3, rich):
# re-running one every second while waiting for a retry was a fair share of
# `make test`'s CPU. A student re-runs a command every few seconds too.
RETRY_SECONDS = 5.0
BOX_DRAWING = re.compile(r"[│┃┏┓┗┛━─┡┩╇┳┻╋└┘┌┐├┤┼╭╮╰╯]")
VARIABLE_PARTS = [  # (pattern in the escaped guide line, what it becomes)
    (r"[0-9a-f]{8}\\-[0-9a-f]{4}\\-[0-9a-f]{4}\\-[0-9a-f]{4}\\-[0-9a-f]{12}", r"[0-9a-f-]{36}"),
    (r"\d\d:\d\d:\d\d(?:\\\.\d+)?", r"\d\d:\d\d:\d\d(?:\.\d+)?"),
    (r"\d{4}\\-\d\d\\-\d\d", r"\d{4}-\d\d-\d\d"),
    (r"\d+(?:\\\.\d+)?(?=\\ (?:s|ms|msg/s)\b)", r"\d+(?:\.\d+)?"),
    (r"127\\\.0\\\.0\\\.1:\d+", r"127\.0\.0\.1:\d+"),
    (r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", r"[0-9a-f]{8,}"),
    (r"(?:\\ )?…", r".*"),
]


def normalize(line: str) -> str:
    return " ".join(BOX_DRAWING.sub(" ", line).split())


def line_pattern(shown: str) -> re.Pattern:
    pattern = re.escape(normalize(shown))
    for variable, replacement in VARIABLE_PARTS:
        pattern = re.sub(variable, lambda _match, r=replacement: r, pattern)
    return re.compile(pattern)


Step = tuple[str, list[str], float]  # (command, shown output lines, seconds to keep retrying)
NEW_LAB = "<!-- check: a lab of its own -->"


def parse_guide(text: str) -> dict[str, list[Step]]:
    """The guide's parts, named by the heading each starts under, with the steps
    of their console blocks in order."""
    parts: dict[str, list[Step]] = {}
    steps: list[Step] = []
    heading, new_lab = "", True
    lines = iter(text.splitlines())
    wait = 0.0
    for line in lines:
        if line.startswith("## "):
            heading = line[3:].strip()
        if new_lab and line.strip() == "```console":
            steps = parts[heading] = []
            new_lab = False
        if line.strip() == NEW_LAB:
            new_lab = True
        elif match := re.match(r"<!-- check: wait (\d+) -->", line.strip()):
            wait = float(match[1])
        elif line.strip() == "```console":
            block = []
            for inner in lines:
                if inner.strip() == "```":
                    break
                block.append(inner)
            command, shown = None, []
            for inner in block:
                if inner.startswith("$ "):
                    if command:
                        steps.append((command, shown, wait))
                    command, shown = inner[2:], []
                else:
                    shown.append(inner)
            if command:
                steps.append((command, shown, wait))
            wait = 0.0
    return parts


def matches(shown: list[str], printed: str) -> tuple[bool, str]:
    actual = [normalize(line) for line in printed.splitlines()]
    position = 0
    for expected in shown:
        if not expected.strip() or expected.strip() == "...":
            continue
        pattern = line_pattern(expected)
        while position < len(actual) and not pattern.fullmatch(actual[position]):
            position += 1
        if position == len(actual):
            return False, expected
        position += 1
    return True, ""


PARTS = parse_guide(GUIDE.read_text())


def test_the_guide_parses_into_parts_that_each_start_a_lab():
    steps = [step for part in PARTS.values() for step in part]
    assert len(PARTS) >= 2 and len(steps) >= 15
    assert all(re.fullmatch(r"(LAB_[A-Z_]+=\S+ )*make up", part[0][0]) for part in PARTS.values()), (
        "each part starts the lab"
    )
    # Settings go before the command, as a student types them: LAB_BATCHING_WINDOW=20 make up
    assert all(re.match(r"(LAB_[A-Z_]+=\S+ )*(make |\.venv/bin/|curl )", command) for command, _, _ in steps)


def run_part(part: str, env: dict, cwd: Path, command_for=lambda command: command, shown_for=lambda line: line) -> None:
    """Each command of the part as a student types it, until it prints what the
    guide shows (for as long as the guide says a student may wait); `make down` after."""
    try:
        for command, shown, wait in PARTS[part]:
            runnable = command_for(command)
            expected = [shown_for(line) for line in shown]
            deadline = time.monotonic() + wait
            while True:
                result = subprocess.run(
                    runnable,
                    shell=True,
                    cwd=cwd,
                    env=env,
                    text=True,
                    capture_output=True,
                    timeout=COMMAND_TIMEOUT_SECONDS,
                    stdin=subprocess.DEVNULL,
                )
                printed = result.stdout + result.stderr
                ok, missing = matches(expected, printed)
                if ok or time.monotonic() > deadline:
                    break
                time.sleep(RETRY_SECONDS)  # a wait with a deadline, announced in the guide
            assert ok, f"`{runnable}` did not print {missing!r}; it printed:\n{printed[-3000:]}"
    finally:
        subprocess.run(["make", "down"], cwd=cwd, env=env, capture_output=True, timeout=COMMAND_TIMEOUT_SECONDS)


@pytest.mark.guide  # opt-in: four labs beside the suite's made host-mode `make test` run past six minutes
@pytest.mark.parametrize("part", list(PARTS))
def test_every_command_in_the_guide_prints_what_the_guide_shows(part, tmp_path, tmp_path_factory):
    if os.environ.get("LAB_MODE") in ("docker", "tools"):
        pytest.skip('the guide\'s run uses host-mode labs of its own: LAB_MODE=host make test TEST_ARGS="-m guide"')
    port = free_port()
    env = {
        **os.environ,
        "LAB_MODE": "host",
        "LAB_PORT": str(port),
        "LAB_STATE_DIR": str(tmp_path / "state"),
        "LAB_DASHBOARD_PORT": str(free_port()),
        # The first part shows `make up` starting the dashboard; in the others it
        # would only sample its lab every second, for nobody.
        "LAB_DASHBOARD": "1" if part == next(iter(PARTS)) else "0",
        # Nothing in the guide outlives its lab: no periodic snapshots (a fork and
        # a pickle of the stores every few seconds while orders flow).
        "LAB_SNAPSHOT_INTERVAL_SECONDS": "0",
        "LOCALSTACK_HOST": f"127.0.0.1:{port}",  # for awslocal
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),  # the lab-* profiles `make up` writes, this lab's
        "COLUMNS": "200",  # rich: wide tables, no wrapping
    }
    with lab_slot(tmp_path_factory, f"the guide's {part}"):
        run_part(
            part, env, PROJECT_ROOT, command_for=lambda command: command.replace("127.0.0.1:4566", f"127.0.0.1:{port}")
        )


# Steps 0 to 11: the parts a Docker-only student needs most (the first commands
# of the guide broke their lab once: issue 25). Typed as the guide tells them to.
DOCKER_ONLY_PARTS = list(PARTS)[:3]
IN_THE_TOOLS_CONTAINER = "docker compose run --rm tools awslocal"
# What `make up` says differently on such a machine (the rest of every line is the same).
DOCKER_ONLY_OUTPUT = {
    "(host mode: LocalStack from .venv, Lambda as local processes)": "(Docker mode: …)",
    "(updates every second)": "(its own container)",
}


def copy_of_the_project(target: Path) -> Path:
    """The project's files as a fresh clone has them (the working tree's, so that
    uncommitted changes are tried too): no venv, no state."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if name and (PROJECT_ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, target / name)
    return target


@pytest.mark.guide_docker_only  # opt-in: CI's Docker-only pass runs it
@pytest.mark.parametrize("part", DOCKER_ONLY_PARTS)
def test_the_guide_as_a_student_with_only_docker(part, tmp_path, tmp_path_factory):
    """No Python 3.12 on the PATH, so every make target runs in the tools container;
    `docker compose run --rm tools awslocal` where the guide says `.venv/bin/awslocal`."""
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker engine answers")
    project = copy_of_the_project(tmp_path / "project")
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYENV_ROOT": "/nonexistent",
        "TERM": "dumb",
        "LAB_COMPOSE_PROJECT": f"guide-{DOCKER_ONLY_PARTS.index(part)}-{os.getpid()}",
        "LAB_PORT": str(port),
        "LAB_DASHBOARD_PORT": str(free_port()),
        "LAB_DASHBOARD": "1" if part == DOCKER_ONLY_PARTS[0] else "0",
        "LAB_SNAPSHOT_INTERVAL_SECONDS": "0",
        "COLUMNS": "200",
        **{name: os.environ[name] for name in ("LAB_LOCALSTACK_IMAGE", "LAB_IMAGE_TAG") if name in os.environ},
    }
    assert (
        "tools container"
        in subprocess.run(["make", "help"], cwd=project, env=env, capture_output=True, text=True).stdout
    ), "a Python 3.12 or newer is on /usr/bin"

    def as_typed(command: str) -> str:
        if command.startswith("curl "):  # on this machine, to the port Docker publishes
            return command.replace("127.0.0.1:4566", f"127.0.0.1:{port}")
        return command.replace(".venv/bin/awslocal", IN_THE_TOOLS_CONTAINER)  # inside, LocalStack is :4566

    def as_shown(line: str) -> str:
        for host_mode, docker_only in DOCKER_ONLY_OUTPUT.items():
            line = line.replace(host_mode, docker_only)
        return line

    with lab_slot(tmp_path_factory, f"the guide's {part}, with only Docker"):
        run_part(part, env, project, command_for=as_typed, shown_for=as_shown)
