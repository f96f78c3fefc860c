# The lab's tools: its CLI (`lab`), the producer, awslocal and the test suite,
# for a machine with Docker and no Python 3.12 (the Makefile then runs every
# command here: `docker compose run --rm tools lab status`). Built FROM the same
# pinned LocalStack image as the lab's LocalStack, for the same Python and
# boto3, and so that the two share their layers.
ARG LOCALSTACK_IMAGE=localstack/localstack:4.14.0@sha256:3ebc37595918b8accb852f8048fef2aff047d465167edd655528065b07bc364a
FROM ${LOCALSTACK_IMAGE}
ARG PYTHON=/opt/code/localstack/.venv/bin/python
WORKDIR /opt/lab
COPY requirements/ requirements/
COPY executor/ /tmp/executor/
RUN ${PYTHON} -m pip install --no-cache-dir --progress-bar off --constraint requirements/lab.lock --constraint requirements/test.lock \
      --requirement requirements/tools.txt /tmp/executor \
 && rm -rf /tmp/executor
COPY . .
# Editable, so that the project stays where it is (PROJECT_ROOT) and `lab` and
# `producer` become commands.
RUN ${PYTHON} -m pip install --no-cache-dir --quiet --no-deps --editable . \
 && chmod 0755 scripts/* init/ready.d/*.sh
# The AWS CLI profiles `make up` writes on a host (lab-producer, lab-worker...), here
# in the image: a config written by `make up` in this container would be gone when
# it exits. Inside, LocalStack is always 127.0.0.1:4566 (its network namespace).
ENV AWS_CONFIG_FILE=/opt/lab-aws/config
RUN ${PYTHON} -c 'from lab.stack import profiles; from lab.core.settings import Stack; print(profiles.write(Stack()))'
ENV LAB_MODE=tools \
    LAB_COMMAND_PREFIX="docker compose run --rm tools " \
    PATH=/opt/code/localstack/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1
HEALTHCHECK NONE
ENTRYPOINT []
CMD ["lab", "--help"]
# What the image was built from (scripts/lab-in-docker source-hash): `make up`
# rebuilds when this folder's code no longer matches it. Last, so the cache holds.
ARG LAB_SOURCE_HASH=unknown
LABEL lab.source="${LAB_SOURCE_HASH}"
