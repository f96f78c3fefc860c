"""IAM for the lab's own principals, as AWS enforces it.

LocalStack's free edition checks no permission at all, so a least-privilege
role could never be seen to matter. This handler, in LocalStack's chain once
the request is parsed, looks at who signed it: requests signed with
credentials that STS AssumeRole issued for a role (a function's execution
environment, `awslocal --profile lab-producer`) are evaluated against that
role's identity policies, inline and attached (iam_policy.decide), and a
denied one is answered with AWS's error and message. Requests signed with
LocalStack's default credentials (``test``) are not checked, so the lab's own
commands and tests keep working. LAB_IAM_ENFORCEMENT=0 turns it off.

Applied at LocalStack's start by the ``on_infra_start`` hook in plugins.py.
"""

import json
import logging
import os
import threading
import time
import urllib.parse
from collections import Counter, deque

from localstack.aws import handlers
from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.chain import HandlerChain
from localstack.http import Request, Response, route
from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

from lab_executor.iam_policy import EXPLICIT_DENY, decide

LOG = logging.getLogger(__name__)
# Switched at start by LAB_IAM_ENFORCEMENT, and while running by POST
# /_lab/iam?enforce=0|1 (make bench measures both ways in one run).
enforcement = {"on": os.environ.get("LAB_IAM_ENFORCEMENT", "1") != "0"}
RECENT_DENIALS = 200  # kept for make status and the dashboard (/_lab/denied)

# Operations whose IAM action is not service:Operation (S3's API and its
# permissions were named apart; SQS's batches).
ACTION_OF = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "CopyObject"): "s3:PutObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    # A batch needs the permission of the single call.
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
}
# Allowed to any principal on AWS, whatever its policies say.
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}
# AWS's error code for a denied request, by service (the rest: AccessDeniedException).
DENIED_CODE = {
    "sqs": "AccessDenied",
    "s3": "AccessDenied",
    "ses": "AccessDenied",
    "sts": "AccessDenied",
    "iam": "AccessDenied",
}

denials: deque[dict] = deque(maxlen=RECENT_DENIALS)
denied_by_role: Counter[str] = Counter()
_roles_by_key: dict[str, tuple[str, str]] = {}  # access key id -> (role name, session name)
_lock = threading.Lock()


def assumed_role(account_id: str, access_key_id: str) -> tuple[str, str] | None:
    """(role name, session name) when STS issued this key by AssumeRole; None otherwise."""
    if found := _roles_by_key.get(access_key_id):
        return found
    from moto.sts.models import sts_backends

    for role in sts_backends[account_id]["aws"].assumed_roles:
        if role.access_key_id == access_key_id:
            found = (role.role_arn.split("/")[-1], role.session_name)
            with _lock:
                _roles_by_key[access_key_id] = found
            return found
    return None


def role_policies(account_id: str, role_name: str) -> list[dict]:
    """The role's identity-based policies: inline and attached managed (their default version)."""
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account_id]["aws"].get_role(role_name)
    except Exception:  # noqa: BLE001 -- the role was deleted after the key was issued: nothing allows anything
        return []
    documents = [_document(text) for text in role.policies.values()]
    for policy in role.managed_policies.values():
        version = next(v for v in policy.versions if v.is_default)
        documents.append(_document(version.document))
    return documents


def _document(text) -> dict:
    if isinstance(text, dict):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(urllib.parse.unquote(text))


def _queue_arn(context: RequestContext, request: dict) -> str:
    if url := request.get("QueueUrl"):
        account, name = urllib.parse.urlparse(url).path.rstrip("/").split("/")[-2:]
        return f"arn:aws:sqs:{context.region}:{account}:{name}"
    if name := request.get("QueueName"):
        return f"arn:aws:sqs:{context.region}:{request.get('QueueOwnerAWSAccountId') or context.account_id}:{name}"
    return "*"


def resource_arn(context: RequestContext, service: str, request: dict) -> str:
    """The resource as AWS names it in a policy, for the lab's services; * otherwise."""
    if service == "sqs":
        return _queue_arn(context, request)
    if service == "s3" and (bucket := request.get("Bucket")):
        return f"arn:aws:s3:::{bucket}/{request['Key']}" if request.get("Key") else f"arn:aws:s3:::{bucket}"
    if service == "ses" and (sender := request.get("Source") or request.get("FromEmailAddress")):
        address = sender.split("<")[-1].rstrip(">").strip()  # "Shop <orders@...>"
        return f"arn:aws:ses:{context.region}:{context.account_id}:identity/{address}"
    if service == "logs" and (group := request.get("logGroupName")):
        arn = f"arn:aws:logs:{context.region}:{context.account_id}:log-group:{group}"
        return f"{arn}:log-stream:{request['logStreamName']}" if request.get("logStreamName") else arn
    return "*"


def request_context_keys(context: RequestContext, role_name: str) -> dict[str, str]:
    """The global condition keys AWS sets on every request, that a policy's
    Condition can test (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""
    now = time.time()
    return {
        "aws:SourceIp": context.request.remote_addr or "",
        "aws:SecureTransport": "true" if context.request.scheme == "https" else "false",
        "aws:PrincipalArn": f"arn:aws:iam::{context.account_id}:role/{role_name}",
        "aws:PrincipalAccount": context.account_id,
        "aws:PrincipalType": "AssumedRole",
        "aws:RequestedRegion": context.region,
        "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "aws:EpochTime": str(int(now)),
    }


def denial_message(principal: str, action: str, resource: str, outcome: str) -> str:
    """AWS's wording for a denied request."""
    reason = (
        "with an explicit deny in an identity-based policy"
        if outcome == EXPLICIT_DENY
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {reason}"


def enforce(_chain: HandlerChain, context: RequestContext, _response: Response) -> None:
    if not enforcement["on"] or context.service is None or context.operation is None:
        return
    access_key_id = extract_access_key_id_from_auth_header(context.request.headers)
    if not access_key_id or not (role := assumed_role(context.account_id, access_key_id)):
        return  # LocalStack's default credentials: the lab's own commands, unrestricted
    service = context.service.signing_name or context.service.service_name
    action = ACTION_OF.get((service, context.operation.name), f"{service}:{context.operation.name}")
    if action in ALWAYS_ALLOWED:
        return
    resource = resource_arn(context, service, context.service_request or {})
    role_name, session = role
    decision = decide(
        role_policies(context.account_id, role_name), action, resource, request_context_keys(context, role_name)
    )
    if decision.allowed:
        return
    principal = f"arn:aws:sts::{context.account_id}:assumed-role/{role_name}/{session}"
    message = denial_message(principal, action, resource, decision.outcome)
    with _lock:
        denied_by_role[role_name] += 1
        denials.append(
            {"at": time.time(), "role": role_name, "action": action, "resource": resource, "decision": decision.outcome}
        )
    LOG.info("IAM denied: %s", message)
    raise CommonServiceException(
        DENIED_CODE.get(service, "AccessDeniedException"), message, status_code=403, sender_fault=True
    )


# What an SQS mapping's function role needs on the queue; AWS checks them when
# the mapping is created or updated (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
MAPPING_NEEDS = ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")


def check_mapping_role(function_role_arn: str, source_arn: str) -> None:
    """Refuse an SQS mapping whose function role may not consume the queue, as AWS does."""
    if not enforcement["on"] or not source_arn.startswith("arn:aws:sqs:"):
        return
    from localstack.aws.api.lambda_ import InvalidParameterValueException

    account_id, role_name = function_role_arn.split(":")[4], function_role_arn.split("/")[-1]
    documents = role_policies(account_id, role_name)
    for operation in MAPPING_NEEDS:
        if not decide(documents, f"sqs:{operation}", source_arn).allowed:
            raise InvalidParameterValueException(
                f"The function execution role does not have permissions to call {operation} on SQS", Type="User"
            )


def _check_source(check, self, service, resource_arn, function_arn, function_role_arn):
    # LocalStack's own check that a mapping's source exists, made on create and
    # update with the function's role: the permissions come first, as on AWS.
    if function_role_arn:
        check_mapping_role(function_role_arn, resource_arn)
    return check(self, service, resource_arn, function_arn, function_role_arn)


def apply() -> None:
    from localstack.services.lambda_.provider import LambdaProvider
    from localstack.utils.patch import Patch

    handlers.serve_custom_service_request_handlers.append(enforce)
    Patch.function(LambdaProvider.check_service_resource_exists, _check_source).apply()


class DeniedEndpoint:
    """GET /_lab/denied?role=a&role=b: how many requests of these roles were
    denied since LocalStack started, and the latest (make status, the dashboard)."""

    @route("/_lab/denied", methods=["GET"])
    def denied(self, request: Request) -> dict:
        roles = set(request.args.getlist("role"))
        with _lock:
            latest = next((d for d in reversed(denials) if d["role"] in roles), None)
            return {
                "enforced": enforcement["on"],
                "count": sum(denied_by_role[role] for role in roles),
                "latest": latest,
            }

    @route("/_lab/iam/decide", methods=["POST"])
    def decide_requests(self, request: Request) -> dict:
        """{"policy": <document>, "requests": [[action, resource], ...]} -> the requests
        that policy allows, by the evaluator that decides the lab's real requests
        (make check judges a student's policy by it)."""
        body = request.get_json(force=True)
        return {
            "allowed": [
                [action, resource]
                for action, resource in body["requests"]
                if decide([body["policy"]], action, resource).allowed
            ]
        }

    @route("/_lab/iam", methods=["POST"])
    def switch(self, request: Request) -> dict:
        enforcement["on"] = request.args.get("enforce", "1") != "0"
        return {"enforced": enforcement["on"]}
