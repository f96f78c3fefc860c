"""The lab guide beside the live flow: docs/LAB.md, step by step, for the dashboard.

The page shows the same file the guide's test runs, so what it shows stays
true. A step that changes the lab names a check under its heading,
``<!-- dashboard: done when NAME -->``; the check is a condition on what the
dashboard's sampler reads from the running lab (Facts), and once it has held
the step shows done. Each check also names the parts of the flow picture its
step is about, which the page highlights.
"""

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from markdown_it import MarkdownIt

from lab.core import settings

GUIDE_FILE = settings.PROJECT_ROOT / "docs" / "LAB.md"
STEP_HEADING = re.compile(r"^## (?P<number>\d+)\. (?P<title>.+)$")
CHECK_MARKER = re.compile(r"^<!-- dashboard: done when (?P<name>[a-z0-9-]+) -->$")
BACKLOG = 20  # orders waiting at once, while the mapping runs, that make a backlog


@dataclass(frozen=True)
class Facts:
    """What the sampler read from the lab: now, and counted since the dashboard started."""

    mapping_state: str  # Enabled, Disabled, ... or "none"
    batch_size: int | None
    visible: int
    in_flight: int
    dlq: int
    stored: int  # orders stored since the dashboard started
    denied: int  # requests IAM denied since the dashboard started
    timeouts: int  # invocations that ran past the function timeout
    redelivered: int  # deliveries of a message received before (receive count 2 or more)
    redrives: int  # DLQ redrives (message move tasks) that completed
    retention_seconds: int
    fifo: bool


@dataclass(frozen=True)
class Check:
    what: str  # what the page says is awaited, then done
    holds: Callable[[Facts], bool]
    focus: tuple[str, ...]  # the flow picture's parts (data-part) the step is about


CHECKS: dict[str, Check] = {
    "lab-up": Check(
        "the queue, the DLQ, the function and the mapping are there",
        lambda f: f.mapping_state != "none",
        ("queue", "mapping", "function", "dlq"),
    ),
    "orders-wait": Check(
        "orders wait in the queue while the mapping is Disabled",
        lambda f: f.mapping_state == "Disabled" and f.visible > 0,
        ("producer", "queue"),
    ),
    "queue-drained": Check(
        "the mapping is Enabled, the queue is empty and orders were stored",
        lambda f: f.mapping_state == "Enabled" and f.visible == f.in_flight == 0 and f.stored > 0,
        ("mapping", "function", "store", "email"),
    ),
    "timed-out": Check(
        "an invocation ran past the function timeout, and its message stayed in flight",
        lambda f: f.timeouts > 0,
        ("queue", "function"),
    ),
    "redelivered": Check(
        "a message came back after its visibility timeout (a delivery with receive count 2 or more)",
        lambda f: f.redelivered > 0,
        ("queue", "function", "failed"),
    ),
    "in-dlq": Check(
        "a message is in the dead-letter queue",
        lambda f: f.dlq > 0,
        ("dlq", "to-dlq"),
    ),
    "redriven": Check(
        "a redrive from the DLQ back to the queue completed",
        lambda f: f.redrives > 0,
        ("dlq", "queue"),
    ),
    "backlog": Check(
        f"at least {BACKLOG} orders waited in the queue while the mapping ran",
        lambda f: f.mapping_state == "Enabled" and f.visible >= BACKLOG,
        ("producer", "queue"),
    ),
    "denied": Check(
        "IAM denied a request of one of the lab's roles",
        lambda f: f.denied > 0,
        ("producer", "function"),
    ),
    "batch-of-one": Check(
        "the mapping takes batches of 1",
        lambda f: f.batch_size == 1,
        ("mapping", "function"),
    ),
    "short-retention": Check(
        "the queue keeps a message 60 seconds or less",
        lambda f: f.retention_seconds <= 60,
        ("queue",),
    ),
    "fifo": Check(
        "the lab runs a FIFO queue",
        lambda f: f.fifo,
        ("queue", "mapping"),
    ),
}


def _console_block(text: str) -> str:
    """A ```console block: each command copyable, the output a student should see under it."""
    parts, command, shown = [], None, []

    def flush() -> None:
        if command is not None:
            output = f'<pre class="expected">{html.escape(chr(10).join(shown))}</pre>' if shown else ""
            parts.append(
                f'<div class="command"><code>$ {html.escape(command)}</code>'
                f'<button type="button" class="copy" data-command="{html.escape(command, quote=True)}" '
                f'aria-label="copy the command">copy</button></div>{output}'
            )

    for line in text.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            flush()
            command, shown = line[2:], []
        else:
            shown.append(line)
    flush()
    return f'<div class="console">{"".join(parts)}</div>'


def _renderer() -> MarkdownIt:
    markdown = MarkdownIt("commonmark", {"html": True}).enable("table")
    default_fence = markdown.renderer.rules["fence"]

    def fence(renderer, tokens, index, options, env):
        token = tokens[index]
        if token.info.strip() == "console":
            return _console_block(token.content)
        return default_fence(tokens, index, options, env)

    markdown.add_render_rule("fence", fence)
    return markdown


def steps(text: str | None = None) -> list[dict]:
    """The guide's numbered steps: number, title, check (or None), and the step's HTML."""
    text = GUIDE_FILE.read_text() if text is None else text
    found: list[dict] = []
    lines: list[str] = []
    for line in text.splitlines() + ["## end"]:
        if line.startswith("## "):
            if found and lines is not None:
                found[-1]["markdown"] = "\n".join(lines)
            heading = STEP_HEADING.match(line)
            lines = [] if heading else None
            if heading:
                found.append({"number": int(heading["number"]), "title": heading["title"], "check": None})
            continue
        if lines is None:
            continue
        if marker := CHECK_MARKER.match(line.strip()):
            found[-1]["check"] = marker["name"]
        lines.append(line)
    markdown = _renderer()
    for step in found:
        step["html"] = markdown.render(step.pop("markdown"))
        check = CHECKS.get(step["check"]) if step["check"] else None
        if step["check"] and check is None:
            raise ValueError(f"docs/LAB.md step {step['number']}: no dashboard check named {step['check']!r}")
        step["check"] = check and {"name": step["check"], "what": check.what, "focus": list(check.focus)}
    return found


class Progress:
    """Which checks have held since the dashboard started: a step stays done."""

    def __init__(self) -> None:
        self.done: dict[str, float] = {}  # check name -> the sample time it first held

    def update(self, facts: Facts, taken_s: float) -> None:
        for name, check in CHECKS.items():
            if name not in self.done and check.holds(facts):
                self.done[name] = taken_s
