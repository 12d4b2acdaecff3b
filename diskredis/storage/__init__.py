"""Ordered bytes in transactions: the engine interface and its LMDB and LevelDB bindings.

Knows nothing of Redis (see the layer table in ``docs/architecture.md``).
"""
