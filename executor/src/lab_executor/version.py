"""The plugins patch private names of LocalStack 4.14.0 (each patch says which):
under any other version they could break in ways no error message explains, so
LocalStack refuses to start with them, in one line."""

import importlib.metadata

SUPPORTED_LOCALSTACK = "4.14.0"


def unsupported_localstack(installed: str | None = None) -> str | None:
    """Why these plugins cannot run with the installed LocalStack, or None when they can."""
    installed = installed or importlib.metadata.version("localstack-core")
    if installed == SUPPORTED_LOCALSTACK:
        return None
    return (
        f"lab: the lab's LocalStack plugins need LocalStack {SUPPORTED_LOCALSTACK} (they patch its private "
        f"code) but this is {installed}: install localstack-core=={SUPPORTED_LOCALSTACK} (`make venv`) or use "
        f"the image localstack/localstack:{SUPPORTED_LOCALSTACK}"
    )
