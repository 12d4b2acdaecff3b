"""Ordered bytes in transactions: the engine interface and its LMDB and LevelDB bindings.

Room: knows nothing of Redis (see the layer table in ``docs/architecture.md``).
Imports: `engines` (the registry of engines), this package. The engines are opened by
name through `open_engine`, which imports the one asked for.
"""

from __future__ import annotations

import importlib

from diskredis.engines import ENGINES as _REGISTERED
from diskredis.engines import EXTRAS as _EXTRAS
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
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is None or e.name.startswith("diskredis"):
            raise
        extra = _EXTRAS.get(name, name)
        raise StorageError(
            "the %s engine needs the Python package %r, which is not installed: "
            "pip install 'diskredis[%s]' (or choose another engine: %s)"
            % (name, e.name, extra, ", ".join(n for n in ENGINES if n != name))
        ) from None
    found: type[Engine] = getattr(imported, cls)
    return found


def open_engine(name: str, path: str, fsync: bool = True) -> Engine:
    """Open (creating when missing) the engine `name` with its files under `path`."""
    return engine_class(name)(path, fsync)
