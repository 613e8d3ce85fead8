"""Reads of the audit app: facts from the nodes, the ledger and the site, and the checks over them."""

from .snapshot import ElectionRef, Snapshot, assemble_snapshot, gather_ledger_facts, get_snapshot

__all__ = ["ElectionRef", "Snapshot", "assemble_snapshot", "gather_ledger_facts", "get_snapshot"]
