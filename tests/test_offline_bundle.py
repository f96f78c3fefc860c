"""The offline path: `make bundle` while online, then, in a fresh copy of the
project with no package index and no registry reachable, `make load` and a
lab that comes up and processes an order, in host mode and in Docker mode."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import wait_for

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STEP_TIMEOUT_SECONDS = 600
pytestmark = pytest.mark.skipif(
    os.environ.get("LAB_MODE") != "docker", reason="needs Docker for the images (make test-docker)"
)
# pip may only use the bundle: an index nobody answers on, and no machine config.
OFFLINE_PIP = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_EXTRA_INDEX_URL": "", "PIP_FIND_LINKS": "",
               "PIP_CONFIG_FILE": os.devnull, "LAB_DASHBOARD": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=STEP_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def fresh_copy(target: Path) -> Path:
    """The project's committed files only: no .venv, no build/."""
    files = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    for name in files.stdout.splitlines():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, target / name)
    return target


def order_is_processed(project: Path, env: dict) -> None:
    python = str(project / ".venv" / "bin" / "python")
    sent = run([python, "-m", "producer", "--count", "1", "--json", "--quiet"], project, env)
    order_id = sent.stdout.split('"order_ids": ["')[1].split('"')[0]
    check = (f"from lab import aws; print(bool(aws.client('s3').list_objects_v2("
             f"Bucket='lab-orders', Prefix='orders/{order_id}').get('Contents')))")
    wait_for(lambda: run([python, "-c", check], project, env).stdout.strip() == "True", 60, f"order {order_id} stored")


def test_a_bundle_brings_the_lab_up_with_no_network(tmp_path):
    bundle = tmp_path / "project" / "bundle"
    project = fresh_copy(tmp_path / "project")
    run([sys.executable, "-m", "lab", "bundle", str(bundle)], PROJECT_ROOT, {})  # the online step

    loaded = run(["make", "load"], project, OFFLINE_PIP)
    assert "Loaded image" in loaded.stdout
    assert "make up` now works with no network" in loaded.stdout

    host = {**OFFLINE_PIP, "LAB_MODE": "host", "LAB_PORT": str(free_port()), "LAB_STATE_DIR": str(tmp_path / "state")}
    docker = {**OFFLINE_PIP, "LAB_MODE": "docker", "LAB_PORT": str(free_port()),
              "LAB_COMPOSE_PROJECT": "lab-offline-test"}
    for env in (host, docker):
        env["LAB_ENDPOINT_URL"] = f"http://127.0.0.1:{env['LAB_PORT']}"
        try:
            run(["make", "up"], project, env)
            order_is_processed(project, env)
        finally:
            subprocess.run(["make", "down"], cwd=project, env={**os.environ, **env}, capture_output=True,
                           timeout=STEP_TIMEOUT_SECONDS)
