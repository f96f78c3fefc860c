"""The variables a function's process sees: Lambda's values, the function's own
where Lambda lets it set them, nothing of LocalStack's runtime API."""

from lab_executor.function_environment import function_environment

FROM_LOCALSTACK = {
    "_HANDLER": "app.handler",
    "AWS_REGION": "us-east-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_rapid",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": 256,
    "AWS_LAMBDA_FUNCTION_TIMEOUT": 5,
    "TZ": ":UTC",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "LOCALSTACK_RUNTIME_ID": "abc",
    "LOCALSTACK_RUNTIME_ENDPOINT": "http://127.0.0.1:4566/_localstack_lambda/abc",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
}


def environment(configured=None, **overrides):
    given = {**FROM_LOCALSTACK, **(configured or {})}  # LocalStack adds the configured ones last
    arguments = {
        "runtime": "python3.13",
        "task_root": "/tmp/code",
        "runtime_dir": "/tmp/runtime",
        "python_path": [],
        "configured": configured or {},
        **overrides,
    }
    return function_environment(given, **arguments)


def test_lambdas_values_where_localstack_leaves_its_own():
    env = environment()
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert (env["LANG"], env["TZ"], env["PATH"]) == ("en_US.UTF-8", ":UTC", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
    assert (env["LAMBDA_TASK_ROOT"], env["LAMBDA_RUNTIME_DIR"], env["PYTHONPATH"]) == (
        "/tmp/code",
        "/tmp/runtime",
        "/tmp/runtime",
    )
    assert env["LD_LIBRARY_PATH"].endswith("/tmp/runtime:/tmp/runtime/lib:/tmp/code:/tmp/code/lib:/opt/lib")
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"  # as text, as every variable is


def test_nothing_of_localstack_s_runtime_api_but_the_endpoint_that_points_at_the_lab():
    env = environment()
    assert not {"LOCALSTACK_RUNTIME_ID", "LOCALSTACK_RUNTIME_ENDPOINT", "AWS_LAMBDA_FUNCTION_TIMEOUT"} & set(env)
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"


def test_the_function_s_configuration_sets_what_lambda_lets_it_set_and_nothing_reserved():
    env = environment({"LANG": "de_DE.UTF-8", "PYTHONPATH": "/tmp/code/vendor", "AWS_EXECUTION_ENV": "mine"})
    assert env["LANG"] == "de_DE.UTF-8"
    assert env["PYTHONPATH"] == "/tmp/code/vendor:/tmp/runtime"  # the runtime's packages still found
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"


def test_another_python_s_own_packages_come_before_the_shared_ones():
    env = environment(python_path=["/venv/lab-runtimes/python3.12/site"], runtime="python3.12")
    assert env["PYTHONPATH"] == "/venv/lab-runtimes/python3.12/site:/tmp/runtime"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
