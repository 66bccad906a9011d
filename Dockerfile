# syntax=docker/dockerfile:1
# One image for every Python service of docker-compose.yaml: the Airflow components, the Celery
# workers (CPU and, built with a CUDA torch, GPU) and the MLflow tracking server.
#
#   docker build -t assay:local .                                    # CPU torch (default)
#   docker build -t assay:local-gpu \
#     --build-arg TORCH_INDEX_URL=https://pypi.org/simple .          # CUDA torch (PyPI's Linux wheel)
#
# No secret is baked in: credentials reach containers at run time from .env (docs/compose.md).
FROM python:3.11-slim-bookworm

# Where torch comes from. The default CPU index keeps the image free of ~3 GB of CUDA libraries;
# the GPU worker passes PyPI (whose Linux torch wheel is CUDA-enabled) or a
# https://download.pytorch.org/whl/cuXXX index matching the host driver.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_SPEC=torch==2.13.0
# CeleryExecutor lives in this provider; it is image-only (the local stack uses LocalExecutor).
ARG EXTRA_PIP_PACKAGES="apache-airflow-providers-celery==3.26.0"
# Same uid as the official Airflow image, so volumes and host mounts behave the same way.
ARG ASSAY_UID=50000

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    ASSAY_HOME=/opt/assay \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    GX_ANALYTICS_ENABLED=false \
    MLFLOW_DISABLE_TELEMETRY=true \
    SCARF_ANALYTICS=false \
    DO_NOT_TRACK=true

# curl for the compose health checks; tini as PID 1 so signals reach Celery and zombies are reaped.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl tini \
 && rm -rf /var/lib/apt/lists/*

# Group 0 like the Airflow image: any uid in group root can still write the state folders.
# /mlartifacts and /mlflow-auth (MLflow's user store) exist here so their named volumes start out
# owned by the runtime user.
RUN useradd --uid "${ASSAY_UID}" --gid 0 --create-home --home-dir /home/assay --shell /bin/bash assay \
 && mkdir -p /opt/airflow/logs /opt/assay/data-docs /opt/assay/landing /mlartifacts /mlflow-auth \
 && chown -R "${ASSAY_UID}:0" /opt/airflow /opt/assay /mlartifacts /mlflow-auth \
 && chmod -R g+rwX /opt/airflow /opt/assay /mlartifacts /mlflow-auth

WORKDIR /opt/airflow

# Dependencies first, so a code change does not reinstall them.
# constraints.txt is a freeze of the CPU dev venv: its torch line (torch==2.13.0+cpu) would veto a
# CUDA torch, and a freeze may list the project itself, so both are filtered out before use.
COPY requirements.txt constraints.tx[t] ./
RUN --mount=type=cache,target=/root/.cache/pip \
    set -eu; \
    pip install --no-deps --index-url "${TORCH_INDEX_URL}" "${TORCH_SPEC}"; \
    touch constraints.txt; \
    grep -viE '^(-e[[:space:]]|assay([[:space:]=@]|$)|torch([[:space:]=<>~!@]|$))' constraints.txt > /tmp/constraints.txt || true; \
    pip install -r requirements.txt ${EXTRA_PIP_PACKAGES} -c /tmp/constraints.txt; \
    pip check; \
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; \
    rm -f /tmp/constraints.txt

# The project: /opt/airflow is both AIRFLOW_HOME and the project root, so Airflow finds dags/ and
# plugins/ at their defaults and assay.config finds pyproject.toml above include/assay.
# Sources stay root-owned: the runtime user can read them but not change them.
COPY pyproject.toml README.m[d] ./
COPY include/ include/
RUN pip install --no-cache-dir --no-deps -e . \
 && assay --help > /dev/null
COPY dags/ dags/
COPY plugins/ plugins/
COPY expectations/ expectations/
# airflow-init creates assay's MLflow account with it (docs/mlflow-auth.md).
COPY docker/mlflow/service_user.py docker/mlflow/

USER assay

EXPOSE 8080 8793 8974 5000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["airflow", "version"]
