"""The storage engines diskredis runs on: the one registration a new engine needs.

Room: leaf fact. Imports: nothing of diskredis. Each engine is a module of
`diskredis.storage` with a class implementing `storage.Engine`, keeping its files in
`<dir>/<name>`; list it here and the server (`--engine`, CONFIG), the tools (`storage.
open_engine`, diskredis-backup, diskredis-check), the test suite (every test runs on
each engine) and the benchmarks take it up.
"""

from __future__ import annotations

__all__ = ["DEFAULT_ENGINE", "ENGINES", "EXTRAS"]

#: name -> "module:Class" of its implementation (imported when first opened).
ENGINES = {
    "lmdb": "diskredis.storage.lmdb_engine:LmdbEngine",
    "leveldb": "diskredis.storage.leveldb_engine:LeveldbEngine",
}
DEFAULT_ENGINE = "lmdb"  # embedded, zero set-up
#: name -> the package extra that installs what it needs (pip install 'diskredis[...]')
EXTRAS = {"leveldb": "leveldb"}
