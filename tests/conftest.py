"""Fixtures: every integration test gets a stack of its own, made by the same
provisioning code as `make up`, under a unique suffix, and removed afterwards."""

import uuid

import pytest

from init.provision import provision, teardown
from lab import aws, settings
from lab.settings import Stack

# Short timeouts keep retries quick; they still respect AWS's rule that the
# visibility timeout is at least the function timeout.
TEST_STACK = dict(function_timeout=3, visibility_timeout=5, max_receive_count=3)


def unique_suffix() -> str:
    return "t" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def localstack():
    if not aws.is_up():
        pytest.exit("LocalStack is not running: run the suite with `make test` (it starts it)", returncode=3)


@pytest.fixture
def make_stack(localstack):
    """Provision an isolated stack: make_stack(**overrides) -> Deployed."""
    created = []

    def make(source_dir=settings.FUNCTION_SOURCE_DIR, **overrides):
        stack = Stack(suffix=unique_suffix(), **{**TEST_STACK, **overrides})
        created.append(stack)
        return provision(stack, source_dir=source_dir)

    yield make
    for stack in created:
        teardown(stack)


@pytest.fixture
def stack(make_stack):
    return make_stack()


@pytest.fixture(scope="session")
def lab_stack(localstack):
    """The stack `make up` creates (provisioned here if it is missing; never torn down)."""
    return provision(Stack())
