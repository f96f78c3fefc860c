"""A service's first requests, when several come at once, all reach it.

LocalStack 4.14.0 loads a service on its first request (ServiceLoader in
localstack/aws/handlers/service_plugin.py). The thread that loads it marks the
service loaded and only then adds its operations to the request router. A second
request that arrives in between sees the mark, skips the loading and finds no
route: LocalStack answers 501 InternalFailure, "no handler for operation
'VerifyEmailIdentity' on service 'ses'". Eight test workers provisioning at once
on a busy machine hit it (CI, 2026-12-06); so can a student's producer and
dashboard starting together. AWS has no such state: a request to an endpoint is
served or throttled, never refused for being early.

The lab lets a request past the loader only once the service's routes are in:
until then it waits on the lock the loading thread holds. After that, one set
lookup per request, as before. Applied at LocalStack's start by the
``on_infra_start`` hook in plugins.py.
"""

from localstack.aws.handlers.service_plugin import ServiceLoader
from localstack.utils.patch import Patch

# Services whose routes are in the router; written only under the service's lock.
_ROUTED: set[str] = set()


def _require_service_with_routes(require_service, self: ServiceLoader, chain, context, response):
    if not context.service or context.service.service_name in _ROUTED:
        return require_service(self, chain, context, response)
    name = context.service.service_name
    # The loading thread holds this (reentrant) lock while it adds the routes.
    with self.service_locks[name]:
        require_service(self, chain, context, response)
        _ROUTED.add(name)  # not reached when loading raised: the next request tries again


def apply() -> Patch:
    patch = Patch.function(ServiceLoader.require_service, _require_service_with_routes)
    patch.apply()
    return patch
