"""LocalStack in Docker mode: the services of docker-compose.yml, driven from this machine.

The ``localstack`` service runs the lab's own image (docker/localstack.Dockerfile):
LocalStack 4.14.0 with the lab's plugins, provisioning code and worker zip built
in, the same LocalStack settings as host mode (``settings.localstack_config``,
applied by the image's entrypoint), and a ready hook that provisions the lab
with the same code. Nothing on this machine is mounted into it. The dashboard
is a service of its own. On a machine without Python 3.12 the Makefile drives
the same services with ``scripts/lab-in-docker`` instead.
"""

import os
import subprocess

from lab.core import settings
from lab.core.console import console
from lab.core.errors import LabError
from lab.runs.hostmode import require_free_port, start_dashboard_unless_running

NAME = "docker"  # LAB_MODE's word for it
ENGINE_CHECK_SECONDS = 10
LOG_LINES_ON_ERROR = 15
WAIT_SECONDS = 180
# Builds the lab's images (and tells whether they are current) for both ways in.
IN_DOCKER_SCRIPT = settings.PROJECT_ROOT / "scripts" / "lab-in-docker"


def engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=ENGINE_CHECK_SECONDS).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def compose_environment() -> dict[str, str]:
    return {
        **os.environ,
        # This machine's engine has no buildx; the classic builder works everywhere.
        "DOCKER_BUILDKIT": "0",
        "COMPOSE_BAKE": "false",
        # Nothing else: the lab's settings reach compose from the shell or .env, as
        # they do for a `docker compose` a student types, so both see one
        # configuration and Compose recreates no container over it.
        "LAB_LOCALSTACK_IMAGE": settings.LOCALSTACK_IMAGE,  # a build argument, outside the configuration's hash
    }


def compose(*args: str, capture: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            "docker",
            "compose",
            "--project-name",
            settings.COMPOSE_PROJECT,
            "--file",
            str(settings.COMPOSE_FILE),
            "--profile",
            "tools",
            *args,
        ],
        env={**compose_environment(), **(env or {})},
        capture_output=capture,
        text=True,
    )


def running(service: str = "localstack") -> bool:
    result = compose("ps", "--status", "running", "--quiet", service, capture=True)
    return result.returncode == 0 and bool(result.stdout.strip())


def ensure_images() -> None:
    """Build the lab's images unless they were built from this folder's code
    (scripts/lab-in-docker knows how to tell), showing docker's own progress."""
    result = subprocess.run([str(IN_DOCKER_SCRIPT), "ensure-images"], env=compose_environment())
    if result.returncode != 0:
        raise LabError(
            "Building the lab's images failed (see the lines above). The first build needs "
            "the LocalStack image and PyPI; offline, load the images with `make load`."
        )


def explain_failure(service: str, result: subprocess.CompletedProcess) -> LabError:
    last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
    if any(word in last for word in ("registry", "pull access", "no such host", "manifest")):
        return LabError(
            f"An image the lab needs is not on this machine and cannot be pulled ({last}): "
            "load the offline bundle with `make load`, set LAB_LOCALSTACK_IMAGE to a local image of 4.14.0, "
            "or run without Docker: LAB_MODE=host make up"
        )
    logs = compose("logs", "--no-color", "--tail", str(LOG_LINES_ON_ERROR), service, capture=True)
    return LabError(f"The {service} container did not become healthy ({last}). Last lines of its log:\n{logs.stdout}")


def runs_current_configuration() -> bool:
    """Whether the running container is what `docker compose up` would start now:
    the same settings (shell and .env) and the same build of the image."""
    return (
        subprocess.run([str(IN_DOCKER_SCRIPT), "is-current"], env=compose_environment(), capture_output=True).returncode
        == 0
    )


def start(snapshots: bool = True) -> bool:
    """Start the localstack service unless it runs with today's settings and image
    (a container with other settings or an older image is recreated, and loads the
    state the old one saved as it stopped). Returns True if this call started it.
    Without snapshots (a LocalStack for one command) a running one is used as it is,
    and a new one saves the lab's state only when it stops."""
    was_running = running()
    if was_running and not snapshots:
        return False
    ensure_images()
    if was_running and runs_current_configuration():
        console.print(
            f"The lab's LocalStack container is already running at {settings.ENDPOINT_URL}; nothing to start."
        )
        return False
    if was_running:
        console.print(
            "LocalStack's settings or image changed since it started: recreating its container "
            "(the queues, messages, orders and emails come back from the state it saves as it stops)."
        )
        what = f"Waiting until the new localstack container is healthy (up to {WAIT_SECONDS} s)"
    else:
        require_free_port()
        what = (
            "Starting the localstack container and waiting until it is healthy "
            f"(its ready hook provisions the lab; up to {WAIT_SECONDS} s)"
        )
    with console.status(what):
        result = compose(
            "up",
            "--detach",
            "--wait",
            "--wait-timeout",
            str(WAIT_SECONDS),
            "--no-deps",
            "localstack",
            capture=True,
            env=None if snapshots else settings.NO_SNAPSHOTS,
        )
    if result.returncode != 0:
        raise explain_failure("localstack", result)
    console.print(f"LocalStack {settings.LOCALSTACK_VERSION} is up in Docker at {settings.ENDPOINT_URL}.")
    return True


def start_dashboard() -> None:
    """In Docker mode the dashboard is a service of its own."""

    def launch() -> None:
        with console.status("Starting the dashboard container"):
            result = compose("up", "--detach", "--wait", "--wait-timeout", "60", "--no-deps", "dashboard", capture=True)
        if result.returncode != 0:
            raise explain_failure("dashboard", result)

    start_dashboard_unless_running(lambda: running("dashboard"), launch)


def stop(keep_state: bool = False) -> bool:
    """Stop the lab's containers (LocalStack saves its state as it stops) and,
    unless keep_state, remove them with their network and state volume."""
    if keep_state:
        if not compose("ps", "--quiet", capture=True).stdout.strip():
            return False
        with console.status("Stopping the lab's containers; LocalStack saves the lab's state"):
            compose("stop", capture=True)
        console.print(
            f"Stopped the lab's containers; the lab's state is kept in the Docker volume "
            f"{settings.COMPOSE_PROJECT}_localstack-state."
        )
        return True
    listed = compose("ps", "--all", "--quiet", capture=True)
    if listed.returncode != 0 or not listed.stdout.strip():
        return False
    with console.status("Stopping the lab's containers and removing their state"):
        compose("down", "--volumes", "--remove-orphans", capture=True)
    console.print("Stopped the lab's containers and removed their network and state volume.")
    return True
