#!/bin/sh
# The lab's LocalStack container starts here: LocalStack gets its settings from
# lab/core/settings.py, the same as in host mode (LAB_* variables and .env apply),
# then the image's own entrypoint takes over.
set -eu
cd "$LAB_ROOT"
# The settings module alone: nothing else of the lab is needed to start.
exports=$("$LAB_HOOK_PYTHON" -m lab.core.settings --localstack-exports)
eval "$exports"
exec docker-entrypoint.sh "$@"
