"""The classic mistakes, each shown and then fixed: `make scenario NAME=<name>`.

Every scenario builds stacks of its own (named `scn-…`, removed at the end),
makes the mistake, observes its effect, applies the fix and observes again.
It returns what it observed, which the tests check. A new one: a function in
the module of its kind, and an entry in SCENARIOS (docs/DEVELOPING.md).
"""

from collections.abc import Callable

from lab.core import aws
from lab.core.console import console
from lab.teach.scenarios.delivery import exactly_once, forgot_delete, heavy_work, no_dlq, short_visibility
from lab.teach.scenarios.deploys import missing_permission, unpackaged_import
from lab.teach.scenarios.pressure import no_queue, scaling

SCENARIOS: dict[str, tuple[str, Callable[[], dict]]] = {
    "short-visibility": ("a visibility timeout shorter than the work", short_visibility),
    "no-dlq": ("no dead-letter queue", no_dlq),
    "exactly-once": ("assuming exactly-once delivery", exactly_once),
    "heavy-work": ("heavy work in the function", heavy_work),
    "forgot-delete": ("a consumer that forgets to delete", forgot_delete),
    "scaling": ("one load at three MaximumConcurrency settings", scaling),
    "missing-permission": ("least privilege that bites: what a role may not do is denied", missing_permission),
    "no-queue": ("the same POST through an API wired straight to its consumer, then through a queue", no_queue),
    "unpackaged-import": ("a package the function imports and its zip does not carry", unpackaged_import),
}


def run(name: str) -> dict:
    aws.require_up()
    if name not in SCENARIOS:
        raise KeyError(name)
    title, scenario = SCENARIOS[name]
    console.print(f"[bold]Scenario {name}: {title}[/]")
    return scenario()
