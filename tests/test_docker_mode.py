"""Docker mode's own promises: the compose file, a port on 127.0.0.1 only, an
internal network, no Docker socket inside, and the producer container.

Everything else (the executor, provisioning, failures) is the same suite as in
host mode, run against the container by `make test-docker`."""

import json
import os
import subprocess

import pytest

from helpers import stored_order_ids, wait_for
from lab import dockermode, settings

IN_DOCKER_MODE = os.environ.get("LAB_MODE") == "docker"
docker_mode_only = pytest.mark.skipif(not IN_DOCKER_MODE, reason="Docker mode only (make test-docker)")
PRODUCER_TIMEOUT_SECONDS = 300  # includes building the producer image the first time


def compose(*args: str) -> subprocess.CompletedProcess:
    return dockermode.compose(*args, capture=True)


def inspect(kind: str, name: str) -> dict:
    result = subprocess.run(["docker", kind, "inspect", name], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)[0]


def localstack_container() -> str:
    return compose("ps", "--quiet", "localstack").stdout.strip()


@pytest.mark.skipif(
    subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no docker compose on this machine",
)
def test_docker_compose_accepts_the_file():
    result = compose("config", "--quiet")
    assert result.returncode == 0, result.stderr


@docker_mode_only
def test_localstack_is_published_on_loopback_only():
    bindings = inspect("container", localstack_container())["HostConfig"]["PortBindings"]
    assert bindings == {"4566/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(settings.PORT)}]}


@docker_mode_only
def test_the_lab_network_is_internal_and_the_port_network_does_not_masquerade():
    container = inspect("container", localstack_container())
    networks = container["NetworkSettings"]["Networks"]
    assert set(networks) == {f"{settings.COMPOSE_PROJECT}_lab", f"{settings.COMPOSE_PROJECT}_published"}
    assert inspect("network", f"{settings.COMPOSE_PROJECT}_lab")["Internal"] is True
    published = inspect("network", f"{settings.COMPOSE_PROJECT}_published")
    assert published["Options"]["com.docker.network.bridge.enable_ip_masquerade"] == "false"


@docker_mode_only
def test_no_docker_socket_is_mounted_and_functions_run_inside_the_container():
    container = inspect("container", localstack_container())
    assert not [m for m in container["Mounts"] if "docker.sock" in m.get("Source", "")]
    assert container["Config"]["Env"].count("LAMBDA_RUNTIME_EXECUTOR=local") == 1


@docker_mode_only
def test_the_producer_container_sends_orders_over_the_internal_network(lab_stack):
    result = subprocess.run(
        ["docker", "compose", "--project-name", settings.COMPOSE_PROJECT, "--file", str(settings.COMPOSE_FILE),
         "run", "--rm", "producer", "--count", "3", "--json", "--quiet"],
        capture_output=True, text=True, timeout=PRODUCER_TIMEOUT_SECONDS,
        env={**os.environ, "DOCKER_BUILDKIT": "0", "COMPOSE_BAKE": "false"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sent"] == 3
    assert summary["queue_url"].startswith("http://127.0.0.1:4566/queue/")  # LOCALSTACK_HOST, as the host sees it
    wait_for(lambda: stored_order_ids(lab_stack.bucket) >= set(summary["order_ids"]), 60, "3 orders stored")


def test_the_compose_file_pins_the_same_image_as_the_settings():
    compose_text = settings.COMPOSE_FILE.read_text()
    default = settings.LOCALSTACK_IMAGE if "LAB_LOCALSTACK_IMAGE" not in os.environ else None
    if default is None:
        pytest.skip("LAB_LOCALSTACK_IMAGE overrides the pinned image on this machine")
    assert f"${{LAB_LOCALSTACK_IMAGE:-{default}}}" in compose_text
    assert "@sha256:" in default
