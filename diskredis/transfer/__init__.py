"""Moving data in and out: diskredis-restore, diskredis-dump, diskredis-backup.

Room: operator tools that run beside (or instead of) a server. Imports: `rdb`,
`commands` (the same value import/export as DUMP and RESTORE), `keyspace`, `storage`,
`config`, hiredis for talking to a running server; never `server` or trio.

    progress  a progress line with throughput, and the closing summary
    formats   JSON lines and RESP command streams <-> `rdb.model` records
    offline   a data folder opened directly (the server stopped)
    remote    a running server (diskredis or Redis) over a socket
    restore   the diskredis-restore command
    dump      the diskredis-dump command
    backup    the diskredis-backup command
"""
