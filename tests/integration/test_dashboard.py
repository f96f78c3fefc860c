"""The dashboard in a real browser: Debian's Chromium, driven by Playwright,
shows the counts the API reports after a producer run, and the lab guide beside
the flow marks each step done as a student does it; screenshots are kept in
test-artifacts/ for a person to look at."""

import contextlib
import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from helpers import IN_TOOLS_CONTAINER, WHOLE_BATCH, every_delivery_seconds, stored_order_ids, wait_for
from lab.core import aws
from lab.core.processes import free_port
from lab.stack import operations
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


def test_the_dashboard_shows_what_the_api_reports(make_stack, chromium):
    stack = make_stack(**WHOLE_BATCH)  # the eight good orders of the batch must all be stored
    port = free_port()
    server, sampler = dashboard.start(stack.stack, port)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright_browser(chromium) as browser:
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
        assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    finally:
        sampler.stopping.set()
        server.shutdown()


# The texts of the flow picture's boxes and of the tiles that run out of their box (none should).
TEXTS_OUT_OF_THEIR_BOX = """() => [...document.querySelectorAll("#flow g.box")].flatMap((box) => {
  const r = box.querySelector("rect").getBBox();
  return [...box.querySelectorAll("text")].filter((text) => {
    const b = text.getBBox();
    return b.x < r.x || b.x + b.width > r.x + r.width || b.y < r.y || b.y + b.height > r.y + r.height;
  }).map((text) => text.textContent);
}).concat([...document.querySelectorAll(".tile")].filter((tile) => tile.scrollWidth > tile.clientWidth)
  .map((tile) => tile.textContent))"""


def wait_until_done(page, step: int, timeout_s: float) -> None:
    """The step's button in the list, and the step itself when it is the one shown, say done."""
    page.wait_for_selector(f'#guide-step-{step}[data-done="true"]', timeout=timeout_s * 1000)


def shown_step(page) -> tuple[str, str]:
    article = page.locator("#guide-step")
    return article.get_attribute("data-step"), article.get_attribute("data-check-done")


def test_the_guide_beside_the_flow_marks_each_step_done_as_the_student_does_it(make_stack, chromium):
    stack = make_stack(**WHOLE_BATCH)  # the three orders of step 1 come as one batch, and all are stored
    port = free_port()
    server, sampler = dashboard.start(stack.stack, port)
    requested: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright_browser(chromium) as browser:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"http://127.0.0.1:{port}/#step-1")
            page.wait_for_function("document.getElementById('guide-step').dataset.step === '1'")
            page.wait_for_selector("#guide-step-0[data-done='true']", timeout=TIMEOUT_SECONDS * 1000)  # the lab is up
            assert shown_step(page) == ("1", "false")
            assert "make pause" in page.locator("#guide-body .command").first.inner_text()
            assert "focus" in page.get_attribute("#flow [data-part='queue']", "class")

            # Step 1, as the guide says: pause the mapping, send three orders.
            operations.set_mapping(stack.stack, False)
            send(Options(count=3, queue=stack.stack.queue_name, quiet=True, run_id="guide"))
            wait_until_done(page, 1, TIMEOUT_SECONDS)
            assert shown_step(page) == ("1", "true")

            # The keyboard moves to step 2; resuming the mapping does it.
            page.keyboard.press("ArrowRight")
            page.wait_for_function("document.getElementById('guide-step').dataset.step === '2'")
            assert shown_step(page) == ("2", "false")
            assert "focus" in page.get_attribute("#flow [data-part='function']", "class")
            assert "focus" not in (page.get_attribute("#flow [data-part='producer']", "class") or "")
            operations.set_mapping(stack.stack, True)
            wait_until_done(page, 2, TIMEOUT_SECONDS)
            wait_for(
                lambda: stored_order_ids(stack.bucket) == {f"guide-{n:05d}" for n in range(3)},
                every_delivery_seconds(stack.stack),
                "the 3 orders of step 1 stored",
            )

            # Step 5 from the list of steps (a button, pressed with the keyboard): a poison order.
            page.focus("#guide-step-5")
            page.keyboard.press("Enter")
            page.wait_for_function("document.getElementById('guide-step').dataset.step === '5'")
            assert shown_step(page) == ("5", "false")
            aws.client("sqs").send_message(
                QueueUrl=stack.queue_url, MessageBody=json.dumps({"orderId": "guide-poison", "email": "not an email"})
            )
            wait_until_done(page, 5, every_delivery_seconds(stack.stack) + TIMEOUT_SECONDS)  # a deadline, not a delay
            assert shown_step(page) == ("5", "true")
            assert "dead-letter queue" in page.locator("#guide-check").inner_text()

            assert page.evaluate(TEXTS_OUT_OF_THEIR_BOX) == []
            page.click("#large-text")  # for a projector
            assert page.get_attribute("#large-text", "aria-pressed") == "true"
            assert page.evaluate("getComputedStyle(document.querySelector('#guide-body p')).fontSize") == "28px"
            assert page.evaluate(TEXTS_OUT_OF_THEIR_BOX) == []
            page.screenshot(path=str(ARTIFACTS / "dashboard-guide.png"), full_page=True)
        # Offline: the page, its scripts, its styles and its data all came from the dashboard.
        assert requested and {urllib.parse.urlsplit(url).hostname for url in requested} == {"127.0.0.1"}, requested
    finally:
        sampler.stop()
        server.shutdown()


@contextlib.contextmanager
def sync_playwright_browser(chromium: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
