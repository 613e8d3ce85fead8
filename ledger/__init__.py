"""Ledger: Django glue around ledger.core (storage, node runtime, peer transport, commands)."""
