"""What a deploy gets wrong: least privilege that bites (a role denied what it
may not do), and a package the function imports that its zip does not carry."""

import importlib.metadata
import json
import shutil
import tempfile
from pathlib import Path

from botocore.exceptions import ClientError

from lab.core import aws, settings
from lab.core.waiting import wait_for
from lab.stack.mapping import set_mapping_enabled
from lab.stack.policies import worker_policy
from lab.stack.provision import provision
from lab.stack.teardown import temporary_stack
from lab.teach.scenarios.kit import WAIT_SECONDS, new_order, say
from lab.watch.facts import count_timeouts, deliveries, function_log, stored_orders

MISSING_PERMISSION_ORDERS = 3


def denial(call, **arguments) -> str:
    """What AWS answers a call the role may not make: its error code and message."""
    try:
        call(**arguments)
    except ClientError as error:
        return f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
    return "allowed"


def role_without(deployed, action: str) -> None:
    """The worker's role as provisioning writes it, less one action."""
    policy = worker_policy(deployed.stack, deployed.queue_arn)
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != action]
    policy["Statement"] = [statement for statement in policy["Statement"] if statement["Action"]]
    aws.client("iam").put_role_policy(
        RoleName=deployed.stack.role_name, PolicyName=deployed.stack.policy_name, PolicyDocument=json.dumps(policy)
    )


def failure_reasons(function_name: str) -> list[str]:
    return [record.get("reason", "") for record in deliveries(function_name, outcome="failed")]


def missing_permission() -> dict:
    """Least privilege that bites: the producer's role may send and nothing else;
    a worker whose role lost s3:PutObject fails every order into the DLQ until
    the role is fixed and the DLQ redriven; a mapping whose function may not
    receive is refused."""
    from lab.stack.operations import redrive

    results = {}
    # Six seconds: room for a cold start on a busy laptop, so that a delivery fails
    # for the permission rather than times out (which logs no reason).
    with temporary_stack("scn-iam", enabled=False, function_timeout=6, visibility_timeout=6) as deployed:
        stack, producer = deployed.stack, deployed.stack.producer_role_name
        sqs = aws.client_as(producer, "sqs")
        sent = sqs.send_message(QueueUrl=deployed.queue_url, MessageBody=new_order("iam")[1])["MessageId"]
        received = denial(sqs.receive_message, QueueUrl=deployed.queue_url)
        purged = denial(sqs.purge_queue, QueueUrl=deployed.queue_url)
        say("effect", f"as role {producer}: SendMessage accepted; ReceiveMessage: {received}")
        say("effect", f"PurgeQueue too: {purged.split(':')[0]}. The producer can read nothing and lose nothing")
        results["producer"] = {"sent": bool(sent), "receive": received, "purge": purged}
        aws.client("sqs").purge_queue(QueueUrl=deployed.queue_url)

        role_without(deployed, "s3:PutObject")
        say("mistake", f"{stack.role_name} loses s3:PutObject (a policy edited by hand, a typo in a template)")
        orders = [body for _, body in (new_order("iam") for _ in range(MISSING_PERMISSION_ORDERS))]
        aws.send_batch(deployed.queue_url, orders)
        set_mapping_enabled(aws.client("lambda"), deployed.mapping_uuid, True)
        wait_for(
            lambda: len(aws.peek_messages(deployed.dlq_url)) == len(orders),
            WAIT_SECONDS,
            f"the {len(orders)} orders in the DLQ",
        )
        # The worker's log can trail the move to the DLQ: wait for a failed delivery
        # logged per order (one that timed out logs "Task timed out" and no reason).
        function = stack.function_name
        wait_for(
            lambda: len(failure_reasons(function)) + count_timeouts(function) >= len(orders),
            WAIT_SECONDS,
            "the failed deliveries in the worker's log",
        )
        reasons, timeouts = failure_reasons(function), count_timeouts(function)
        denied = sum("AccessDenied" in reason and "s3:PutObject" in reason for reason in reasons)
        say(
            "effect",
            f"{len(reasons) + timeouts} deliveries failed, {denied} of them AccessDenied on s3:PutObject; "
            f"{stored_orders(deployed.bucket)} stored, {len(orders)} in the DLQ",
        )
        stack = provision(stack.with_changes(enabled=True)).stack  # the role as provisioning writes it
        say("fix", f"the role as `make up` writes it, then a redrive of {stack.dlq_name}")
        redrive(stack)
        wait_for(
            lambda: stored_orders(deployed.bucket) == len(orders), WAIT_SECONDS, "every order stored after the fix"
        )
        say("after", f"{stored_orders(deployed.bucket)} of {len(orders)} orders stored")
        results["worker"] = {
            "failed": len(reasons) + timeouts,
            "access_denied": denied,
            "stored_after_fix": stored_orders(deployed.bucket),
        }

        lambda_ = aws.client("lambda")
        set_mapping_enabled(lambda_, deployed.mapping_uuid, False)
        role_without(deployed, "sqs:ReceiveMessage")
        say(
            "mistake",
            f"the mapping is switched off; {stack.role_name} loses sqs:ReceiveMessage; the mapping is "
            "switched on again",
        )
        refused = denial(lambda_.update_event_source_mapping, UUID=deployed.mapping_uuid, Enabled=True)
        say("effect", f"switching it on is refused: {refused}")
        results["mapping"] = refused
    return results


# requests and what it imports, beyond what Lambda's runtime already has (urllib3 comes with boto3).
REQUESTS_AND_ITS_DEPENDENCIES = ("requests", "charset-normalizer", "idna", "certifi")


def import_errors(function_name: str) -> list[str]:
    """The init failures Lambda logged for the function: `[ERROR] Runtime.…: …` lines."""
    return [
        line.removeprefix("[ERROR] ")
        for line in function_log(function_name).splitlines()
        if line.startswith("[ERROR] Runtime.ImportModuleError")
    ]


def unpackaged_import() -> dict:
    """The worker imports a package its zip does not carry (the machine that
    wrote it has it installed): every delivery fails before any order code runs,
    with Lambda's error, until requirements.txt packages it."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="scn-import-") as folder:
        source = Path(folder) / "order_worker"
        shutil.copytree(settings.FUNCTION_SOURCE_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
        app = source / "app.py"
        # The import goes first, where a student would add it: Lambda loads app.py and fails there.
        app.write_text("import requests  # to call a shipping service, say\n" + app.read_text())
        for phase in ("mistake", "fix"):
            if phase == "fix":
                pins = "".join(
                    f"{name}=={importlib.metadata.version(name)}\n" for name in REQUESTS_AND_ITS_DEPENDENCIES
                )
                with open(source / "requirements.txt", "a") as requirements:
                    requirements.write(pins)
            say(
                phase,
                "the worker imports requests, "
                + (
                    "which this machine has installed and its zip does not carry"
                    if phase == "mistake"
                    else "now pinned in its requirements.txt, so its zip carries it"
                ),
            )
            with temporary_stack("scn-import", source) as deployed:
                order_id, body = new_order("import")
                aws.client("sqs").send_message(QueueUrl=deployed.queue_url, MessageBody=body)
                function = deployed.stack.function_name
                if phase == "mistake":
                    errors = wait_for(
                        lambda: import_errors(function),  # noqa: B023 -- waited on in this iteration
                        WAIT_SECONDS,
                        "the delivery's failure in the log",
                        describe=lambda: function_log(function),  # noqa: B023 -- waited on in this iteration
                    )
                    results[phase] = {"error": errors[0], "stored": stored_orders(deployed.bucket)}
                    say(
                        "effect",
                        f"{errors[0]}; {stored_orders(deployed.bucket)} stored: the order waits for a retry, "
                        "then the DLQ, as every order would",
                    )
                else:
                    wait_for(lambda: stored_orders(deployed.bucket) == 1, WAIT_SECONDS, "the order stored")
                    results[phase] = {"errors": len(import_errors(function)), "stored": stored_orders(deployed.bucket)}
                    say("after", f"the order stored, {len(import_errors(function))} import errors")
    return results
