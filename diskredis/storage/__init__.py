"""Ordered bytes in transactions: the engine interface and its LMDB and LevelDB bindings.

Room: knows nothing of Redis (see the layer table in ``docs/architecture.md``).
Imports: `engines` (the registry of engines), this package. The engines are opened by
name through `open_engine`, which imports the one asked for.
"""

from __future__ import annotations

import importlib

from diskredis.engines import ENGINES as _REGISTERED
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
    "engine_class",
    "lock_folder",
    "open_engine",
    "prefix_end",
]

ENGINES = tuple(_REGISTERED)


def engine_class(name: str) -> type[Engine]:
    """The class of the engine `name` (`diskredis.engines`), imported now."""
    where = _REGISTERED.get(name)
    if where is None:
        raise StorageError("unknown engine %r (choose one of %s)" % (name, ", ".join(ENGINES)))
    module, _, cls = where.partition(":")
    found: type[Engine] = getattr(importlib.import_module(module), cls)
    return found


def open_engine(name: str, path: str, fsync: bool = True) -> Engine:
    """Open (creating when missing) the engine `name` with its files under `path`."""
    return engine_class(name)(path, fsync)
