"""Settings for the auditor's commands (``manage.py settlement_recompute``).

They compute from a file with the rule engine alone: no database, no secrets,
no ``DEBUG``, nothing read from the environment. ``manage.py`` chooses these
settings for those commands whatever ``DJANGO_SETTINGS_MODULE`` says.
"""

INSTALLED_APPS = ["apps.auditor"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
TIME_ZONE = "Europe/Stockholm"
LOGGING_CONFIG = None
