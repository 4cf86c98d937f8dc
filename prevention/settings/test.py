"""Settings for the test suite: fixed keys, fast hashing, eager tasks.

DATABASE_URL still selects PostgreSQL (CI); without it SQLite is used.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault(
    "FIELD_ENCRYPTION_KEYS", "dGVzdC1lbmNyeXB0aW9uLWtleS0wMTIzNDU2Nzg5YWI="
)
os.environ.setdefault("PERSONNUMMER_HMAC_KEY", "test-hmac-key-not-for-production-0123456789")

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL as CONFIGURED_BROKER_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests run tasks in-process; the broker test starts a real worker itself.
CELERY_TASK_ALWAYS_EAGER = True
TEST_BROKER_URL = None if CONFIGURED_BROKER_URL == "memory://" else CONFIGURED_BROKER_URL
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STAFF_MFA_REQUIRED = True
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
