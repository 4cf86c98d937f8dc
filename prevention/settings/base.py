"""Settings read from the environment, with safe defaults for a first run.

Nothing set: SQLite, Celery tasks run eagerly, console email, DEBUG off (so
SECRET_KEY and the data keys are then required). ``make run`` sets DEBUG on.
"""

from __future__ import annotations

from pathlib import Path

from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from .env import Env, dev_fernet_key

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = Env()

DEBUG = env.boolean("DEBUG", default=False)

SECRET_KEY = env.secret(
    "SECRET_KEY", fallback="insecure-development-key-never-in-production" if DEBUG else None
)
# Keys for personal data. Encryption and lookup have separate keys so that one
# can be rotated (encryption: MultiFernet, newest first) without the other.
FIELD_ENCRYPTION_KEYS = env.fernet_keys(
    "FIELD_ENCRYPTION_KEYS", fallback=[dev_fernet_key("dev-encryption")] if DEBUG else None
)
PERSONNUMMER_HMAC_KEY = env.secret(
    "PERSONNUMMER_HMAC_KEY",
    fallback="insecure-development-hmac-key-never-in-production" if DEBUG else None,
)

ALLOWED_HOSTS = env.strings("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.strings("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "apps.core",
    "apps.programs",
    "apps.providers",
    "apps.registry",
    "apps.consent",
    "apps.measurements",
    "apps.settlements",
    "apps.api",
    "apps.auditor",
    "apps.site",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "apps.core.middleware.ApiLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "apps.core.middleware.StaffMFARequiredMiddleware",
]

ROOT_URLCONF = "prevention.urls"
WSGI_APPLICATION = "prevention.wsgi.application"
ASGI_APPLICATION = "prevention.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.database("DATABASE_URL", str(BASE_DIR / "db.sqlite3"))}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.integer("CONN_MAX_AGE", 60, minimum=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "site:next"
# A URL name, reversed in the language of the page signed out from ("/" or "/en/").
LOGOUT_REDIRECT_URL = "site:start"

# allauth: the site signs people in by email (staff may also use a username),
# and every address is verified before it can be used.
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_PREVENT_ENUMERATION = True
# Messages name a person by the email address they sign in with.
ACCOUNT_USER_DISPLAY = "apps.core.accounts.user_display"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Prevention"
# Staff must have a second factor before they reach the back-office.
STAFF_MFA_REQUIRED = env.boolean("STAFF_MFA_REQUIRED", default=True)

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", _("Swedish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Email: console unless an SMTP URL is given (smtp+tls://user:pass@host:587).
_email_url = env.string("EMAIL_URL")
if _email_url:
    import environ as _environ

    vars().update(_environ.Env.email_url_config(_email_url))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "no-reply@prevention.localhost")

# Celery: eager with no broker (a first run); a real worker when one is set.
CELERY_BROKER_URL = env.broker("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
if CELERY_BROKER_URL is None:
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = env.string("CELERY_RESULT_BACKEND", "cache+memory://")
elif CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: a real worker and beat with no server,
    # used by `make run` when no broker is configured.
    _queue_dir = Path(env.string("CELERY_FILESYSTEM_DIR") or BASE_DIR / "var" / "celery")
    for _sub in ("queue", "processed", "results", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_queue_dir / "control"),
    }
    CELERY_RESULT_BACKEND = env.string("CELERY_RESULT_BACKEND", f"file://{_queue_dir / 'results'}")
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_RESULT_BACKEND = env.string("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
else:
    CELERY_RESULT_BACKEND = env.string("CELERY_RESULT_BACKEND", "rpc://")
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Daily follow-up work (Europe/Stockholm); each task is idempotent.
CELERY_BEAT_SCHEDULE = {
    "follow-up reminders": {"task": "measurements.send_reminders",
                            "schedule": crontab(hour=7, minute=0)},
    "exclude missed follow-ups": {"task": "measurements.exclude_missed_followups",
                                  "schedule": crontab(hour=2, minute=30)},
    "complete ended periods": {"task": "measurements.complete_ended_periods",
                               "schedule": crontab(hour=2, minute=0)},
    "forget old form tokens": {"task": "site.purge_form_submissions",
                               "schedule": crontab(hour=3, minute=15)},
    # Settlement runs whose worker died, or that were prepared while the broker was
    # down, are handed to the workers again.
    "recover settlement runs": {"task": "settlements.recover_runs",
                                "schedule": crontab()},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Prevention platform API",
    "DESCRIPTION": (
        "API for providers and laboratories of the outcome-contract programmes. "
        "Authenticate with an organisation key: `Authorization: Api-Key <key>`. "
        'Errors have one shape: `{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# The clock: PREVENTION_CLOCK freezes "now" ("2027-06-01T09:00") or shifts it
# ("+400d") for demos; unset means real time. See apps.core.clock.
PREVENTION_CLOCK = env.string("PREVENTION_CLOCK")

# Security headers; HTTPS settings are on whenever DEBUG is off.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.boolean("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.boolean("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "apps.core.logging.RedactPersonalDataFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain",
                    "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": env.string("LOG_LEVEL", "INFO")},
}

# The population address register (apps.registry.population): a dotted path to
# the backend class, built with the CSV path (the demo register by default).
POPULATION_REGISTER_BACKEND = env.string(
    "POPULATION_REGISTER_BACKEND", "apps.registry.population.FilePopulationRegister"
)
POPULATION_REGISTER_CSV = env.string("POPULATION_REGISTER_CSV") or str(
    BASE_DIR / "data" / "population_register.csv"
)

# Authorization of providers (apps.providers.registers): the registers behind the
# automated checks, a dotted path to the backend class built with the directory
# of its files (the demo registers by default).
AUTHORIZATION_REGISTRY_BACKEND = env.string(
    "AUTHORIZATION_REGISTRY_BACKEND", "apps.providers.registers.FileAuthorizationRegistry"
)
AUTHORIZATION_REGISTRY_DIR = env.string("AUTHORIZATION_REGISTRY_DIR") or str(
    BASE_DIR / "data" / "authorization"
)

# API keys: each credential has its own rate limit (apps.api.throttling).
API_CREDENTIAL_RATE = env.string("API_CREDENTIAL_RATE", "600/min")
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["apps.api.throttling.CredentialRateThrottle"]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"api_credential": API_CREDENTIAL_RATE}
