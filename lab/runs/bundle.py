"""`make bundle`: everything a classroom needs offline, in one folder.

Run it once on a machine that is online; copy the folder next to the project on
each student machine (a USB stick will do) and run `make load` there: it installs
with `docker load` and `uv pip install --no-index` (pip if uv cannot), reaching no registry. This
module writes the host-mode part (the wheels); the Makefile adds the lab's
Docker images with ``scripts/lab-in-docker save-images``.
"""

import subprocess
import sys
from pathlib import Path

from lab.core import settings
from lab.core.console import console
from lab.core.errors import LabError

# The Python versions Lambda runs besides the venv's own, as in scripts/prepare-runtimes.
OTHER_RUNTIME_VERSIONS = [
    v for v in ("3.10", "3.11", "3.12", "3.13", "3.14") if v != f"{sys.version_info[0]}.{sys.version_info[1]}"
]
README = """This is the offline bundle of the SQS -> Lambda lab, written by `make bundle`.

  wheels/      every Python package of requirements/lab.lock and test.lock (host mode)
  images.tar   the lab's Docker images: LocalStack with the lab, the tools, the producer
               (Docker mode; absent when the bundle was made without Docker)

On each machine, with this folder in the project as bundle/:  make load  then  make up
Without make (Docker only):  docker load --input bundle/images.tar  then  docker compose up
"""


def run(command: list[str], what: str) -> None:
    with console.status(what):
        result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(f"{what} failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    console.print(f"  [green]✓[/] {what}")


def write_bundle(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    console.print(f"Writing the offline bundle to {target}:")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--dest",
            str(target / "wheels"),
            "--requirement",
            str(settings.PROJECT_ROOT / "requirements" / "lab.lock"),
            # make test offline needs the tools too (make load installs both)
            "--requirement",
            str(settings.PROJECT_ROOT / "requirements" / "test.lock"),
        ],
        "downloading the wheels of requirements/lab.lock and test.lock",
    )
    # awslambdaric for the other Python versions a function may declare
    # (scripts/prepare-runtimes installs it from here when offline).
    for version in OTHER_RUNTIME_VERSIONS:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--dest",
                str(target / "wheels"),
                "--only-binary",
                ":all:",
                "--implementation",
                "cp",
                "--python-version",
                version,
                "--constraint",
                str(settings.PROJECT_ROOT / "requirements" / "lab.lock"),
                "awslambdaric",
            ],
            capture_output=True,
        )
    console.print(f"  [green]✓[/] awslambdaric for Python {', '.join(OTHER_RUNTIME_VERSIONS)} (function runtimes)")
    (target / "README.txt").write_text(README)
