"""scripts/find-python: finds Python >= 3.12 or says what to do in one line."""

import os
import subprocess
from pathlib import Path

import pytest

from unit_support import not_in_tools_container

pytestmark = not_in_tools_container(
    "it checks the host's Pythons, and the tools container is the answer to having none"
)
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "find-python"
# The script also looks at these fixed paths; the test of "none found" needs them absent.
FIXED_CANDIDATES = [f"{d}/python3.{m}" for d in ("/usr/local/bin", "/usr/bin") for m in (12, 13)]


def run(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def old_python_only(tmp_path: Path) -> dict:
    """An environment whose only Python is 3.11 (or none at all)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python3", "python3.11"):
        if os.path.exists("/usr/bin/python3.11"):
            (bin_dir / name).symlink_to("/usr/bin/python3.11")
    return {"PATH": f"{bin_dir}:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "no-pyenv")}


def test_finds_a_python_of_at_least_3_12():
    result = run(dict(os.environ))
    assert result.returncode == 0, result.stderr
    version = subprocess.run(
        [result.stdout.strip(), "-c", "import sys; print(sys.version_info[:2] >= (3, 12))"],
        capture_output=True,
        text=True,
    )
    assert version.stdout.strip() == "True"


def test_no_suitable_python_gets_one_clear_line(tmp_path):
    if any(os.path.exists(path) for path in FIXED_CANDIDATES):
        pytest.skip("this machine has a system Python >= 3.12 at a fixed path")
    result = run(old_python_only(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("No Python 3.12 or newer found")
    assert "LAB_PYTHON" in lines[0]


def test_a_wrong_lab_python_is_named(tmp_path):
    result = run({**old_python_only(tmp_path), "LAB_PYTHON": "/usr/bin/python3.11"})
    assert result.returncode == 1
    assert "LAB_PYTHON=/usr/bin/python3.11 is not a working Python 3.12 or newer" in result.stderr
