"""The lab's lifecycle commands: up (LocalStack, the stack, the summary of where
to look), start, stop, down; and LocalStack kept running for a command that
needs it (the tests, the soak)."""

import contextlib

from lab.core import processes, settings
from lab.core.console import console, step
from lab.core.errors import LabError
from lab.core.settings import SettingsError
from lab.runs import dockermode, hostmode, saved_state, toolsmode
from lab.stack import operations, profiles
from lab.stack.api import api_url
from lab.stack.provision import provision
from lab.watch import cost


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


def say_what_was_restored() -> None:
    if line := saved_state.restored_line():
        console.print(line)


def up(_args) -> int:
    mode = chosen_mode()
    mode.start()
    say_what_was_restored()
    console.print("Provisioning the lab (create or update; safe to repeat):")
    deployed = provision(report=step)
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
