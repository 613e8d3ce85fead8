"""Django settings: the one place that reads the environment (12-factor, embedded defaults).

With no environment at all this gives a working development setup: SQLite under var/,
an in-memory channel layer, DEBUG on. Production (DJANGO_ENV=production) refuses to start
without a real SECRET_KEY, with DEBUG on, or without ALLOWED_HOSTS, so a misconfigured
deploy fails at import instead of serving with a guessable key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# Read once; everything below derives from this snapshot.
ENV: dict[str, str] = dict(os.environ)

ENVIRONMENTS = ("development", "production", "test")
DJANGO_ENV = ENV.get("DJANGO_ENV", "development").strip().lower() or "development"
if DJANGO_ENV not in ENVIRONMENTS:
    raise ImproperlyConfigured(
        f"DJANGO_ENV={DJANGO_ENV!r} is not one of {', '.join(ENVIRONMENTS)}."
    )
IS_PRODUCTION = DJANGO_ENV == "production"

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def env_bool(name: str, default: bool) -> bool:
    """Parse a boolean variable strictly, so a typo like DEBUG=flase is an error, not True."""
    raw = ENV.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, on/off).")


def env_int(name: str, default: int) -> int:
    """Parse an integer variable with a message that names the variable."""
    raw = ENV.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from exc


def env_list(name: str, default: str) -> list[str]:
    """Split a comma-separated variable, dropping blanks."""
    return [item.strip() for item in ENV.get(name, default).split(",") if item.strip()]


# --- Core ---------------------------------------------------------------------------------

INSECURE_DEFAULT_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"
MIN_SECRET_KEY_LENGTH = 50

SECRET_KEY = ENV.get("SECRET_KEY", "").strip() or INSECURE_DEFAULT_SECRET_KEY
DEBUG = env_bool("DEBUG", default=DJANGO_ENV == "development")
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", "" if IS_PRODUCTION else "localhost,127.0.0.1,[::1],testserver"
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")


def validate_production_settings() -> None:
    """Refuse to start production with settings that would make it insecure; list every problem."""
    problems: list[str] = []
    if SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or SECRET_KEY.startswith("django-insecure"):
        problems.append("SECRET_KEY is missing or is the insecure development default")
    elif len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
        problems.append(f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters")
    if DEBUG:
        problems.append("DEBUG must be off")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the served host names")
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start with DJANGO_ENV=production: "
            + "; ".join(problems)
            + ". Generate a key with: python3 -c 'import secrets; print(secrets.token_urlsafe(64))'"
        )


if IS_PRODUCTION:
    validate_production_settings()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "ledger",
    "voting",
    "kiosk",
    "mobile_api",
    "audit",
    "communities",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.SecurityHeadersMiddleware",  # strict CSP and Permissions-Policy on every page
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------

# SQLite in WAL mode lets the web process read while a node writes; IMMEDIATE transactions
# take the write lock up front, so concurrent writers wait (busy timeout) instead of failing.
SQLITE_OPTIONS: dict[str, Any] = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
}


def build_default_database() -> dict[str, Any]:
    """DATABASE_URL if set (PostgreSQL in production), else an embedded SQLite file under var/."""
    url = ENV.get("DATABASE_URL", "").strip()
    if url:
        database: dict[str, Any] = dj_database_url.parse(
            url, conn_max_age=env_int("CONN_MAX_AGE", 60), conn_health_checks=True
        )
    else:
        VAR_DIR.mkdir(exist_ok=True)
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "web.sqlite3"}
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["OPTIONS"] = {**SQLITE_OPTIONS, **database.get("OPTIONS", {})}
        database["CONN_MAX_AGE"] = 0
    return database


DATABASES = {"default": build_default_database()}

# --- Channels -----------------------------------------------------------------------------

REDIS_URL = ENV.get("REDIS_URL", "").strip()
if REDIS_URL:
    # redis-py 8 (pulled in by channels-redis) reads with a 5 s socket timeout by default, the same
    # 5 s channels_redis blocks for in BZPOPMIN, so idle websocket consumers died with "Timeout
    # reading from ..." (close 1011; seen in bench/community.py). redis/redis-py#4091,
    # django/channels_redis#422: no client-side read timeout for the channel layer's connections.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}]},
        }
    }
else:
    # Single-process only; fine for the demo and tests, not for several ASGI workers.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Auth ---------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if DJANGO_ENV == "test":
    # Deliberately weak hashing: tests create many users and must stay fast.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Internationalisation -----------------------------------------------------------------

LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where collectstatic writes and the reverse proxy serves /static/ from (docs/operations.md).
STATIC_ROOT = Path(ENV["STATIC_ROOT"].strip()) if ENV.get("STATIC_ROOT", "").strip() else BASE_DIR / "staticfiles"

# --- REST API -----------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.api_exception_handler",
    # Client address for throttling: REMOTE_ADDR, or the n-th X-Forwarded-For hop behind n trusted proxies.
    "NUM_PROXIES": env_int("API_NUM_PROXIES", 0) or None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Blockchain e-voting API",
    "DESCRIPTION": "Mobile voting, observer and ledger endpoints.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Security -----------------------------------------------------------------------------

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    # HSTS is sticky in browsers, so the operator opts in and raises it gradually.
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
    # Deliberate: a vote site usually lives on a subdomain of a city's domain (vote.suwon.example), which
    # cannot promise HTTPS for every sibling subdomain or commit the whole domain to browsers' preload
    # list, so check --deploy's reminders about those two (W005, W021) are silenced; HSTS itself is not.
    SILENCED_SYSTEM_CHECKS = [
        *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
        *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
    ]
    if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
        # Only behind a TLS proxy that always sets this header; otherwise clients could spoof it.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging ------------------------------------------------------------------------------

LOG_LEVEL = ENV.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "console": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "console"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# --- Ledger (namespaced app settings; read into a frozen config object by the ledger app) ---


def resolve_under_base(raw: str) -> Path:
    """Interpret relative paths against the repo root so the cwd does not matter."""
    path = Path(raw).expanduser()
    return path if path.is_absolute() else BASE_DIR / path


LEDGER: dict[str, Any] = {
    # Base URLs of the ledger nodes the web app submits to and reads from.
    "NODE_URLS": [url.rstrip("/") for url in env_list("LEDGER_NODE_URLS", "http://127.0.0.1:7001")],
    # Where node databases, keys and genesis files live.
    "HOME": resolve_under_base(ENV.get("LEDGER_HOME", "var/node")),
}

# --- Voting (issue 4: elections, voter roll, token issuance, officials' UI) ------------------

LOGIN_URL = "voting:sign_in"
LOGIN_REDIRECT_URL = "voting:election_list"
LOGOUT_REDIRECT_URL = "voting:sign_in"

VOTING: dict[str, Any] = {
    # Key of the HMAC-SHA256 that replaces phone numbers and national ids on the roll. Production
    # must set it (system check voting.E001); changing it makes existing roll hashes unmatchable.
    "ROLL_HMAC_KEY": ENV.get("VOTING_ROLL_HMAC_KEY", "").strip(),
    # Processes that render token cards (QR + PDF); 0 means one per CPU core.
    "ISSUANCE_WORKERS": env_int("VOTING_ISSUANCE_WORKERS", 0),
    # Seconds to wait for the ledger to commit a transaction before reporting it unavailable.
    "LEDGER_COMMIT_TIMEOUT_S": env_int("VOTING_LEDGER_COMMIT_TIMEOUT_S", 30),
    # The officials' audit-log signing key (P-256 PEM, mode 0600, generated on first use; never in the DB).
    # Keep it next to the authority key and back it up with it (docs/operations.md, "Officials' audit log").
    "AUDIT_LOG_KEY_FILE": resolve_under_base(ENV.get("VOTING_AUDIT_LOG_KEY_FILE", "var/keys/official-log.pem")),
}
# The election authority's P-256 key (PEM); it signs every vote-contract transaction the web app sends.
LEDGER.setdefault(
    "AUTHORITY_KEY_FILE",
    resolve_under_base(ENV.get("LEDGER_AUTHORITY_KEY_FILE", "var/localnet/authority.pem")),
)

# --- Mobile voting (issue 6: SMS one-time code, anonymous blind-signed credential) -------------

# Throttles count in the cache: per-process memory by default, shared Redis when REDIS_URL is
# set (several web workers must share one count, or each worker multiplies the limits).
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

MOBILE: dict[str, Any] = {
    # Dotted path of the SMS backend class (mobile_api.sms.*): console (stdout), file (one file per
    # message under SMS_FILE_PATH), locmem (tests: mobile_api.sms.outbox), http (a gateway, below).
    "SMS_BACKEND": ENV.get(
        "MOBILE_SMS_BACKEND",
        "mobile_api.sms.backends.http.SmsBackend" if IS_PRODUCTION else "mobile_api.sms.backends.console.SmsBackend",
    ),
    "SMS_FILE_PATH": resolve_under_base(ENV.get("MOBILE_SMS_FILE_PATH", "var/sms")),
    # HTTP gateway: POST JSON {"to", "text", "sender"} with "Authorization: Bearer <token>".
    "SMS_HTTP_URL": ENV.get("MOBILE_SMS_HTTP_URL", "").strip(),
    "SMS_HTTP_TOKEN": ENV.get("MOBILE_SMS_HTTP_TOKEN", "").strip(),
    "SMS_HTTP_SENDER": ENV.get("MOBILE_SMS_HTTP_SENDER", "").strip(),
    "SMS_HTTP_TIMEOUT_S": env_int("MOBILE_SMS_HTTP_TIMEOUT_S", 10),
    # Key of the HMAC that stores one-time codes (a database dump alone cannot brute-force them).
    # Derived from SECRET_KEY when empty; production should set its own (system check mobile_api.W001).
    "OTP_HMAC_KEY": ENV.get("MOBILE_OTP_HMAC_KEY", "").strip(),
    "OTP_DIGITS": env_int("MOBILE_OTP_DIGITS", 8),  # >= 7 (10^7 > 2^20 codes)
    "OTP_TTL_S": env_int("MOBILE_OTP_TTL_S", 300),
    "OTP_MAX_ATTEMPTS": env_int("MOBILE_OTP_MAX_ATTEMPTS", 5),
    # Lifetime of the device session that may ask for the one blind signature.
    "SESSION_TTL_S": env_int("MOBILE_SESSION_TTL_S", 600),
    # The phone page waits a random 0..N seconds between the credential and the mint, so the two
    # requests are harder to pair by time (docs/mobile.md, threat model of the credential).
    "PAGE_MINT_DELAY_MAX_S": env_int("MOBILE_PAGE_MINT_DELAY_MAX_S", 4),
    # Election authorities' RSA credential keys: one PEM file per election, mode 0600, never in the DB.
    "CREDENTIAL_KEY_DIR": resolve_under_base(ENV.get("MOBILE_CREDENTIAL_KEY_DIR", "var/mobile/credential-keys")),
    "CREDENTIAL_KEY_BITS": env_int("MOBILE_CREDENTIAL_KEY_BITS", 3072),
    # Rate limits ("<count>/<second|minute|hour|day>"), counted in the cache above.
    "THROTTLE_RATES": {
        "otp_phone": ENV.get("MOBILE_RATE_OTP_PHONE", "5/hour"),  # codes per phone number (SMS pumping)
        "otp_client": ENV.get("MOBILE_RATE_OTP_CLIENT", "20/hour"),  # code requests per client address
        "verify_client": ENV.get("MOBILE_RATE_VERIFY_CLIENT", "60/hour"),  # code guesses per client address
        "credential_client": ENV.get("MOBILE_RATE_CREDENTIAL_CLIENT", "30/hour"),
        "submit_client": ENV.get("MOBILE_RATE_SUBMIT_CLIENT", "120/hour"),  # mint and vote submissions
        "read_client": ENV.get("MOBILE_RATE_READ_CLIENT", "600/hour"),  # elections and vote status
    },
}

# --- Community poll statistics (issue 8: live dashboard; docs/community-statistics.md) ------------

COMMUNITY_STATS: dict[str, Any] = {
    # How often each web process asks a node for new blocks while a statistics dashboard is open.
    "REFRESH_SECONDS": float(ENV.get("COMMUNITY_STATS_REFRESH_SECONDS", "0.2")),  # an empty poll costs ~1 ms
}
