"""The lab-* AWS CLI profiles `make up` writes: one per role, each getting its
credentials from `python -m lab credentials <role>`, in a marked block that a
second `make up` replaces and that leaves the rest of the file as it was."""

import configparser
import shlex

from lab.core import settings
from lab.core.settings import Stack
from lab.stack import profiles
from lab.stack.operations import ROLES

SOMEONE_ELSES = "# my own settings\n[default]\nregion = eu-west-1\n\n[profile work]\nregion = eu-central-1\n"


def test_a_profile_per_role_that_asks_the_lab_for_the_role_s_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    written = configparser.ConfigParser()
    written.read(profiles.write(Stack()))
    assert set(written.sections()) == {f"profile lab-{role}" for role in ROLES}
    producer = written["profile lab-producer"]
    command = shlex.split(producer["credential_process"])
    assert command[1:5] == ["-m", "lab", "credentials", "producer"] and command[-1] == settings.STUDENT_ENDPOINT_URL
    assert (producer["region"], producer["endpoint_url"]) == (settings.REGION, settings.STUDENT_ENDPOINT_URL)


def test_writing_again_replaces_the_lab_s_block_and_keeps_the_rest(tmp_path, monkeypatch):
    config = tmp_path / "config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    config.write_text(SOMEONE_ELSES)
    profiles.write(Stack())
    once = config.read_text()
    profiles.write(Stack())
    assert config.read_text() == once and once.startswith(SOMEONE_ELSES.rstrip("\n"))
    assert once.count(profiles.BEGIN) == 1 and once.count("[profile lab-producer]") == 1
    config.write_text(once + "\n[profile after]\nregion = us-west-2\n")  # the student adds one after ours
    profiles.write(Stack())
    parsed = configparser.ConfigParser()
    parsed.read(config)
    assert {"default", "profile work", "profile after", "profile lab-producer"} <= set(parsed.sections())


def test_an_unknown_role_is_one_line_on_stderr(capsys):
    assert profiles.credentials("admin", None) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no role 'admin'" in captured.err
