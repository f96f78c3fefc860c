"""The environment variables a function's process sees: Lambda's, with Lambda's values.

LocalStack hands an execution environment its variables (``env_vars``): Lambda's
own, the function's configured ones, and some of LocalStack's for its runtime
API. On AWS the runtime, not LocalStack, sets several of them, so the lab sets
them here as Lambda's Python runtime does
(<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>):

- ``AWS_EXECUTION_ENV`` names the runtime (``AWS_Lambda_python3.13``); LocalStack
  leaves ``AWS_Lambda_rapid`` for its own runtime to replace. Libraries read it:
  awslambdaric encodes JSON for 3.12 and later by it, Powertools reads it too.
- ``LANG``, ``TZ``, ``PATH`` and ``LD_LIBRARY_PATH`` take Lambda's values unless
  the function's configuration sets them, as on AWS (they are not reserved).
- ``PYTHONPATH`` is the runtime's folder, as ``/var/runtime`` is on AWS.

Where the host cannot have Lambda's paths, the variable names the folder that
plays its part, and docs/LAB.md lists the difference: ``LAMBDA_TASK_ROOT`` is
the unzipped code's folder (``/var/task`` on AWS), ``LAMBDA_RUNTIME_DIR`` the
runtime packages' folder (``/var/runtime``).

Nothing of LocalStack's runtime API reaches the function (its runtime ID and
endpoint, the function timeout in seconds, which Lambda never sets), nor any
variable of the host's own. The function keeps what points it at the lab:
``AWS_ENDPOINT_URL`` (and LocalStack's ``LOCALSTACK_HOSTNAME`` and ``EDGE_PORT``),
without which its AWS SDK would call AWS.
"""

import os

# Lambda's values for the variables a function may set itself.
LAMBDA_DEFAULTS = {
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
}
# LocalStack's variables for its own runtime (RIE) and init: the environment
# process uses some of them; the function on AWS has none.
LOCALSTACK_RUNTIME_ONLY = (
    "LOCALSTACK_RUNTIME_ID",
    "LOCALSTACK_RUNTIME_ENDPOINT",
    "LOCALSTACK_FUNCTION_ACCOUNT_ID",
    "LOCALSTACK_USER",
    "LOCALSTACK_INIT_LOG_LEVEL",
    "LOCALSTACK_POST_INVOKE_WAIT_MS",
    "LOCALSTACK_MAX_PAYLOAD_SIZE",
    "AWS_LAMBDA_FUNCTION_TIMEOUT",
)


def function_environment(
    env_vars: dict,
    runtime: str,
    task_root: str,
    runtime_dir: str,
    python_path: list[str],
    configured: dict,
) -> dict[str, str]:
    """The function's variables, from LocalStack's ``env_vars`` and the function's
    ``configured`` ones. ``python_path``: the runtime's folders, before ``runtime_dir``."""
    env = {name: str(value) for name, value in env_vars.items() if name not in LOCALSTACK_RUNTIME_ONLY}
    for name, value in LAMBDA_DEFAULTS.items():
        if name not in configured:
            env[name] = value
    env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"  # reserved: never the function's own
    env["LAMBDA_TASK_ROOT"] = task_root
    env["LAMBDA_RUNTIME_DIR"] = runtime_dir
    if "LD_LIBRARY_PATH" not in configured:
        # Lambda's list with the lab's folders in place of /var/runtime and /var/task;
        # the host's own first, so that an interpreter that needs it still starts.
        lambda_list = [
            "/lib64",
            "/usr/lib64",
            runtime_dir,
            f"{runtime_dir}/lib",
            task_root,
            f"{task_root}/lib",
            "/opt/lib",
        ]
        host = [folder for folder in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if folder]
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*host, *lambda_list])
    runtime_path = [*python_path, runtime_dir]
    if "PYTHONPATH" in configured:  # the function's own folders first, the runtime's still found
        runtime_path = [str(configured["PYTHONPATH"]), *runtime_path]
    env["PYTHONPATH"] = os.pathsep.join(runtime_path)
    return env
