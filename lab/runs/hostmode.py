"""LocalStack in host mode: a background process from the lab's venv.

State, pid file and log live under ``settings.STATE_DIR`` (``.lab/``), which
``stop`` removes. LocalStack runs in a process group of its own, and every
Lambda environment it starts belongs to that group, so stopping the group
leaves nothing behind.
"""

import os
import shutil
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from lab.core import aws, processes, settings
from lab.core.console import console
from lab.core.errors import LabError

NAME = "host"  # LAB_MODE's word for it
POLL_SECONDS = 0.5
LOG_LINES_ON_ERROR = 15


def localstack_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "GATEWAY_LISTEN": f"{settings.HOST}:{settings.PORT}",
            # The stock server listens on 0.0.0.0 whatever GATEWAY_LISTEN says;
            # the lab's plugin binds to the host given (see lab_executor).
            "GATEWAY_SERVER": "twisted-loopback",
            "FILESYSTEM_ROOT": str(settings.STATE_DIR / "localstack"),
            # Host mode is never "in Docker", even on a machine that is itself a
            # container (/.dockerenv); otherwise LocalStack ignores FILESYSTEM_ROOT
            # and keeps its state in /var/lib/localstack and /tmp/localstack.
            "OVERRIDE_IN_DOCKER": "0",
            "TMPDIR": str(settings.LOCALSTACK_TMP_DIR),
            # For the ready hook: where the lab is, and the Python that has its packages.
            "LAB_ROOT": str(settings.PROJECT_ROOT),
            "LAB_HOOK_PYTHON": sys.executable,
            # The interpreters of the other Python versions functions may declare
            # (scripts/prepare-runtimes, run by `make venv`, fills it).
            "LAB_RUNTIMES_DIR": str(Path(sys.prefix) / "lab-runtimes"),
        }
    )
    env.update(settings.localstack_config())
    return env


def running_pid() -> int | None:
    """The pid of the LocalStack this lab started, if it is still running."""
    return processes.process_alive(settings.LOCALSTACK_PID_FILE, b"localstack.runtime.main")


def require_free_port() -> None:
    """Refuse to start when something else holds the lab's port (both modes)."""
    if processes.port_in_use(settings.HOST, settings.PORT):
        raise LabError(
            f"Port {settings.PORT} on {settings.HOST} is already in use by another program "
            f"(another LocalStack? see `ss -ltnp 'sport = :{settings.PORT}'`): stop it, "
            f"or run the lab on another port with LAB_PORT=<port>."
        )


def log_tail(lines: int = LOG_LINES_ON_ERROR) -> str:
    try:
        with open(settings.LOCALSTACK_LOG, errors="replace") as log:
            return "".join(deque(log, maxlen=lines))
    except FileNotFoundError:
        return "(no log was written)\n"


def install_ready_hooks() -> None:
    """Link the lab's ready.d scripts where LocalStack looks for them (under FILESYSTEM_ROOT)."""
    hooks = settings.STATE_DIR / "localstack" / "etc" / "localstack" / "init" / "ready.d"
    hooks.mkdir(parents=True, exist_ok=True)
    for script in settings.READY_HOOKS_DIR.iterdir():
        link = hooks / script.name
        link.unlink(missing_ok=True)
        link.symlink_to(script)


PREVIOUS_LOG = settings.STATE_DIR / "localstack.previous.log"


# LocalStack's service catalog: an index of every AWS service's operations, which its
# gateway reads to tell what a request is for. Without one in its static files it
# builds it at its first request by loading every service model botocore has (10 s
# here), and keeps all of them in memory after: 320 of the 580 MB a host-mode
# LocalStack held after `make up` (`make bench-memory`, docs/PERFORMANCE.md). Docker
# mode's image has it from its build (docker/localstack.Dockerfile). Host mode
# builds it once per venv, in a process of its own, and gives each start a copy.
CATALOG_BUILD_ROOT = Path(sys.prefix) / "lab-localstack"
STATIC_LIBS = Path("usr") / "lib" / "localstack"  # under FILESYSTEM_ROOT, as LocalStack's config puts it


def service_catalog() -> Path:
    """The venv's service catalog file, built the first time."""
    from importlib.metadata import version

    # The name LocalStack looks for (localstack.aws.spec._get_catalog_filename), without importing it here.
    ls_version, botocore_version = (version(d).replace(".", "_") for d in ("localstack-core", "botocore"))
    name = f"service-catalog-{ls_version}-{botocore_version}.dill"
    in_the_image = Path("/") / STATIC_LIBS / name  # the tools container: LocalStack's image built it
    if in_the_image.exists():
        return in_the_image
    catalog = CATALOG_BUILD_ROOT / STATIC_LIBS / name
    if not catalog.exists():
        catalog.parent.mkdir(parents=True, exist_ok=True)
        with console.status("Indexing AWS's services for LocalStack, once for this venv (about 10 s)"):
            env = {**os.environ, "FILESYSTEM_ROOT": str(CATALOG_BUILD_ROOT), "OVERRIDE_IN_DOCKER": "0"}
            built = subprocess.run([sys.executable, "-m", "localstack.aws.spec"], env=env, capture_output=True)
        if built.returncode != 0 or not catalog.exists():
            # LocalStack then builds it itself, as it would have; only its memory is higher.
            console.print(f"[yellow]LocalStack's service catalog could not be prepared: {built.stderr[-300:]!r}[/]")
    return catalog


def provide_service_catalog() -> None:
    catalog = service_catalog()
    if catalog.exists():
        target = settings.STATE_DIR / "localstack" / STATIC_LIBS / catalog.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(catalog, target)


def start(snapshots: bool = True) -> bool:
    """Start LocalStack unless it runs already. Returns True if this call started it.
    Without snapshots it saves the lab's state only when it stops."""
    if pid := running_pid():
        console.print(f"LocalStack is already running (pid {pid}) at {settings.ENDPOINT_URL}; nothing to start.")
        return False
    require_free_port()
    if settings.LOCALSTACK_PID_FILE.exists():  # and not running: see running_pid(); what came back is said later
        if settings.LOCALSTACK_LOG.exists():
            settings.LOCALSTACK_LOG.replace(PREVIOUS_LOG)
            console.print(f"LocalStack's log from before it stopped: {PREVIOUS_LOG}")
        settings.LOCALSTACK_PID_FILE.unlink()
    settings.STATE_DIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(settings.LOCALSTACK_TMP_DIR, ignore_errors=True)
    settings.LOCALSTACK_TMP_DIR.mkdir()
    if settings.PROVISION_ON_READY:
        install_ready_hooks()
    provide_service_catalog()
    with open(settings.LOCALSTACK_LOG, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localstack.runtime.main"],
            env={**localstack_environment(), **({} if snapshots else settings.NO_SNAPSHOTS)},
            cwd=settings.STATE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: `stop` ends all of it
        )
    settings.LOCALSTACK_PID_FILE.write_text(str(process.pid))
    wait_until_ready(process)
    return True


def wait_until_ready(process: subprocess.Popen) -> None:
    deadline = time.monotonic() + settings.START_TIMEOUT_SECONDS
    what = (
        f"Waiting for LocalStack {settings.LOCALSTACK_VERSION} (pid {process.pid}) to answer at "
        f"{settings.ENDPOINT_URL}/_localstack/health (up to {settings.START_TIMEOUT_SECONDS} s)"
    )
    with console.status(what):
        while time.monotonic() < deadline:
            if (code := process.poll()) is not None:
                settings.LOCALSTACK_PID_FILE.unlink(missing_ok=True)
                raise LabError(
                    f"LocalStack exited during start (exit code {code}). "
                    f"Last lines of {settings.LOCALSTACK_LOG}:\n{log_tail()}"
                )
            if _ready():
                break
            time.sleep(POLL_SECONDS)
        else:
            processes.stop_process_group(process.pid)
            raise LabError(
                f"LocalStack did not become ready within {settings.START_TIMEOUT_SECONDS} s "
                f"(raise LAB_START_TIMEOUT_SECONDS on a slow machine). "
                f"Last lines of {settings.LOCALSTACK_LOG}:\n{log_tail()}"
            )
    console.print(f"LocalStack {settings.LOCALSTACK_VERSION} is up at {settings.ENDPOINT_URL} (pid {process.pid}).")


def _ready() -> bool:
    try:
        return bool(aws.get_json("/_localstack/init/ready").get("completed"))
    except (OSError, ValueError):
        return False


def stop(keep_state: bool = False) -> bool:
    """Stop LocalStack (it saves its state as it stops) and, unless keep_state,
    remove that state. Returns True if something was running."""
    pid = running_pid()
    if pid:
        with console.status(f"Stopping LocalStack (pid {pid}) and its Lambda environments; it saves the lab's state"):
            processes.stop_process_group(pid)
        settings.LOCALSTACK_PID_FILE.unlink(missing_ok=True)  # a clean stop: nothing to report at the next start
    if keep_state:
        if pid:
            console.print(f"Stopped LocalStack (pid {pid}); the lab's state is kept in {settings.SNAPSHOT_DIR}.")
        return pid is not None
    removed = settings.STATE_DIR.exists()
    if removed:
        shutil.rmtree(settings.STATE_DIR)
    if pid:
        console.print(f"Stopped LocalStack (pid {pid}) and removed {settings.STATE_DIR}.")
    elif removed:  # what `make stop` kept
        console.print(f"Removed the lab's saved state ({settings.STATE_DIR}).")
    return pid is not None or removed


def start_dashboard_unless_running(is_running, launch) -> None:
    """`make up`'s dashboard, however a mode runs it: is_running() tells, launch() starts it."""
    url = f"http://{settings.HOST}:{settings.DASHBOARD_PORT}/"
    if not settings.DASHBOARD:
        return
    if is_running():
        console.print(f"Dashboard: {url} (already running)")
        return
    if processes.port_in_use(settings.HOST, settings.DASHBOARD_PORT):
        console.print(
            f"[yellow]Dashboard not started: port {settings.DASHBOARD_PORT} is in use "
            "(LAB_DASHBOARD_PORT=<port> chooses another, LAB_DASHBOARD=0 turns it off)[/]"
        )
        return
    launch()
    console.print(f"Dashboard: {url} (updates every second)")


def start_dashboard() -> None:
    """In host mode the dashboard is a process of its own; `make down` stops it."""

    def launch() -> None:
        settings.STATE_DIR.mkdir(parents=True, exist_ok=True)
        with open(settings.DASHBOARD_LOG, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "lab", "dashboard"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=settings.PROJECT_ROOT,
            )
        settings.DASHBOARD_PID_FILE.write_text(str(process.pid))

    start_dashboard_unless_running(lambda: processes.process_alive(settings.DASHBOARD_PID_FILE, b"dashboard"), launch)
