"""A deployment that cannot start: its handler module fails to import."""

import order_helpers_that_were_never_packaged  # noqa: F401 -- the deliberate fault


def handler(event, context):
    return {"batchItemFailures": []}
