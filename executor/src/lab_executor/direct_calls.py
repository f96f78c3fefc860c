"""The event source mapping's own calls, handed straight to LocalStack's providers.

For every batch, LocalStack's SQS mapping makes three calls through boto
clients it creates for itself: ReceiveMessage and DeleteMessageBatch (with the
function role's credentials) and the Lambda Invoke. Each is serialized,
parsed back and walked through LocalStack's handler chain, in the one process
that also keeps the queue, runs the invocation and stores its logs: under load
that was a large share of LocalStack's busy time (docs/PERFORMANCE.md), work
AWS's pollers do not put on the services they call.

``DirectClient`` stands in for such a client for those operations. It runs
the hooks registered on the client's events as botocore does (SqsPoller's
overrides, esm_concurrency's long poll and receive count), builds the request
context the chain would have built (the client's credentials, the resource's
account and region, LocalStack's override headers), runs the lab's request
handlers on it (IAM: a receive the function's role may not make is still
denied), calls the provider's own operation and runs the lab's response
handlers (the request counts `make cost` reads, the change counter that
decides when to save). What is received, visibility, receive counts, moves to
the DLQ, deletes and invocations stay LocalStack's code. Every other call
(GetQueueAttributes) goes through the original client. LAB_ESM_DIRECT_CALLS=0
turns it off.
"""

import functools
import io
import os
from functools import cache

from botocore import xform_name
from localstack.aws.api import RequestContext
from localstack.aws.chain import HandlerChain
from localstack.aws.handlers import run_custom_response_handlers, serve_custom_service_request_handlers
from localstack.aws.spec import load_service
from localstack.http import Request, Response
from localstack.services.plugins import SERVICE_PLUGINS
from localstack.utils.aws.arns import parse_arn

ENABLED = os.environ.get("LAB_ESM_DIRECT_CALLS", "1") != "0"
# The calls a mapping makes for every batch; Payload is a blob the provider reads as a stream.
SQS_OPERATIONS = ("ReceiveMessage", "DeleteMessageBatch")
LAMBDA_OPERATIONS = ("Invoke",)
STREAMED = {"Payload"}


@cache
def _model(service: str):
    return load_service(service)


class DirectClient:
    """A mapping's boto client whose ``operations`` go to the service's provider;
    everything else (``meta`` too) is the boto client's."""

    def __init__(self, client, service: str, operations: tuple[str, ...], resource_arn: str) -> None:
        self.client, self.service = client, service
        arn = parse_arn(resource_arn)
        self.account_id, self.region = arn["account"], arn["region"]
        # The chain finds an assumed role by the key that signed the request: the same key here.
        access_key = client._request_signer._credentials.get_frozen_credentials().access_key
        self.authorization = f"AWS4-HMAC-SHA256 Credential={access_key}/19700101/{self.region}/{service}/aws4_request"
        for operation in operations:
            setattr(self, xform_name(operation), functools.partial(self._api_call, operation))

    def __getattr__(self, name):
        return getattr(self.client, name)

    def _api_call(self, operation: str, **params) -> dict:
        """What botocore's client does around a call, with the provider instead of HTTP."""
        events = self.client.meta.events
        model = self.client.meta.service_model.operation_model(operation)
        event_id = self.client.meta.service_model.service_id.hyphenize()
        hook_context: dict = {}
        events.emit(f"provide-client-params.{event_id}.{operation}", params=params, model=model, context=hook_context)
        request_dict: dict = {"headers": {}}
        events.emit(f"before-call.{event_id}.{operation}", params=request_dict, model=model, context=hook_context)
        parsed = self._serve(operation, params, request_dict["headers"])
        events.emit(
            f"after-call.{event_id}.{operation}", http_response=None, parsed=parsed, model=model, context=hook_context
        )
        return parsed

    def _serve(self, operation: str, request: dict, headers: dict) -> dict:
        """What LocalStack's chain does with the request, less parsing and serializing."""
        service = _model(self.service)
        context = RequestContext(
            Request("POST", "/", remote_addr="127.0.0.1", headers={**headers, "Authorization": self.authorization})
        )
        context.service, context.protocol = service, service.protocol
        context.operation = service.operation_model(operation)
        context.region, context.account_id = self.region, self.account_id
        context.service_request = request
        chain, response = HandlerChain(), Response()
        try:
            serve_custom_service_request_handlers(chain, context, response)  # IAM: raises when denied
            provider = SERVICE_PLUGINS.get_service(self.service).lifecycle_hook
            arguments = {
                xform_name(name): io.BytesIO(value.encode() if isinstance(value, str) else value)
                if name in STREAMED
                else value
                for name, value in request.items()
            }
            context.service_response = getattr(provider, xform_name(operation))(context, **arguments) or {}
            parsed = dict(context.service_response)
            for name in STREAMED & parsed.keys():  # boto hands a blob back as a stream
                parsed[name] = io.BytesIO(parsed[name] or b"")
            parsed["ResponseMetadata"] = {
                "RequestId": context.request_id,
                "HTTPStatusCode": parsed.get("StatusCode", 200),
            }
            return parsed
        except Exception as error:
            context.service_exception = error
            raise
        finally:
            run_custom_response_handlers(chain, context, response)
