"""An outbox that can be read while emails are being sent.

LocalStack 4.14.0 answers ``GET /_aws/ses`` (the emails sent) by iterating
over its ``EMAILS`` dict while the SES provider adds to it from other request
threads: when an email goes out during the read, the iteration fails
("dictionary changed size during iteration") and the endpoint answers 500.
Seen in the suite, where one test reads the outbox while others' functions
send. The lab reads a copy (``list()`` of a dict's values is a single step
under the GIL); the filters are LocalStack's own. Applied in memory at
LocalStack's start by the ``on_infra_start`` hook in plugins.py.
"""

from localstack.services.ses import provider
from localstack.utils.patch import Patch


def _on_get_from_a_copy(_on_get, self, request) -> dict:
    # SesServiceApiResource.on_get, iterating over a copy as the only change.
    filter_id = request.args.get("id")
    filter_source = request.args.get("email")
    return {
        "messages": [
            message
            for message in list(provider.EMAILS.values())
            if filter_id in (message.get("Id"), None, "") and filter_source in (message.get("Source"), None, "")
        ]
    }


def apply() -> Patch:
    patch = Patch.function(provider.SesServiceApiResource.on_get, _on_get_from_a_copy)
    patch.apply()
    return patch
