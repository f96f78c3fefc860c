"""The unit tier: no LocalStack, no network. The worker runs in this process
with botocore's Stubber in front of its S3 and SES clients."""

import importlib
import sys

import pytest

from unit_support import WORKER_DIR, LambdaContextForTests

# What Lambda and provisioning set; the worker reads them at import.
WORKER_ENVIRONMENT = {
    "ORDER_BUCKET": "unit-orders",
    "SENDER_EMAIL": "orders@lab.example.com",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "POWERTOOLS_SERVICE_NAME": "order-worker",
}


WORKER_MODULES = ("app", "effects", "lab_faults", "schemas")  # the worker's folder, as Lambda imports it


@pytest.fixture(scope="session")
def worker():
    """functions/order_worker/app.py, imported as Lambda imports it (its folder on the path)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in WORKER_ENVIRONMENT.items():
            patch.setenv(name, value)
        patch.syspath_prepend(str(WORKER_DIR))
        for name in WORKER_MODULES:
            sys.modules.pop(name, None)
        yield importlib.import_module("app")
        for name in WORKER_MODULES:
            sys.modules.pop(name, None)


@pytest.fixture
def context():
    return LambdaContextForTests()
