"""A lab that was not provisioned must not look healthy.

LocalStack runs the scripts of ``/etc/localstack/init/ready.d`` once it is
ready (the lab's image has the one that provisions the lab). When a script
fails, LocalStack logs it and carries on, and its ``/_localstack/init/ready``
still answers ``"completed": true``: the container would turn healthy and the
producer would start against a lab with no queue. So, where the lab's image
asks for it (``LAB_STOP_WHEN_NOT_PROVISIONED=1``), a failed ready script stops
LocalStack with exit code 1: the container exits, ``docker compose up --wait``
fails, and nothing that depends on a healthy LocalStack starts. The script's
own last line in the log says why.
"""

import logging
import os

from localstack.runtime.current import get_current_runtime
from localstack.runtime.init import Stage, State, init_script_manager

LOG = logging.getLogger(__name__)
EXIT_NOT_PROVISIONED = 1


def failed_ready_scripts() -> list[str]:
    return [script.path for script in init_script_manager().scripts.get(Stage.READY, []) if script.state == State.ERROR]


def stop_if_not_provisioned() -> None:
    if os.environ.get("LAB_STOP_WHEN_NOT_PROVISIONED") != "1":
        return
    if failed := failed_ready_scripts():
        LOG.error(
            "lab: %s failed (its error is logged above), so the lab is not provisioned: "
            "LocalStack stops (exit code %d)",
            ", ".join(failed),
            EXIT_NOT_PROVISIONED,
        )
        get_current_runtime().exit(EXIT_NOT_PROVISIONED)
