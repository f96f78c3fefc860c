"""The commands that do more than call one function: they check what they were
given, or ask first."""

import sys

from lab.core import aws
from lab.core.console import console
from lab.core.errors import Refused
from lab.stack import iac, operations
from lab.teach import exercises, scenarios


def scenario(args) -> int:
    if args.name not in scenarios.SCENARIOS:
        names = ", ".join(scenarios.SCENARIOS)
        raise Refused(f"which scenario? make scenario NAME=<name>, with one of: {names}")
    scenarios.run(args.name)
    return 0


def exercise(args) -> int:
    if not args.number:
        exercises.listing()
        return 0
    aws.require_up()
    exercises.prepare(args.number)
    return 0


def check_exercises(args) -> int:
    """`make check N=<n>`, or every exercise started so far."""
    numbers = (
        [args.number]
        if args.number
        else [n for n, item in exercises.catalogue().items() if exercises.workspace_of(item).exists()]
    )
    if not numbers:
        raise Refused("no exercise started yet: make exercise lists them, make exercise N=<n> starts one")
    aws.require_up()
    passed = [all(c.passed for c in exercises.check(n)) for n in numbers]
    return 0 if all(passed) else 1


def exercise_solution(args) -> int:
    aws.require_up()
    exercises.solution(args.number)
    return 0


def exercise_reset(args) -> int:
    aws.require_up()
    exercises.reset(args.number or None)
    return 0


def deploy_iac(_args) -> int:
    aws.require_up()
    outputs = iac.deploy_to_lab()
    for key, value in outputs.items():
        console.print(f"  {key:<20} {value}")
    console.print("The template's stack runs beside the lab's: LAB_STACK=iac make producer, make status, make dlq...")
    return 0


def purge(args) -> int:
    stack = aws.lab_stack()
    if not args.yes:
        if not sys.stdin.isatty():
            raise Refused(
                "purge deletes every message in the queues and asks first; "
                "without a terminal, confirm with `make purge YES=1`"
            )
        answer = console.input(f"Delete every message in {stack.queue_name} and {stack.dlq_name}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            console.print("Nothing purged.")
            return 0
    operations.purge(stack)
    return 0
