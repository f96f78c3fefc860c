"""The offline path: `make bundle` while online, then, in a fresh copy of the
project with no package index and no registry reachable, `make load` and a lab
that comes up and processes an order: in host mode and in Docker mode with the
host's venv, and on a machine with Docker and no Python 3.12 at all."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import lab_slot, wait_for
from lab.core.processes import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT_SECONDS = 600
pytestmark = [
    pytest.mark.offline,  # several minutes, opt-in: `make test-docker TEST_ARGS="-m offline"`; CI runs it
    pytest.mark.skipif(os.environ.get("LAB_MODE") != "docker", reason="needs Docker for the images (make test-docker)"),
]
# pip may only use the bundle: an index nobody answers on, and no machine config.
OFFLINE_PIP = {
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_EXTRA_INDEX_URL": "",
    "PIP_FIND_LINKS": "",
    "PIP_CONFIG_FILE": os.devnull,
    "LAB_DASHBOARD": "0",
}
# What a student with only Docker has: no Python 3.12 anywhere (this machine's
# /usr/bin/python3 is 3.11), no pyenv, no venv.
DOCKER_ONLY_PATH = "/usr/bin:/bin"


def run(command: list[str], cwd: Path, env: dict, inherit: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **env} if inherit else env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
    )
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
    order_id = json.loads(sent.stdout.strip().splitlines()[-1])["order_ids"][0]
    check = (
        f"from lab.core import aws; print(bool(aws.client('s3').list_objects_v2("
        f"Bucket='lab-orders', Prefix='orders/{order_id}').get('Contents')))"
    )
    wait_for(lambda: run([python, "-c", check], project, env).stdout.strip() == "True", 60, f"order {order_id} stored")


def lab_images(tag: str) -> list[str]:
    return [f"sqs-lambda-lab/{name}:{tag}" for name in ("localstack", "tools", "producer")]


def image_exists(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def test_a_bundle_brings_the_lab_up_with_no_network(tmp_path, tmp_path_factory):
    with lab_slot(tmp_path_factory, "the offline bundle's labs (one after another)"):
        bundle_brings_the_lab_up_with_no_network(tmp_path)


def bundle_brings_the_lab_up_with_no_network(tmp_path):
    # Images under a tag of this test's own, so that removing them below
    # proves that `make load` brings them back.
    tag = f"offline-{os.getpid()}"
    bundle = tmp_path / "bundle"
    try:
        run(["make", "bundle", f"BUNDLE={bundle}"], PROJECT_ROOT, {"LAB_IMAGE_TAG": tag})  # the online step
        subprocess.run(["docker", "rmi", *lab_images(tag)], capture_output=True, check=True)

        # With the host's Python: the venv from the bundle's wheels, then host and Docker mode.
        project = fresh_copy(tmp_path / "project")
        shutil.copytree(bundle, project / "bundle")
        loaded = run(["make", "load"], project, {**OFFLINE_PIP, "LAB_IMAGE_TAG": tag})
        assert "Loaded image" in loaded.stdout
        assert "make up` now works with no network" in loaded.stdout
        assert all(image_exists(image) for image in lab_images(tag))
        host = {
            **OFFLINE_PIP,
            "LAB_MODE": "host",
            "LAB_PORT": str(free_port()),
            "LAB_STATE_DIR": str(tmp_path / "state"),
        }
        docker = {
            **OFFLINE_PIP,
            "LAB_MODE": "docker",
            "LAB_PORT": str(free_port()),
            "LAB_IMAGE_TAG": tag,
            "LAB_COMPOSE_PROJECT": "lab-offline-test",
        }
        for env in (host, docker):
            env["LAB_ENDPOINT_URL"] = f"http://127.0.0.1:{env['LAB_PORT']}"
            try:
                run(["make", "up"], project, env)
                order_is_processed(project, env)
            finally:
                subprocess.run(
                    ["make", "down"],
                    cwd=project,
                    env={**os.environ, **env},
                    capture_output=True,
                    timeout=STEP_TIMEOUT_SECONDS,
                )

        # With Docker only: `make load` is `docker load`, and every command runs in the tools container.
        subprocess.run(["docker", "rmi", *lab_images(tag)], capture_output=True, check=True)
        student = fresh_copy(tmp_path / "student")
        shutil.copytree(bundle, student / "bundle")
        env = {
            "PATH": DOCKER_ONLY_PATH,
            "HOME": str(tmp_path),
            "PYENV_ROOT": str(tmp_path / "no-pyenv"),
            "LAB_IMAGE_TAG": tag,
            "LAB_COMPOSE_PROJECT": "lab-offline-docker-only",
            "LAB_PORT": str(free_port()),
            "LAB_DASHBOARD_PORT": str(free_port()),
        }
        if "tools container" not in run(["make", "help"], student, env, inherit=False).stdout:
            pytest.fail(f"a Python 3.12 or newer is on {DOCKER_ONLY_PATH}: this machine cannot play a Docker-only one")
        assert "Loaded image" in run(["make", "load"], student, env, inherit=False).stdout
        assert all(image_exists(image) for image in lab_images(tag))
        try:
            up = run(["make", "up"], student, env, inherit=False)
            assert "Building" not in up.stdout and "The lab is up" in up.stdout
            sent = run(["make", "producer", "N=1", "ARGS=--json --quiet"], student, env, inherit=False)
            order_id = json.loads(sent.stdout.strip().splitlines()[-1])["order_ids"][0]
            listing = ["scripts/lab-in-docker", "run", "awslocal", "s3", "ls", f"s3://lab-orders/orders/{order_id}"]
            wait_for(
                lambda: f"{order_id}.json" in run(listing, student, env, inherit=False).stdout,
                60,
                f"order {order_id} stored",
            )
        finally:
            subprocess.run(["make", "down"], cwd=student, env=env, capture_output=True, timeout=STEP_TIMEOUT_SECONDS)
    finally:
        subprocess.run(["docker", "rmi", *lab_images(tag)], capture_output=True)
