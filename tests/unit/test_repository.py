"""Nothing secret in the repository: the only credentials are LocalStack's dummy ones."""

import re
import subprocess
from pathlib import Path

from unit_support import not_in_tools_container

pytestmark = not_in_tools_container("it lists the files git tracks, and the image has no git checkout")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "an AWS access key id": re.compile(rb"\b(?:AKIA|ASIA|AROA|AIDA)[0-9A-Z]{16}\b"),
    "a secret access key": re.compile(rb"(?i)secret_?access_?key[\"']?\s*[:=]\s*[\"']?(?!test\b)[A-Za-z0-9/+]{20,}"),
    "a private key": re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a session token": re.compile(rb"(?i)session_?token[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40,}"),
}


def tracked_files() -> list[Path]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    return [PROJECT_ROOT / name.decode() for name in listing.split(b"\0") if name]


def test_the_scan_finds_what_it_looks_for():
    # AWS's documented example keys, assembled here so this file does not hold them.
    planted = (
        b"aws_secret_access_key = "
        + b'"wJalrXUtnFEMI/K7MDENG'
        + b'/bPxRfiCYEXAMPLEKEY"\n'
        + b"AKIA"
        + b"IOSFODNN7EXAMPLE"
    )
    assert {what for what, pattern in SECRETS.items() if pattern.search(planted)} == {
        "an AWS access key id",
        "a secret access key",
    }


def test_no_credentials_but_localstacks_dummy_ones_in_the_repository():
    found = []
    for path in tracked_files():
        if not path.is_file():
            continue
        content = path.read_bytes()
        found += [
            f"{path.relative_to(PROJECT_ROOT)}: {what}" for what, pattern in SECRETS.items() if pattern.search(content)
        ]
    assert found == []


def unquoted_backticks(recipe_line: str) -> bool:
    """Does the shell run a command substitution `...` in this recipe line?

    A backtick outside single quotes and not escaped is one: the Makefile's
    messages name commands in backticks, and one written "`make x`" instead of
    '`make x`' or "\\`make x\\`" runs make x again, inside itself, without end.
    """
    in_single = escaped = False
    for char in recipe_line:
        if escaped:
            escaped = False
        elif char == "\\" and not in_single:
            escaped = True
        elif char == "'":
            in_single = not in_single
        elif char == "`" and not in_single:
            return True
    return False


def test_the_backtick_check_finds_a_command_substitution():
    assert unquoted_backticks('\t@scripts/x require-current "`make test-docker`"')
    assert not unquoted_backticks("\t@scripts/x require-current '`make test-docker`'")
    assert not unquoted_backticks('\t@echo "run \\`make load\\` there"')


def test_no_makefile_recipe_runs_a_command_in_backticks():
    recipes = [line for line in (PROJECT_ROOT / "Makefile").read_text().splitlines() if line.startswith("\t")]
    assert [line.strip() for line in recipes if unquoted_backticks(line)] == []
