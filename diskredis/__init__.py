"""diskredis: a Redis-compatible server whose data lives on disk.

Layers, top to bottom (each imports only those below it; import-linter checks):

    cli        start-up: flags, config file, logging
    server     trio sockets, the storage lane, clients, timers (no Redis semantics)
    commands   what each command means: synchronous handlers over a context
    keyspace   Redis values <-> records, expiry, reclamation, hot cache
    storage    ordered bytes in transactions (LMDB, LevelDB)

Beside them: `resp` (RESP2/RESP3 framing, no I/O), `errors` (every error text),
`config` (the parameter table). `tools/` works offline on keyspace and storage.
"""

__version__ = "0.1.0"
