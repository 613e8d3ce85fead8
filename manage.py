#!/usr/bin/env python3
"""Django's command-line utility; run it through `python3 run.py manage ...` to use the venv."""

import os
import sys


def main() -> None:
    """Point Django at the project settings and dispatch the command line."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
