"""Create (or update) an election official's account: a user in the election_officials group."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from voting.access import OFFICIALS_GROUP


class Command(BaseCommand):
    help = "Create an election official (may create elections and stations) or add an existing user to the group."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", default="", help="new password (prompted for if omitted for a new user)")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()
        user, created = users.objects.get_or_create(username=options["username"])
        password = options["password"] or (getpass.getpass("Password: ") if created else "")
        if password:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                if created:
                    user.delete()
                raise CommandError(" ".join(exc.messages)) from exc
            user.set_password(password)
            user.save()
        group, _ = Group.objects.get_or_create(name=OFFICIALS_GROUP)
        user.groups.add(group)
        self.stdout.write(self.style.SUCCESS(f"{user.get_username()} is an election official"
                                             + (" (new account)" if created else "")))
