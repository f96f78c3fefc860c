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
