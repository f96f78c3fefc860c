"""The lab's console: everything its commands print goes through this one."""

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
