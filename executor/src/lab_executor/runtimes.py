"""Which Python runs a function: the version it declares, where the machine has it.

On AWS a function declared ``python3.12`` runs on Python 3.12. The lab runs it
on the interpreter of that version when one was prepared (``make venv`` runs
``scripts/prepare-runtimes``: ``$LAB_RUNTIMES_DIR/python3.12/python``, a link to
the interpreter, and ``site/``, awslambdaric built for it); LocalStack's own
version needs nothing. Otherwise, as in the Docker image, which carries Python
3.13 only, the function runs on LocalStack's Python, and one warning line per
function says so.
"""

import logging
import os
import platform
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

LOG = logging.getLogger(__name__)
OWN_RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"
_warned: set[str] = set()
_warned_lock = threading.Lock()


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
            LOG.warning("lab: %s declares %s, but no %s was prepared here (make venv prepares the versions it "
                        "finds); it runs on LocalStack's Python %s", function_name, runtime, runtime,
                        platform.python_version())
    return Interpreter(sys.executable)
