"""Standalone verifier of evote-bundle files: no Django, no database, no project imports.

Written from docs/protocol.md and its vectors only, as a second implementation beside the
reference in ledger/core: a bug in one is caught by the other. Needs the standard library
plus ``ecdsa`` or ``cryptography``. Run ``python -m verifier BUNDLE``.
"""

__version__ = "1.0"
