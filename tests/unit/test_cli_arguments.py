"""`lab test -- <pytest arguments>`: named tests run alone; options alone run both
tiers. A marker's name is never taken for a folder of that name."""

from lab.cli.testing import names_tests
from lab.core import settings


def test_a_marker_named_like_a_folder_names_no_tests(monkeypatch):
    monkeypatch.chdir(settings.PROJECT_ROOT)
    assert (settings.PROJECT_ROOT / "exercises").is_dir()
    assert not names_tests(["-m", "exercises"])
    assert not names_tests(["-m", "soak", "-n", "0"])
    assert names_tests(["-m", "exercises", "tests/integration/test_exercises.py"])
    assert names_tests(
        ["tests/integration/test_iac.py::test_the_template_s_defaults_deploy_the_stack_make_up_provisions"]
    )


def test_a_command_on_the_lab_stack_gets_the_stack_then_its_fixed_then_its_named_arguments(monkeypatch):
    """`make pause` is set_mapping(stack, False); `make dashboard` serve(stack, port)."""
    from lab import __main__ as cli

    monkeypatch.setattr(cli.aws, "lab_stack", lambda: "the stack")
    seen = []
    run = cli.on_the_lab_stack(lambda *arguments: seen.append(arguments) or 7, False, given=("port",))
    assert run(cli.parser().parse_args(["dashboard", "--port", "8051"])) is None  # its result is no exit code
    assert seen == [("the stack", False, 8051)]
    as_role = cli.on_the_lab_stack(lambda *arguments: 4, given=("role", "awscli_args"), exit_code=True)
    assert as_role(cli.parser().parse_args(["as", "producer", "sqs", "list-queues"])) == 4


def test_every_command_of_the_table_parses_and_names_what_it_runs():
    from lab import __main__ as cli

    names = [command.name for command in cli.COMMANDS]
    assert len(names) == len(set(names))
    for command in cli.COMMANDS:
        assert command.help and callable(command.run), command.name
    assert cli.parser().parse_args(["logs", "--no-follow"]).follow is False
    assert cli.parser().parse_args(["status", "--once"]).once is True
