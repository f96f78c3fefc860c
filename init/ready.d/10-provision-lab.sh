#!/usr/bin/env bash
# LocalStack runs the scripts of etc/localstack/init/ready.d once it is ready.
# This one provisions the lab with the same code as `make up`; it is
# idempotent, so it is harmless when `make up` provisions again.
#   LAB_ROOT         the project folder (default: two levels above this script)
#   LAB_HOOK_PYTHON  the Python that has the lab's packages (default: python3)
set -euo pipefail
LAB_ROOT=${LAB_ROOT:-$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)}
cd "$LAB_ROOT"
echo "lab: provisioning from LocalStack's ready hook ($0)"
exec "${LAB_HOOK_PYTHON:-python3}" -m lab.stack.provision
