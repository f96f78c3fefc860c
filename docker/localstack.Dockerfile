# The lab's LocalStack: the pinned LocalStack 4.14.0 image, plus
#   - the lab's LocalStack plugins (executor/: the local Lambda executor, SQS
#     mappings like AWS's, the stop on a failed provisioning) and awslambdaric,
#   - the code that provisions the lab (lab/; init/ready.d/ runs it) and the functions' zips,
# all installed here, at build time, from requirements/lab.lock's pins.
# Its ready hook provisions the lab, and it turns healthy only once that worked.
# docker-compose.yml builds it (LAB_LOCALSTACK_IMAGE names another local build
# of 4.14.0 as the base). Nothing is mounted from the host.
ARG LOCALSTACK_IMAGE=localstack/localstack:4.14.0@sha256:3ebc37595918b8accb852f8048fef2aff047d465167edd655528065b07bc364a

# --- The functions' deployment zips: their source and the packages they pin --
FROM ${LOCALSTACK_IMAGE} AS function-zip
ARG PYTHON=/opt/code/localstack/.venv/bin/python
WORKDIR /opt/lab
COPY requirements/lab.lock requirements/lab.lock
COPY functions/order_worker/requirements.txt functions/order_worker/requirements.txt
COPY functions/order_api/requirements.txt functions/order_api/requirements.txt
RUN ${PYTHON} -m pip install --no-cache-dir --progress-bar off --no-deps --target /opt/function-packages \
      --constraint requirements/lab.lock --requirement functions/order_worker/requirements.txt \
      --requirement functions/order_api/requirements.txt
COPY lab/__init__.py lab/
COPY lab/core/__init__.py lab/core/errors.py lab/core/
COPY lab/stack/__init__.py lab/stack/function_zip.py lab/stack/
COPY functions/ functions/
RUN mkdir /opt/zips && for function in order_worker order_api; do \
      PYTHONPATH=/opt/function-packages ${PYTHON} -m lab.stack.function_zip functions/$function /opt/zips/$function.zip \
      || exit 1; done

# --- LocalStack with the lab -------------------------------------------------
FROM ${LOCALSTACK_IMAGE}
ARG PYTHON=/opt/code/localstack/.venv/bin/python
WORKDIR /opt/lab
# Into LocalStack's own venv, where its plugin loader finds the entry points.
COPY requirements/lab.lock requirements/lab.lock
COPY executor/ /tmp/executor/
RUN ${PYTHON} -m pip install --no-cache-dir --progress-bar off --constraint requirements/lab.lock /tmp/executor \
 && rm -rf /tmp/executor
# LocalStack's service catalog, which it otherwise builds at its first request
# after every start (10 s here); the official image has it already.
RUN ls /usr/lib/localstack/service-catalog-* >/dev/null 2>&1 || ${PYTHON} -m localstack.aws.spec
COPY lab/ lab/
COPY init/ init/
COPY functions/ functions/
COPY --from=function-zip /opt/zips/ build/
COPY docker/localstack-entrypoint.sh /usr/local/bin/lab-entrypoint
COPY docker/localstack-healthcheck.sh /usr/local/bin/lab-healthcheck
# chmod: a checkout on Windows may not keep the executable bit.
RUN chmod 0755 /usr/local/bin/lab-entrypoint /usr/local/bin/lab-healthcheck init/ready.d/*.sh \
 && ln -s /opt/lab/init/ready.d/10-provision-lab.sh /etc/localstack/init/ready.d/10-provision-lab.sh
# What the ready hook needs to provision from here; LocalStack's own settings
# come from lab/core/settings.py when the container starts (lab-entrypoint).
ENV LAB_ROOT=/opt/lab \
    LAB_HOOK_PYTHON=${PYTHON} \
    LAB_FUNCTION_ZIPS=/opt/lab/build \
    LAB_ENDPOINT_URL=http://127.0.0.1:4566 \
    LAB_STATE_DIR=/tmp/lab-state \
    LAB_SNAPSHOT_DIR=/var/lib/localstack/lab-snapshot \
    LAB_STOP_WHEN_NOT_PROVISIONED=1 \
    PYTHONDONTWRITEBYTECODE=1
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=90 CMD ["lab-healthcheck"]
ENTRYPOINT ["lab-entrypoint"]
# What the image was built from (scripts/lab-in-docker source-hash): `make up`
# rebuilds when this folder's code no longer matches it. Last, so the cache holds.
ARG LAB_SOURCE_HASH=unknown
LABEL lab.source="${LAB_SOURCE_HASH}"
