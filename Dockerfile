# LedgerFlow image: one image for web (default CMD), worker, beat and one-shot commands.
FROM python:3.11-slim

# Production: settings refuse to start without SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL and
# VAULT_ADDRESS (see .env.example). Pass DEBUG=true only to run the embedded development default.
ENV DEBUG=false \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first so code changes reuse this layer.
COPY requirements.txt .
RUN pip install -r requirements.txt

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
CMD ["gunicorn", "-c", "gunicorn.conf.py", "ledgerflow.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--access-logfile", "-"]
