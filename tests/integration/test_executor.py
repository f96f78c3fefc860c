"""The lab's local Lambda executor: context, timeout, crashes, logs, reuse, refusal.

The probe function (tests/functions/executor_probe) does what its event asks.
"""

import base64
import contextlib
import importlib.metadata
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from helpers import LOG_NOT_READABLE, localstack_warnings, log_lines, unique_suffix, wait_for
from lab.core import aws, settings
from lab.stack.function_zip import build_zip
from lab.stack.policies import LAMBDA_TRUST_POLICY
from lab.teach.scenarios import deploys

PROBE_SOURCE = Path(__file__).parent / "functions" / "executor_probe"
PROBE_TIMEOUT_SECONDS = 2
PROBE_MEMORY_MB = 192
LOGS_TIMEOUT_SECONDS = 20


@contextlib.contextmanager
def deployed_probe(
    runtime: str = settings.FUNCTION_RUNTIME,
    code: bytes | None = None,
    timeout: int = PROBE_TIMEOUT_SECONDS,
    memory: int = PROBE_MEMORY_MB,
    variables: dict | None = None,
):
    """A probe function declaring this runtime (or other code), deployed for the duration; gives its name."""
    lambda_, iam = aws.client("lambda"), aws.client("iam")
    name = f"executor-probe-{unique_suffix()}"
    role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY))["Role"]["Arn"]
    # Lambda ships a function's logs with its role's credentials: without this,
    # as on AWS, its logs would be denied and never arrive.
    log_group = f"arn:aws:logs:{settings.REGION}:{settings.ACCOUNT_ID}:log-group:/aws/lambda/{name}"
    iam.put_role_policy(
        RoleName=name,
        PolicyName="write-own-logs",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": [log_group, f"{log_group}:*"],
                    }
                ],
            }
        ),
    )
    lambda_.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code or build_zip(PROBE_SOURCE)},
        Timeout=timeout,
        MemorySize=memory,
        Environment={"Variables": variables or {}},
    )
    lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
    try:
        yield name
    finally:
        lambda_.delete_function(FunctionName=name)
        iam.delete_role_policy(RoleName=name, PolicyName="write-own-logs")
        iam.delete_role(RoleName=name)


@pytest.fixture(scope="module")
def probe(localstack):
    """A deployed probe function; yields its name."""
    with deployed_probe() as name:
        yield name


def invoke(name: str, event: dict) -> tuple[dict, dict]:
    """(response, decoded payload) of a synchronous invocation."""
    response = aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail")
    payload = json.loads(response["Payload"].read() or b"null")
    return response, payload


def test_context_object_is_the_real_one(probe):
    response, context = invoke(probe, {"action": "context"})
    assert "FunctionError" not in response
    uuid.UUID(context["aws_request_id"])  # a real request id
    assert context["function_name"] == probe
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:{settings.REGION}:{settings.ACCOUNT_ID}:function:{probe}"
    assert context["memory_limit_in_mb"] == PROBE_MEMORY_MB
    assert context["log_group_name"] == f"/aws/lambda/{probe}"
    assert context["log_stream_name"].startswith(tuple("0123456789"))  # YYYY/MM/DD/[$LATEST]id
    assert "[$LATEST]" in context["log_stream_name"]
    assert 0 < context["remaining_time_in_millis"] <= PROBE_TIMEOUT_SECONDS * 1000
    assert context["task_root"] == context["cwd"]


def test_warm_environment_is_reused(probe):
    _, first = invoke(probe, {"action": "context"})
    _, second = invoke(probe, {"action": "context"})
    assert second["pid"] == first["pid"]
    assert second["invocations_in_this_process"] == first["invocations_in_this_process"] + 1


def test_timeout_ends_the_invocation_as_an_error_and_replaces_the_runtime(probe):
    _, before = invoke(probe, {"action": "context"})
    response, error = invoke(probe, {"action": "sleep", "seconds": PROBE_TIMEOUT_SECONDS + 5})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert f"Task timed out after {PROBE_TIMEOUT_SECONDS:.2f} seconds" in error["errorMessage"]
    log_tail = base64.b64decode(response["LogResult"]).decode()
    assert "Status: timeout" in log_tail

    # The replacement runtime starts with the next invocation, and its start
    # counts against that invocation's timeout, as a reset environment's
    # initialization does on AWS: on a busy machine a start can outlast this
    # probe's 2 s, and that invocation times out too. Wait for one that answers.
    answers = []

    def answered():
        response, payload = invoke(probe, {"action": "context"})
        answers.append(payload)
        return "FunctionError" not in response and payload

    after = wait_for(answered, 60, "an invocation answered by a new runtime", describe=lambda: answers[-3:])
    assert after["pid"] != before["pid"], "a timed-out runtime must be replaced"
    assert after["invocations_in_this_process"] == 1


@pytest.mark.parametrize(
    "event, reason",
    [
        ({"action": "exit", "code": 7}, "exit status 7"),
        ({"action": "segfault"}, "signal: segmentation fault"),
    ],
)
def test_a_crashing_handler_is_an_error_not_a_hang(probe, event, reason):
    response, error = invoke(probe, event)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert f"Runtime exited with error: {reason}" in error["errorMessage"]
    # and the function keeps working
    response, _ = invoke(probe, {"action": "context"})
    assert "FunctionError" not in response


def test_an_exception_has_lambdas_error_shape(probe):
    response, error = invoke(probe, {"action": "raise", "message": "probe says no"})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "probe says no"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]


def test_an_exception_with_a_long_message_is_reported_as_itself(probe):
    """awslambdaric also sends an error's cause in a header; Lambda's runtime API
    takes a long one (the lab's took 64 KB at most, and the runtime then died)."""
    message = "no " * 70_000  # 210 KB, as a validation error quoting a large body would be
    response, error = invoke(probe, {"action": "raise", "message": message})
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", message)


def test_the_function_sees_lambdas_variables_and_none_of_the_host_s(probe):
    """configuration-envvars.html's values; the lab's own only where its functions
    need them (the endpoint that points their SDK at LocalStack)."""
    _, seen = invoke(probe, {"action": "environment"})
    variables = seen["variables"]
    assert variables["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{settings.FUNCTION_RUNTIME}"
    assert variables["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(PROBE_MEMORY_MB)
    assert variables["AWS_LAMBDA_FUNCTION_NAME"] == probe
    assert variables["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert (variables["LANG"], variables["TZ"]) == ("en_US.UTF-8", ":UTC")
    assert variables["PATH"] == "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    # The host has no /var/task: the unzipped code's folder plays its part, first on the path.
    assert variables["LAMBDA_TASK_ROOT"] == seen["cwd"] == seen["sys_path"][0]
    assert variables["PYTHONPATH"].split(os.pathsep)[-1] == variables["LAMBDA_RUNTIME_DIR"]
    assert all(variables[name] for name in ("_HANDLER", "AWS_REGION", "AWS_LAMBDA_RUNTIME_API", "LD_LIBRARY_PATH"))
    internal = {
        "LOCALSTACK_RUNTIME_ID",
        "LOCALSTACK_RUNTIME_ENDPOINT",
        "AWS_LAMBDA_FUNCTION_TIMEOUT",
        "LAB_EXECUTOR_PORT",
        "LAB_RUNTIME_PYTHON",
        "LAB_FUNCTION_ENVIRONMENT",
        "VIRTUAL_ENV",
        "HOME",
    }
    assert internal.isdisjoint(seen["all_names"])
    assert "AWS_ENDPOINT_URL" in seen["all_names"]
    # No site-packages of the host's: the code, the runtime's packages, the standard library.
    assert not [folder for folder in seen["sys_path"] if folder.endswith(("site-packages", "dist-packages"))]


UNPACKAGED_IMPORT = "import requests\n\n\ndef handler(event, context):\n    return requests.__version__\n"


def test_a_package_the_zip_does_not_carry_fails_to_import_until_it_is_packaged(localstack, tmp_path):
    """The host has requests (LocalStack uses it); Lambda's runtime does not, so the
    function fails with Lambda's error until its zip carries it (requirements.txt)."""
    (tmp_path / "app.py").write_text(UNPACKAGED_IMPORT)
    with deployed_probe(code=build_zip(tmp_path)) as name:
        response, error = invoke(name, {})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == "Unable to import module 'app': No module named 'requests'"

    (tmp_path / "requirements.txt").write_text(
        "".join(f"{p}=={importlib.metadata.version(p)}\n" for p in deploys.REQUESTS_AND_ITS_DEPENDENCIES)
    )
    with deployed_probe(code=build_zip(tmp_path)) as name:
        response, version = invoke(name, {})
    assert "FunctionError" not in response, version
    assert version == importlib.metadata.version("requests")


def test_a_response_over_6_mb_fails_as_lambda_fails_it(probe):
    response, answer = invoke(probe, {"action": "respond", "bytes": 7 * 1024 * 1024})
    assert response["FunctionError"] == "Unhandled"
    assert answer["errorType"] == "Function.ResponseSizeTooLarge"
    assert "(6291556 bytes)" in answer["errorMessage"]
    response, answer = invoke(probe, {"action": "respond", "bytes": 5 * 1024 * 1024})
    assert "FunctionError" not in response and len(answer) == 5 * 1024 * 1024


def test_a_handler_past_its_memory_size_ends_as_lambda_ends_it(localstack):
    # A timeout far beyond the allocation's time, so that only the memory size can end it.
    with deployed_probe(timeout=60, memory=128) as name:
        response, error = invoke(name, {"action": "allocate", "megabytes": 1024})
        assert response["FunctionError"] == "Unhandled"
        assert error["errorType"] == "Runtime.OutOfMemory"
        assert "Runtime exited with error: signal: killed" in error["errorMessage"]
        log_tail = base64.b64decode(response["LogResult"]).decode()
        report = [line for line in log_tail.splitlines() if line.startswith("REPORT")][-1]
        assert "Memory Size: 128 MB" in report and "Error Type: Runtime.OutOfMemory" in report
        assert int(report.split("Max Memory Used: ")[1].split(" MB")[0]) > 128
        response, _ = invoke(name, {"action": "allocate", "megabytes": 16})  # a new runtime, within its size
        assert "FunctionError" not in response


def test_an_exception_during_init_fails_the_invocation_with_its_type(localstack):
    with deployed_probe(variables={"PROBE_INIT": "raise"}) as name:
        response, error = invoke(name, {"action": "context"})
    assert response["FunctionError"] == "Unhandled"
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "the probe's init failed on purpose")


def init_reports(response: dict) -> list[str]:
    return [
        line for line in base64.b64decode(response["LogResult"]).decode().splitlines() if line.startswith("INIT_REPORT")
    ]


def test_an_init_past_10_s_runs_again_within_the_first_invocation(localstack):
    """Lambda limits Init to 10 s, then runs it again within the first invocation,
    under the function timeout (lambda-runtime-environment.html)."""
    with deployed_probe(variables={"PROBE_INIT": "hang-first"}, timeout=30) as name:
        response, answer = invoke(name, {"action": "context"})
    assert "FunctionError" not in response, answer
    [report] = init_reports(response)
    assert report.endswith("\tPhase: init\tStatus: timeout")
    assert float(report.split("Init Duration: ")[1].split(" ms")[0]) >= 10_000


def test_an_init_that_never_ends_times_out_the_first_invocation(localstack):
    with deployed_probe(variables={"PROBE_INIT": "hang"}) as name:
        response, error = invoke(name, {"action": "context"})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert f"Task timed out after {PROBE_TIMEOUT_SECONDS:.2f} seconds" in error["errorMessage"]
    phases = [report.split("\tPhase: ")[1] for report in init_reports(response)]
    assert phases == ["init\tStatus: timeout", "invoke\tStatus: timeout"]


def runtime_prepared(runtime: str) -> bool:
    """Whether `make venv` prepared an interpreter for this version (host mode only:
    the Docker image carries LocalStack's Python alone)."""
    return os.environ.get("LAB_MODE") == "host" and (Path(sys.prefix) / "lab-runtimes" / runtime / "python").exists()


def test_a_function_runs_on_the_python_it_declares(probe):
    """python3.12 on Python 3.12 where there is one; else on LocalStack's, with a warning."""
    _, own = invoke(probe, {"action": "context"})
    with deployed_probe("python3.12") as older:
        _, context = invoke(older, {"action": "context"})
        if runtime_prepared("python3.12"):
            assert context["python"] == "3.12"
        else:
            assert context["python"] == own["python"]
            warnings = localstack_warnings()
            if warnings != [LOG_NOT_READABLE]:
                assert [line for line in warnings if f"{older} declares python3.12" in line]
    assert own["python"] == settings.FUNCTION_RUNTIME.removeprefix("python")


def test_logs_reach_cloudwatch_with_start_end_and_report_lines(probe):
    marker = uuid.uuid4().hex
    _, context = invoke(probe, {"action": "context", "marker": marker})
    request_id = context["aws_request_id"]

    def invocation_log() -> list[str]:
        messages = log_lines(probe, request_id)
        return messages if any(m.startswith("REPORT") for m in messages) else []

    messages = wait_for(invocation_log, LOGS_TIMEOUT_SECONDS, f"the REPORT line of {request_id} in CloudWatch Logs")
    text = "\n".join(messages)
    assert f"START RequestId: {request_id} Version: $LATEST" in text
    assert f"END RequestId: {request_id}" in text
    assert f"Memory Size: {PROBE_MEMORY_MB} MB" in text
    assert f"probe action=context marker={marker}" in log_lines(probe, marker)


def test_a_non_python_runtime_is_refused_with_a_reason(localstack):
    lambda_ = aws.client("lambda")
    name = f"node-refused-{unique_suffix()}"
    lambda_.create_function(
        FunctionName=name,
        Runtime="nodejs20.x",
        Role=f"arn:aws:iam::{settings.ACCOUNT_ID}:role/unused",
        Handler="index.handler",
        Code={"ZipFile": build_zip(PROBE_SOURCE)},
    )
    try:
        config = wait_for(
            lambda: (c := lambda_.get_function_configuration(FunctionName=name))["State"] != "Pending" and c,
            LOGS_TIMEOUT_SECONDS,
            "the function to leave state Pending",
        )
        assert config["State"] == "Failed"
        assert "Python runtimes only" in config["StateReason"]
        assert "nodejs20.x" in config["StateReason"]
    finally:
        try:
            lambda_.delete_function(FunctionName=name)
        except ClientError as error:
            # LocalStack 4.14.0 cannot delete a function whose version failed
            # to start ("Unable to find version manager"); it is harmless.
            assert error.response["Error"]["Code"] == "InternalError", error
