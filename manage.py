#!/usr/bin/env python
import os
import sys

# Commands an auditor runs on a file alone: they get settings that need no
# database, no secrets and no DEBUG (prevention/settings/auditor.py).
AUDITOR_COMMANDS = {"settlement_recompute"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in AUDITOR_COMMANDS:
        os.environ["DJANGO_SETTINGS_MODULE"] = "prevention.settings.auditor"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prevention.settings.base")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
