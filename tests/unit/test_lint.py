"""The code passes ruff, lint and format, with the rules in pyproject.toml: so that
a change is read for what it does, not for its spacing."""

import subprocess
import sys

import pytest

from unit_support import PROJECT_ROOT


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_the_code_passes_ruff(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, (
        f"ruff {' '.join(command)} found what to change (`ruff check --fix .` and `ruff format .`, "
        f"from .venv/bin, fix most of it):\n{result.stdout}{result.stderr}"
    )
