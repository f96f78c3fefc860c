"""LocalStack in Docker mode: the `localstack` service of docker-compose.yml.

The container runs the same LocalStack settings as host mode
(``settings.localstack_config``, written to ``build/localstack.env``), the
same local Lambda executor (the ``executor/`` package installed into
``build/localstack-plugins`` and mounted where the image looks for Python
packages: no docker.sock, no image pulls at run time), and provisions the lab
from its ready hook with the same ``init/`` code.
"""

import os
import platform
import subprocess
import sys

from rich.console import Console

from lab import settings
from lab.hostmode import LifecycleError, require_free_port

console = Console(highlight=False, soft_wrap=True)
ENGINE_CHECK_SECONDS = 10
LOG_LINES_ON_ERROR = 15
LOCALSTACK_ENV_FILE = settings.BUILD_DIR / "localstack.env"
# Inside the container: where the project is mounted, and the image's Python.
CONTAINER_PROJECT_DIR = "/opt/lab"
CONTAINER_PYTHON = "/opt/code/localstack/.venv/bin/python"
# pip's names for the container's machine, by the host's (Docker runs the host's architecture).
WHEEL_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "amd64": "manylinux2014_x86_64",
                   "aarch64": "manylinux2014_aarch64", "arm64": "manylinux2014_aarch64"}


def engine_answers() -> bool:
    try:
        return subprocess.run(
            ["docker", "info"], capture_output=True, timeout=ENGINE_CHECK_SECONDS
        ).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def compose(*args: str, capture: bool = False) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        # This machine's engine has no buildx; the classic builder works everywhere.
        "DOCKER_BUILDKIT": "0",
        "COMPOSE_BAKE": "false",
        "LAB_PORT": str(settings.PORT),
        "LAB_LOCALSTACK_IMAGE": settings.LOCALSTACK_IMAGE,
    }
    return subprocess.run(
        ["docker", "compose", "--project-name", settings.COMPOSE_PROJECT,
         "--file", str(settings.COMPOSE_FILE), *args],
        env=env, capture_output=capture, text=True,
    )


def running() -> bool:
    result = compose("ps", "--status", "running", "--quiet", "localstack", capture=True)
    return result.returncode == 0 and bool(result.stdout.strip())


def container_environment() -> dict[str, str]:
    """Everything the container's LocalStack and its ready hook need to know."""
    env = settings.localstack_config()
    # The lab's own settings, so the hook provisions what `make up` would.
    env.update({name: value for name, value in os.environ.items()
                if name.startswith("LAB_") and not name.startswith(settings.LOCALSTACK_OVERRIDE_PREFIX)})
    env.update(
        {
            "LAB_ROOT": CONTAINER_PROJECT_DIR,
            "LAB_HOOK_PYTHON": CONTAINER_PYTHON,
            "LAB_ENDPOINT_URL": "http://127.0.0.1:4566",  # LocalStack itself, from inside
            "LAB_FUNCTION_ZIP": f"{CONTAINER_PROJECT_DIR}/build/{settings.FUNCTION_ZIP_PATH.name}",
            "LAB_STATE_DIR": "/tmp/lab-state",
            "PYTHONDONTWRITEBYTECODE": "1",  # the project is mounted read-only
        }
    )
    return env


def write_env_file() -> None:
    settings.BUILD_DIR.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}={value}" for name, value in sorted(container_environment().items())]
    LOCALSTACK_ENV_FILE.write_text("# written by `make up` from lab/settings.py\n" + "\n".join(lines) + "\n")


def install_plugins(wheel_dir: str | None = None) -> None:
    """The lab's LocalStack plugins and awslambdaric, built for the container's Python."""
    machine = platform.machine().lower()
    target = settings.CONTAINER_PLUGINS_DIR
    source = ["--no-index", "--find-links", wheel_dir] if wheel_dir else []
    with console.status(f"Installing the lab's LocalStack plugins for the container into {target}"):
        for requirement, options in (
            # awslambdaric has a compiled part: pick the wheel for the container.
            ("awslambdaric==4.2.2", ["--only-binary", ":all:", "--platform", WHEEL_PLATFORMS.get(machine, machine),
                                     "--python-version", settings.CONTAINER_PYTHON_VERSION,
                                     "--implementation", "cp"]),
            (str(settings.PROJECT_ROOT / "executor"), ["--no-deps"]),
        ):
            result = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", "--target", str(target),
                 *source, *options, requirement],
                capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise LifecycleError(
                    f"Could not install {requirement} for the container (is PyPI reachable, "
                    f"or did you `make load`?): {result.stderr.strip().splitlines()[-1]}"
                )


def prepare() -> None:
    """Everything the compose file mounts: settings, plugins, the function's zip."""
    from init.function_zip import build_zip

    write_env_file()
    if not (settings.CONTAINER_PLUGINS_DIR / "lab_executor").is_dir():
        install_plugins()
    settings.FUNCTION_ZIP_PATH.write_bytes(build_zip(settings.FUNCTION_SOURCE_DIR))


def start() -> bool:
    """Start the localstack service unless it runs. Returns True if this call started it."""
    if running():
        console.print(f"The lab's LocalStack container is already running at {settings.ENDPOINT_URL}; nothing to start.")
        return False
    if compose("ps", "--all", "--quiet", "localstack", capture=True).stdout.strip():
        console.print(f"[yellow]{settings.STATE_GONE_MESSAGE}[/]")  # the container exists but is not running
    require_free_port()
    prepare()
    with console.status(
        "Starting the localstack container and waiting until it is healthy "
        "(its ready hook provisions the lab; up to 2 minutes)"
    ):
        result = compose("up", "--detach", "--wait", "--wait-timeout", "120", "localstack", capture=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        if any(word in last for word in ("registry", "pull access", "no such host", "manifest")):
            raise LifecycleError(
                f"The LocalStack image is not on this machine and cannot be pulled ({last}): "
                "load the offline bundle with `make load`, set LAB_LOCALSTACK_IMAGE to a local image of 4.14.0, "
                "or run without Docker: LAB_MODE=host make up"
            )
        logs = compose("logs", "--no-color", "--tail", str(LOG_LINES_ON_ERROR), "localstack", capture=True)
        raise LifecycleError(
            f"The localstack container did not become healthy ({last}). Last lines of its log:\n{logs.stdout}"
        )
    console.print(f"LocalStack {settings.LOCALSTACK_VERSION} is up in Docker at {settings.ENDPOINT_URL}.")
    return True


def stop() -> bool:
    """Stop and remove the lab's containers, network and state volume."""
    listed = compose("ps", "--all", "--quiet", capture=True)
    if listed.returncode != 0 or not listed.stdout.strip():
        return False
    with console.status("Stopping the lab's containers and removing their state"):
        compose("down", "--volumes", "--remove-orphans", capture=True)
    console.print("Stopped the lab's containers and removed their network and state volume.")
    return True
