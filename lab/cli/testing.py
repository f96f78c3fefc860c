"""`make unit`, `make test` and `make soak`: the test tiers, and LocalStack
started for them when it is not running."""

import os
import subprocess
import sys
import time

from lab.cli.lifecycle import localstack_running, mode_description
from lab.core import machine, settings
from lab.core.console import console

UNIT_TESTS = "tests/unit"
INTEGRATION_TESTS = "tests/integration"


UNIT_COMMAND = [sys.executable, "-m", "pytest", UNIT_TESTS, "-n", "0", "-q"]


def run_unit_tests() -> int:
    """The fast tier: no LocalStack, no network, one process (xdist's start costs more than it saves)."""
    console.print(f"Running the unit tests (no LocalStack): {' '.join(UNIT_COMMAND[1:])}")
    return subprocess.call(UNIT_COMMAND, cwd=settings.PROJECT_ROOT)


def verdict(target: str, code: int, started_at: float) -> int:
    said = "[green]passed[/]" if code == 0 else f"[red]failed (pytest exit code {code})[/]"
    console.print(f"make {target}: {said} in {time.monotonic() - started_at:.0f} s")
    return code


def unit(_args) -> int:
    started_at = time.monotonic()
    return verdict("unit", run_unit_tests(), started_at)


# pytest options whose value is the next argument: `-m exercises` names a marker,
# not the exercises/ folder.
OPTIONS_WITH_A_VALUE = {
    "-m",
    "-k",
    "-n",
    "-p",
    "-o",
    "-c",
    "--dist",
    "--durations",
    "--maxfail",
    "--deselect",
    "--ignore",
    "--rootdir",
    "--basetemp",
}


def names_tests(pytest_args: list[str]) -> bool:
    """True when the arguments name tests (a file, a folder, file::test) rather than only options."""
    values = {i + 1 for i, arg in enumerate(pytest_args) if arg in OPTIONS_WITH_A_VALUE}
    return any(
        i not in values and not arg.startswith("-") and os.path.exists(arg.split("::")[0])
        for i, arg in enumerate(pytest_args)
    )


def test(args) -> int:
    """Both tiers: the unit tests first (seconds), then the integration tests against LocalStack."""
    started_at = time.monotonic()
    # `lab test -- -m offline`: what follows "--" is pytest's, options included.
    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    chosen = names_tests(pytest_args)  # named tests run alone; otherwise both tiers
    code = 0 if chosen or settings.SKIP_UNIT_TESTS else run_unit_tests()
    if code == 0:
        with localstack_running() as mode:
            command = [sys.executable, "-m", "pytest", *pytest_args, *([] if chosen else [INTEGRATION_TESTS])]
            console.print(f"Running ({mode_description(mode)}): {' '.join(command[1:])}")
            console.print(f"This machine runs {machine.describe()}.")
            # The tests learn the mode from LAB_MODE, e.g. to run Docker-only checks.
            env = {**os.environ, "LAB_MODE": mode.NAME}
            code = subprocess.call(command, env=env)
    return verdict("test", code, started_at)


def soak(args) -> int:
    with localstack_running():
        # bench/ uses the lab and the producer; the lab does not import it back.
        return subprocess.call(
            [sys.executable, "-m", "bench.soak", "--count", str(args.count)], cwd=settings.PROJECT_ROOT
        )
