# vaultapi server image. Build: `docker build -t vaultapi .`
# Run: `vaultapi db upgrade` once per release (docker-compose.yml's `migrate`
# service), then the default command serves. Configuration is environment
# only (`.env.example` names every setting); see docs/deployment.md.
# tests/test_container.py checks this file, and runs its commands on the host.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: wheels only, nothing compiled (every dependency ships a wheel) ------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
# The project's own wheel, then the exact versions from constraints.txt as
# binary wheels into a virtual environment that the runtime stage copies whole.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/vaultapi \
 && /opt/vaultapi/bin/pip install --only-binary=:all: --constraint constraints.txt /wheels/vaultapi-*.whl \
 && /opt/vaultapi/bin/pip uninstall --yes pip setuptools

# -- runtime: the interpreter, the virtual environment, an unprivileged user ----
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 vaultapi \
 && useradd --system --uid 10001 --gid vaultapi --home-dir /var/lib/vaultapi \
        --create-home --shell /usr/sbin/nologin vaultapi
COPY --from=build /opt/vaultapi /opt/vaultapi
ENV PATH=/opt/vaultapi/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VAULTAPI_ENV=production \
    VAULTAPI_DATA_DIR=/var/lib/vaultapi \
    VAULTAPI_SERVER__HOST=0.0.0.0 \
    VAULTAPI_SERVER__PORT=8000
USER 10001:10001
WORKDIR /var/lib/vaultapi
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "vaultapi.probe"]
CMD ["vaultapi", "serve"]
