# syntax=docker/dockerfile:1
# One image for all five tradelab services; the command picks which one runs:
#   docker build -t tradelab:0.1.0 .
#   docker run ... tradelab:0.1.0 python -m tradelab_engine
# The services run their own database migrations and create their Kafka topics at start
# (docs/deploy.md); nothing else has to run first.

# --- build: the uv workspace into /opt/venv, exactly as uv.lock says, without the dev group ----
FROM python:3.11-slim-bookworm AS build

# uv from PyPI, the version that wrote uv.lock.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1

WORKDIR /src

# The workspace manifests first, so that the third-party dependencies form a layer that only a
# change to uv.lock or a pyproject.toml rebuilds. tools/* (the dev stack and the CLI) are members
# of the workspace uv.lock describes: their manifests come along, their code is not installed.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/runtime/pyproject.toml libs/runtime/
COPY tools/cli/pyproject.toml tools/cli/
COPY tools/devstack/pyproject.toml tools/devstack/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/auth/pyproject.toml services/auth/
COPY services/datasets/pyproject.toml services/datasets/
COPY services/engine/pyproject.toml services/engine/
COPY services/analytics/pyproject.toml services/analytics/
RUN uv sync --frozen --no-dev --no-install-workspace \
        --package tradelab-gateway --package tradelab-auth --package tradelab-datasets \
        --package tradelab-engine --package tradelab-analytics

# Then the sources: the libraries and services are installed as wheels (not editable), so the
# runtime stage needs /opt/venv only.
COPY libs/ libs/
COPY services/ services/
RUN uv sync --frozen --no-dev --no-editable \
        --package tradelab-gateway --package tradelab-auth --package tradelab-datasets \
        --package tradelab-engine --package tradelab-analytics

# --- runtime: the interpreter, the virtual environment and an unprivileged user -----------------
FROM python:3.11-slim-bookworm AS runtime

ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" tradelab \
    && useradd --system --uid "${APP_UID}" --gid tradelab --create-home \
        --home-dir /home/tradelab --shell /usr/sbin/nologin tradelab \
    && mkdir -p /var/lib/tradelab/objects \
    && chown -R tradelab:tradelab /var/lib/tradelab

# Owned by root, so the services cannot change their own code.
COPY --from=build /opt/venv /opt/venv

# Container defaults: listen on every interface, JSON logs, production checks (placeholder
# secrets are refused), the shared object store volume. NUMBA_CACHE_DIR: compiled kernels are
# cached in /tmp, the one writable place when the root file system is read-only.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    ENVIRONMENT=production \
    LOG_FORMAT=json \
    OBJECT_STORE_URL=file:///var/lib/tradelab/objects \
    GATEWAY_HOST=0.0.0.0 \
    AUTH_HOST=0.0.0.0 \
    DATASETS_HOST=0.0.0.0 \
    ENGINE_HOST=0.0.0.0 \
    ANALYTICS_HOST=0.0.0.0

USER ${APP_UID}:${APP_UID}
WORKDIR /home/tradelab
# gateway, auth, datasets, engine, analytics
EXPOSE 8000 8001 8002 8003 8004
CMD ["python", "-m", "tradelab_gateway"]
