"""The one error type of the lab's commands: ``lab`` prints it as one line that
says what to do, and exits with its code (never a traceback). A subclass is
made only where a caller catches it by type (Refused and the settings' error,
which the exercises turn into a criterion; the zip's, which its command prints)."""


class LabError(Exception):
    """Something the user can act on failed; the message says what to do."""

    exit_code = 3
    label = ""


class Refused(LabError, ValueError):
    """The lab refuses what was asked (a setting AWS would refuse, a bad value): nothing changed."""

    exit_code = 2
    label = "refused: "
