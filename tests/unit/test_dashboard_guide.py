"""The guide the dashboard shows beside the flow (lab/watch/guide.py): docs/LAB.md
a step at a time, each command copyable, and the checks that mark a step done,
judged on facts as the sampler reads them."""

import dataclasses
import html
import re

import pytest

from lab.core import settings
from lab.watch import guide

STATIC = settings.PROJECT_ROOT / "dashboard" / "static"

# A lab just started: the mapping running, nothing sent, nothing counted yet.
FRESH = guide.Facts(
    mapping_state="Enabled",
    batch_size=10,
    visible=0,
    in_flight=0,
    dlq=0,
    stored=0,
    denied=0,
    timeouts=0,
    redelivered=0,
    redrives=0,
    retention_seconds=345_600,
    fifo=False,
)
# What the student's step changes, for each check: the check holds on it, and not on FRESH.
DOING_THE_STEP = {
    "lab-up": None,  # holds as soon as the lab is there
    "orders-wait": dict(mapping_state="Disabled", visible=3),
    "queue-drained": dict(stored=3),
    "timed-out": dict(timeouts=1),
    "redelivered": dict(redelivered=1),
    "in-dlq": dict(dlq=1),
    "redriven": dict(redrives=1),
    "backlog": dict(visible=guide.BACKLOG),
    "denied": dict(denied=1),
    "batch-of-one": dict(batch_size=1),
    "short-retention": dict(retention_seconds=60),
    "fifo": dict(fifo=True),
}


def test_every_check_is_described_here():
    assert set(DOING_THE_STEP) == set(guide.CHECKS)


@pytest.mark.parametrize("name", [name for name, change in DOING_THE_STEP.items() if change])
def test_a_check_holds_once_the_step_is_done_and_not_before(name):
    check = guide.CHECKS[name]
    assert not check.holds(FRESH)
    assert check.holds(dataclasses.replace(FRESH, **DOING_THE_STEP[name]))


def test_no_lab_no_check_holds():
    gone = dataclasses.replace(FRESH, mapping_state="none")
    assert [name for name, check in guide.CHECKS.items() if check.holds(gone)] == []


def test_orders_waiting_while_the_mapping_runs_are_not_step_one():
    assert not guide.CHECKS["orders-wait"].holds(dataclasses.replace(FRESH, visible=3))
    assert not guide.CHECKS["queue-drained"].holds(dataclasses.replace(FRESH, stored=3, visible=1))


def test_a_step_stays_done_once_its_check_held():
    progress = guide.Progress()
    progress.update(dataclasses.replace(FRESH, dlq=1), 100.0)
    progress.update(FRESH, 101.0)  # the DLQ redriven: step 5 was still done
    assert progress.done == {"lab-up": 100.0, "in-dlq": 100.0}


def test_the_guide_is_every_numbered_step_of_docs_lab_md():
    steps = guide.steps()
    headings = re.findall(r"^## (\d+)\. (.+)$", guide.GUIDE_FILE.read_text(), re.MULTILINE)
    assert [(str(s["number"]), s["title"]) for s in steps] == headings
    assert [s["number"] for s in steps] == list(range(len(steps)))


def test_every_check_is_named_by_a_step_and_each_step_names_a_known_one():
    named = [s["check"]["name"] for s in guide.steps() if s["check"]]
    assert sorted(named) == sorted(guide.CHECKS)  # each once: no check without its step
    for step in guide.steps():
        if step["check"]:
            assert step["check"]["what"] == guide.CHECKS[step["check"]["name"]].what


def test_an_unknown_check_is_named_with_its_step():
    with pytest.raises(ValueError, match="step 3: no dashboard check named 'nonsense'"):
        guide.steps("## 3. A step\n\n<!-- dashboard: done when nonsense -->\n")


def test_every_command_in_the_guide_is_copyable_as_it_is_written():
    blocks = re.findall(r"```console\n(.*?)```", guide.GUIDE_FILE.read_text(), re.DOTALL)
    in_guide = [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]
    copyable = re.findall(r'<button type="button" class="copy" data-command="([^"]*)"', guide_html())
    assert [html.unescape(command) for command in copyable] == in_guide
    assert len(in_guide) > 40


def guide_html() -> str:
    return "".join(step["html"] for step in guide.steps())


def test_the_page_asks_nothing_of_any_host_but_its_own():
    """Offline in a classroom: no CDN, no font, no image from elsewhere. Links to
    AWS's pages are links, followed only when a student clicks."""
    remote = re.compile(r"""(?:src=|url\(|fetch\(|import\s)\s*["']?(?:https?:)?//""", re.IGNORECASE)
    for path in [*STATIC.glob("*.*"), *STATIC.glob("vendor/*.css")]:
        assert not remote.search(path.read_text()), path.name
    assert not remote.search(guide_html())
    assert "<img" not in guide_html()
