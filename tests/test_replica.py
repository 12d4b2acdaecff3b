"""diskredis as a replica: of a real redis-server 7.0 primary, and of a diskredis one.

The primary is Debian's redis-server (or diskredis); diskredis follows it with
`--replicaof` or REPLICAOF. After the full sync and a mixed workload (`_workload`:
every type, TTLs, MULTI, Lua, streams with groups, FLUSHDB, SWAPDB, database moves)
the two hold the same dataset, compared key by key by `same_dataset`, on both engines.
A replica killed with SIGKILL resumes with PSYNC (+CONTINUE) and applies nothing twice.
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
import redis

from diskredis.rdb import codec
from tests.conftest import ServerProc, blocked_client, start_oracle
from tests.test_replication import _caught_up, _wait, _workload, same_dataset

# The primary starts the transfer at once (Redis 7.0 waits 5 s for more replicas).
_NOW = ("--repl-diskless-sync-delay", "0")


def _follow(dr_factory: Any, primary: ServerProc, *extra: str, **kw: Any) -> ServerProc:
    replica: ServerProc = dr_factory("--replicaof", "127.0.0.1", str(primary.port), *extra, **kw)
    _wait(lambda: _caught_up(primary, replica), "the replica's sync", timeout=30)
    return replica


@pytest.fixture
def redis_primary() -> Iterator[ServerProc]:
    sp = start_oracle(*_NOW)
    try:
        yield sp
    finally:
        sp.stop()


def _fill(c: redis.Redis) -> None:
    """Data of every type that the full sync carries."""
    c.mset({"a:%d" % i: "v%d" % i for i in range(300)})
    c.set("old:ttl", "x", ex=3000)
    c.rpush("old:list", *range(50))
    c.hset("old:hash", mapping={"f%d" % i: i for i in range(200)})
    c.zadd("old:z", {"m%d" % i: i for i in range(150)})
    c.sadd("old:set", *range(600))
    c.xadd("old:st", {"f": "v"})
    c.xgroup_create("old:st", "g", id="0")
    c.xreadgroup("g", "c1", {"old:st": ">"})
    kwargs = c.connection_pool.connection_kwargs
    c7 = redis.Redis(port=kwargs["port"], password=kwargs.get("password"), db=7)
    c7.set("in7", "seven")
    c7.close()
    c.function_load(
        "#!lua name=lib\nredis.register_function('echo1', function(keys, args) return args[1] end)"
    )


@pytest.mark.parametrize(
    ("flavor", "diskless"),
    [("redis7", "yes"), ("redis7", "no"), ("valkey8", "yes"), ("redis8", "no")],
)
def test_a_replica_of_redis_ends_with_the_same_dataset(
    dr_factory: Any, flavor: str, diskless: str
) -> None:
    """Redis 7.0 sends RDB version 10, Valkey 8.0 version 11 (set listpacks, streams
    with consumers' active times), Redis 8.0 version 12."""
    primary = start_oracle(*_NOW, "--repl-diskless-sync", diskless, flavor=flavor)
    try:
        c = primary.client()
        _fill(c)
        replica = _follow(dr_factory, primary)
        assert same_dataset(primary, replica) == []
        libraries = replica.client().function_list()  # the RDB's functions
        assert [lib[1] for lib in libraries] == [b"lib"]
        _workload(c)
        _wait(lambda: _caught_up(primary, replica), "the replica to catch up")
        assert same_dataset(primary, replica) == []
        info = c.info("replication")
        assert info["slave0"]["port"] == replica.port and info["slave0"]["state"] == "online"
    finally:
        primary.stop()


def test_a_killed_replica_resumes_and_applies_nothing_twice(
    dr_factory: Any, redis_primary: ServerProc
) -> None:
    c = redis_primary.client()
    c.set("n", 0)
    replica = _follow(dr_factory, redis_primary)
    for _ in range(200):
        c.incr("n")
        c.rpush("log", "x")
    _wait(lambda: _caught_up(redis_primary, replica), "the replica to catch up")
    replica.proc.kill()  # SIGKILL: no shutdown, no save
    replica.proc.wait(10)
    for _ in range(100):
        c.incr("n")
        c.rpush("log", "y")
    port, folder = replica.port, replica.dir
    replica = _follow(dr_factory, redis_primary, port=port, data_dir=folder)
    stats = c.info("stats")
    assert stats["sync_full"] == 1 and stats["sync_partial_ok"] == 1
    r = replica.client()
    assert r.get("n") == b"300" and r.llen("log") == 300
    assert same_dataset(redis_primary, replica) == []


def test_a_broken_link_continues_from_the_primarys_backlog(
    dr_factory: Any, redis_primary: ServerProc
) -> None:
    c = redis_primary.client()
    replica = _follow(dr_factory, redis_primary)
    r = replica.client()
    assert r.execute_command("CLIENT", "KILL", "TYPE", "master") == 1
    c.set("while-down", "1")
    _wait(lambda: _caught_up(redis_primary, replica), "the replica to reconnect")
    assert r.get("while-down") == b"1"
    assert c.info("stats")["sync_partial_ok"] == 1
    listing = r.client_list(_type="master")
    assert len(listing) == 1 and listing[0]["flags"] == "M"


def test_writes_are_refused_and_stale_data_served_as_a_redis_replica_does(
    dr_factory: Any, redis_primary: ServerProc
) -> None:
    redis_primary.client().set("k", "v")
    ours = _follow(dr_factory, redis_primary)
    theirs = start_oracle("--replicaof", "127.0.0.1", str(redis_primary.port))
    try:
        _wait(lambda: _caught_up(redis_primary, theirs), "the redis replica's sync")

        def same(*cmd: Any) -> bytes:
            a, b = ours.raw().command(*cmd), theirs.raw().command(*cmd)
            assert a == b, cmd
            return a

        assert same("SET", "k", "w").startswith(b"-READONLY You can't write")
        assert same("EVAL", "return redis.call('set', 'k', 'w')", "0").startswith(b"-READONLY")
        same("EVAL", "#!lua\nreturn redis.call('get', 'k')", "0")
        assert same("WAIT", "0", "0").startswith(b"-ERR WAIT cannot be used with replica")
        same("GET", "k")
        r = ours.client()
        r.config_set("replica-read-only", "no")
        assert r.set("local", "1")
        r.config_set("replica-read-only", "yes")
        redis_primary.stop()
        for sp in (ours, theirs):
            _wait(
                lambda sp=sp: sp.client().info("replication")["master_link_status"] == "down",
                "the link to drop",
            )
            sp.client().config_set("replica-serve-stale-data", "no")
        assert same("GET", "k").startswith(b"-MASTERDOWN Link with MASTER is down")
        same("PING")
        same("EVAL", "#!lua\nreturn redis.call('get', 'k')", "0")
        same("ECHO", "still")
        info = r.info("replication")  # INFO is allowed on a stale replica
        assert info["role"] == "slave" and info["master_link_down_since_seconds"] >= 0
        assert r.execute_command("ROLE")[3] in (b"connect", b"connecting")
        r.config_set("replica-serve-stale-data", "yes")
        assert r.get("k") == b"v"  # stale data served
    finally:
        theirs.stop()


def test_info_and_role_have_the_fields_of_a_redis_replica(
    dr_factory: Any, redis_primary: ServerProc
) -> None:
    ours = _follow(dr_factory, redis_primary)
    theirs = start_oracle("--replicaof", "127.0.0.1", str(redis_primary.port))
    try:
        _wait(lambda: _caught_up(redis_primary, theirs), "the redis replica's sync")
        a = ours.client().info("replication")
        b = theirs.client().info("replication")
        assert list(a) == list(b)
        for field in ("role", "master_host", "master_port", "master_link_status"):
            assert a[field] == b[field]
        assert a["master_replid"] == b["master_replid"]  # the primary's history
        ra, rb = ours.client().execute_command("ROLE"), theirs.client().execute_command("ROLE")
        assert ra[:4] == rb[:4] and isinstance(ra[4], int)
    finally:
        theirs.stop()


def test_replicaof_replies_and_errors_as_redis(dr_factory: Any, oracle: ServerProc) -> None:
    dr = dr_factory()
    cases = [
        ("REPLICAOF", "no", "two"),
        ("REPLICAOF", "127.0.0.1", "70000"),
        ("REPLICAOF", "127.0.0.1", "-1"),
        ("SLAVEOF", "127.0.0.1"),
        ("REPLICAOF", "NO", "ONE"),
    ]
    for cmd in cases:
        assert dr.raw().command(*cmd) == oracle.raw().command(*cmd), cmd


def test_replicaof_unblocks_waiting_clients_and_no_one_promotes(
    dr_factory: Any, redis_primary: ServerProc
) -> None:
    dr = dr_factory()
    waiting = blocked_client(dr, "BLPOP", "q", "0")
    c = dr.client()
    assert c.execute_command("REPLICAOF", "127.0.0.1", redis_primary.port) == b"OK"
    assert waiting.reply() == (
        b"-UNBLOCKED force unblock from blocking operation, instance state changed "
        b"(master -> replica?)\r\n"
    )
    again = c.execute_command("REPLICAOF", "127.0.0.1", redis_primary.port)
    assert again == b"OK Already connected to specified master"
    redis_primary.client().set("x", "1")
    _wait(lambda: _caught_up(redis_primary, dr), "the sync after REPLICAOF")
    assert c.get("x") == b"1"
    assert c.config_get("replicaof") == {"replicaof": "127.0.0.1 %d" % redis_primary.port}
    primary_id = redis_primary.client().info("replication")["master_replid"]
    assert c.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    info = c.info("replication")
    assert info["role"] == "master" and info["master_replid2"] == primary_id
    assert info["master_replid"] != primary_id
    assert c.set("x", "2")  # writable again
    assert c.config_get("replicaof") == {"replicaof": ""}


def test_a_redis_replica_of_a_diskredis_replica_gets_the_primarys_stream(
    dr_factory: Any, redis_primary: ServerProc
) -> None:
    """A chain: redis-server -> diskredis -> redis-server."""
    c = redis_primary.client()
    _fill(c)
    middle = _follow(dr_factory, redis_primary)
    last = start_oracle("--replicaof", "127.0.0.1", str(middle.port))
    try:
        _wait(lambda: _caught_up(middle, last), "the last replica's sync")
        _workload(c)
        _wait(lambda: _caught_up(redis_primary, middle), "the middle replica")
        _wait(lambda: _caught_up(middle, last), "the last replica")
        assert same_dataset(redis_primary, last) == []
        assert (
            last.client().info("replication")["master_replid"]
            == c.info("replication")["master_replid"]
        )
    finally:
        last.stop()


def test_wait_on_a_redis_primary_counts_a_diskredis_replica(
    dr_factory: Any, redis_primary: ServerProc
) -> None:
    c = redis_primary.client()
    _follow(dr_factory, redis_primary)
    c.set("k", "v")
    assert c.execute_command("WAIT", 1, 10000) == 1


def test_a_replica_of_diskredis_with_masterauth(dr_factory: Any) -> None:
    primary = dr_factory("--requirepass", "s3cret")
    pc = primary.client(password="s3cret")
    _fill(pc)
    replica = dr_factory("--masterauth", "s3cret", "--replicaof", "127.0.0.1", str(primary.port))
    authed: Any = _Authed(primary, "s3cret")  # a ServerProc whose clients authenticate
    _wait(lambda: _caught_up(authed, replica), "the replica's sync", timeout=30)
    _workload(pc)
    _wait(lambda: _caught_up(authed, replica), "the replica to catch up")
    assert same_dataset(authed, replica) == []


class _Authed:
    """A ServerProc whose clients authenticate."""

    def __init__(self, sp: ServerProc, password: str) -> None:
        self.sp, self.password = sp, password

    def client(self, **kw: Any) -> redis.Redis:
        return self.sp.client(password=self.password, **kw)


def test_expired_keys_wait_for_the_primarys_del(dr_factory: Any, redis_primary: ServerProc) -> None:
    c = redis_primary.client()
    c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    replica = _follow(dr_factory, redis_primary)
    r = replica.client()
    c.set("short", "v", px=100)
    _wait(lambda: _caught_up(redis_primary, replica), "the replica to catch up")
    time.sleep(0.2)
    assert r.get("short") is None  # expired for the replica's clients...
    assert r.dbsize() == 1  # ...but still there: only the primary deletes it
    assert c.get("short") is None  # the primary's lazy expiry sends the DEL
    _wait(lambda: r.dbsize() == 0, "the primary's DEL")


# -- faults ------------------------------------------------------------------------------
class FakePrimary:
    """A primary that answers the handshake, then sends `+FULLRESYNC` and `payload` as
    the transfer, and closes: a transfer cut short, or a corrupt RDB."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                reader = hiredis.Reader()
                try:
                    while True:
                        data = conn.recv(65536)
                        if not data:
                            break
                        reader.feed(data)
                        while (request := reader.gets()) is not False:
                            name = request[0].lower()
                            if name == b"ping":
                                conn.sendall(b"+PONG\r\n")
                            elif name == b"psync":
                                conn.sendall(b"+FULLRESYNC %s 100\r\n" % (b"a" * 40) + self.payload)
                                raise ConnectionAbortedError
                            else:
                                conn.sendall(b"+OK\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def _rdb(**keys: bytes) -> bytes:
    out = io.BytesIO()
    w = codec.FileWriter(out)
    w.select_db(0, len(keys), 0)
    for key, value in keys.items():
        w.record(key.encode(), value)
    w.finish()
    return out.getvalue()


def _fails_and_keeps_data(dr_factory: Any, payload: bytes, said: str) -> None:
    dr = dr_factory()
    c = dr.client()
    c.set("mine", "1")
    fake = FakePrimary(payload)
    try:
        c.execute_command("REPLICAOF", "127.0.0.1", fake.port)
        _wait(lambda: fake.connections >= 2, "a second attempt")  # it retries
        assert c.get("mine") == b"1" and c.get("theirs") is None  # the old data, whole
        assert c.dbsize() == 1
        # (the attempt that connected may still be transferring: it fails in turn)
        _wait(
            lambda: c.info("replication")["master_sync_in_progress"] == 0,
            "the attempt to end",
        )
        assert c.info("replication")["master_link_status"] == "down"
        _wait(lambda: said in dr.log(), "the log line")
        assert "The current data is kept" in dr.log()
        c.execute_command("REPLICAOF", "NO", "ONE")
        assert c.dbsize() == 1
    finally:
        fake.close()


def test_a_transfer_cut_short_leaves_the_data_as_it_was(dr_factory: Any) -> None:
    rdb = _rdb(theirs=os.urandom(5000))  # (random: no compression shortens it)
    assert len(rdb) > 5000
    _fails_and_keeps_data(dr_factory, b"$%d\r\n" % len(rdb) + rdb[:2500], "closed the connection")


def test_a_corrupt_rdb_is_never_served(dr_factory: Any) -> None:
    """Its keys were loaded (the checksum is at the end): they are dropped, unseen."""
    rdb = _rdb(theirs=b"x" * 1000)
    bad = rdb[:-8] + bytes(8 * [1])  # a wrong checksum
    _fails_and_keeps_data(dr_factory, b"$%d\r\n" % len(bad) + bad, "checksum mismatch")


def test_a_wrong_masterauth_is_reported_and_retried(dr_factory: Any) -> None:
    primary = start_oracle(*_NOW, "--requirepass", "right")
    try:
        primary.client(password="right").set("k", "v")
        replica = dr_factory("--masterauth", "wrong", "--replicaof", "127.0.0.1", str(primary.port))
        _wait(lambda: "unable to AUTH to MASTER" in replica.log(), "the AUTH failure")
        r = replica.client()
        assert r.info("replication")["master_link_status"] == "down"
        r.config_set("masterauth", "right")
        _wait(lambda: r.get("k") == b"v", "the sync with the right password", timeout=30)
    finally:
        primary.stop()


def test_replicaof_itself_never_syncs_and_says_why(dr_factory: Any) -> None:
    dr = dr_factory()
    c = dr.client()
    c.set("k", "v")
    assert c.execute_command("REPLICAOF", "127.0.0.1", dr.port) == b"OK"
    _wait(lambda: "NOMASTERLINK" in dr.log(), "the refusal in the log")
    assert c.info("replication")["master_link_status"] == "down"
    assert c.get("k") == b"v"
    assert c.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert c.set("k", "w")


def test_a_replica_past_the_primarys_backlog_resyncs_in_full(dr_factory: Any) -> None:
    primary = start_oracle(*_NOW, "--repl-backlog-size", "16384")
    try:
        c = primary.client()
        replica = _follow(dr_factory, primary)
        replica.proc.kill()
        replica.proc.wait(10)
        c.set("big", "x" * 100_000)  # more than the backlog holds
        replica = _follow(dr_factory, primary, port=replica.port, data_dir=replica.dir)
        stats = c.info("stats")
        assert stats["sync_full"] == 2 and stats["sync_partial_err"] == 1
        assert same_dataset(primary, replica) == []
    finally:
        primary.stop()


def test_a_command_that_fails_on_the_replica_is_logged(
    dr_factory: Any, redis_primary: ServerProc
) -> None:
    """A primary's command this replica refuses (here: a database it does not have) is
    reported in the log, with the command, for the operator."""
    replica = _follow(dr_factory, redis_primary, "--databases", "4")
    c = redis_primary.client(db=9)
    c.set("in9", "x")
    _wait(lambda: _caught_up(redis_primary, replica), "the replica to catch up")
    assert "This replica got an error applying its MASTER's command SELECT 9" in replica.log()


def test_a_replica_restarted_as_a_primary_starts_a_new_history(
    dr_factory: Any, redis_primary: ServerProc
) -> None:
    """REPLICAOF at run time, then a restart without replicaof: its own writes must not
    extend its old primary's history under that id (Redis gives a primary a new id)."""
    dr = dr_factory()
    c = dr.client()
    c.execute_command("REPLICAOF", "127.0.0.1", redis_primary.port)
    redis_primary.client().set("k", "v")
    _wait(lambda: _caught_up(redis_primary, dr), "the sync")
    primary_id = redis_primary.client().info("replication")["master_replid"]
    offset = c.info("replication")["master_repl_offset"]
    dr.stop()
    again = dr_factory(port=dr.port, data_dir=dr.dir)
    info = again.client().info("replication")
    assert info["role"] == "master" and info["master_replid"] != primary_id
    assert info["master_replid2"] == primary_id and info["second_repl_offset"] == offset + 1
    assert again.client().set("own", "1")


def test_tracking_clients_hear_of_the_switch_to_the_primarys_data(
    dr_factory: Any, redis_primary: ServerProc
) -> None:
    redis_primary.client().set("k", "theirs")
    dr = dr_factory()
    dr.client().set("k", "mine")
    t = dr.raw()
    t.command("HELLO", "3")
    assert t.command("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
    assert t.command("GET", "k") == b"$4\r\nmine\r\n"
    dr.client().execute_command("REPLICAOF", "127.0.0.1", redis_primary.port)
    _wait(lambda: _caught_up(redis_primary, dr), "the sync")
    assert t.reply() == b">2\r\n$10\r\ninvalidate\r\n_\r\n"  # everything (a flush)
    assert t.command("GET", "k") == b"$6\r\ntheirs\r\n"
