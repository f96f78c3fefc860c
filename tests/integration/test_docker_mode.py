"""Docker mode's own promises: `docker compose up` alone is the lab, healthy
means provisioned, ports on 127.0.0.1 only, an internal network, no Docker
socket inside, the lab's images built from this repository and nothing mounted
from the host.

Everything else (the executor, provisioning, failures) is the same suite as in
host mode, run against the container by `make test-docker`, and from the tools
container by `make test` on a machine with only Docker."""

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml

from helpers import emails_per_order, lab_slot, one_at_a_time, stored_order_ids, wait_for
from lab.core import aws, settings
from lab.core.processes import free_port
from lab.runs import dockermode

IN_DOCKER_MODE = os.environ.get("LAB_MODE") == "docker"
docker_mode_only = pytest.mark.skipif(not IN_DOCKER_MODE, reason="Docker mode with the docker CLI (make test-docker)")
PRODUCER_TIMEOUT_SECONDS = 300  # includes building the producer image the first time
COMPOSE_UP_SECONDS = 240
DOCKERFILES = [settings.PROJECT_ROOT / "docker" / name for name in ("localstack.Dockerfile", "tools.Dockerfile")]
# Settings the lab's containers must not take from the host: each container sets
# its own, or they only mean something on the host.
NOT_PASSED_TO_CONTAINERS = {
    "ENDPOINT_URL",  # each container reaches LocalStack its own way
    "STATE_DIR",
    "START_TIMEOUT_SECONDS",
    "PROVISION_ON_READY",  # host mode's
    "SNAPSHOT_DIR",  # the image sets its own, in the state volume
    "MODE",  # the tools image sets its own
    "LOCALSTACK_IMAGE",  # a build argument, not a setting of a running container
    "FUNCTION_ZIPS",  # the image's own zips
    "COMMAND_PREFIX",
    "DASHBOARD_LISTEN_HOST",  # set by the image and by the dashboard service
}


def compose(*args: str) -> subprocess.CompletedProcess:
    return dockermode.compose(*args, capture=True)


def inspect(kind: str, name: str) -> dict:
    result = subprocess.run(["docker", kind, "inspect", name], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)[0]


def localstack_container() -> str:
    return compose("ps", "--quiet", "localstack").stdout.strip()


class OtherLab:
    """A second compose project of this file, on ports of its own, beside the suite's."""

    def __init__(self, name: str, **settings_env: str) -> None:
        self.project = f"{name}-{os.getpid()}"
        self.port, self.dashboard_port = free_port(), free_port()
        self.env = {
            **dockermode.compose_environment(),
            "LAB_PORT": str(self.port),
            "LAB_DASHBOARD_PORT": str(self.dashboard_port),
            **settings_env,
        }

    def compose(self, *args: str, timeout: float = COMPOSE_UP_SECONDS) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", "compose", "--project-name", self.project, "--file", str(settings.COMPOSE_FILE), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def container(self, service: str) -> dict:
        return inspect("container", self.compose("ps", "--all", "--quiet", service).stdout.strip())

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans")


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no docker compose on this machine",
)
def test_docker_compose_accepts_the_file():
    result = compose("config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_the_containers_get_every_setting_that_shapes_the_lab():
    """docker-compose.yml passes LAB_* settings on by name; a setting added to
    lab/core/settings.py must be passed on, or be named here as host-only."""
    passed_on = {
        name
        for name in yaml.safe_load(settings.COMPOSE_FILE.read_text())["x-lab-settings"]
        if not name.startswith(settings.LOCALSTACK_OVERRIDE_PREFIX)
    }
    read_by_settings = set(
        re.findall(r'_env\(\s*"([A-Z_]+)"', (settings.PROJECT_ROOT / "lab" / "core" / "settings.py").read_text())
    )
    assert {f"LAB_{name}" for name in read_by_settings - NOT_PASSED_TO_CONTAINERS} == passed_on


def test_the_compose_file_and_the_dockerfiles_pin_the_same_image_as_the_settings():
    default = settings.LOCALSTACK_IMAGE if "LAB_LOCALSTACK_IMAGE" not in os.environ else None
    if default is None:
        pytest.skip("LAB_LOCALSTACK_IMAGE overrides the pinned image on this machine")
    assert "@sha256:" in default
    assert f"${{LAB_LOCALSTACK_IMAGE:-{default}}}" in settings.COMPOSE_FILE.read_text()
    for dockerfile in DOCKERFILES:
        assert f"ARG LOCALSTACK_IMAGE={default}\n" in dockerfile.read_text(), dockerfile.name


# The one exception: the tools container, which runs a student's commands, reads
# and writes the student's own files (exercise workspaces, results, the report).
STUDENT_FILES = {("tools", "./exercises")}


def test_nothing_is_mounted_from_the_host_but_the_student_s_exercises_and_no_docker_socket():
    services = yaml.safe_load(settings.COMPOSE_FILE.read_text())["services"]
    mounted = set()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                mounted.add((name, source))
            assert "docker.sock" not in source, f"{name} mounts the Docker socket"
    assert mounted == STUDENT_FILES


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
def test_no_docker_socket_inside_and_functions_run_as_processes_of_the_container(lab_stack):
    container = localstack_container()
    assert not [m for m in inspect("container", container)["Mounts"] if "docker.sock" in m.get("Source", "")]
    order_id = f"inside-{os.getpid()}"
    aws.client("sqs").send_message(
        QueueUrl=lab_stack.queue_url, MessageBody=json.dumps({"orderId": order_id, "email": "a@b.co"})
    )
    wait_for(lambda: order_id in stored_order_ids(lab_stack.bucket), 60, "the order stored")
    processes = subprocess.run(["docker", "top", container, "-o", "pid,args"], capture_output=True, text=True).stdout
    assert "awslambdaric app.handler" in processes


@docker_mode_only
def test_the_producer_container_sends_orders_over_the_internal_network(lab_stack):
    result = subprocess.run(
        [
            "docker",
            "compose",
            "--project-name",
            settings.COMPOSE_PROJECT,
            "--file",
            str(settings.COMPOSE_FILE),
            "run",
            "--rm",
            "--no-deps",
            "producer",
            "--count",
            "3",
            "--json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=PRODUCER_TIMEOUT_SECONDS,
        env=dockermode.compose_environment(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sent"] == 3
    assert summary["queue_url"].startswith("http://127.0.0.1:4566/queue/")  # LOCALSTACK_HOST, as the host sees it
    wait_for(lambda: stored_order_ids(lab_stack.bucket) >= set(summary["order_ids"]), 60, "3 orders stored")


@pytest.fixture
def second_lab_alone(tmp_path_factory):
    """Two more LocalStacks starting at once beside the lab under test starved its
    functions on two cores (cold starts of 10 s, orders of 0.4 s): one at a time."""
    with one_at_a_time(tmp_path_factory, "second-lab"), lab_slot(tmp_path_factory, "a second Docker lab"):
        yield


@docker_mode_only
def test_docker_compose_up_alone_is_the_whole_lab(second_lab_alone):
    """Provisioned, the producer's orders processed and emailed, the dashboard up: all on 127.0.0.1."""
    lab = OtherLab("lab-alone", LAB_PRODUCER_COUNT="4")
    try:
        up = lab.compose("up", "--detach", "--wait")
        assert up.returncode == 0, up.stderr[-3000:]
        producer = lab.container("producer")["State"]
        assert (producer["Status"], producer["ExitCode"]) == ("exited", 0)
        assert "sent 4 of 4 orders" in lab.compose("logs", "--no-log-prefix", "producer").stdout
        endpoint = f"http://127.0.0.1:{lab.port}"
        bucket = settings.Stack().bucket_name
        stored = aws.client("s3", endpoint).list_objects_v2
        wait_for(
            lambda: len(stored(Bucket=bucket, Prefix="orders/").get("Contents", [])) == 4,
            60,
            "the producer's 4 orders stored",
        )
        wait_for(lambda: len(aws.sent_emails(endpoint)) == 4, 60, "4 emails sent")
        with urllib.request.urlopen(f"http://127.0.0.1:{lab.dashboard_port}/api/state", timeout=5) as response:
            assert "samples" in json.loads(response.read())
        for service, port in (("localstack", 4566), ("dashboard", lab.dashboard_port)):
            bindings = lab.container(service)["HostConfig"]["PortBindings"]
            assert [b["HostIp"] for b in bindings[f"{port}/tcp"]] == ["127.0.0.1"], service
    finally:
        lab.down()


@docker_mode_only
def test_a_failed_provisioning_stops_the_container_with_one_line_and_no_producer_starts(second_lab_alone):
    lab = OtherLab("lab-broken", LAB_VISIBILITY_TIMEOUT="1", LAB_FUNCTION_TIMEOUT="5")
    try:
        up = lab.compose("up", "--detach", "--wait")
        assert up.returncode != 0
        localstack = lab.container("localstack")["State"]
        assert (localstack["Status"], localstack["ExitCode"]) == ("exited", 1)
        reasons = [
            line
            for line in lab.compose("logs", "--no-log-prefix", "localstack").stdout.splitlines()
            if line.startswith(("lab: provisioning refused", "lab: provisioning failed"))
        ]
        assert reasons == [
            "lab: provisioning refused: VISIBILITY_TIMEOUT=1 is shorter than FUNCTION_TIMEOUT=5: "
            "AWS refuses such a mapping, because a message would reappear while it is still being "
            "processed; raise the visibility timeout"
        ]
        assert lab.container("producer")["State"]["Status"] == "created"  # never started
    finally:
        lab.down()


@docker_mode_only
def test_the_state_volume_keeps_the_lab_across_a_stop_and_a_killed_container(second_lab_alone):
    lab = OtherLab("lab-kept")
    stack = settings.Stack()
    endpoint = f"http://127.0.0.1:{lab.port}"
    try:
        assert lab.compose("up", "--detach", "--wait", "localstack").returncode == 0
        sqs = aws.client("sqs", endpoint)
        queue_url = sqs.get_queue_url(QueueName=stack.queue_name)["QueueUrl"]
        dlq_url = sqs.get_queue_url(QueueName=stack.dlq_name)["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"orderId": "kept", "email": "kept@example.com"}))
        wait_for(lambda: stored_order_ids(stack.bucket_name, endpoint) == {"kept"}, 60, "the order stored")
        parked = {sqs.send_message(QueueUrl=dlq_url, MessageBody="parked before the stop")["MessageId"]}

        assert lab.compose("stop").returncode == 0  # `make stop`: LocalStack saves as it stops
        assert lab.compose("up", "--detach", "--wait", "localstack").returncode == 0
        assert stored_order_ids(stack.bucket_name, endpoint) == {"kept"}
        assert {m["MessageId"] for m in aws.peek_messages(dlq_url, endpoint)} == parked

        parked.add(sqs.send_message(QueueUrl=dlq_url, MessageBody="parked before the kill")["MessageId"])
        sent_at = time.time()
        wait_for(
            lambda: (aws.get_json("/_lab/snapshot", endpoint).get("last_save") or {}).get("at", 0) > sent_at,
            60,
            "a periodic snapshot after the second message",
        )
        assert lab.compose("kill", "localstack").returncode == 0  # SIGKILL: no save at shutdown
        assert lab.compose("up", "--detach", "--wait", "localstack").returncode == 0
        assert {m["MessageId"] for m in aws.peek_messages(dlq_url, endpoint)} == parked
        assert aws.get_json("/_lab/snapshot", endpoint)["restored"]["stopped_cleanly"] is False
    finally:
        lab.down()


class StudentLab(OtherLab):
    """A lab driven as a student with only Docker drives it (scripts/lab-in-docker,
    which `make` calls when there is no Python 3.12), in a project of its own."""

    def __init__(self, name: str, image_tag: str) -> None:
        super().__init__(name, LAB_DASHBOARD="0", LAB_IMAGE_TAG=image_tag)
        self.env["LAB_COMPOSE_PROJECT"] = self.project
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.stack = settings.Stack()

    def up(self, **changed: str) -> str:
        result = subprocess.run(
            [str(dockermode.IN_DOCKER_SCRIPT), "up"],
            env={**self.env, **changed},
            capture_output=True,
            text=True,
            timeout=COMPOSE_UP_SECONDS * 2,
        )
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        return result.stdout + result.stderr

    def localstack_id(self) -> str:
        return self.compose("ps", "--quiet", "localstack").stdout.strip()

    def queue_urls(self) -> tuple[str, str]:
        sqs = aws.client("sqs", self.endpoint)
        return (
            sqs.get_queue_url(QueueName=self.stack.queue_name)["QueueUrl"],
            sqs.get_queue_url(QueueName=self.stack.dlq_name)["QueueUrl"],
        )

    def pause(self) -> None:
        lambda_ = aws.client("lambda", self.endpoint)
        mapping = lambda_.list_event_source_mappings(FunctionName=self.stack.function_name)["EventSourceMappings"][0]
        lambda_.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        wait_for(
            lambda: lambda_.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled",
            60,
            "the mapping paused",
        )


def tag_images(source_tag: str, tag: str) -> list[str]:
    images = [f"sqs-lambda-lab/{name}:{tag}" for name in ("localstack", "tools", "producer")]
    for image in images:
        subprocess.run(["docker", "tag", image.replace(f":{tag}", f":{source_tag}"), image], check=True)
    return images


def rebuild_localstack_image(tag: str) -> None:
    """What `make build` after a change to the code does to the running lab: the
    same tag names a new image (a layer more here, where a real change rebuilds
    the lab's layers; the image keeps the label that says it is current)."""
    dockerfile = f"FROM sqs-lambda-lab/localstack:{tag}\nLABEL lab.test-rebuilt={os.getpid()}-{time.time()}\n"
    subprocess.run(
        ["docker", "build", "--quiet", "--tag", f"sqs-lambda-lab/localstack:{tag}", "-"],
        input=dockerfile,
        text=True,
        check=True,
        capture_output=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )


@docker_mode_only
@pytest.mark.parametrize("change", ["a setting changed", "the image rebuilt"])
def test_a_recreated_container_brings_back_the_queues_the_dlq_and_the_orders(change, second_lab_alone):
    """A changed setting in .env (here the same variable from the shell, which compose
    and the lab read alike) or a new build, then `make up`: the container is
    recreated, nothing is lost, and the orders that waited are processed, each once."""
    tag = f"recreate-{os.getpid()}-{'setting' if 'setting' in change else 'image'}"
    images = tag_images(os.environ.get("LAB_IMAGE_TAG", "latest"), tag)
    lab = StudentLab(f"lab-{tag}", tag)
    try:
        lab.up()
        before = lab.localstack_id()
        queue_url, dlq_url = lab.queue_urls()
        sqs = aws.client("sqs", lab.endpoint)
        lab.pause()  # the orders below wait in the queue across the recreation
        waiting = {f"waiting-{n}" for n in range(3)}
        for order_id in waiting:
            sqs.send_message(
                QueueUrl=queue_url, MessageBody=json.dumps({"orderId": order_id, "email": f"{order_id}@example.com"})
            )
        dead = {sqs.send_message(QueueUrl=dlq_url, MessageBody="parked in the DLQ")["MessageId"]}

        changed = {}
        if "setting" in change:
            changed = {"LAB_VISIBILITY_TIMEOUT": "12"}  # the default is 10
        else:
            rebuild_localstack_image(tag)
        said = lab.up(**changed)
        assert "recreating its container" in said, said
        recreated = lab.localstack_id()
        assert recreated != before
        lab.env.update(changed)

        if changed:
            attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])
            assert attributes["Attributes"]["VisibilityTimeout"] == "12", "the changed setting is applied"
        assert {m["MessageId"] for m in aws.peek_messages(dlq_url, lab.endpoint)} == dead, "the DLQ as it was"
        # make up provisions, which enables the mapping: the waiting orders go through.
        wait_for(
            lambda: waiting <= stored_order_ids(lab.stack.bucket_name, lab.endpoint),
            120,
            "the orders that waited stored by the restored function",
        )
        wait_for(lambda: waiting <= set(emails_per_order(lab.endpoint)), 60, "the orders that waited emailed")
        wait_for(lambda: aws.queue_is_empty(queue_url, lab.endpoint), 120, "the queue empty")
        emails = emails_per_order(lab.endpoint)
        assert {order_id: emails[order_id] for order_id in waiting} == dict.fromkeys(waiting, 1)
        # The same configuration whoever calls compose: `make up` again recreates nothing.
        assert "already running" in lab.up() and lab.localstack_id() == recreated
    finally:
        lab.down()
        subprocess.run(["docker", "image", "rm", *images], capture_output=True)
