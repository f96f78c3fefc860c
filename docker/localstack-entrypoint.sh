#!/bin/sh
# The lab's LocalStack container starts here: LocalStack gets its settings from
# lab/core/settings.py, the same as in host mode (LAB_* variables and .env apply),
# then the image's own entrypoint takes over.
set -eu
cd "$LAB_ROOT"
exports=$("$LAB_HOOK_PYTHON" -m lab localstack-exports)
eval "$exports"
exec docker-entrypoint.sh "$@"
