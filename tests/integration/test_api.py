"""POST /orders on API Gateway, the front door the course sheet draws: an order
is queued and answered 202 at once, whether or not the worker runs; a body that
is not an order is refused with 400 and never reaches the queue."""

import json
import uuid

from helpers import order, queue_depth, stored_order_ids, wait_for
from lab.core import aws
from lab.stack.mapping import set_mapping_enabled

TIMEOUT_SECONDS = 90


def test_the_api_queues_an_order_with_202_and_refuses_what_is_not_an_order_with_400(make_stack):
    stack = make_stack(api=True, enabled=False)  # nobody consumes: the API must not care
    url = f"{stack.api_url}/orders"
    order_id = f"api-{uuid.uuid4().hex[:8]}"

    status, answer = aws.post_json(url, order(order_id))
    assert status == 202, answer
    assert answer["orderId"] == order_id and answer["messageId"]
    assert queue_depth(stack.queue_url)["visible"] == 1  # queued before the answer

    status, answer = aws.post_json(url, json.dumps({"orderId": "no-email"}))
    assert status == 400 and "email" in answer["message"], answer
    status, answer = aws.post_json(url, "not an order at all")
    assert status == 400 and "not JSON" in answer["message"], answer
    assert queue_depth(stack.queue_url)["visible"] == 1, "a refused body must not reach the queue"

    # What its role allows (that AWS would deny the rest is the IAM lesson's test).
    policy = aws.client("iam").get_role_policy(RoleName=stack.stack.api_role_name, PolicyName=stack.stack.policy_name)
    assert {
        (statement["Action"], statement["Resource"])
        for statement in policy["PolicyDocument"]["Statement"]
        if "sqs:" in str(statement["Action"])
    } == {("sqs:SendMessage", stack.queue_arn)}

    set_mapping_enabled(aws.client("lambda"), stack.mapping_uuid, True)
    wait_for(lambda: order_id in stored_order_ids(stack.bucket), TIMEOUT_SECONDS, "the API's order stored")
