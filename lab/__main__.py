"""The commands behind `make`: ``python -m lab <command>``, one table.

Every error a user can cause ends as one line that says what to do, and a
non-zero exit code; never a traceback.
"""

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from lab.cli import handlers, lifecycle, testing
from lab.core import aws, settings
from lab.core.console import console
from lab.core.errors import LabError
from lab.runs.bundle import write_bundle
from lab.stack import iac, operations, profiles
from lab.teach import class_report, exercises, quiz
from lab.watch import cost, observe
from lab.watch import dashboard as board


def argument(*flags: str, **options) -> tuple[tuple[str, ...], dict]:
    """One argparse argument of a command: its flags (or name) and options."""
    return flags, options


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int | None]  # the exit code; None is 0
    arguments: tuple = ()


def with_arguments(function, *given: str, exit_code: bool = False):
    """A command's run: function(*the named arguments); its result is the exit
    code when exit_code, else 0."""

    def run(args) -> int | None:
        result = function(*(getattr(args, name) for name in given))
        return result if exit_code else None

    return run


def on_the_lab_stack(function, *fixed, given: tuple[str, ...] = (), exit_code: bool = False):
    """function(the stack `make up` created, *fixed, *the named arguments)."""

    def with_the_stack_first(*named):
        return function(aws.lab_stack(), *fixed, *named)

    return with_arguments(with_the_stack_first, *given, exit_code=exit_code)


ROLE = argument("role", help=", ".join(operations.ROLES))
YES = argument("--yes", action="store_true", help="do not ask")
EXERCISE_NUMBER = argument("number", nargs="?", default="")

COMMANDS = (
    # The lab's lifecycle.
    Command("up", "start LocalStack and provision the lab", lifecycle.up),
    Command("start", "start LocalStack only, without provisioning", lifecycle.start),
    Command("stop", "stop LocalStack, keeping the lab's state for the next up", lifecycle.stop),
    Command("down", "stop LocalStack and remove the lab's state", lifecycle.down),
    # Watching it.
    Command(
        "status",
        "queues, mapping, effects and invocations, live",
        on_the_lab_stack(observe.status, given=("once",)),
        (argument("--once", action="store_true", help="print once and exit"),),
    ),
    Command(
        "logs",
        "follow the worker's log, one line per record",
        on_the_lab_stack(observe.follow_logs, given=("follow",)),
        (argument("--no-follow", dest="follow", action="store_false", help="print the last minutes and exit"),),
    ),
    Command(
        "trace", "the life of one order", on_the_lab_stack(observe.trace, given=("order_id",)), (argument("order_id"),)
    ),
    Command(
        "event", "the last SQS event the worker received (with LAB_LOG_EVENT=1)", on_the_lab_stack(observe.last_event)
    ),
    Command("dlq", "list the DLQ's messages without receiving them", on_the_lab_stack(operations.show_dlq)),
    Command("cost", "what the run since `make up` would have cost on AWS", on_the_lab_stack(cost.show)),
    Command(
        "dashboard",
        "serve the live dashboard on 127.0.0.1",
        on_the_lab_stack(partial(board.serve, follow=True), given=("port",)),
        (argument("--port", type=int, default=settings.DASHBOARD_PORT),),
    ),
    # Changing it.
    Command(
        "redrive", "move the DLQ's messages back to the queue, with progress", on_the_lab_stack(operations.redrive)
    ),
    Command("pause", "disable the event source mapping", on_the_lab_stack(operations.set_mapping, False)),
    Command("resume", "enable the event source mapping", on_the_lab_stack(operations.set_mapping, True)),
    Command(
        "break",
        "misconfigure the worker: reject orders of more than 1 item",
        on_the_lab_stack(operations.set_worker_rule, "1"),
    ),
    Command("fix", "undo `break`", on_the_lab_stack(operations.set_worker_rule, None)),
    Command("purge", "empty the queue and the DLQ (asks first)", handlers.purge, (YES,)),
    Command(
        "as",
        "run an AWS CLI command as one of the lab's roles",
        on_the_lab_stack(operations.run_as, given=("role", "awscli_args"), exit_code=True),
        (ROLE, argument("awscli_args", nargs=argparse.REMAINDER, help="the command, as for awslocal")),
    ),
    Command(
        "credentials",
        "a role's credentials as the AWS CLI's credential_process reads them (the lab-* profiles call it)",
        with_arguments(profiles.credentials, "role", "endpoint_url", exit_code=True),
        (ROLE, argument("--endpoint-url", default=None)),
    ),
    # Teaching.
    Command(
        "scenario",
        "show a classic mistake, then its fix",
        handlers.scenario,
        (argument("name", nargs="?", default=""),),
    ),
    Command(
        "quiz",
        "a self-check on what the lab showed, each answer explained",
        with_arguments(quiz.run, "answers"),
        (argument("--answers", help="one letter per question, in order (else: asked one by one)"),),
    ),
    Command(
        "exercise",
        "list the exercises, or start one (its task, files and stack)",
        handlers.exercise,
        (EXERCISE_NUMBER,),
    ),
    Command(
        "check",
        "judge an exercise by what its stack does (every started one without N)",
        handlers.check_exercises,
        (EXERCISE_NUMBER,),
    ),
    Command(
        "solution",
        "put an exercise's reference solution in its workspace",
        handlers.exercise_solution,
        (argument("number"),),
    ),
    Command(
        "reset", "the starter files back and the exercise's stack removed", handlers.exercise_reset, (EXERCISE_NUMBER,)
    ),
    Command(
        "report",
        "write exercises/report-<you>-<machine>.json for the instructor",
        with_arguments(exercises.report),
    ),
    Command(
        "class-report",
        "for instructors: the class's collected reports as one table, and a page to print",
        with_arguments(class_report.show, "folder"),
        (argument("folder", help="the folder holding the students' report-*.json files"),),
    ),
    # The template, and AWS itself.
    Command(
        "deploy-iac", "deploy template.yaml to the running lab's CloudFormation (stack orders-iac)", handlers.deploy_iac
    ),
    Command(
        "deploy-aws",
        "deploy template.yaml to your AWS account (asks first)",
        with_arguments(iac.deploy_to_aws, "sender", "yes"),
        (argument("--sender", default="", help="the confirmation emails' sender, an address you can verify"), YES),
    ),
    Command(
        "destroy-aws", "remove what deploy-aws created (asks first)", with_arguments(iac.destroy_aws, "yes"), (YES,)
    ),
    # Tests, figures, and what the images and the offline bundle use.
    Command(
        "test",
        "run the test suite, starting LocalStack if needed",
        testing.test,
        (argument("pytest_args", nargs=argparse.REMAINDER),),
    ),
    Command("unit", "run the unit tests only: seconds, no LocalStack", testing.unit),
    Command(
        "soak",
        "many orders with poison and retries; every one accounted for",
        testing.soak,
        (argument("--count", type=int, default=20_000),),
    ),
    Command(
        "bundle",
        "write the offline bundle (run while online)",
        with_arguments(write_bundle, "target"),
        (argument("target", nargs="?", default="bundle", type=lambda folder: Path(folder).resolve()),),
    ),
    Command(
        "localstack-exports",
        "LocalStack's settings as shell exports (the lab image uses it)",
        with_arguments(settings.print_localstack_exports),
    ),
)


def parser() -> argparse.ArgumentParser:
    parsed = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    commands = parsed.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help)
        for flags, options in command.arguments:
            sub.add_argument(*flags, **options)
        sub.set_defaults(run=command.run)
    return parsed


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        settings.check()  # a bad LAB_* variable, found while reading the settings
        return args.run(args) or 0
    except LabError as error:
        console.print(f"[red]lab: {error.label}[/]{error}")
        return error.exit_code
    except (BotoCoreError, ClientError, TimeoutError) as error:
        console.print(f"[red]lab:[/] {error} (see {settings.LOCALSTACK_LOG})")
        return LabError.exit_code
    except KeyboardInterrupt:
        console.print("lab: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
