"""The lab's console: everything its commands print goes through this one."""

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)


def duration(seconds: int) -> str:
    """60 -> "60 s", 345600 -> "4 days": how AWS's console shows a retention period."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0 and seconds > 60:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{seconds} s"
