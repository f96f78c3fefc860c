"""The requests LocalStack served, counted as AWS bills them, for `make cost`.

A response handler in LocalStack's chain counts every SQS, S3, Lambda and SES
request by operation and resource (the queue, bucket or function), the
mapping's own receives, deletes and invokes included (direct_calls runs this
handler for them).
SQS bills each 64 KB chunk of a request's payload as one request, so each SQS
request also counts its chunks. Served at GET /_lab/requests?resource=...

Applied at LocalStack's start by the ``on_infra_start`` hook in plugins.py.
"""

import json
import math
import threading
import time
import urllib.parse
from collections import Counter

from localstack.aws import handlers
from localstack.aws.api import RequestContext
from localstack.aws.chain import HandlerChain
from localstack.http import Request, Response, route

SQS_CHUNK_BYTES = 64 * 1024
OBSERVER_AGENT = "lab-observer"  # lab/core/aws.py's observer_client
COUNTED_SERVICES = {"sqs", "s3", "lambda", "ses"}

requests: Counter[tuple[str, str, str]] = Counter()  # (service, operation, resource) -> requests
chunks: Counter[tuple[str, str, str]] = Counter()  # the same, as SQS bills them (64 KB chunks)
started = time.time()
counted_since: dict[str, float] = {}  # resource -> when its counts were last reset (make up)
_lock = threading.Lock()


def resource_of(service: str, request: dict) -> str:
    """The queue, bucket or function a request is about; "" when none."""
    if service == "sqs":
        if url := request.get("QueueUrl"):
            return urllib.parse.urlparse(url).path.rstrip("/").split("/")[-1]
        return request.get("QueueName", "")
    if service == "s3":
        return request.get("Bucket", "")
    if service == "lambda":
        return str(request.get("FunctionName", "")).split(":function:")[-1].split(":")[0]
    return ""


def payload_bytes(context: RequestContext, response: Response) -> int:
    # The larger of what was sent and what came back: a receive's payload is its answer.
    sent = context.request.content_length or 0
    try:
        answered = len(response.data or b"")
    except Exception:  # noqa: BLE001 -- a streamed answer: not an SQS one
        answered = 0
    if not sent and not answered and context.service_request is not None:
        # A call made without HTTP (the mapping's, direct_calls): its request and answer as JSON would be.
        sent, answered = _json_size(context.service_request), _json_size(context.service_response or {})
    return max(sent, answered)


def _json_size(value) -> int:
    return len(json.dumps(value, default=lambda v: v.decode("latin-1") if isinstance(v, bytes) else str(v)))


def count(_chain: HandlerChain, context: RequestContext, response: Response) -> None:
    if context.service is None or context.operation is None:
        return
    if OBSERVER_AGENT in context.request.headers.get("User-Agent", ""):
        return  # the lab looking at the stack (make status, the dashboard), not the stack at work
    service = context.service.service_name
    if service not in COUNTED_SERVICES:
        return
    key = (service, context.operation.name, resource_of(service, context.service_request or {}))
    billed = max(1, math.ceil(payload_bytes(context, response) / SQS_CHUNK_BYTES)) if service == "sqs" else 1
    with _lock:
        requests[key] += 1
        chunks[key] += billed


class RequestCountsEndpoint:
    """GET /_lab/requests?resource=orders&resource=lab-orders: the counts for
    these resources since they were last reset (POST /_lab/requests/reset with
    the same arguments, which `make up` sends), or since LocalStack started."""

    @route("/_lab/requests", methods=["GET"])
    def counts(self, request: Request) -> dict:
        wanted = set(request.args.getlist("resource"))
        with _lock:
            rows = [
                {
                    "service": service,
                    "operation": operation,
                    "resource": resource,
                    "requests": number,
                    "billed": chunks[(service, operation, resource)],
                }
                for (service, operation, resource), number in requests.items()
                if resource in wanted and number
            ]
            since = max((counted_since.get(resource, started) for resource in wanted), default=started)
        return {"since": since, "counts": rows}

    @route("/_lab/requests/reset", methods=["POST"])
    def reset(self, request: Request) -> dict:
        wanted = set(request.args.getlist("resource"))
        now = time.time()
        with _lock:
            for key in [key for key in requests if key[2] in wanted]:
                del requests[key], chunks[key]
            counted_since.update({resource: now for resource in wanted})
        return {"since": now}


def apply() -> None:
    handlers.run_custom_response_handlers.append(count)
