"""`make bench-docker`: what Docker mode costs a student, measured.

- the first build of the lab's images from nothing but the LocalStack and Python
  base images (``docker compose build --no-cache``: every step runs, PyPI included);
- a rebuild when nothing changed (what `make test` pays before each run);
- ``docker compose up --detach --wait`` until the whole lab is healthy, the
  producer's orders sent, from images that are built;
- the size of each image, and what the lab's LocalStack image adds to its base;
- the lab's containers' memory (``docker stats``) after MEMORY_ORDERS orders;
- the offline bundle's size on disk: the images as ``make bundle`` saves them,
  and the wheels of both locks.

It runs its own compose project on ports of its own, so it leaves the lab alone,
and writes ``bench/docker-results.json``.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import MEMORY_ORDERS, drain
from lab.core import aws, settings
from lab.core.console import console
from lab.core.processes import free_port
from lab.core.settings import Stack
from lab.runs import dockermode

RESULTS_JSON = settings.PROJECT_ROOT / "bench" / "docker-results.json"
PROJECT = "lab-bench-docker"
UP_RUNS = 3
SERVICES = ("localstack", "tools", "producer")
TARGET_UP_SECONDS = 30
TARGET_ADDED_MB = 150


ENV: dict[str, str] = {}  # compose's environment, made by main()


def bench_environment() -> dict[str, str]:
    return {
        **dockermode.compose_environment(),
        "LAB_PORT": str(free_port()),
        "LAB_DASHBOARD_PORT": str(free_port()),
        # The images it builds are the lab's, labelled as `make up` expects them.
        "LAB_SOURCE_HASH": subprocess.run(
            [str(dockermode.IN_DOCKER_SCRIPT), "source-hash"], capture_output=True, text=True, check=True
        ).stdout.strip(),
    }


def compose(*args: str) -> subprocess.CompletedProcess:
    # The tools profile for building and naming the images: `up` starts what `docker compose up` starts.
    profile = ["--profile", "tools"] if args[0] in ("build", "config") else []
    result = subprocess.run(
        ["docker", "compose", "--project-name", PROJECT, "--file", str(settings.COMPOSE_FILE), *profile, *args],
        env=ENV,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"docker compose {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result


def timed(what: str, *args: str) -> float:
    with console.status(what):
        started = time.monotonic()
        compose(*args)
        seconds = time.monotonic() - started
    console.print(f"  {what}: {seconds:.1f} s")
    return seconds


def image_mb(image: str) -> float:
    size = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", image], capture_output=True, text=True, check=True
    ).stdout
    return round(int(size) / 1e6, 1)


UNITS_MB = {"B": 1e-6, "KiB": 1024 / 1e6, "MiB": 1.048576, "GiB": 1073.741824, "kB": 1e-3, "MB": 1.0, "GB": 1000.0}


def container_mb(service: str) -> float:
    """The service's container memory now, as `docker stats` reports it (MB)."""
    container = compose("ps", "--quiet", service).stdout.strip()
    usage = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("/")[0]
    number, unit = re.match(r"\s*([\d.]+)\s*(\w+)", usage).groups()
    return round(float(number) * UNITS_MB[unit], 1)


def memory_after_orders() -> dict:
    """MEMORY_ORDERS orders through the running compose lab, then its containers' memory."""
    endpoint = f"http://127.0.0.1:{ENV['LAB_PORT']}"
    with console.status(f"{MEMORY_ORDERS} orders through the lab, then docker stats"):
        subprocess.run(
            [sys.executable, "-m", "producer", "--count", str(MEMORY_ORDERS), "--quiet", "--endpoint-url", endpoint],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        queue_url = aws.client("sqs", endpoint).get_queue_url(QueueName=Stack().queue_name)["QueueUrl"]
        drain(queue_url, endpoint)
        figures = {service: container_mb(service) for service in ("localstack", "dashboard")}
    figures["lab"] = round(sum(figures.values()), 1)
    console.print(f"  after {MEMORY_ORDERS} orders, docker stats (MB): {figures}")
    return figures


def bundle_mb(images: list[str]) -> dict:
    """What `make bundle` writes: the images (layers they share saved once) and the wheels."""
    with tempfile.TemporaryDirectory() as folder, console.status("the offline bundle: docker save, pip download"):
        tar = Path(folder) / "images.tar"
        subprocess.run(["docker", "save", "--output", str(tar), *images], check=True)
        wheels = Path(folder) / "wheels"
        requirements = settings.PROJECT_ROOT / "requirements"
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheels)]
            + ["--requirement", str(requirements / "lab.lock"), "--requirement", str(requirements / "test.lock")],
            check=True,
        )
        figures = {
            "images_tar": round(tar.stat().st_size / 1e6, 1),
            "wheels": round(sum(f.stat().st_size for f in wheels.iterdir()) / 1e6, 1),
        }
    figures["total"] = round(figures["images_tar"] + figures["wheels"], 1)
    console.print(f"  the offline bundle (MB): {figures}")
    return figures


def main() -> int:
    if not dockermode.engine_answers():
        console.print("make bench-docker needs a Docker engine")
        return 2
    ENV.update(bench_environment())
    results: dict = {"machine": {"cpus": os.cpu_count()}, "base_image": settings.LOCALSTACK_IMAGE}
    console.print("Docker mode, measured:")
    results["first_build_s"] = round(
        timed("first build, no cache (PyPI included)", "build", "--no-cache", *SERVICES), 1
    )
    results["rebuild_unchanged_s"] = round(timed("rebuild with nothing changed", "build", *SERVICES), 1)
    ups = []
    try:
        for run in range(UP_RUNS):
            compose("down", "--volumes", "--remove-orphans")
            ups.append(timed(f"docker compose up --detach --wait ({run + 1} of {UP_RUNS})", "up", "--detach", "--wait"))
        results[f"containers_after_{MEMORY_ORDERS}_orders_mb"] = memory_after_orders()
    finally:
        compose("down", "--volumes", "--remove-orphans")
    results["compose_up_wait_s"] = {
        "runs": [round(s, 1) for s in ups],
        "median": round(sorted(ups)[len(ups) // 2], 1),
        "target": TARGET_UP_SECONDS,
    }
    services = json.loads(compose("config", "--format", "json").stdout)["services"]
    images = {service: services[service]["image"] for service in SERVICES}
    results["image_mb"] = {service: image_mb(image) for service, image in images.items()}
    results["image_mb"]["base"] = image_mb(settings.LOCALSTACK_IMAGE)
    added = round(results["image_mb"]["localstack"] - results["image_mb"]["base"], 1)
    results["lab_image_adds_mb"] = {"value": added, "target": TARGET_ADDED_MB}
    results["tools_image_adds_mb"] = round(results["image_mb"]["tools"] - results["image_mb"]["base"], 1)
    results["bundle_mb"] = bundle_mb(list(images.values()))
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    console.print(
        f"  images (MB): {results['image_mb']}; the lab's LocalStack image adds {added} MB to its base "
        f"(target <= {TARGET_ADDED_MB}), the tools image {results['tools_image_adds_mb']} MB"
    )
    console.print(
        f"  docker compose up --wait, median of {UP_RUNS}: {results['compose_up_wait_s']['median']} s "
        f"(target <= {TARGET_UP_SECONDS})"
    )
    console.print(f"Wrote {RESULTS_JSON.relative_to(settings.PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
