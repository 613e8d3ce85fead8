"""Byzantine-fault-tolerant consensus (Tendermint-style), sans-I/O.

See ``interface.py`` for the contract with the node runtime.
"""
