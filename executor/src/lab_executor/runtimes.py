"""Which Python runs a function: the version it declares, where the machine has it.

On AWS a function declared ``python3.12`` runs on Python 3.12. The lab runs it
on the interpreter of that version when one was prepared (``make venv`` runs
``scripts/prepare-runtimes``: ``$LAB_RUNTIMES_DIR/python3.12/python``, a link to
the interpreter, and ``site/``, awslambdaric built for it); LocalStack's own
version needs nothing. Otherwise, as in the Docker image, which carries Python
3.13 only, the function runs on LocalStack's Python, and one warning line per
function says so.

Whatever the version, the function imports what Lambda's Python runtime would
let it import: its own code (``/var/task`` on AWS), then the runtime's packages,
which on AWS are boto3 with its dependencies and the runtime interface client
(``/var/lang/lib/python3.x/site-packages`` and ``/var/runtime``:
<https://docs.aws.amazon.com/lambda/latest/dg/python-package.html#python-package-searchpath>),
then the standard library. Never the packages of LocalStack's Python: a handler
that imports a package its zip does not carry fails in the lab as on AWS, with
``Runtime.ImportModuleError``. ``runtime_packages`` builds that folder, links
to the distributions below as LocalStack's Python has them (pinned by the lock).
"""

import importlib.metadata
import logging
import os
import platform
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

LOG = logging.getLogger(__name__)
OWN_RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"
_warned: set[str] = set()
_warned_lock = threading.Lock()
# boto3 and what it imports, as Lambda's Python runtimes include them; the
# runtime interface client and what it imports.
RUNTIME_DISTRIBUTIONS = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
    "awslambdaric",
    "simplejson",
    "snapshot-restore-py",
)
_packages_lock = threading.Lock()


@dataclass(frozen=True)
class Interpreter:
    executable: str
    # Folders the runtime needs before the site-packages of LocalStack's path.
    extra_path: list[str] = field(default_factory=list)


def interpreter_for(runtime: str, function_name: str) -> Interpreter:
    if runtime == OWN_RUNTIME:
        return Interpreter(sys.executable)
    folder = Path(os.environ.get("LAB_RUNTIMES_DIR") or "/nonexistent") / runtime
    if (folder / "python").exists() and (folder / "site").is_dir():
        return Interpreter(str(folder / "python"), [str(folder / "site")])
    with _warned_lock:
        if function_name not in _warned:
            _warned.add(function_name)
            LOG.warning(
                "lab: %s declares %s, but no %s was prepared here (make venv prepares the versions it "
                "finds); it runs on LocalStack's Python %s",
                function_name,
                runtime,
                runtime,
                platform.python_version(),
            )
    return Interpreter(sys.executable)


def _top_level_entries(distribution: importlib.metadata.Distribution) -> set[str]:
    """The names a distribution installs at the top of site-packages (its
    packages, modules and metadata folder), not scripts or bytecode caches."""
    entries = set()
    for entry in distribution.files or []:
        top = entry.parts[0]
        if top not in ("..", "__pycache__") and not top.endswith(".pth"):
            entries.add(top)
    return entries


def runtime_packages(base: Path) -> str:
    """``base/packages``: a folder of links to the runtime's distributions, made
    once (a start of LocalStack empties its temporary files, so it is checked)."""
    folder = base / "packages"
    with _packages_lock:
        if folder.is_dir():
            return str(folder)
        staging = base / f"packages-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        for name in RUNTIME_DISTRIBUTIONS:
            distribution = importlib.metadata.distribution(name)
            for entry in _top_level_entries(distribution):
                target = Path(distribution.locate_file(entry))
                if target.exists():
                    (staging / entry).symlink_to(target)
        staging.rename(folder)  # whole or not at all: a folder half linked is never used
        return str(folder)
