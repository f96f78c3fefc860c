"""The API's function on a sample API Gateway event, with botocore's Stubber
answering for SQS: an order is sent and answered 202 with its message id; a
body that is not an order is answered 400 and sends nothing."""

import copy
import importlib.util
import json
import sys

import pytest
from botocore.stub import Stubber

from unit_support import PROJECT_ROOT, WORKER_DIR, LambdaContextForTests

API_DIR = PROJECT_ROOT / "functions" / "order_api"
SAMPLE_EVENT = json.loads((API_DIR / "events" / "post-order.json").read_text())
QUEUE_URL = "http://127.0.0.1:4566/000000000000/orders"


@pytest.fixture(scope="module")
def api():
    """functions/order_api/app.py under a name of its own (the worker's module is
    also `app`), with the schema its zip carries from the worker's folder."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "QUEUE_URL": QUEUE_URL,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "POWERTOOLS_SERVICE_NAME": "order-api",
        }.items():
            patch.setenv(name, value)
        patch.syspath_prepend(str(WORKER_DIR))  # schemas.py, as shared.txt puts it in the zip
        spec = importlib.util.spec_from_file_location("order_api_app", API_DIR / "app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
        sys.modules.pop("schemas", None)


def post(body: str) -> dict:
    event = copy.deepcopy(SAMPLE_EVENT)
    event["body"] = body
    return event


def test_an_order_is_sent_and_answered_202_with_its_message_id(api):
    with Stubber(api.sqs) as sqs:
        sqs.add_response(
            "send_message", {"MessageId": "m-1"}, {"QueueUrl": QUEUE_URL, "MessageBody": SAMPLE_EVENT["body"]}
        )
        response = api.handler(SAMPLE_EVENT, LambdaContextForTests(function_name="orders-api"))
        sqs.assert_no_pending_responses()
    assert response["statusCode"] == 202
    assert json.loads(response["body"]) == {"orderId": "123", "messageId": "m-1"}


@pytest.mark.parametrize(
    "body, says",
    [
        ("not JSON", "not JSON"),
        ('{"orderId": "123"}', "email"),
        ('{"orderId": "../x", "email": "a@b.co"}', "orderId"),
        ("", "not JSON"),
    ],
)
def test_what_is_not_an_order_is_answered_400_and_never_sent(api, body, says):
    with Stubber(api.sqs):  # no response queued: a send would raise
        response = api.handler(post(body), LambdaContextForTests(function_name="orders-api"))
    assert response["statusCode"] == 400
    assert says in json.loads(response["body"])["message"]
