"""LocalStack plugins for the SQS -> Lambda lab.

- ``local`` (namespace ``localstack.lambda.runtime_executor``): runs Python
  Lambda functions as local subprocesses, so Lambda works without Docker and
  without network access. Select it with ``LAMBDA_RUNTIME_EXECUTOR=local``.
- ``twisted-loopback`` (namespace ``localstack.runtime.server``): LocalStack's
  default gateway server, but bound to the host given in ``GATEWAY_LISTEN``
  (the stock one listens on every interface). Select it with
  ``GATEWAY_SERVER=twisted-loopback``.
- ``lab_sqs_like_aws`` (hook ``localstack.hooks.on_infra_start``):
  SQS event source mappings run up to ``ScalingConfig.MaximumConcurrency``
  batches at once and long-poll (``esm_concurrency``), and in-flight messages
  return to their queue when their visibility timeout ends, not up to a
  second later (``sqs_visibility``).
- ``lab_stop_when_not_provisioned`` (hook ``localstack.hooks.on_infra_ready``):
  in the lab's image, LocalStack stops when the ready hook that provisions the
  lab failed, so that the container never looks healthy unprovisioned
  (``provisioned``).
"""
