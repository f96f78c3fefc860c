"""The stack's Lambda functions: their code (the zip), settings and
environment, created or updated and waited on until Active."""

from pathlib import Path

from botocore.exceptions import WaiterError

from lab.core import settings
from lab.core.errors import LabError
from lab.core.settings import Stack
from lab.stack.function_zip import build_zip, code_sha256


def function_environment(stack: Stack) -> dict[str, str]:
    return {
        "ORDER_BUCKET": stack.bucket_name,
        "SENDER_EMAIL": stack.sender_email,
        "POWERTOOLS_SERVICE_NAME": stack.function_base,
        # The worker must know whether the mapping reads partial batch responses.
        "PARTIAL_BATCH_RESPONSE": str(stack.report_batch_item_failures).lower(),
        "TIME_MARGIN_MS": str(stack.time_margin_ms),
        "POWERTOOLS_LOGGER_LOG_EVENT": str(stack.log_event).lower(),
        **stack.function_environment,
    }


def function_code(source_dir: Path) -> bytes:
    """The deployment zip: prebuilt when LAB_FUNCTION_ZIPS has one for this folder
    (inside the LocalStack container, where the functions' packages are not installed)."""
    prebuilt = Path(settings.PREBUILT_FUNCTION_ZIPS or ".") / f"{source_dir.name}.zip"
    if settings.PREBUILT_FUNCTION_ZIPS and prebuilt.is_file():
        return prebuilt.read_bytes()
    return build_zip(source_dir)


def ensure_function(
    lambda_, name: str, role_arn: str, source_dir: Path, timeout: int, memory_size: int, environment: dict[str, str]
) -> str:
    zip_bytes = function_code(source_dir)
    configuration = dict(
        Role=role_arn,
        Handler=settings.FUNCTION_HANDLER,
        Runtime=settings.FUNCTION_RUNTIME,
        Timeout=timeout,
        MemorySize=memory_size,
        Environment={"Variables": environment},
    )

    def create() -> str:
        arn = lambda_.create_function(FunctionName=name, Code={"ZipFile": zip_bytes}, **configuration)["FunctionArn"]
        lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
        return arn

    try:
        current = lambda_.get_function_configuration(FunctionName=name)
    except lambda_.exceptions.ResourceNotFoundException:
        return create()
    if current["State"] == "Pending":
        # After a restart, LocalStack restores each function as Pending and starts it
        # again; until it is Active an update fails with InternalError ("cannot be
        # updated if an old one is not running"): `make up` after `make stop` and a
        # change to the worker's code.
        try:
            lambda_.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            )
        except WaiterError:
            pass  # Failed: below
        current = lambda_.get_function_configuration(FunctionName=name)
    if current["State"] == "Failed":
        # One LocalStack could not start again from a saved state. LocalStack 4.14.0 then
        # refuses to update or delete it (it has no running version to replace).
        raise LabError(
            f"LocalStack could not start the function {name} again from the lab's saved state "
            f"({current.get('StateReason') or 'no reason given'}): `make down`, then `make up`, "
            "starts the lab clean"
        )
    if current["CodeSha256"] != code_sha256(zip_bytes):
        lambda_.update_function_code(FunctionName=name, ZipFile=zip_bytes)
        lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
    have = {key: current.get(key) for key in configuration}
    have["Environment"] = {"Variables": current.get("Environment", {}).get("Variables", {})}
    if have != configuration:
        lambda_.update_function_configuration(FunctionName=name, **configuration)
        lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
    lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
    return current["FunctionArn"]


def function_exists(lambda_, name: str) -> bool:
    try:
        lambda_.get_function_configuration(FunctionName=name)
        return True
    except lambda_.exceptions.ResourceNotFoundException:
        return False
