"""`make up` / `make down` in host mode, as a new user meets them: a second
LocalStack on a free port and a state folder of its own, driven through the
same `python -m lab` commands the Makefile runs."""

import socket
from pathlib import Path

from helpers import only_in_host_mode, wait_for
from helpers import run_lab as lab
from lab.core import aws
from lab.core.processes import group_members, listening_sockets

pytestmark = only_in_host_mode("its own lifecycle")
LOOPBACK_ADDRESSES = {"127.0.0.1", "::1"}


def port_is_listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_up_twice_listens_on_loopback_only_and_down_leaves_nothing(lab_env):
    port = int(lab_env["LAB_PORT"])
    up = lab("lab", "up", env=lab_env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"http://127.0.0.1:{port}/queue/us-east-1/000000000000/orders" in up.stdout
    assert "localstack.log" in up.stdout

    again = lab("lab", "up", env=lab_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running" in again.stdout

    # An order through the producer makes the worker's execution environment start.
    sent = lab("producer", "--count", "1", "--quiet", "--endpoint-url", f"http://127.0.0.1:{port}", env=lab_env)
    assert sent.returncode == 0, sent.stderr
    pgid = int((Path(lab_env["LAB_STATE_DIR"]) / "localstack.pid").read_text())
    dashboard_pid = int((Path(lab_env["LAB_STATE_DIR"]) / "dashboard.pid").read_text())
    assert f"Dashboard: http://127.0.0.1:{lab_env['LAB_DASHBOARD_PORT']}/" in up.stdout

    def listening_with_a_function_environment():
        found = listening_sockets(pgid)
        return found if len({p for _, _, p in found if p != port}) >= 1 else None

    sockets = wait_for(listening_with_a_function_environment, 30, "a function environment listening")
    assert ("tcp", "127.0.0.1", port) in sockets
    assert {address for _, address, _ in sockets} <= LOOPBACK_ADDRESSES, sockets

    down = lab("lab", "down", env=lab_env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "Stopped LocalStack" in down.stdout
    assert not port_is_listening(port)
    assert group_members(pgid) == [], "LocalStack or a function process was left running"
    assert group_members(dashboard_pid) == [], "the dashboard was left running"
    assert not port_is_listening(int(lab_env["LAB_DASHBOARD_PORT"]))
    assert not Path(lab_env["LAB_STATE_DIR"]).exists()


def test_down_with_nothing_running_says_so(lab_env):
    down = lab("lab", "down", env=lab_env)
    assert down.returncode == 0
    assert down.stdout.strip() == "Nothing to stop: the lab's LocalStack is not running."


def test_a_port_in_use_gets_one_clear_line(lab_env):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(lab_env["LAB_PORT"])))
        squatter.listen()
        up = lab("lab", "up", env=lab_env)
    assert up.returncode == 3
    lines = (up.stdout + up.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert f"Port {lab_env['LAB_PORT']} on 127.0.0.1 is already in use" in lines[0]
    assert "LAB_PORT" in lines[0]


def test_localstack_dying_during_start_is_reported_with_its_log(lab_env):
    # A gateway server that does not exist is what a missing lab plugin looks like.
    broken = {**lab_env, "LAB_LOCALSTACK_GATEWAY_SERVER": "no-such-server"}
    up = lab("lab", "up", env=broken)
    assert up.returncode == 3, up.stdout + up.stderr
    assert "LocalStack exited during start (exit code 1)" in up.stdout
    assert "Unknown gateway server type no-such-server" in up.stdout  # from the log's last lines
    assert not (Path(lab_env["LAB_STATE_DIR"]) / "localstack.pid").exists()


def test_the_ready_hook_provisions_the_lab_with_the_same_code(lab_env):
    hooked = {**lab_env, "LAB_PROVISION_ON_READY": "1"}
    started = lab("lab", "start", env=hooked)  # LocalStack only: no provisioning by `make up`
    assert started.returncode == 0, started.stdout + started.stderr
    endpoint = f"http://127.0.0.1:{lab_env['LAB_PORT']}"

    init = aws.get_json("/_localstack/init/ready", endpoint)
    assert init["completed"] is True
    assert [(s["name"], s["state"]) for s in init["scripts"]] == [("10-provision-lab.sh", "SUCCESSFUL")]
    mappings = aws.client("lambda", endpoint).list_event_source_mappings(FunctionName="order-worker")
    assert [m["State"] for m in mappings["EventSourceMappings"]] == ["Enabled"]
    # LocalStack keeps its state in the lab's folder, not in /var/lib/localstack
    assert (Path(lab_env["LAB_STATE_DIR"]) / "localstack" / "etc" / "localstack" / "init" / "ready.d").is_dir()
