"""`make bundle`: everything a classroom needs offline, in one folder.

Run it once on a machine that is online; copy the folder next to the project on
each student machine (a USB stick will do) and run `make load` there: it installs
with `docker load` and `pip install --no-index`, reaching no registry.
"""

import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from lab import dockermode, settings
from lab.hostmode import LifecycleError

console = Console(highlight=False, soft_wrap=True)
PRODUCER_IMAGE = "sqs-lambda-lab-producer:latest"
README = """This is the offline bundle of the SQS -> Lambda lab, written by `make bundle`.

  wheels/               every Python package of requirements/host.lock (and the build backend)
  localstack-plugins/   the lab's LocalStack plugins for the container (Docker mode)
  order_worker.zip      the worker function, built
  images.tar            the LocalStack and producer images (Docker mode; absent when made without Docker)

On each machine, with this folder in the project as bundle/:  make load  then  make up
"""


def run(command: list[str], what: str) -> None:
    with console.status(what):
        result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise LifecycleError(f"{what} failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    console.print(f"  [green]✓[/] {what}")


def write_bundle(target: Path) -> None:
    from init.function_zip import build_zip

    target.mkdir(parents=True, exist_ok=True)
    console.print(f"Writing the offline bundle to {target}:")
    run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(target / "wheels"),
         "--requirement", str(settings.PROJECT_ROOT / "requirements" / "host.lock")],
        "downloading the wheels of requirements/host.lock (about 150 MB)",
    )
    dockermode.install_plugins()
    shutil.copytree(settings.CONTAINER_PLUGINS_DIR, target / "localstack-plugins", dirs_exist_ok=True)
    console.print("  [green]✓[/] the lab's LocalStack plugins for the container")
    (target / "order_worker.zip").write_bytes(build_zip(settings.FUNCTION_SOURCE_DIR))
    console.print("  [green]✓[/] the worker function's zip")
    if dockermode.engine_answers():
        image = settings.LOCALSTACK_IMAGE
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
            run(["docker", "pull", image], f"pulling {image}")
        dockermode.write_env_file()
        result = dockermode.compose("build", "producer", capture=True)
        if result.returncode != 0:
            raise LifecycleError(f"building the producer image failed: {result.stderr.strip()[-300:]}")
        console.print(f"  [green]✓[/] built {PRODUCER_IMAGE}")
        run(["docker", "save", "--output", str(target / "images.tar"), image, PRODUCER_IMAGE],
            "saving the images (about 1 GB)")
    else:
        console.print("  [yellow]-[/] no Docker engine answers: the bundle has no images (host mode only)")
    (target / "README.txt").write_text(README)
    console.print(f"Done. Copy {target} into the project on each machine as bundle/ and run `make load`.")
