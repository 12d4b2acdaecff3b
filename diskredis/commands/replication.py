"""Replication commands: REPLCONF, SYNC, PSYNC, ROLE, REPLICAOF/SLAVEOF.

Room: what a replica or a replication client asks of this server, and what turns this
server into a replica or back into a primary. Imports: `args`, `dispatch`, `quoting`,
`registry`, `context`, `errors`, `resp.values`.

SYNC and PSYNC hand the connection to the server (`Snapshot`): a snapshot written from
one read transaction of the engine on a worker thread, then the command stream from
the backlog (`server/replicas.py`); an rdb-only client (`redis-cli --rdb`) gets the
snapshot alone. REPLICAOF asks the server to follow a primary (`server/following.py`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import REDIS_VERSION, Ctx
from diskredis.commands.dispatch import NO_REPLY
from diskredis.commands.registry import arg, block, command, oneof, token
from diskredis.errors import RedisError
from diskredis.quoting import split_inline
from diskredis.resp.values import Status

log = logging.getLogger("diskredis")

_SRV = "server"
_NET_HOST_STR_LEN = 256  # NET_HOST_STR_LEN: the longest ip-address a replica may give


@dataclass
class ReplicaRequest:
    """What a client said of itself with REPLCONF (Redis's slave_capa / slave_req)."""

    rdb_only: bool = False
    capa_eof: bool = False
    capa_psync2: bool = False
    exclude_data: bool = False  # rdb-filter-only without... (everything is excluded
    exclude_functions: bool = False  # first, then what the filter names comes back)
    listening_port: int = 0
    ip_address: bytes = b""


@dataclass
class Snapshot:
    """A handler's answer that hands the connection over to a replication transfer:
    the lane sends `preamble` as the command's reply; the server then sends the RDB
    snapshot (unless `start`) and, for a replica (`stream`), the command stream from
    the snapshot's offset, or from `start` (+CONTINUE); else it closes the
    connection."""

    preamble: bytes
    data: bool
    functions: bool
    eof_mark: bool  # the replica reads `$EOF:<mark>` framing (capa eof)
    stream: bool = False  # a replica: the command stream follows
    fullresync: bool = False  # "+FULLRESYNC <replid> <offset>" once the snapshot is taken
    start: int = 0  # a partial resync: the stream from this offset, no snapshot
    request: ReplicaRequest | None = None  # what it said of itself (INFO, ROLE)


def _request(ctx: Ctx) -> ReplicaRequest:
    req: ReplicaRequest | None = ctx.session.replica
    if req is None:
        req = ReplicaRequest()
        ctx.session.replica = req
    return req


@command(
    "replconf",
    -1,
    "admin noscript loading stale allow_busy",
    group=_SRV,
    since="3.0.0",
    complexity="O(1)",
    doc_flags="syscmd",
    summary="Tells the server what a replication client is and wants (internal).",
)
def replconf(ctx: Ctx, argv: list[bytes]) -> Any:
    """REPLCONF option value ... -> OK; ACK and GETACK get no reply."""
    if len(argv) % 2 == 0:
        raise RedisError(errors.SYNTAX)
    req = _request(ctx)
    for j in range(1, len(argv), 2):
        option, value = argv[j].lower(), argv[j + 1]
        if option == b"listening-port":
            req.listening_port = parse_int(value)
        elif option == b"ip-address":
            if len(value) >= _NET_HOST_STR_LEN:
                raise errors.err(
                    "REPLCONF ip-address provided by replica instance is too "
                    "long: %d bytes" % len(value)
                )
            req.ip_address = value
        elif option == b"capa":
            capa = value.lower()
            if capa == b"eof":
                req.capa_eof = True
            elif capa == b"psync2":
                req.capa_psync2 = True
        elif option == b"getack":
            # From our primary: acknowledged once this batch is written (the ACK goes
            # out on the link); nothing for a client that is not the primary.
            if ctx.session.master:
                ctx.server.request_ack()
            return NO_REPLY
        elif option == b"ack":  # a replica's, read by the server from its connection
            return NO_REPLY
        elif option == b"rdb-only":
            n = parse_int(value)
            if not 0 <= n <= 1:
                raise RedisError(errors.OUT_OF_RANGE_BETWEEN % (0, 1))
            req.rdb_only = n == 1
        elif option == b"rdb-filter-only":
            filters = split_inline(value)
            if filters is None:
                raise errors.err("Missing rdb-filter-only values")
            req.exclude_data = req.exclude_functions = True
            for f in filters:
                if f.lower() == b"functions":
                    req.exclude_functions = False
                else:
                    raise errors.err(
                        "Unsupported rdb-filter-only option: %s" % f.decode("utf-8", "replace")
                    )
        else:
            raise errors.err(
                "Unrecognized REPLCONF option: %s" % argv[j].decode("utf-8", "replace")
            )
    return "OK"


def _checked_request(ctx: Ctx) -> ReplicaRequest:
    """What the client said of itself, refused as syncCommand refuses it."""
    if ctx.server.failover_state != "no-failover":
        raise RedisError("NOMASTERLINK Can't SYNC while failing over")
    master = ctx.server.master_state()
    if master is not None and master.state != "connected":
        raise RedisError("NOMASTERLINK Can't SYNC while not connected with my master")
    req = _request(ctx)
    if (req.exclude_data or req.exclude_functions) and not req.capa_eof:
        raise errors.err("Filtered replica requires EOF capability")
    return req


def _snapshot_for(ctx: Ctx, preamble: bytes) -> Snapshot:
    """The snapshot alone, for an rdb-only client (redis-cli --rdb)."""
    req = _request(ctx)
    return Snapshot(
        preamble,
        data=not req.exclude_data,
        functions=not req.exclude_functions,
        eof_mark=req.capa_eof,
    )


@command(
    "sync",
    1,
    "admin noscript no_async_loading no_multi",
    group=_SRV,
    since="1.0.0",
    summary="Asks for a snapshot of the dataset, as a replica does (internal).",
)
def sync(ctx: Ctx, argv: list[bytes]) -> Snapshot:
    """SYNC -> an RDB snapshot (`$<length>` or `$EOF:<mark>` framing), then the command
    stream (a pre-PSYNC replica: no +FULLRESYNC line); only the snapshot for a client
    that said REPLCONF rdb-only 1."""
    req = _checked_request(ctx)
    if req.rdb_only:
        return _snapshot_for(ctx, b"")
    _full_resync(ctx)
    return Snapshot(b"", True, True, False, stream=True, request=req)


@command(
    "psync",
    -3,
    "admin noscript no_async_loading no_multi",
    group=_SRV,
    since="2.8.0",
    summary="Asks for a snapshot of the dataset after a replication handshake (internal).",
    args=(arg("replicationid", "string"), arg("offset", "integer")),
)
def psync(ctx: Ctx, argv: list[bytes]) -> Snapshot:
    """PSYNC replicationid offset -> +CONTINUE and the stream from that offset when the
    backlog holds it (masterTryPartialResynchronization), else +FULLRESYNC <replid>
    <offset>, the snapshot taken at that offset, then the stream after it. A fourth
    argument FAILOVER is for a replica being promoted: this server is a primary."""
    if len(argv) > 3 and argv[3].lower() == b"failover":
        # Our primary hands its role to us (its FAILOVER): a primary now, it then
        # continues as our replica with the history we share (replid2).
        log.warning("Failover request received for replid %s.", argv[1].decode("latin-1"))
        if ctx.server.master_state() is None:
            raise errors.err("PSYNC FAILOVER can't be sent to a master.")
        if argv[1].decode("latin-1").lower() != ctx.ks.backlog.replid:
            raise errors.err("PSYNC FAILOVER replid must match my replid.")
        ctx.server.unset_master()
        log.info("MASTER MODE enabled (failover request from %s)", ctx.session.addr)
    req = _checked_request(ctx)
    offset = parse_int(argv[2])
    if req.rdb_only:
        return _snapshot_for(ctx, b"+FULLRESYNC %s 0\r\n" % ctx.server.run_id.encode())
    backlog = ctx.ks.backlog
    replid = argv[1].decode("latin-1").lower()
    stats = ctx.stats
    if (
        backlog.active
        and (
            replid == backlog.replid or (replid == backlog.replid2 and offset <= backlog.id2_offset)
        )
        and backlog.first <= offset <= backlog.offset + 1
    ):
        stats.sync_partial_ok += 1
        preamble = (
            b"+CONTINUE %s\r\n" % backlog.replid.encode() if req.capa_psync2 else b"+CONTINUE\r\n"
        )
        return Snapshot(preamble, False, False, False, stream=True, start=offset, request=req)
    if replid != "?":
        stats.sync_partial_err += 1
    _full_resync(ctx)
    return Snapshot(b"", True, True, False, stream=True, fullresync=True, request=req)


def _full_resync(ctx: Ctx) -> None:
    """A replica takes the whole dataset: the first one starts the backlog, under a new
    replication id (Redis's syncCommand: createReplicationBacklog)."""
    ctx.stats.sync_full += 1
    if not ctx.ks.backlog.active:
        ctx.ks.backlog.create()


def rdb_aux(replid: str, offset: int, seldb: int) -> list[tuple[bytes, bytes]]:
    """The auxiliary fields Redis 7.0 opens a replication snapshot with: the stream's id,
    the offset the data is at, and the database the stream has selected there (the
    replica's starting one)."""
    return [
        (b"redis-ver", REDIS_VERSION.encode()),
        (b"redis-bits", b"64"),
        (b"ctime", b"%d" % int(time.time())),
        (b"used-mem", b"0"),
        (b"repl-stream-db", b"%d" % max(seldb, 0)),
        (b"repl-id", replid.encode()),
        (b"repl-offset", b"%d" % offset),
        (b"aof-base", b"0"),
    ]


@command(
    "role",
    1,
    "noscript loading stale fast",
    group=_SRV,
    acl="admin dangerous",
    since="2.8.12",
    complexity="O(1)",
    summary="Tells whether this server is a master, a replica or a sentinel, with "
    "the replication details of that role.",
)
def role(ctx: Ctx, argv: list[bytes]) -> Any:
    """ROLE -> ["master", replication offset, [[ip, port, acknowledged offset], ...]]
    (ports and offsets of replicas as bulk strings, as Redis sends them); on a replica
    ["slave", primary host, primary port, link state, offset applied (-1: no link)]."""
    master = ctx.server.master_state()
    if master is not None:
        return [
            b"slave",
            master.host.encode(),
            master.port,
            master.state.encode(),
            master.offset if master.state == "connected" else -1,
        ]
    return [
        b"master",
        ctx.ks.backlog.offset,
        [
            [r.ip.encode(), b"%d" % r.port, b"%d" % r.ack]
            for r in ctx.server.replica_states()
            if r.state == "online"
        ],
    ]


_REPLICAOF_ARGS = (
    oneof(
        "args",
        block("host-port", arg("host", "string"), arg("port", "integer")),
        block("no-one", token("NO"), token("ONE")),
    ),
)


def _replicaof(ctx: Ctx, argv: list[bytes]) -> Any:
    """REPLICAOF host port | NO ONE -> OK (Redis's replicaofCommand)."""
    if ctx.config["cluster-enabled"]:
        raise errors.err("REPLICAOF not allowed in cluster mode.")
    server = ctx.server
    if server.failover_state != "no-failover":
        raise errors.err("REPLICAOF not allowed while failing over.")
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        server.unset_master()
        return "OK"
    try:
        port = parse_int(argv[2])
    except RedisError:
        port = -1
    if not 0 <= port <= 65535:
        raise errors.err("Invalid master port")
    host = argv[1].decode("utf-8", "surrogateescape")
    master = server.master_state()
    if master is not None and master.host.lower() == host.lower() and master.port == port:
        return Status(b"OK Already connected to specified master")
    server.set_master(host, port)
    return "OK"


command(
    "replicaof",
    3,
    "admin noscript stale no_async_loading",
    group=_SRV,
    since="5.0.0",
    complexity="O(1)",
    summary="Make the server a replica of another instance, or promote it as master.",
    args=_REPLICAOF_ARGS,
)(_replicaof)

command(
    "slaveof",
    3,
    "admin noscript stale no_async_loading",
    group=_SRV,
    since="1.0.0",
    complexity="O(1)",
    summary="Make the server a replica of another instance, or promote it as master.",
    doc_flags="deprecated",
    deprecated_since="5.0.0",
    replaced_by="`REPLICAOF`",
    args=_REPLICAOF_ARGS,
)(_replicaof)


@command(
    "failover",
    -1,
    "admin noscript stale",
    group=_SRV,
    since="6.2.0",
    complexity="O(1)",
    summary="Start a coordinated failover between this server and one of its replicas.",
    args=(
        block(
            "target",
            arg("host", "string"),
            arg("port", "integer"),
            token("FORCE", "optional"),
            tok="TO",
            flags=("optional",),
        ),
        token("ABORT", "optional"),
        arg("milliseconds", "integer", "optional", token="TIMEOUT"),
    ),
)
def failover(ctx: Ctx, argv: list[bytes]) -> Any:
    """FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] -> OK: writes are held until
    a replica (the target, or any) acknowledged the whole stream; this server then
    becomes its replica with PSYNC FAILOVER, which makes it the primary (Redis's
    failoverCommand; the progress is `server/failover.py`)."""
    if ctx.config["cluster-enabled"]:
        raise errors.err(
            "FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead."
        )
    server = ctx.server
    if len(argv) == 2 and argv[1].lower() == b"abort":
        if server.failover_state == "no-failover":
            raise errors.err("No failover in progress.")
        server.abort_failover("Failover manually aborted")
        return "OK"
    timeout = port = 0
    force = False
    host: str | None = None
    j = 1
    while j < len(argv):
        word = argv[j].lower()
        if word == b"timeout" and j + 1 < len(argv) and timeout == 0:
            timeout = parse_int(argv[j + 1])
            if timeout <= 0:
                raise errors.err("FAILOVER timeout must be greater than 0")
            j += 2
        elif word == b"to" and j + 2 < len(argv) and host is None:
            port = parse_int(argv[j + 2])
            host = argv[j + 1].decode("utf-8", "surrogateescape")
            j += 3
        elif word == b"force" and not force:
            force = True
            j += 1
        else:
            raise RedisError(errors.SYNTAX)
    if server.failover_state != "no-failover":
        raise errors.err("FAILOVER already in progress.")
    if server.master_state() is not None:
        raise errors.err("FAILOVER is not valid when server is a replica.")
    replicas = server.replica_states()
    if not replicas:
        raise errors.err("FAILOVER requires connected replicas.")
    if force and (not timeout or host is None):
        raise errors.err(
            "FAILOVER with force option requires both a timeout and target HOST and IP."
        )
    target = None
    if host is not None:
        found = [r for r in replicas if r.ip.lower() == host.lower() and r.port == port]
        if not found:
            raise errors.err("FAILOVER target HOST and PORT is not a replica.")
        if found[0].state != "online":
            raise errors.err("FAILOVER target replica is not online.")
        target = (host, port)
    server.start_failover(target, timeout, force)
    return "OK"
