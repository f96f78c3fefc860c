"""The dashboard in a real browser: Debian's Chromium, driven by Playwright,
shows the counts the API reports after a producer run; a screenshot is kept in
test-artifacts/ for a person to look at."""

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from helpers import IN_TOOLS_CONTAINER, WHOLE_BATCH, stored_order_ids, wait_for
from lab.core import aws
from lab.core.processes import free_port
from lab.watch import dashboard
from producer import Options, send

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_SECONDS = 90
# As this machine needs them: no sandbox as root, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, installed by the test setup when missing (apt, as root)."""
    if IN_TOOLS_CONTAINER:
        pytest.skip("no browser in the tools image (and no way out to install one); host and Docker mode run it")
    if not Path(CHROMIUM).exists():
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            pytest.skip("Chromium is missing: `sudo apt-get install chromium` to run the dashboard test")
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            capture_output=True,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
    return CHROMIUM


def api_state(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=5) as response:
        return json.loads(response.read())


FLOW_COUNTS = {  # the flow picture's box -> what it counts in the API's latest sample
    "#flow-queue-count": lambda sample: sample["visible"] + sample["in_flight"],
    "#flow-dlq-count": lambda sample: sample["dlq"],
    "#flow-function-count": lambda sample: sample["invocations"],
    "#flow-store-count": lambda sample: sample["stored"],
    "#flow-email-count": lambda sample: sample["emails"],
}


def test_the_dashboard_shows_what_the_api_reports(make_stack, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    stack = make_stack(**WHOLE_BATCH)  # the eight good orders of the batch must all be stored
    port = free_port()
    server, sampler = dashboard.start(stack.stack, port)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.goto(f"http://127.0.0.1:{port}/")  # open while the orders flow: the arrows show rates
            summary = send(Options(count=10, poison_share=0.2, queue=stack.stack.queue_name, quiet=True, run_id="dash"))
            assert summary.sent == 10
            # Failed records, then (a visibility timeout after the last) DLQ moves,
            # show on their red arrows while they happen.
            for arrow in ("flow-rate-failed", "flow-rate-dlq"):
                page.wait_for_function(
                    f"Number(document.getElementById('{arrow}').dataset.rate) > 0", timeout=TIMEOUT_SECONDS * 1000
                )
            wait_for(lambda: len(stored_order_ids(stack.bucket)) == 8, TIMEOUT_SECONDS, "8 orders stored")
            wait_for(lambda: len(aws.peek_messages(stack.dlq_url)) == 2, TIMEOUT_SECONDS, "2 poison orders in the DLQ")
            latest = wait_for(
                lambda: (s := api_state(port)["samples"]) and s[-1]["dlq"] == 2 and s[-1]["stored"] == 8 and s[-1],
                TIMEOUT_SECONDS,
                "the API to report 8 stored and 2 in the DLQ",
            )
            assert latest["visible"] == 0 and latest["emails"] == 8 and latest["errors"] >= 1
            assert latest["failed_records"] >= 6  # two poison orders, three deliveries each

            page.wait_for_function(
                "document.getElementById('tile-dlq').textContent === '2' && "
                "document.getElementById('tile-stored').textContent === '8'",
                timeout=TIMEOUT_SECONDS * 1000,
            )
            # The drawing and the API agree, on the sample the page drew last.
            drawn_at = float(page.get_attribute("body", "data-sample-time"))
            sample = next(s for s in api_state(port)["samples"] if s["t"] == drawn_at)
            drawn_depth = json.loads(page.get_attribute("#chart-depth", "data-latest"))
            assert drawn_depth == [sample["visible"], sample["in_flight"], 2]
            for box, count in FLOW_COUNTS.items():
                assert int(page.get_attribute(box, "data-count")) == count(sample), box
            assert page.locator("#tile-denied").inner_text() == str(sample["denied"])
            assert "failed" in page.get_attribute("#flow-rate-dlq", "class")  # drawn red, apart from the rest
            assert page.locator("#poison tbody tr").count() == 2
            assert "dash-" in page.locator("#poison tbody").inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            browser.close()
        assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    finally:
        sampler.stopping.set()
        server.shutdown()
