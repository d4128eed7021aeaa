"""Django settings: everything comes from environment variables via project.config."""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import unquote, urlparse

from project.config import BASE_DIR, ConfigError, load_config

try:
    CONFIG = load_config(os.environ)
except ConfigError as exc:  # start-up validation: one clear line, no traceback
    sys.stderr.write(f"configuration error: {exc}\n")
    raise SystemExit(2) from None

SECRET_KEY = CONFIG.django_secret_key
DEBUG = CONFIG.django_debug
ALLOWED_HOSTS = CONFIG.allowed_hosts

INSTALLED_APPS = [
    "daphne",
    "django.contrib.staticfiles",
    "apps.live",  # before channels: its `runworker` (starts streaming on boot) wins
    "apps.book",
    "apps.recording",
    "channels",
    "apps.zones",
    "apps.orderblocks",
    "apps.heatmap",
    "apps.confluence",
    "apps.reactions",
    "apps.alerts",
    "apps.overlays",
    "apps.simulator",
]

MIDDLEWARE = [
    "apps.core.security_headers.SecurityHeadersMiddleware",  # first: sees every answer
    "apps.json_http.errors.ApiErrorsAsJson",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
]

# daphne refuses a larger body before buffering it (apps/core/framework_bypasses.py); Django's own
# cap, for any body that reaches it another way
DATA_UPLOAD_MAX_MEMORY_SIZE = CONFIG.max_request_body

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]


def _database(url: str) -> dict[str, Any]:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": CONFIG.sqlite_busy_timeout_s,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": f"{path}.test-{os.getpid()}"},
        }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": 0,
    }


DATABASES = {"default": _database(CONFIG.database_url)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    try:
        os.makedirs(os.path.dirname(DATABASES["default"]["NAME"]), exist_ok=True)
    except OSError as exc:  # one line naming the variable, as for any other bad setting
        sys.stderr.write(f"configuration error: DATABASE_URL: cannot create the SQLite folder: {exc}\n")
        raise SystemExit(2) from None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if CONFIG.redis_url:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [CONFIG.redis_url], "capacity": 1000, "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "apps.core.framework_bypasses.ThrottledInMemoryChannelLayer",
            "CONFIG": {"capacity": 1000, "expiry": 30},
        }
    }

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
STATICFILES_DIRS = [
    ("chart", BASE_DIR / "static" / "chart"),
    ("vendor/lightweight-charts", BASE_DIR / "node_modules" / "lightweight-charts" / "dist"),
]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "one_line": {"()": "apps.core.rejected_requests.OneLinePerRejectedRequest"},
        "repeated_500s": {"()": "apps.core.repeated_server_errors.RepeatedServerErrors"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "line",
            "filters": ["one_line", "repeated_500s"],
        }
    },
    "root": {"handlers": ["console"], "level": CONFIG.log_level},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
