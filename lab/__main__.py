"""The commands behind `make`: ``python -m lab up|down|test [pytest args]``.

Every error a user can cause ends as one line that says what to do, and a
non-zero exit code; never a traceback.
"""

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from lab.core import aws, machine, processes, settings
from lab.core.console import console
from lab.core.errors import LabError, Refused
from lab.core.settings import SettingsError
from lab.runs import dockermode, hostmode, saved_state, toolsmode
from lab.runs.bundle import write_bundle
from lab.stack import iac, operations, profiles
from lab.stack.provision import api_url, provision
from lab.teach import exercises, quiz, scenarios
from lab.watch import cost, observe
from lab.watch import dashboard as board


def display_path(path) -> str:
    return str(path.relative_to(settings.PROJECT_ROOT) if path.is_relative_to(settings.PROJECT_ROOT) else path)


def chosen_mode():
    """The module that runs LocalStack: the one already running, else LAB_MODE,
    else Docker when an engine answers, else host mode. Inside the tools
    container (LAB_MODE=tools), docker compose runs it from outside."""
    if settings.MODE not in ("", "docker", "host", "tools"):
        raise SettingsError(f"LAB_MODE={settings.MODE!r} is neither docker nor host")
    if settings.MODE == "host":
        return hostmode
    if settings.MODE == "tools":
        return toolsmode
    engine = dockermode.engine_answers()
    if settings.MODE == "docker":
        if not engine:
            raise LabError(
                "LAB_MODE=docker, but no Docker engine answers (`docker info` failed): "
                "start Docker, or run without it with LAB_MODE=host"
            )
        return dockermode
    if hostmode.running_pid() or not engine:
        return hostmode
    return dockermode


def mode_description(mode) -> str:
    if mode is hostmode:
        return "host mode: LocalStack from .venv, Lambda as local processes"
    if settings.MODE == "tools":  # make's commands run here: the host has no Python 3.12
        return (
            "Docker mode: LocalStack in a container, Lambda as processes inside it; "
            "no Python 3.12 here, so every make command runs in the lab's tools container"
        )
    return "Docker mode: LocalStack in a container, Lambda as processes inside it"


def print_summary(deployed, mode, profile_file=None) -> None:
    stack = deployed.stack
    rows = [
        ("Endpoint", settings.STUDENT_ENDPOINT_URL),
        ("Orders queue", deployed.queue_url),
        ("Dead-letter queue", f"{deployed.dlq_url}  (after {stack.max_receive_count} receives)"),
        ("Function", f"{stack.function_name}  ({settings.FUNCTION_RUNTIME}, timeout {stack.function_timeout} s)"),
        (
            "Mapping",
            f"{deployed.mapping_uuid}  Enabled, batch size {stack.batch_size}, "
            f"window {stack.batching_window} s, ReportBatchItemFailures",
        ),
        ("Order store", f"s3://{deployed.bucket}/orders/"),
        *(
            [("Orders API", f"POST {api_url(deployed.api_id, settings.STUDENT_ENDPOINT_URL)}/orders")]
            if deployed.api_id
            else []
        ),
        (
            "LocalStack log",
            display_path(settings.LOCALSTACK_LOG) if mode is hostmode else "docker compose logs -f localstack",
        ),
        *(
            [
                (
                    "AWS CLI profiles",
                    f"{', '.join(f'lab-{role}' for role in operations.ROLES)} in "
                    f"{'the tools container' if settings.MODE == 'tools' else profile_file} "
                    f"({settings.COMMAND_PREFIX}awslocal --profile lab-producer ...: that role's permissions)",
                )
            ]
            if profile_file
            else []
        ),
    ]
    console.print(f"\n[bold green]The lab is up[/] ({mode_description(mode)}).")
    for label, value in rows:
        console.print(f"  {label:<18} {value}")
    order = '{"orderId": "123", "email": "user@test.com"}'
    run = settings.COMMAND_PREFIX
    api_call = (
        f"  curl -s -X POST {api_url(deployed.api_id, settings.STUDENT_ENDPOINT_URL)}/orders \\\n"
        f"      -H 'content-type: application/json' -d '{order}'      one order through the API\n"
        if deployed.api_id
        else ""
    )
    console.print(
        "\nTry it:\n"
        "  make producer N=20                  send 20 orders\n"
        + api_call
        + f"  {run}awslocal sqs send-message --queue-url {deployed.queue_url} \\\n"
        f"      --message-body '{order}'"
        + (" --message-group-id customer-1 --message-deduplication-id 123" if stack.fifo else "")
        + "\n"
        f"  {run}awslocal s3 ls s3://{deployed.bucket}/orders/      the stored orders\n"
        f"  curl -s {settings.STUDENT_ENDPOINT_URL}/_aws/ses                the emails sent\n"
        f"  {run}awslocal logs filter-log-events --log-group-name /aws/lambda/{stack.function_name} \\\n"
        "      --query 'events[].message' --output text        the worker's logs\n"
        "  make stop                           stop, keeping every queue, message, order and email "
        "for the next make up\n"
        "  make down                           stop everything and remove its state"
    )


def show_step(message: str, waiting: bool = False) -> None:
    console.print(f"  {'[dim]...[/]' if waiting else '[green]✓[/]'} {message}")


def say_what_was_restored() -> None:
    if line := saved_state.restored_line():
        console.print(line)


def up(_args) -> int:
    mode = chosen_mode()
    mode.start()
    say_what_was_restored()
    console.print("Provisioning the lab (create or update; safe to repeat):")
    deployed = provision(report=show_step)
    cost.reset(deployed.stack)  # `make cost` counts from here
    # The tools image carries its own (docker/tools.Dockerfile): what `make up`
    # wrote in this container would be gone when it exits.
    written = profiles.write(deployed.stack) if settings.MODE != "tools" else profiles.config_file()
    print_summary(deployed, mode, written)
    mode.start_dashboard()
    return 0


def start(_args) -> int:
    chosen_mode().start()
    say_what_was_restored()
    return 0


def stop_everything(keep_state: bool) -> int:
    # Whatever runs, unless LAB_MODE names one mode.
    processes.stop_pid_file(settings.DASHBOARD_PID_FILE, b"dashboard")
    stopped_docker = settings.MODE != "host" and dockermode.engine_answers() and dockermode.stop(keep_state=keep_state)
    stopped_host = settings.MODE != "docker" and hostmode.stop(keep_state=keep_state)
    if not (stopped_docker or stopped_host):
        console.print("Nothing to stop: the lab's LocalStack is not running.")
    return 0


def down(_args) -> int:
    return stop_everything(keep_state=False)


def stop(_args) -> int:
    """Like down, but the lab's saved state stays for the next `make up`."""
    return stop_everything(keep_state=True)


@contextlib.contextmanager
def localstack_running():
    """LocalStack up for the duration: started here, and stopped after, when it
    was not running. One started here is removed after: it takes no snapshots."""
    mode = chosen_mode()
    started_here = mode.start(snapshots=False)
    try:
        yield mode
    finally:
        if started_here:
            mode.stop()


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


def on_the_lab_stack(function, *fixed_args):
    """A command that runs function(stack, *fixed_args) on the stack `make up` created."""

    def run(_args) -> int:
        function(aws.lab_stack(), *fixed_args)
        return 0

    return run


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


def dashboard(args) -> int:
    board.serve(aws.lab_stack(), args.port or settings.DASHBOARD_PORT, follow=True)
    return 0


def localstack_exports(_args) -> int:
    """LocalStack's settings as shell exports, for the lab image's entrypoint."""
    settings.print_localstack_exports()
    return 0


def bundle(args) -> int:
    write_bundle(Path(args.target).resolve())
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start LocalStack (host mode) and provision the lab").set_defaults(run=up)
    commands.add_parser("start", help="start LocalStack only, without provisioning").set_defaults(run=start)
    commands.add_parser("stop", help="stop LocalStack, keeping the lab's state for the next up").set_defaults(run=stop)
    commands.add_parser("down", help="stop LocalStack and remove the lab's state").set_defaults(run=down)
    for name, run, help_text in (
        ("dlq", on_the_lab_stack(operations.show_dlq), "list the DLQ's messages without receiving them"),
        ("redrive", on_the_lab_stack(operations.redrive), "move the DLQ's messages back to the queue, with progress"),
        ("pause", on_the_lab_stack(operations.set_mapping, False), "disable the event source mapping"),
        ("resume", on_the_lab_stack(operations.set_mapping, True), "enable the event source mapping"),
        (
            "break",
            on_the_lab_stack(operations.set_worker_rule, "1"),
            "misconfigure the worker: reject orders of more than 1 item",
        ),
        ("fix", on_the_lab_stack(operations.set_worker_rule, None), "undo `break`"),
        ("cost", on_the_lab_stack(cost.show), "what the run since `make up` would have cost on AWS"),
    ):
        commands.add_parser(name, help=help_text).set_defaults(run=run)
    as_parser = commands.add_parser("as", help="run an AWS CLI command as one of the lab's roles")
    as_parser.add_argument("role", help=", ".join(operations.ROLES))
    as_parser.add_argument("awscli_args", nargs=argparse.REMAINDER, help="the command, as for awslocal")
    as_parser.set_defaults(run=lambda args: operations.run_as(aws.lab_stack(), args.role, args.awscli_args))
    credentials_parser = commands.add_parser(
        "credentials",
        help="a role's credentials as the AWS CLI's credential_process reads them (the lab-* profiles call it)",
    )
    credentials_parser.add_argument("role", help=", ".join(operations.ROLES))
    credentials_parser.add_argument("--endpoint-url", default=None)
    credentials_parser.set_defaults(run=lambda args: profiles.credentials(args.role, args.endpoint_url))
    quiz_parser = commands.add_parser("quiz", help="a self-check on what the lab showed, each answer explained")
    quiz_parser.add_argument("--answers", help="one letter per question, in order (else: asked one by one)")
    quiz_parser.set_defaults(run=lambda args: quiz.run(args.answers) and 0)
    for name, run, help_text in (
        ("exercise", exercise, "list the exercises, or start one (its task, files and stack)"),
        ("check", check_exercises, "judge an exercise by what its stack does (every started one without N)"),
        ("solution", exercise_solution, "put an exercise's reference solution in its workspace"),
        ("reset", exercise_reset, "the starter files back and the exercise's stack removed"),
    ):
        exercise_parser = commands.add_parser(name, help=help_text)
        exercise_parser.add_argument("number", nargs="?" if name != "solution" else None, default="")
        exercise_parser.set_defaults(run=run)
    commands.add_parser(
        "deploy-iac", help="deploy template.yaml to the running lab's CloudFormation (stack orders-iac)"
    ).set_defaults(run=deploy_iac)
    aws_parser = commands.add_parser("deploy-aws", help="deploy template.yaml to your AWS account (asks first)")
    aws_parser.add_argument("--sender", default="", help="the confirmation emails' sender, an address you can verify")
    aws_parser.add_argument("--yes", action="store_true", help="do not ask")
    aws_parser.set_defaults(run=lambda args: iac.deploy_to_aws(args.sender, args.yes) and 0)
    destroy_parser = commands.add_parser("destroy-aws", help="remove what deploy-aws created (asks first)")
    destroy_parser.add_argument("--yes", action="store_true", help="do not ask")
    destroy_parser.set_defaults(run=lambda args: iac.destroy_aws(args.yes) or 0)
    commands.add_parser("report", help="write exercises/report-<you>-<machine>.json for the instructor").set_defaults(
        run=lambda _args: exercises.report() and 0
    )
    status_parser = commands.add_parser("status", help="queues, mapping, effects and invocations, live")
    status_parser.add_argument("--once", action="store_true", help="print once and exit")
    status_parser.set_defaults(run=lambda args: on_the_lab_stack(observe.status, args.once)(args))
    logs_parser = commands.add_parser("logs", help="follow the worker's log, one line per record")
    logs_parser.add_argument("--no-follow", action="store_true", help="print the last minutes and exit")
    logs_parser.set_defaults(run=lambda args: on_the_lab_stack(observe.follow_logs, not args.no_follow)(args))
    trace_parser = commands.add_parser("trace", help="the life of one order")
    trace_parser.add_argument("order_id")
    trace_parser.set_defaults(run=lambda args: on_the_lab_stack(observe.trace, args.order_id)(args))
    commands.add_parser("event", help="the last SQS event the worker received (with LAB_LOG_EVENT=1)").set_defaults(
        run=on_the_lab_stack(observe.last_event)
    )
    scenario_parser = commands.add_parser("scenario", help="show a classic mistake, then its fix")
    scenario_parser.add_argument("name", nargs="?", default="")
    scenario_parser.set_defaults(run=scenario)
    dashboard_parser = commands.add_parser("dashboard", help="serve the live dashboard on 127.0.0.1")
    dashboard_parser.add_argument("--port", type=int, default=None)
    dashboard_parser.set_defaults(run=dashboard)
    bundle_parser = commands.add_parser("bundle", help="write the offline bundle (run while online)")
    bundle_parser.add_argument("target", nargs="?", default="bundle")
    bundle_parser.set_defaults(run=bundle)
    purge_parser = commands.add_parser("purge", help="empty the queue and the DLQ (asks first)")
    purge_parser.add_argument("--yes", action="store_true", help="do not ask")
    purge_parser.set_defaults(run=purge)
    soak_parser = commands.add_parser("soak", help="many orders with poison and retries; every one accounted for")
    soak_parser.add_argument("--count", type=int, default=20_000)
    soak_parser.set_defaults(run=soak)
    commands.add_parser(
        "localstack-exports", help="LocalStack's settings as shell exports (the lab image uses it)"
    ).set_defaults(run=localstack_exports)
    test_parser = commands.add_parser("test", help="run the test suite, starting LocalStack if needed")
    test_parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test_parser.set_defaults(run=test)
    commands.add_parser("unit", help="run the unit tests only: seconds, no LocalStack").set_defaults(run=unit)
    args = parser.parse_args(argv)
    try:
        settings.check()  # a bad LAB_* variable, found while reading the settings
        return args.run(args)
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
