"""AWS CLI profiles for the lab's roles, written by `make up`:
`awslocal --profile lab-producer sqs receive-message ...` is denied as the
producer's role would be on AWS.

Each profile gets its credentials from STS AssumeRole through the AWS CLI's
`credential_process` (https://docs.aws.amazon.com/cli/v1/userguide/cli-configure-sourcing-external.html):
the command `python -m lab credentials <role>` of this project's venv asks
LocalStack for fresh ones at each use, so they never go stale, also after
`make down`. The profiles live between two marker lines in the AWS CLI's config
file (AWS_CONFIG_FILE, else ~/.aws/config); `make up` rewrites that block only.
"""

import json
import os
import re
import shlex
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from lab.core import aws, settings
from lab.core.console import console, error_console
from lab.core.settings import Stack

BEGIN, END = "# >>> sqs-lambda-lab profiles (written by make up) >>>", "# <<< sqs-lambda-lab profiles <<<"
BLOCK = re.compile(rf"\n*{re.escape(BEGIN)}.*?{re.escape(END)}\n?", re.DOTALL)
SESSION_NAME = "student"  # as `make as` names it: the same denial message


def config_file() -> Path:
    return Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()


def role_names(stack: Stack) -> dict[str, str]:
    from lab.stack.operations import ROLES

    return {role: getattr(stack, attribute) for role, attribute in ROLES.items()}


def block(stack: Stack) -> str:
    sections = []
    for role in role_names(stack):
        command = [sys.executable, "-m", "lab", "credentials", role, "--endpoint-url", settings.STUDENT_ENDPOINT_URL]
        sections.append(
            f"[profile lab-{role}]\n"
            f"credential_process = {shlex.join(command)}\n"
            f"region = {settings.REGION}\n"
            f"endpoint_url = {settings.STUDENT_ENDPOINT_URL}\n"
        )
    return f"{BEGIN}\n" + "\n".join(sections) + f"{END}\n"


def write(stack: Stack) -> Path:
    """Put the lab's profiles in the AWS CLI's config file, keeping everything else in it."""
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.read_text() if path.exists() else ""
    kept = BLOCK.sub("\n", before).rstrip("\n")
    path.write_text((kept + "\n\n" if kept else "") + block(stack))
    return path


def credentials(role: str, endpoint_url: str | None) -> int:
    """Print what `credential_process` reads: the role's temporary credentials.
    Its stdout is the CLI's, so an error is one line on stderr, which the CLI shows."""
    names = role_names(Stack())
    if role not in names:
        error_console.print(f"lab credentials: no role {role!r}: one of {', '.join(names)}", markup=False)
        return 2
    try:
        issued = aws.role_credentials(names[role], SESSION_NAME, endpoint_url)
    except (BotoCoreError, ClientError) as error:
        error_console.print(
            f"lab credentials: no credentials for {names[role]} from {endpoint_url or settings.ENDPOINT_URL}: "
            f"{error} (is the lab up? make up)",
            markup=False,
        )
        return 1
    document = {
        "Version": 1,
        "AccessKeyId": issued["AccessKeyId"],
        "SecretAccessKey": issued["SecretAccessKey"],
        "SessionToken": issued["SessionToken"],
        "Expiration": issued["Expiration"].isoformat(),
    }
    console.out(json.dumps(document), highlight=False)  # the CLI reads it as it is
    return 0
