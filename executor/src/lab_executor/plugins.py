"""Plugin entry points. Kept free of heavy imports: plux loads this module to
discover plugins, and the classes it names are imported only when selected."""

from localstack.runtime import hooks
from localstack.runtime.server.core import RuntimeServerPlugin
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.plugins import Service, aws_provider


class LocalExecutorPlugin(RuntimeExecutorPlugin):
    name = "local"

    def load(self, *args, **kwargs):
        from lab_executor.executor import LocalRuntimeExecutor

        return LocalRuntimeExecutor


class LoopbackTwistedServerPlugin(RuntimeServerPlugin):
    name = "twisted-loopback"

    def load(self, *args, **kwargs):
        from lab_executor.loopback_gateway import LoopbackTwistedRuntimeServer

        return LoopbackTwistedRuntimeServer()


# Chosen by PROVIDER_OVERRIDE_CLOUDFORMATION=lab (lab/core/settings.py), loaded on
# CloudFormation's first request.
@aws_provider(api="cloudformation", name="lab")
def lab_cloudformation():
    """LocalStack's own CloudFormation (the v2 engine, its default), with SAM
    templates deployed at once all transformed (see sam_transforms)."""
    from localstack.services.cloudformation.v2.provider import CloudformationProviderV2

    from lab_executor import sam_transforms

    sam_transforms.apply()
    return Service.for_provider(CloudformationProviderV2())


# First of the start hooks: every patch below is of a private part of LocalStack
# 4.14.0, which any other version may have changed.
@hooks.on_infra_start(priority=100)
def lab_refuse_other_localstack():
    """Stop, in one line, on any LocalStack but the one the patches are for (see version)."""
    import logging

    from localstack.runtime.current import get_current_runtime

    from lab_executor import version

    if refusal := version.unsupported_localstack():
        logging.getLogger(__name__).error(refusal)
        get_current_runtime().exit(1)


def _patchable() -> bool:
    from lab_executor import version

    return not version.unsupported_localstack()  # the refusal above has said why


@hooks.on_infra_start()
def lab_sqs_like_aws():
    """SQS mappings as AWS runs them: MaximumConcurrency batches at once and long
    polls (see esm_concurrency), visibility timeouts that end on time (see
    sqs_visibility), batching windows that gather for the whole window (see
    sqs_window), a FIFO batch's failed message group holding back only its own
    messages (see sqs_fifo_groups)."""
    if not _patchable():
        return
    from lab_executor import esm_concurrency, sqs_fifo_groups, sqs_visibility, sqs_window

    esm_concurrency.apply()
    sqs_visibility.apply()
    sqs_window.apply()
    sqs_fifo_groups.apply()


@hooks.on_infra_start()
def lab_lambda_observable():
    """Invocation logs stored a batch at a time (see log_batches), and concurrent
    executions served at /_lab/concurrency for make status and the dashboard (see
    concurrency)."""
    if not _patchable():
        return
    from localstack.services.edge import ROUTER

    from lab_executor import concurrency, log_batches

    log_batches.apply()
    ROUTER.add(concurrency.ConcurrencyEndpoint())


@hooks.on_infra_start()
def lab_iam_enforced():
    """IAM enforced for the lab's roles, and their denials served at /_lab/iam
    (see iam_enforcement)."""
    if not _patchable():
        return
    from localstack.services.edge import ROUTER

    from lab_executor import iam_enforcement

    iam_enforcement.apply()
    ROUTER.add(iam_enforcement.DeniedEndpoint())


@hooks.on_infra_start()
def lab_requests_counted():
    """Requests counted as AWS bills them, for make cost (see request_counts)."""
    if not _patchable():
        return
    from localstack.services.edge import ROUTER

    from lab_executor import request_counts

    request_counts.apply()
    ROUTER.add(request_counts.RequestCountsEndpoint())


@hooks.on_infra_start()
def lab_gateway_reliable():
    """A service's first requests served together (see service_loading), and an
    SES outbox that can be read while emails go out (see ses_outbox)."""
    if not _patchable():
        return
    from lab_executor import service_loading, ses_outbox

    service_loading.apply()
    ses_outbox.apply()


@hooks.on_infra_start()
def lab_stable_s3_keys():
    """S3 files object bodies under keys that are the same in every process, so a
    saved state's objects read back whole after a restart (see outside_stores)."""
    from lab_executor import outside_stores

    outside_stores.use_stable_s3_keys()


# Before LocalStack's own hook that runs the ready.d scripts (priority 0): they
# provision on top of what the snapshot brought back.
@hooks.on_infra_ready(priority=100)
def lab_restore_state():
    """Load the lab's last snapshot and save one every interval (see persistence)."""
    from localstack.services.edge import ROUTER

    from lab_executor import persistence

    persistence.restore_and_start()
    ROUTER.add(persistence.SnapshotEndpoint())  # for make up


# After LocalStack's shutdown handlers (priority 0) and before its services stop
# (-10), which closes S3's files.
@hooks.on_infra_shutdown(priority=-5)
def lab_save_state():
    from lab_executor import persistence

    persistence.save_at_shutdown()


# After LocalStack's own hook that runs the ready.d scripts (priority 0).
@hooks.on_infra_ready(priority=-100)
def lab_stop_when_not_provisioned():
    """Stop LocalStack when the image's provisioning script failed (see provisioned)."""
    from lab_executor import provisioned

    provisioned.stop_if_not_provisioned()


# Last of the ready hooks: start-up is over, so what it built can be frozen.
@hooks.on_infra_ready(priority=-200)
def lab_tune_garbage_collector():
    """Freeze start-up's objects and collect less often (see gc_tuning)."""
    from lab_executor import gc_tuning

    gc_tuning.apply()


@hooks.on_infra_start()
def lab_memory_profile():
    """GET /_lab/memory: the heap's holders by package, when tracemalloc traces (see memory_profile)."""
    from localstack.services.edge import ROUTER

    from lab_executor import memory_profile

    ROUTER.add(memory_profile.MemoryEndpoint())
