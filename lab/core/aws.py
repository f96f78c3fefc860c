"""boto3 clients for the lab's LocalStack, and a check that it answers."""

import functools
import json
import urllib.error
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lab.core import settings
from lab.core.errors import LabError
from lab.core.settings import Stack

# Fail fast when LocalStack is not there, instead of botocore's long retries.
CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=60, retries={"max_attempts": 3})
# The lab's looks at a stack (make status, the dashboard, make trace, make cost)
# say so in their user agent: `make cost` counts what the stack did, not what
# watching it took (executor/request_counts.py skips them).
OBSERVER_AGENT = "lab-observer"
OBSERVER_CONFIG = CLIENT_CONFIG.merge(Config(user_agent_extra=OBSERVER_AGENT))


def client(service: str, endpoint_url: str | None = None, config: Config = CLIENT_CONFIG):
    return _client(service, endpoint_url or settings.ENDPOINT_URL, config)


# One client per service, endpoint and configuration, made once: making one
# costs tens of milliseconds of CPU, and a wait or a live screen asks for one
# every second. Clients are safe to share between threads.
@functools.lru_cache(maxsize=64)
def _client(service: str, endpoint_url: str, config: Config):
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=settings.REGION,
        aws_access_key_id=settings.ACCESS_KEY_ID,
        aws_secret_access_key=settings.SECRET_ACCESS_KEY,
        config=config,
    )


def observer_client(service: str, endpoint_url: str | None = None):
    """A client for looking, not doing: its requests are not counted as the stack's."""
    return client(service, endpoint_url, OBSERVER_CONFIG)


def denied_requests(role_names: list[str]) -> dict | None:
    """{"enforced", "count", "latest"}: requests of these roles that IAM denied
    (executor/iam_enforcement.py); None where LocalStack has no such plugin."""
    query = urllib.parse.urlencode([("role", name) for name in role_names])
    try:
        return get_json(f"/_lab/denied?{query}")
    except urllib.error.HTTPError:
        return None


def set_iam_enforcement(on: bool) -> None:
    """Switch the lab's IAM enforcement while LocalStack runs (make bench compares)."""
    post_to_localstack(f"/_lab/iam?enforce={int(on)}")


def role_credentials(role_name: str, session_name: str = "lab", endpoint_url: str | None = None) -> dict:
    """Temporary credentials for one of the lab's roles, from STS AssumeRole, as a
    person or a service taking the role gets them on AWS. Requests signed with
    them are checked against the role's policies (executor/iam_enforcement.py)."""
    role_arn = f"arn:aws:iam::{settings.ACCOUNT_ID}:role/{role_name}"
    return client("sts", endpoint_url).assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]


def client_as(role_name: str, service: str, endpoint_url: str | None = None):
    """A client that acts as the role: what it may not do is denied."""
    credentials = role_credentials(role_name)
    return boto3.client(
        service,
        endpoint_url=endpoint_url or settings.ENDPOINT_URL,
        region_name=settings.REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=CLIENT_CONFIG,
    )


# `make up` tags the function with the queue type it deployed: the one thing a
# later command (`make producer`, `make status`...) cannot tell from its own
# settings when the student typed `LAB_FIFO=1 make up` and then `make status`.
FIFO_TAG = "lab:fifo"


def lab_stack() -> Stack:
    """The stack `make up` created: Stack(), with the queue type `make up` chose,
    unless LAB_FIFO is given now."""
    if settings.is_set("FIFO") or not is_up():
        return Stack()
    try:
        tags = client("lambda").get_function(FunctionName=Stack().function_name).get("Tags") or {}
    except (BotoCoreError, ClientError):  # not up, or not provisioned yet: the settings say it all
        return Stack()
    return Stack(fifo=tags.get(FIFO_TAG) == "true")


# LocalStack is on this machine: never through a proxy the environment names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get_json(path: str, endpoint_url: str | None = None, timeout: float = 3) -> dict:
    """GET one of LocalStack's own endpoints (health, init status, SES outbox...)."""
    url = (endpoint_url or settings.ENDPOINT_URL) + path
    with _DIRECT.open(url, timeout=timeout) as response:
        return json.loads(response.read())


def post_to_localstack(path: str, timeout: float = 5) -> None:
    """POST (no body) to one of LocalStack's own endpoints: the lab's plugin's switches."""
    _DIRECT.open(urllib.request.Request(settings.ENDPOINT_URL + path, method="POST"), timeout=timeout).close()


def post_json(url: str, body: str, timeout: float = 30) -> tuple[int, dict]:
    """POST a JSON body, as a caller of the lab's API does: (status, answer),
    an error status included (4xx and 5xx are answers here, not exceptions)."""
    request = urllib.request.Request(
        url, data=body.encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text or b"{}")
    except json.JSONDecodeError:
        return status, {"text": text.decode(errors="replace")}


QUEUE_DEPTH_ATTRIBUTES = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


def queue_depth(queue_url: str, endpoint_url: str | None = None) -> dict[str, int]:
    """How many messages are visible, in flight and delayed (SQS's approximate counts)."""
    attributes = client("sqs", endpoint_url).get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=list(QUEUE_DEPTH_ATTRIBUTES.values())
    )["Attributes"]
    return {name: int(attributes[attribute]) for name, attribute in QUEUE_DEPTH_ATTRIBUTES.items()}


def queue_is_empty(queue_url: str, endpoint_url: str | None = None) -> bool:
    return not any(queue_depth(queue_url, endpoint_url).values())


def concurrent_executions(function_name: str, window_seconds: float) -> dict | None:
    """{"running": n, "peak": m} from the lab's executor (executor/concurrency.py);
    None where LocalStack runs functions another way (its Docker executor)."""
    query = urllib.parse.urlencode({"function": function_name, "window": window_seconds})
    try:
        return get_json(f"/_lab/concurrency?{query}")
    except urllib.error.HTTPError:
        return None


def is_up(endpoint_url: str | None = None) -> bool:
    try:
        get_json("/_localstack/health", endpoint_url)
        return True
    except (OSError, urllib.error.URLError, ValueError):
        return False


def require_up(endpoint_url: str | None = None) -> None:
    if not is_up(endpoint_url):
        raise LabError(
            f"LocalStack does not answer at {endpoint_url or settings.ENDPOINT_URL}: start the lab with `make up`"
        )


# LocalStack's developer endpoint answers ReceiveMessage without receiving:
# no visibility change, no receive count, every message at once.
PEEK_PATH = "/_aws/sqs/messages"


SQS_BATCH_LIMIT = 10  # entries of one SendMessageBatch (the producer sends this many)


def send_batch(queue_url: str, bodies: list[str], **entry_fields) -> list[str]:
    """SendMessageBatch, ten at a time; the message ids in the bodies' order, or
    LabError naming the entries SQS refused."""
    sqs, message_ids = client("sqs"), []
    for first in range(0, len(bodies), SQS_BATCH_LIMIT):
        chunk = bodies[first : first + SQS_BATCH_LIMIT]
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": body, **entry_fields} for i, body in enumerate(chunk)],
        )
        if response.get("Failed"):
            raise LabError(f"SQS refused {len(response['Failed'])} of {len(chunk)} messages: {response['Failed']}")
        by_id = {entry["Id"]: entry["MessageId"] for entry in response["Successful"]}
        message_ids += [by_id[str(i)] for i in range(len(chunk))]
    return message_ids


def peek_messages(queue_url: str, endpoint_url: str | None = None) -> list[dict]:
    """The messages in a queue, as ReceiveMessage would show them, without receiving them."""
    peek = client("sqs", (endpoint_url or settings.ENDPOINT_URL) + PEEK_PATH)
    response = peek.receive_message(QueueUrl=queue_url, AttributeNames=["All"], MessageAttributeNames=["All"])
    return response.get("Messages", [])


def sent_emails(endpoint_url: str | None = None) -> list[dict]:
    """Emails in LocalStack's SES outbox."""
    return get_json("/_aws/ses", endpoint_url).get("messages", [])


def emailed_order_id(message: dict) -> str:
    """The order an outbox email confirms: the worker's subject is "Order <id> received"."""
    return message.get("Subject", "").removeprefix("Order ").removesuffix(" received")
