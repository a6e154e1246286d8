# syntax=docker/dockerfile:1
# One image for every service; the command picks the service:
#   docker run gunma-model python -m services.router      (ingest, router, translate, sender, line_sandbox)
#   docker run gunma-model gunma --help                    (the ops CLI: keys, dlq, migrate, topics)
# Why one image: the services share one locked dependency set (uv.lock) and one package (services/), so
# per-service images would be the same layers five times, built and scanned five times, and could drift
# apart in versions. One image is built, scanned and promoted once; Kubernetes and compose pick the
# module. See docs/operations.md.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: resolve exactly uv.lock into a virtual environment -----------------------------------------
FROM ${PYTHON_IMAGE} AS build
# The uv version ./dev uses (UV_VERSION there); from PyPI like every other dependency.
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m pip install "uv==${UV_VERSION}"
WORKDIR /src
# Dependencies first: this layer is rebuilt only when the lock changes, not on every code change.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
COPY services ./services
# The project itself as a regular (non-editable) install: the runtime needs /app/.venv only.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# --- runtime: the interpreter, the environment, an unprivileged user; no compilers, no uv, no sources ----
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="gunma-model" \
      org.opencontainers.image.description="Gunma Model services: ingest, router, translate, sender, LINE sandbox, ops CLI" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 gunma \
 && useradd --system --uid 10001 --gid gunma --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin gunma
COPY --from=build /app/.venv /app/.venv
# Listen on all interfaces inside the container (the settings default is loopback, for laptops).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GUNMA_HTTP_HOST=0.0.0.0
WORKDIR /app
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8001 8002 8003 8004 8090
# /healthz of whichever service PID 1 runs (python -m services.<name>); the CLI has no health.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "services.ops.healthcheck"]
# Exec form, no shell: the Python process is PID 1 and receives SIGTERM itself, then drains
# (GUNMA_SHUTDOWN_GRACE_SECONDS) before it exits. Override the command to pick the service.
CMD ["python", "-m", "services.ingest"]
