"""Plugin entry points. Kept free of heavy imports: plux loads this module to
discover plugins, and the classes it names are imported only when selected."""

from localstack.runtime import hooks
from localstack.runtime.server.core import RuntimeServerPlugin
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


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


@hooks.on_infra_start()
def lab_sqs_like_aws():
    """ScalingConfig.MaximumConcurrency and long polling for SQS mappings (see
    esm_concurrency); visibility timeouts that end on time (see sqs_visibility);
    batching windows that gather for the whole window (see sqs_window);
    concurrent executions served at /_lab/concurrency (see concurrency); an SES
    outbox that can be read while emails go out (see ses_outbox); invocation
    logs stored a batch at a time (see log_batches); IAM enforced
    for the lab's roles (see iam_enforcement); requests counted as AWS bills
    them (see request_counts); a service's first requests served together
    (see service_loading); a FIFO batch's failed message group holding back
    only its own messages (see sqs_fifo_groups)."""
    import logging

    from localstack.runtime.current import get_current_runtime
    from localstack.services.edge import ROUTER

    from lab_executor import (
        concurrency,
        esm_concurrency,
        iam_enforcement,
        log_batches,
        request_counts,
        service_loading,
        ses_outbox,
        sqs_fifo_groups,
        sqs_visibility,
        sqs_window,
        version,
    )

    if refusal := version.unsupported_localstack():
        logging.getLogger(__name__).error(refusal)
        get_current_runtime().exit(1)
        return
    esm_concurrency.apply()
    log_batches.apply()
    sqs_visibility.apply()
    sqs_fifo_groups.apply()
    sqs_window.apply()
    ses_outbox.apply()
    iam_enforcement.apply()
    request_counts.apply()
    service_loading.apply()
    ROUTER.add(concurrency.ConcurrencyEndpoint())  # for make status and the dashboard
    ROUTER.add(iam_enforcement.DeniedEndpoint())
    ROUTER.add(request_counts.RequestCountsEndpoint())  # for make cost


@hooks.on_infra_start()
def lab_stable_s3_keys():
    """S3 files object bodies under keys that are the same in every process, so a
    saved state's objects read back whole after a restart (see persistence)."""
    from lab_executor import persistence

    persistence.use_stable_s3_keys()


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
