"""The lab's commands inside the tools container (docker-compose.yml's ``tools``
service, which the Makefile uses when this machine has no Python 3.12).

There, docker compose runs LocalStack and the dashboard from outside
(``scripts/lab-in-docker``): this side only uses them, and never starts or
stops anything.
"""

from lab.core import aws, settings
from lab.core.console import console

NAME = "tools"  # LAB_MODE's word for it


def start(snapshots: bool = True) -> bool:  # LocalStack runs already (see above)
    aws.require_up()
    console.print(f"LocalStack {settings.LOCALSTACK_VERSION} is up in Docker at {settings.STUDENT_ENDPOINT_URL}.")
    return False


def stop() -> bool:
    return False


def start_dashboard() -> None:
    console.print(f"Dashboard: http://{settings.HOST}:{settings.DASHBOARD_PORT}/ (its own container)")
