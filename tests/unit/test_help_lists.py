"""What `make help` lists cannot drift from what the lab has."""

import re

from lab.core import settings
from lab.teach import scenarios


def test_make_help_names_every_scenario():
    makefile = (settings.PROJECT_ROOT / "Makefile").read_text()
    named = re.search(r"^scenario:.*NAME=([a-z|-]+)$", makefile, re.MULTILINE)
    assert named, "the scenario target's help line names the scenarios"
    assert named[1].split("|") == list(scenarios.SCENARIOS)
