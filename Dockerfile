# One image for every stagetrack service: `stagetrack serve ingest|engine|kpi|dispatch`, `stagetrack migrate`
# and the operator commands (docs/deploy.md). The wheel is built in the first stage and installed, with the
# versions of requirements.lock, into a virtualenv that the slim runtime stage copies: no compiler, no pip
# cache, no dev tools, no source tree in the image, and the service runs as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
# What the wheel is built from (.dockerignore lets nothing else in); services/common/resources links to
# schemas/ and migrations/, which the build copies into the package.
COPY pyproject.toml README.md requirements.lock ./
COPY schemas/ schemas/
COPY migrations/ migrations/
COPY services/ services/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/stagetrack \
    && /opt/stagetrack/bin/pip install --no-cache-dir --constraint requirements.lock /wheels/stagetrack-*.whl \
    && /opt/stagetrack/bin/pip uninstall --yes pip \
    && /opt/stagetrack/bin/stagetrack --version

FROM ${PYTHON_IMAGE} AS runtime
# The dispatcher verifies webhook receivers' certificates against the system trust store (Python's ssl defaults,
# not certifi): the python slim images carry Debian's ca-certificates; a base image without them would refuse
# every https destination.
# A fixed numeric id, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 stagetrack \
    && useradd --system --uid 10001 --gid stagetrack --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin stagetrack
COPY --from=build /opt/stagetrack /opt/stagetrack
# Listen on every interface of the container; production refuses development secrets (docs/security.md), so the
# image never runs with the local stack's credentials by accident.
ENV PATH=/opt/stagetrack/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STAGETRACK_HOST=0.0.0.0 \
    STAGETRACK_ENVIRONMENT=production
WORKDIR /opt/stagetrack
USER 10001:10001
# ingest, engine, kpi, dispatch (STAGETRACK_INGEST_PORT, _ENGINE_PORT, _KPI_PORT, _DISPATCH_PORT)
EXPOSE 8000 8001 8002 8003
ENTRYPOINT ["stagetrack"]
CMD ["serve", "ingest"]
