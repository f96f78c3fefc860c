"""The saved state names S3 object bodies the same way in every process (issue
25: Python's randomised string hash filed them under keys a restarted LocalStack
never looked up), and nothing outside the lab's settings decides what Compose
sees as the lab's configuration."""

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from lab.runs import dockermode
from lab_executor import outside_stores

ROOT = Path(__file__).resolve().parents[2]
KEY_IN_A_NEW_PROCESS = (
    "from types import SimpleNamespace; from lab_executor.outside_stores import _stable_storage_key; "
    "print(_stable_storage_key(SimpleNamespace(key='orders/1.json', version_id=None)))"
)


def test_a_body_s_key_is_the_same_in_every_process_and_names_one_object_version():
    keys = {
        subprocess.run(
            [sys.executable, "-c", KEY_IN_A_NEW_PROCESS],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(keys) == 1
    (key,) = keys
    assert len(key) == outside_stores.STABLE_KEY_LENGTH
    others = {
        outside_stores._stable_storage_key(SimpleNamespace(key=k, version_id=v))
        for k, v in (("orders/2.json", None), ("orders/1.json", "v2"), ("orders/1.json?null", None))
    }
    assert key not in others and len(others) == 3


def test_localstack_s_s3_files_bodies_under_the_stable_key_once_the_hook_ran():
    from localstack.services.s3.storage.ephemeral import EphemeralS3ObjectStore

    outside_stores.use_stable_s3_keys()
    obj = SimpleNamespace(key="a", version_id=None)
    assert EphemeralS3ObjectStore._key_from_s3_object(obj) == outside_stores._stable_storage_key(obj)


def test_the_hook_is_registered_as_an_entry_point():
    assert (
        'lab_stable_s3_keys = "lab_executor.plugins:lab_stable_s3_keys"'
        in (ROOT / "executor" / "pyproject.toml").read_text()
    )


def test_neither_way_in_adds_a_lab_setting_that_a_docker_compose_typed_by_hand_lacks():
    """A setting exported by make and not by a student's own `docker compose ...`
    recreated LocalStack's container (with the lab's state) under the student."""
    exported = re.findall(r"^export (.*)$", (ROOT / "scripts" / "lab-in-docker").read_text(), re.MULTILINE)
    assert exported and not [name for line in exported for name in line.split() if name.startswith("LAB_")]
    added = set(dockermode.compose_environment()) - set(os.environ)
    # A build argument is outside the configuration Compose compares.
    assert {name for name in added if name.startswith("LAB_")} <= {"LAB_LOCALSTACK_IMAGE"}
