"""What each command means: synchronous handlers over a context.

Room: Redis semantics. Imports: `keyspace`, `resp.values`, `errors`, `config`;
never trio, an engine binding or the wire codec. Importing this package
registers every command module in `registry.COMMANDS`.
"""

from diskredis.commands import (  # noqa: F401 - registration
    acl,
    admin,
    bitmaps,
    cluster,
    connection,
    functions,
    generic,
    geo,
    hashes,
    hyperloglog,
    introspection,
    latency,
    lists,
    lolwut,
    module,
    pubsub,
    replication,
    scripting,
    serialize,
    sets,
    sort,
    streams,
    strings,
    tracking,
    transactions,
    zsets,
)
