# LedgerFlow image: one image for web (default CMD), worker, beat and one-shot commands.
# Runtime dependencies only, from a lock with hashes: requirements.txt (or, for OpenTelemetry
# tracing, docker build --build-arg REQUIREMENTS=requirements-tracing.txt). Tests, bench and
# docs stay out (.dockerignore).
FROM python:3.11-slim

ARG REQUIREMENTS=requirements.txt
# The commit the image is built from, shown by the ledgerflow_build_info metric:
#   docker build --build-arg GIT_SHA="$(git rev-parse HEAD)" .
ARG GIT_SHA=unknown

# Production: settings refuse to start without SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL and
# VAULT_ADDRESS (see .env.example). DEBUG=false is baked in; pass DEBUG=true only to run the
# embedded development default. gunicorn.conf.py reads GUNICORN_HOST, PORT, WEB_CONCURRENCY and
# GUNICORN_THREADS.
ENV DEBUG=false \
    GIT_SHA=${GIT_SHA} \
    GUNICORN_HOST=0.0.0.0 \
    PORT=8000 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first so code changes reuse this layer. Every file is checked against the
# lock's sha256; --no-deps because the lock already lists every package.
COPY ${REQUIREMENTS} /tmp/requirements.txt
RUN pip install --require-hashes --no-deps -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY . .

# Static files are baked into the image under var/static (STATIC_ROOT; WhiteNoise serves them).
# These values only let production settings load (collectstatic opens no connection); at runtime
# all four come from the environment. The key is random and thrown away, so none is in the image.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
    DATABASE_URL=postgres://build.invalid/build \
    CELERY_BROKER_URL=redis://build.invalid:6379/0 \
    VAULT_ADDRESS=build-only-not-used-at-runtime \
    python manage.py collectstatic --noinput -v0

# var/ must be writable by the app user (settings create their folders there at start-up);
# var/exports exists so a volume mounted on it inherits this owner.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home ledgerflow \
    && mkdir -p var/exports \
    && chown -R ledgerflow:ledgerflow var
USER ledgerflow

EXPOSE 8000
# /health answers without the database: "the process serves HTTP". Worker and beat override it
# in docker-compose.yml (celery inspect ping).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health\", timeout=4)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
