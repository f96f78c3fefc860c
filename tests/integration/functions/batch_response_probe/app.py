"""Returns the partial batch response its first record asks for, to see how the
event source mapping reads well- and ill-formed responses."""

import json


def handler(event, context):
    records = event["Records"]
    for record in records:
        # One line per delivery, for the test to count.
        print(
            json.dumps(
                {
                    "probe": "delivery",
                    "messageId": record["messageId"],
                    "receiveCount": int(record["attributes"]["ApproximateReceiveCount"]),
                }
            )
        )
    respond = json.loads(records[0]["body"])["respond"]
    first_id = records[0]["messageId"]
    return {
        "unknown-id": {"batchItemFailures": [{"itemIdentifier": "no-such-message-id"}]},
        "empty-id": {"batchItemFailures": [{"itemIdentifier": ""}]},
        "wrong-key": {"batchItemFailures": [{"itemId": first_id}]},
        "own-id": {"batchItemFailures": [{"itemIdentifier": first_id}]},
        "empty-list": {"batchItemFailures": []},
        "null": None,
    }[respond]
