"""BillingOne settings: one module, every value from the environment (django-environ).

With no environment at all it runs the embedded demo set-up: SQLite and a Celery
broker on the local file system. Bad values fail loudly at start-up.
"""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; silently absent

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # Only the local demo and the test-suite may run without a real key.
        SECRET_KEY = "insecure-local-key-" + "x" * 40
    else:
        SECRET_KEY = "insecure-debug-key-" + "x" * 40
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The organisation's time zone: every date that decides a status is taken here.
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError) as exc:
    raise ImproperlyConfigured(f"TIME_ZONE={TIME_ZONE!r} is not a known IANA time zone") from exc
USE_TZ = True
LANGUAGE_CODE = "en-gb"
USE_I18N = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_filters",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "axes",
    "csp",
    "billingone",
    "clients",
    "opportunities",
    "invoices",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "billingone.middleware.RefuseNulCharactersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "billingone.middleware.BrandedErrorPagesMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it answers a locked-out sign-in
]

# A strict Content-Security-Policy: scripts, styles, images and requests from this origin only, no
# inline script or style (htmx is configured by a <meta> tag and inserts no styles of its own), no
# framing, forms post only here.
SELF = "'self'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": ["'none'"],
        "base-uri": [SELF],
        "object-src": ["'none'"],
    }
}

# Failed sign-ins (console and Django admin alike) are counted per user name and per address
# (django-axes). Five failures lock that user name, wherever they come from, and that address, for
# whatever name, for 15 minutes; a successful sign-in clears the count of its user name. An Admin
# unlocks at once in Django admin (Axes → Access attempts: delete the rows) or with
# `manage.py axes_reset_username NAME`.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# The client address: REMOTE_ADDR, unless PROXY_COUNT proxies (Caddy in docker-compose) stand in
# front and append theirs to X-Forwarded-For (a header anyone can send is never trusted alone).
AXES_IPWARE_PROXY_COUNT = env.int("PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if env.int("PROXY_COUNT", default=0) else ("REMOTE_ADDR",)
)

ROOT_URLCONF = "billingone.urls"
WSGI_APPLICATION = "billingone.wsgi.application"

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
                "billingone.context_processors.organisation",
                "billingone.context_processors.background",
                "opportunities.context_processors.notifications",
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    # An optimisation, never a dependency: short timeouts, and a miss when Redis is down.
    CACHES = {
        "default": {
            "BACKEND": "billingone.cache.ForgivingRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", default=not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")

# Uploads: CSV imports may be large; Django streams anything above this to disk.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=100 * 1024 * 1024)

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@billingone.localhost")
# Where e-mailed links point (notifications link to an item's page); by default the port
# `make run` serves on.
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}").rstrip("/")
# Missed-billing queue: tab counts cached between writes (every writer resets them), and the
# database connections one bulk apply uses side by side on PostgreSQL.
QUEUE_COUNTS_CACHE_SECONDS = env.int("QUEUE_COUNTS_CACHE_SECONDS", default=30)
BULK_APPLY_THREADS = env.int("BULK_APPLY_THREADS", default=4)
# Detection runs take their chunks of clients on this many connections (PostgreSQL).
DETECTION_THREADS = env.int("DETECTION_THREADS", default=2)
# Large device / subscription imports share their big steps between this many connections (PostgreSQL).
IMPORT_THREADS = env.int("IMPORT_THREADS", default=2)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security: strict by default outside DEBUG; `manage.py check --deploy` is clean
# with DEBUG=false and a real SECRET_KEY.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Celery: Redis when REDIS_URL is set, else a broker on the local file system
# (works for the demo with no server at all).
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Queueing work fails within about two seconds when Redis is down (instead of ~20 s of
    # retries), so the page that asked says so at once (billingone/background.py).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 2, "max_retries": 1}
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 1
    CELERY_REDIS_SOCKET_TIMEOUT = 2
else:
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = None
# Long work (an import's check or commit, a bulk apply) stamps a heartbeat every 15 s; one silent for
# this long has stopped and can be resumed or discarded (far sooner than the broker's redelivery).
WORK_LEASE_SECONDS = env.int("WORK_LEASE_SECONDS", default=120)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Shown in the header; the organisation whose billing this console runs.
ORGANISATION_NAME = env.str("ORGANISATION_NAME", default="BillingOne Demo MSP")
ORGANISATION_CURRENCY = env.str("ORGANISATION_CURRENCY", default="GBP")
# Printed on every invoice PDF: the organisation's postal address (lines separated by "\n" in the
# environment) and how to pay.
ORGANISATION_ADDRESS = env.str(
    "ORGANISATION_ADDRESS", default="1 Demo Street\nDemo Town\nDT1 1AA\nUnited Kingdom", multiline=True
)
ORGANISATION_PAYMENT_INSTRUCTIONS = env.str(
    "ORGANISATION_PAYMENT_INSTRUCTIONS",
    default="Bank transfer to BillingOne Demo MSP · Sort code 00-00-00 · Account 12345678 · quote the invoice number",
)

# Billing runs: the first month the console bills (a date in that month; empty = the month of the
# first billing run ever issued), how far back a difference is still billed, the size of the chunks
# of clients a worker takes, and the invoice numbers' prefix and width (the sequence row in admin
# holds them once created; "{year}" becomes the issue year).
_go_live = env.str("BILLING_GO_LIVE", default="")
try:
    BILLING_GO_LIVE = dt.date.fromisoformat(_go_live).replace(day=1) if _go_live else None
except ValueError:
    raise ImproperlyConfigured(f"BILLING_GO_LIVE must be a date like 2027-01-01, not {_go_live!r}") from None
BILLING_BACKDATE_MONTHS = env.int("BILLING_BACKDATE_MONTHS", default=12)
BILLING_CHUNK_CLIENTS = env.int("BILLING_CHUNK_CLIENTS", default=2000)
BILLING_THREADS = env.int("BILLING_THREADS", default=2)
# A client whose contracts changed this long before its last run invoice was issued is billed
# through the full rule, never the set-based plain month (invoices/services/billing/plain.py).
BILLING_SETTLED_MARGIN_SECONDS = env.int("BILLING_SETTLED_MARGIN_SECONDS", default=600)
INVOICE_NUMBER_PREFIX = env.str("INVOICE_NUMBER_PREFIX", default="INV-{year}-")
INVOICE_NUMBER_WIDTH = env.int("INVOICE_NUMBER_WIDTH", default=6)
