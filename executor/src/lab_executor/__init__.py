"""LocalStack plugins for the SQS -> Lambda lab.

Two jobs: run Lambda functions as local processes, without Docker (``local``,
namespace ``localstack.lambda.runtime_executor``: ``executor`` and
``environment``), and make LocalStack 4.14.0 behave as AWS does where the lab
teaches it, one patched internal per module. executor/README.md has the table:
each internal patched, why, and the test that shows the patch is needed.
Every entry point is in ``plugins``.
"""
