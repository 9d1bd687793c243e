# syntax=docker/dockerfile:1
# The backend image: API, Celery workers, beat and the migrate job are all this one image
# (ENTRYPOINT `water`, default command `api`). Build from the repository root:
#
#   docker build -f deploy/docker/backend.Dockerfile -t water-backend:dev .
#
# Layout inside the image:
#   /opt/venv                  the virtualenv: requirements.lock, water-engine, and water (editable)
#   /app/backend/src/water     the backend source (imported from here: the install is editable)
#   /app/backend/migrations    Alembic; `water migrate` finds it as
#   /app/backend/alembic.ini   Path(water/cli.py).parents[2] / "migrations" = /app/backend/migrations
#   /var/lib/water             WATER_DATA_DIR (beat schedule, worker metrics); the only writable path

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app

# Third-party dependencies first (their own layer: it changes only when the lock changes).
# Every pin in requirements.lock is a binary wheel for linux x86_64/aarch64, so no compiler is needed.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock

# The engine as a regular install; the backend editable, so that water/cli.py stays at
# /app/backend/src/water/cli.py and MIGRATIONS_DIR (= parents[2] / "migrations") resolves to
# /app/backend/migrations. A regular install would put cli.py under site-packages and
# `water migrate` would look for /opt/venv/lib/python3.11/migrations.
# --no-build-isolation: build with the setuptools pinned in requirements.lock, offline.
# `pip check` fails the build if the lock misses a dependency for this Python (the lock is
# resolved for one interpreter: e.g. redis needs async-timeout on Python < 3.11.3).
COPY engine/pyproject.toml engine/
COPY engine/src engine/src
COPY backend/pyproject.toml backend/alembic.ini backend/
COPY backend/src backend/src
COPY backend/migrations backend/migrations
RUN pip install --no-deps --no-build-isolation ./engine \
 && pip install --no-deps --no-build-isolation --editable ./backend \
 && pip check \
 && python -m compileall -q /app/backend/src /app/backend/migrations \
 && python -c "from water.cli import MIGRATIONS_DIR as m; assert str(m) == '/app/backend/migrations', m; assert (m / 'env.py').is_file() and (m.parent / 'alembic.ini').is_file(), 'migrations missing'" \
 && python -c "import water_engine, water.worker.celery_app"

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="water-backend" \
      org.opencontainers.image.description="Water API, Celery workers, beat and migrations (one image)"

# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can check it.
RUN groupadd --system --gid 10001 water \
 && useradd --system --uid 10001 --gid water --home-dir /var/lib/water --no-create-home \
            --shell /usr/sbin/nologin water \
 && install -d -o water -g water -m 0750 /var/lib/water

# Code and virtualenv stay owned by root: the water user can read them, not change them.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/backend /app/backend

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WATER_ENVIRONMENT=production \
    WATER_HOST=0.0.0.0 \
    WATER_PORT=8000 \
    WATER_DATA_DIR=/var/lib/water

WORKDIR /var/lib/water
USER 10001:10001
EXPOSE 8000 9808

# Liveness of the API (the default command). Workers and beat override or disable it
# (see deploy/compose.yaml). python:3.11-slim has no curl, so Python's urllib does the request.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/healthz' % os.environ.get('WATER_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["water"]
CMD ["api"]
