"""The lab's console: everything its commands print goes through this one
(errors of a hook whose stdout is a log go through its stderr twin)."""

from collections.abc import Callable

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)

# A long operation's progress: called with each finished step, and with
# waiting=True before each wait (provisioning reports through one).
Report = Callable[..., None]


def step(message: str, waiting: bool = False) -> None:
    """A step of a long operation, as `make up` shows it."""
    console.print(f"  {'[dim]...[/]' if waiting else '[green]✓[/]'} {message}")


def quiet(_message: str, waiting: bool = False) -> None:
    """A Report that says nothing (tests and scenarios provision quietly)."""


def duration(seconds: int) -> str:
    """60 -> "60 s", 345600 -> "4 days": how AWS's console shows a retention period."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0 and seconds > 60:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{seconds} s"
