"""Ordered bytes in transactions: the engine interface and its LMDB and LevelDB bindings.

Knows nothing of Redis (see the layer table in ``docs/architecture.md``).
"""

from __future__ import annotations

from diskredis.storage.base import (
    TABLES,
    Engine,
    FolderBusy,
    StorageError,
    Txn,
    lock_folder,
    prefix_end,
)

__all__ = [
    "ENGINES",
    "TABLES",
    "Engine",
    "FolderBusy",
    "StorageError",
    "Txn",
    "lock_folder",
    "open_engine",
    "prefix_end",
]

ENGINES = ("lmdb", "leveldb")


def open_engine(name: str, path: str, fsync: bool = True) -> Engine:
    """Open (creating when missing) the engine `name` with its files under `path`."""
    if name == "lmdb":
        from diskredis.storage.lmdb_engine import LmdbEngine

        return LmdbEngine(path, fsync)
    if name == "leveldb":
        from diskredis.storage.leveldb_engine import LeveldbEngine

        return LeveldbEngine(path, fsync)
    raise StorageError("unknown engine %r (choose one of %s)" % (name, ", ".join(ENGINES)))
