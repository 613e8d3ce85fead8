"""The ledger core: pure Python, no Django.

Keys, canonical encoding, transactions, blocks, the state machine, contracts,
consensus and chain verification. Only the standard library and the crypto
packages (``cryptography``, ``ecdsa``) may be imported here; a test enforces it.
"""
