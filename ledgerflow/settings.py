"""LedgerFlow settings: everything comes from the environment (django-environ, optional `.env`).

With no environment at all this is the embedded default: SQLite in WAL mode with IMMEDIATE
transactions, a local-memory cache and kombu's filesystem broker under `var/`, so one machine
runs web + worker + beat with no server. Production differs only in variables.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# `NAME=` (empty) in .env or the environment means "unset": use the default, don't read "".
for _name in [name for name, value in os.environ.items() if value == "" and name.isupper()]:
    del os.environ[_name]

VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=True)
# Public (it is in the repository): fine for the embedded default, refused when DEBUG is false.
_DEVELOPMENT_SECRET_KEY = "insecure-dev-key-only-for-the-embedded-default-change-me-0123456789"
SECRET_KEY = env("SECRET_KEY", default=_DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# Browsers hide response headers from scripts unless listed: clients back off with these.
CORS_EXPOSE_HEADERS = [
    "X-Request-ID",
    "Idempotent-Replayed",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "x-request-id",
]

INSTALLED_APPS = [
    "ledgerflow.apps.LedgerFlowAdminConfig",  # django.contrib.admin + dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_prometheus",
    "corsheaders",
    "rest_framework",
    # Refresh-token rotation and revocation (logout, password reset): accounts.tokens.
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "accounts",
    "ledger",
    "reporting",
    "orders",
    "webhooks",
    "audit",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "ledgerflow.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "ledgerflow.urls"
WSGI_APPLICATION = "ledgerflow.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- Database -----------------------------------------------------------------------------
SQLITE_OPTIONS = {
    # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of failing with
    # "database is locked" on lock upgrade; WAL lets readers run beside the one writer.
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    "timeout": 20,
}
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'ledgerflow.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
    # A file (not memory) so WAL and IMMEDIATE behave as in production; one per process so
    # parallel test runs never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"ledgerflow-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # A database host that drops packets must not hang requests (or /ready) forever.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # Django's health check is a `SELECT 1` round trip at the start of every request that
    # reuses a connection (9% of a balance read's time in py-spy). Off by default: a
    # connection the server dropped fails its request with a 503 and is replaced for the
    # next one (ledgerflow/problems.py); turn on to trade that one 503 for a round trip.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_HEALTH_CHECKS", default=False)
# Behind pgbouncer in transaction mode (deploy/pgbouncer/, docs/SCALING.md) a server connection
# is ours for one transaction only: no server-side cursors (iterator() would DECLARE in one and
# FETCH in another). Prepared statements are off already: Django leaves psycopg's
# prepare_threshold at None unless OPTIONS ask for it. Session mode needs nothing.
DATABASE_POOL_MODE = env("DATABASE_POOL_MODE", default="session")
if DATABASE_POOL_MODE not in ("session", "transaction"):
    raise ImproperlyConfigured("DATABASE_POOL_MODE must be `session` or `transaction`.")
if DATABASE_POOL_MODE == "transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if env("DATABASE_REPLICA_URL", default=""):
    # A streaming standby for reads that tolerate lag (ledgerflow/routers.py, docs/SCALING.md).
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    # Short: while the replica is unreachable its reads fall back to the primary.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    # No test database is made on a read-only standby; tests that read through it point this
    # alias at the primary's test database on the standby (ledgerflow/tests/test_replica.py).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["ledgerflow.routers.ReplicaRouter"]
# Reporting reads use the primary while the replica lags more than this (seconds).
REPLICA_MAX_LAG = env.float("REPLICA_MAX_LAG", default=5.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ---------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="ledgerflow"),
            # A lost Redis must fail fast (throttles, /ready), never hang a request.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery --------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue = VAR_DIR / "broker"
    for sub in ("queue", "control", "processed"):
        (_queue / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue / "queue"),
        "data_folder_out": str(_queue / "queue"),
        "control_folder": str(_queue / "control"),
        "processed_folder": str(_queue / "processed"),
        "polling_interval": 0.2,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Every task has limits (seconds): a task without its own gets these. The soft limit raises
# SoftTimeLimitExceeded in the task; the hard one kills the pool process.
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 330
# Long reports never sit in front of webhooks: they have a queue of their own, which the
# Procfile's and compose's worker consume beside the default one (celery -Q celery,reports).
CELERY_TASK_DEFAULT_QUEUE = "celery"
REPORTS_QUEUE = "reports"
CELERY_TASK_ROUTES = {
    "ledger.tasks.run_export": {"queue": REPORTS_QUEUE},
    "ledger.tasks.verify_ledger": {"queue": REPORTS_QUEUE},
    "ledger.tasks.take_snapshots": {"queue": REPORTS_QUEUE},
    "ledger.tasks.purge_exports": {"queue": REPORTS_QUEUE},
}
# Worker and beat log through LOGGING below (JSON lines with the request id), not Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Keep reconnecting to a lost broker (the default is 100 attempts, then the worker exits).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None

# --- Auth ----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins within LOGIN_LOCKOUT_SECONDS: THRESHOLD from one client address lock that
# address out of the user; USER_THRESHOLD from all addresses lock the user (distributed guessing).
LOGIN_LOCKOUT_THRESHOLD = env.int("LOGIN_LOCKOUT_THRESHOLD", default=5)
LOGIN_LOCKOUT_USER_THRESHOLD = env.int("LOGIN_LOCKOUT_USER_THRESHOLD", default=50)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
BLOCKED_EMAIL_DOMAINS = env.list("BLOCKED_EMAIL_DOMAINS", default=[])

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": True,
    # A refresh answers a new refresh token and revokes the old one (accounts.tokens).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}
# Signed single-use links mailed to users (accounts.tokens); lifetimes in seconds.
EMAIL_VERIFICATION_TIMEOUT = env.int("EMAIL_VERIFICATION_TIMEOUT", default=2 * 86400)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
# Where the mailed links point: the product's page that POSTs the token to the API.
EMAIL_VERIFICATION_URL = env(
    "EMAIL_VERIFICATION_URL", default="http://localhost:8000/verify-email?token={token}"
)
PASSWORD_RESET_URL = env(
    "PASSWORD_RESET_URL", default="http://localhost:8000/reset-password?token={token}"
)
# Customers must confirm their email before moving money (403 `email_not_verified`).
REQUIRE_VERIFIED_EMAIL = env.bool("REQUIRE_VERIFIED_EMAIL", default=False)

# --- Mail ------------------------------------------------------------------------------------
# EMAIL_URL (django-environ), e.g. smtp+tls://user:password@smtp.example.com:587; unset: every
# message is written as a file under var/mail/ (embedded default: no mail server needed).
if env("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="LedgerFlow <no-reply@localhost>")

# --- REST framework -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's JWTAuthentication, reading no user row on views that allow it.
        "accounts.authentication.ClaimsJWTAuthentication",
        "accounts.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["ledgerflow.parsers.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "ledgerflow.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "ledgerflow.schema.AutoSchema",
    "EXCEPTION_HANDLER": "ledgerflow.problems.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "ledgerflow.throttling.AnonRateThrottle",
        "ledgerflow.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="300/min"),
        "user": env("THROTTLE_USER", default="3000/min"),
        "auth": env("THROTTLE_AUTH", default="30/min"),
    },
    # Proxies in front of gunicorn. 0 = throttle by REMOTE_ADDR; DRF's default (None) trusts
    # a client-sent X-Forwarded-For, so a new fake address per request would dodge the limits.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Prometheus scrapes and health probes must not be throttled or counted as API traffic.
# Problem `type` = PROBLEM_BASE_URL + code. Unset: this server's own page, /docs/problems/<code>
# on the host the request came to (ledgerflow.problem_docs); set it when the docs live elsewhere.
PROBLEM_BASE_URL = env("PROBLEM_BASE_URL", default="")

SPECTACULAR_SETTINGS = {
    "TITLE": "LedgerFlow API",
    "DESCRIPTION": (
        "Double-entry ledger and payments back office. Amounts are decimal strings in major "
        "units; errors are RFC 9457 problem+json with a stable `code`; every state-changing "
        "POST accepts an `Idempotency-Key` header. Every error code is explained at "
        "/docs/problems/, where each problem's `type` points."
    ),
    "VERSION": "1.0.0",
    # 3.1 for the `webhooks` section: every event LedgerFlow POSTs to endpoints, with its body.
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": "ledgerflow.webhook_schema.WEBHOOKS",  # one import path naming the whole list
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ledgerflow.schema.nullable_to_oas31",
    ],
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "AccountStatusEnum": "accounts.models.Account.Status",
        "TransactionStatusEnum": "ledger.models.Transaction.Status",
        "TransactionKindEnum": "ledger.models.Transaction.Kind",
        "OrderStatusEnum": "orders.models.Order.Status",
        "DepositStatusEnum": "orders.models.Deposit.Status",
        "ExportStatusEnum": "reporting.models.Export.Status",
        "ExportKindEnum": "reporting.models.Export.Kind",
        "WebhookEventTypeEnum": "webhooks.models.EVENT_TYPES",
        "DeliveryStatusEnum": "webhooks.models.Delivery.Status",
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Api-Key <key>`",
            }
        }
    },
}

# --- Product settings ---------------------------------------------------------------------
VAULT_ADDRESS = env("VAULT_ADDRESS", default="0x0000000000000000000000000000000000000000")
BROKER_ID = env("BROKER_ID", default="ledgerflow-vault")
MAX_PENDING_ORDERS = env.int("MAX_PENDING_ORDERS", default=2)
ORDER_TTL = env.int("ORDER_TTL", default=86400)
# Confirmations an indexer must report before a deposit settles its order (fewer: recorded only).
ORDER_MIN_CONFIRMATIONS = env.int("ORDER_MIN_CONFIRMATIONS", default=1)
HOLD_TTL = env.int("HOLD_TTL", default=7 * 86400)
IDEMPOTENCY_TTL = env.int("IDEMPOTENCY_TTL", default=86400)
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Grafana (deploy/grafana): the admin dashboard links there when set.
GRAFANA_URL = env("GRAFANA_URL", default="")
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)
WEBHOOK_BACKOFF_BASE = env.float("WEBHOOK_BACKOFF_BASE", default=1.0)  # seconds, not money
WEBHOOK_BACKOFF_CAP = env.int("WEBHOOK_BACKOFF_CAP", default=3600)
WEBHOOK_TIMEOUT_CONNECT = env.float("WEBHOOK_TIMEOUT_CONNECT", default=3.0)
WEBHOOK_TIMEOUT_READ = env.float("WEBHOOK_TIMEOUT_READ", default=10.0)
SNAPSHOT_SCHEDULE = env("SNAPSHOT_SCHEDULE", default="0 * * * *")
EXPORT_RETENTION_DAYS = env.int("EXPORT_RETENTION_DAYS", default=7)
CONTENTION_RETRIES = env.int("CONTENTION_RETRIES", default=5)

# --- Static, i18n --------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "exports")},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security (production when DEBUG=false) ------------------------------------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"


def _production_problems() -> list[str]:
    """What makes these settings unfit for production; checked only when DEBUG is false.

    The embedded defaults are unsafe there: the development key is public (anyone could sign a
    JWT for any user with it), SQLite and the filesystem broker live on one machine, and the
    zero vault address would tell customers to pay an address nobody controls.
    """
    problems = []
    generate = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
    django_dev = "django-insecure-"  # startproject's development keys
    if "SECRET_KEY" not in os.environ or SECRET_KEY == _DEVELOPMENT_SECRET_KEY:
        problems.append(f"SECRET_KEY is unset or the repository's development key: {generate}")
    elif len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith(django_dev):
        # Django's own bar (check --deploy, security.W009); the value itself is never shown.
        problems.append(f"SECRET_KEY is too weak, use 50+ random characters: {generate}")
    if "DATABASE_URL" not in os.environ:
        problems.append("DATABASE_URL is unset, e.g. postgres://user:password@host:5432/ledgerflow")
    if "CELERY_BROKER_URL" not in os.environ:
        problems.append("CELERY_BROKER_URL is unset, e.g. redis://host:6379/1")
    digits = VAULT_ADDRESS.strip().lower().removeprefix("0x")
    if "VAULT_ADDRESS" not in os.environ or not digits.strip("0"):
        problems.append("VAULT_ADDRESS is unset or the zero address: set where customers pay")
    return problems


if not DEBUG and (_problems := _production_problems()):
    raise ImproperlyConfigured(
        "LedgerFlow refuses to start with DEBUG=false:\n"
        + "".join(f"  - {problem}\n" for problem in _problems)
        + "Set them in the environment or .env (see .env.example), or leave DEBUG unset "
        "for the embedded development default."
    )

# --- Logging: JSON lines carrying the request id -------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "ledgerflow.middleware.RequestIdLogFilter"},
        "trace_id": {"()": "ledgerflow.tracing.TraceIdLogFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(trace_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "trace_id"],
            "formatter": "json" if env.bool("LOG_JSON", default=True) else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}
