"""Re-check the officials' audit log: order, chain, hashes, signatures, columns, head, and the ledger anchors.

Exits 0 when everything holds, 1 on any mismatch (naming the first bad sequence number), 2 when
the ledger could not be asked about anchors (unless --no-ledger). ``--file`` verifies a JSON
Lines export (as observers download it) without a database: format 2 lists every key in its
header (``public_keys``, following each ``log_key_rotated`` hand-over), format 1 its one ``public_key``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from voting import audit_log
from voting.audit_log_anchor import verify_official_log


class Command(BaseCommand):
    help = "Verify the officials' audit log (chain, hashes, signatures, ledger anchors); non-zero exit on any mismatch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-ledger", action="store_true", help="skip the ledger's key fingerprint and anchors")
        parser.add_argument("--file", type=Path, help="verify a JSON Lines export instead of the database")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["file"] is not None:
            result = self._verify_file(options["file"])
        else:
            result = verify_official_log(check_ledger=not options["no_ledger"])
        if options["json"]:
            self.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False))
        elif result.ok:
            self.stdout.write(f"officials' log OK: {result.records} records, head {result.head_seq} "
                              f"{result.head_hash[:16]}, {len(result.public_keys)} key(s), "
                              f"{result.anchors_checked} ledger anchors checked"
                              + (f" ({result.anchors_note})" if result.anchors_note else ""))
        else:
            self.stderr.write(f"officials' log MISMATCH at record {result.first_bad_seq}: "
                              f"{result.problem}: {result.message}")
        if not result.ok:
            sys.exit(1)
        if result.anchors_note.startswith("ledger anchors not checked"):
            self.stderr.write(result.anchors_note)
            sys.exit(2)

    @staticmethod
    def _verify_file(path: Path) -> audit_log.Verification:
        try:
            with path.open(encoding="utf-8") as handle:
                public_keys, head, records = audit_log.parse_export(handle)
        except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
            raise CommandError(f"cannot read the export {path}: {exc}") from exc
        result = audit_log.verify_chain(records, public_keys, head=head)
        result.anchors_note = "export file: ledger anchors not consulted"
        return result
