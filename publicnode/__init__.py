"""The public node: a read-only follower that anyone can run to watch the municipal nodes.

It trusts only the genesis, fetches every block over the public node API, verifies each one
with ``ledger.core`` (certificate, re-execution, state root, hash link), keeps the verified
chain and a history of checkpoints in a directory, compares what every node serves, and
raises typed alarms on any divergence or invalid data. No Django, no database: standard
library and ``ledger.core`` only (``tests/test_layering.py`` enforces it).
"""
