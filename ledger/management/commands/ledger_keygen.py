"""Generate a P-256 node or authority key as a PEM readable only by its owner (0600)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.core.crypto import PrivateKey
from ledger.node.config import write_private_key


class Command(BaseCommand):
    help = "Write a new P-256 private key (PEM, mode 0600) and print its public key and address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="PEM file to create")
        parser.add_argument("--force", action="store_true", help="overwrite an existing file")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["out"]
        key = PrivateKey.generate()
        try:
            write_private_key(path, key, overwrite=options["force"])
        except FileExistsError as exc:
            raise CommandError(f"{path} exists; pass --force to replace it (the old key is lost)") from exc
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror}") from exc
        self.stdout.write(f"wrote {path} (mode 0600)")
        self.stdout.write(f"public key: {key.public_key.hex()}")
        self.stdout.write(f"address:    {key.address}")
