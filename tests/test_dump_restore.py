"""DUMP and RESTORE, against redis-server 7.0, on both engines: payloads made by Redis
restore into diskredis and payloads made by diskredis restore into Redis, for every
type and encoding; RESTORE's options and errors compared byte for byte."""

from __future__ import annotations

import random
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskredis.rdb import codec
from diskredis.rdb.crc64 import crc64
from tests.conftest import Diff, ServerProc

BOTH_CACHES = True


# -- comparing a key on two servers ----------------------------------------------------
def snapshot(c: redis.Redis, key: bytes) -> Any:
    """Everything a client can read of a key's value (streams: XINFO FULL, with the
    one figure diskredis only estimates masked)."""
    t = c.type(key)
    if t == b"string":
        return t, c.get(key)
    if t == b"list":
        return t, c.lrange(key, 0, -1)
    if t == b"set":
        return t, sorted(c.smembers(key))
    if t == b"zset":
        return t, c.zrange(key, 0, -1, withscores=True)
    if t == b"hash":
        return t, sorted(c.hgetall(key).items())
    if t == b"stream":
        info = c.xinfo_stream(key, full=True)
        info.pop("radix-tree-nodes")
        info.pop("entries")  # parsed into dicts, which lose repeated fields: XRANGE raw
        for g in info["groups"]:  # redis-py 8 names a consumer's fields in str, 5 in bytes
            g["consumers"] = [
                {k.encode() if isinstance(k, str) else k: v for k, v in c.items()}
                for c in g["consumers"]
            ]
        raw = c.execute_command("EVAL", "return redis.call('XRANGE', KEYS[1], '-', '+')", 1, key)
        return t, info, raw
    return t, None


def fill(c: redis.Redis, seed: int = 1) -> None:
    """Keys of every type in every encoding Redis 7.0 has (small and large, integer and
    text members, binary data, TTLs, a stream with deletions, groups and pending entries)."""
    rnd = random.Random(seed)
    c.set("s:int", "12345")
    c.set("s:neg", "-7")
    c.set("s:big-int", "123456789012")
    c.set("s:short", "hello")
    c.set("s:compressible", "abc" * 100)
    c.set("s:empty", "")
    c.set("s:binary", bytes(range(256)) * 3, ex=1000)
    c.set("s:\x00bin\xffkey", "x", px=123456)
    c.set("s:large", rnd.randbytes(200_000))
    c.rpush("l:small", "a", "b", 1, 2, -3, 70000, 2**40, "x" * 100)
    c.rpush("l:big", *[rnd.randbytes(rnd.randint(0, 30)) for _ in range(1000)])
    c.rpush("l:plain-node", "y" * 20000, "z")
    c.sadd("set:intset", 1, 2, 3, -5, 2**40)
    c.sadd("set:small", "a", "b", "c")
    c.sadd("set:big", *range(1000))
    c.zadd(
        "z:small",
        {
            "a": 1,
            "b": 2.5,
            "c": float("inf"),
            "d": -0.0,
            "e": 12345678901,
            "f": float("-inf"),
            "g": 1e-300,
        },
    )
    c.zadd("z:big", {("m%d" % i): i / 7 for i in range(500)})
    c.zadd("z:long-member", {"x" * 100: 1})
    c.hset("h:small", mapping={"f": "v", "n": 17, "e": ""})
    c.hset("h:big", mapping={("f%d" % i): "v" * i for i in range(300)})
    c.hset("h:long-value", "f", "v" * 100)
    for i in range(30):
        c.xadd("x:groups", {"a": i, "b": "x"})
    c.xadd("x:groups", {"other": "z"})
    c.xdel("x:groups", c.xrange("x:groups", count=3)[1][0])
    c.xgroup_create("x:groups", "g1", id="0")
    c.xgroup_create("x:groups", "g2", id="$")
    c.xreadgroup("g1", "alice", {"x:groups": ">"}, count=5)
    c.xreadgroup("g1", "bob", {"x:groups": ">"}, count=2)
    c.xack("x:groups", "g1", c.xrange("x:groups", count=1)[0][0])
    c.xadd("x:emptied", {"a": 1})
    c.xtrim("x:emptied", maxlen=0)
    for i in range(250):
        c.xadd("x:nodes", {"f%d" % (i % 3): "v" * (i % 50)}, id="%d-%d" % (i // 5 + 1, i % 5))
    c.xdel("x:nodes", "3-0", "7-1", "49-4")
    c.xgroup_create("x:nodes", "g", id="0")
    c.xreadgroup("g", "c", {"x:nodes": ">"}, count=100)
    c.pfadd("hll", "a", "b")


def _expiry(c: redis.Redis, key: bytes) -> int:
    ttl = c.pttl(key)
    return ttl if ttl > 0 else 0


def test_payloads_both_ways(dr: ServerProc, oracle: ServerProc) -> None:
    ours, theirs = dr.client(), oracle.client()
    ours.flushall()
    theirs.flushall()
    fill(theirs)
    keys = sorted(theirs.keys())
    assert len(keys) == 25
    for key in keys:
        payload = theirs.dump(key)
        assert ours.restore(key, _expiry(theirs, key), payload) == b"OK"
        assert snapshot(ours, key) == snapshot(theirs, key), key
        if key != b"hll":  # PFADD makes a "raw" string, RESTORE an "embstr" (in Redis too)
            assert ours.object("encoding", key) == theirs.object("encoding", key), key
        assert (ours.pttl(key) > 0) == (theirs.pttl(key) > 0)
        back = ours.dump(key)
        assert theirs.restore(b"back:" + key, 0, back) == b"OK"
        assert snapshot(theirs, b"back:" + key) == snapshot(theirs, key), key
        assert theirs.object("encoding", b"back:" + key) == ours.object("encoding", key), key
    assert ours.pfcount("hll") == 2
    # Strings are written as Redis writes them, compressed ones too (liblzf): the same
    # bytes.
    for key in (b"s:int", b"s:neg", b"s:big-int", b"s:short", b"s:empty", b"s:compressible"):
        assert ours.dump(key) == theirs.dump(key)


def test_compressed_strings_are_redis_bytes(dr: ServerProc, oracle: ServerProc) -> None:
    """DUMP of strings that LZF shrinks, of every size up to the 8 MB above which
    diskredis writes them as they are: byte for byte Redis's DUMP."""
    ours, theirs = dr.client(), oracle.client()
    rnd = random.Random(9)
    for size in (21, 22, 25, 40, 100, 1000, 5000, 70_000, 1 << 20, (8 << 20) - 1):
        words = [rnd.randbytes(rnd.randint(1, 6)) for _ in range(40)]
        value = b"".join(rnd.choice(words) for _ in range(size))[:size]
        ours.set("c", value)
        theirs.set("c", value)
        assert ours.dump("c") == theirs.dump("c"), size
    ours.delete("c")
    theirs.delete("c")


def test_streams_keep_their_nodes(dr: ServerProc, oracle: ServerProc) -> None:
    """A restored stream keeps Redis's listpack boundaries: approximate trimming removes
    the same entries on both sides."""
    ours, theirs = dr.client(), oracle.client()
    ours.delete("s")
    theirs.delete("s")
    for i in range(1000):
        theirs.xadd("s", {"f": i, "g": "v" * (i % 7)}, id="1-%d" % (i + 1))
    theirs.xdel("s", *["1-%d" % i for i in range(1, 400, 3)])
    ours.restore("s", 0, theirs.dump("s"))
    for maxlen in (900, 500, 120):
        assert ours.xtrim("s", maxlen, approximate=True) == theirs.xtrim(
            "s", maxlen, approximate=True
        )
        assert (
            ours.xinfo_stream("s")["radix-tree-keys"] == theirs.xinfo_stream("s")["radix-tree-keys"]
        )
        assert ours.xrange("s") == theirs.xrange("s")


def _payload(body: bytes, version: int = 10) -> bytes:
    """A DUMP payload around `body` (type byte and value) with a right checksum."""
    data = body + version.to_bytes(2, "little")
    return data + crc64(0, data).to_bytes(8, "little")


BAD_BODIES = {
    "garbage": b"\x00\xff\xff",
    "unknown type": b"\x63\x01a",
    "module value": b"\x07" + codec.enc_length(0x1234_5678_9ABC_DEF0 >> 1),
    "empty list": b"\x01\x00",
    "empty set": b"\x02\x00",
    "empty hash": b"\x04\x00",
    "duplicate set members": b"\x02\x02\x01a\x01a",
    "bad ziplist": b"\x0a\x03abc",
    "bad intset": b"\x0b\x09" + bytes(9),
    "bad listpack hash": b"\x10\x07" + bytes(7),
    "bad lzf": b"\x00\xc3\x02\x0a\xff\xff",
    # (python-lzf crashed the process asked for a size it cannot allocate)
    "lzf of no possible size": b"\x00\xc3\x03" + codec.enc_length(85963890970624) + b"\x01ab",
}


def test_restore_errors(kdiff: Diff) -> None:
    d = kdiff
    d("SET", "src", "value")
    good = d("DUMP", "src")
    payload = good[good.index(b"\r\n") + 2 : -2]
    d("SET", "k", "x")
    for args in [
        ("RESTORE", "k", "0", payload),
        ("RESTORE", "k", "-1", payload),
        ("RESTORE", "new", "-1", payload),
        ("RESTORE", "new", "x", payload),
        ("RESTORE", "new", "0", b"short"),
        ("RESTORE", "new", "0", payload[:-1] + b"\x00"),
        ("RESTORE", "new", "0", _payload(b"\x00\x01a", version=13)),
        ("RESTORE", "new", "0", payload, "IDLETIME", "-1"),
        ("RESTORE", "new", "0", payload, "IDLETIME", "x"),
        ("RESTORE", "new", "0", payload, "IDLETIME"),
        ("RESTORE", "new", "0", payload, "FREQ", "256"),
        ("RESTORE", "new", "0", payload, "FREQ", "-1"),
        ("RESTORE", "new", "0", payload, "FREQ", "1", "IDLETIME", "1"),
        ("RESTORE", "new", "0", payload, "IDLETIME", "1", "FREQ", "1"),
        ("RESTORE", "new", "0", payload, "nope"),
        ("RESTORE", "new", "0", payload, "REPLACE", "ABSTTL", "x"),
        ("RESTORE", "new", "0"),
        ("DUMP",),
        ("DUMP", "a", "b"),
        ("DUMP", "missing"),
        ("EXISTS", "new"),
    ]:
        d(*args)
    for name, body in BAD_BODIES.items():
        ours, theirs = d.both("RESTORE", "bad", "0", _payload(body))
        assert ours == theirs == b"-ERR Bad data format\r\n", name
    d("EXISTS", "bad")
    # Redis takes a small hash with a repeated field unless sanitize-dump-payload is on
    # (and keeps a broken value); diskredis always refuses it.
    reply = d.ours.command("RESTORE", "bad", "0", _payload(b"\x04\x02\x01a\x01b\x01a\x01c"))
    assert reply == b"-ERR Bad data format\r\n"


def test_restore_options(kdiff: Diff) -> None:
    d = kdiff
    d("RPUSH", "src", "a", "b", "c")
    d("SET", "k", "old")
    payload = d.theirs.command("DUMP", "src")
    payload = payload[payload.index(b"\r\n") + 2 : -2]
    for args in [
        ("RESTORE", "k", "0", payload, "REPLACE"),
        ("LRANGE", "k", "0", "-1"),
        ("RESTORE", "k", "0", payload, "REPLACE", "REPLACE"),
        ("TTL", "k"),
        ("RESTORE", "t", "100000", payload),
        ("TTL", "t"),
        ("RESTORE", "a", "4102444800000", payload, "ABSTTL"),
        ("PEXPIRETIME", "a"),
        ("RESTORE", "past", "1", payload, "ABSTTL"),
        ("EXISTS", "past"),
        ("RESTORE", "k", "1", payload, "ABSTTL", "REPLACE"),
        ("EXISTS", "k"),
        ("RESTORE", "i", "0", payload, "IDLETIME", "1000"),
        ("RESTORE", "f", "0", payload, "FREQ", "7"),
        ("LLEN", "f"),
        ("RESTORE", "idle2", "0", payload, "idletime", "5", "idletime", "6"),
        ("LLEN", "idle2"),
        ("DBSIZE",),
    ]:
        d(*args)
    idle_ours, idle_theirs = (int(x[1:-2]) for x in d.both("OBJECT", "IDLETIME", "i"))
    assert 1000 <= idle_ours <= 1002 and 1000 <= idle_theirs <= 1002


def test_restore_freq_under_lfu(kdiff: Diff) -> None:
    d = kdiff
    d("SET", "src", "v")
    payload = d.theirs.command("DUMP", "src")
    payload = payload[payload.index(b"\r\n") + 2 : -2]
    d("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    try:
        d("RESTORE", "f", "0", payload, "FREQ", "100")
        d("OBJECT", "FREQ", "f")
        d("RESTORE", "i", "0", payload, "IDLETIME", "100")
        d("OBJECT", "FREQ", "i")
    finally:
        d("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_restore_notifies(dr: ServerProc, oracle: ServerProc) -> None:
    got = []
    for sp in (dr, oracle):
        c = sp.client()
        c.flushall()
        c.config_set("notify-keyspace-events", "KEA")
        try:
            p = c.pubsub()
            p.psubscribe("__key*__:*")
            p.get_message(timeout=5)
            c.set("k", "v")
            payload = c.dump("k")
            c.restore("r", 0, payload)
            c.restore("r", 0, payload, replace=True)
            c.restore("r", 1, payload, replace=True, absttl=True)
            c.set("done", "1")
            events = []
            while True:
                m = p.get_message(timeout=5)
                assert m is not None
                events.append((m["channel"], m["data"]))
                if m["channel"].endswith(b":done"):
                    break
            got.append(events)
            p.close()
        finally:
            c.config_set("notify-keyspace-events", "")
    assert got[0] == got[1]
    assert (b"__keyevent@0__:restore", b"r") in got[0]


# -- random values, both ways -------------------------------------------------------------
_member = st.one_of(
    st.binary(max_size=12),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: b"%d" % i),
    st.sampled_from([b"0", b"-0", b"01", b" 1", b"1.5", b"x" * 70]),
)
_score = st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=False, width=64))


@st.composite
def _value(draw: Any) -> list[tuple[Any, ...]]:
    kind = draw(st.sampled_from(["string", "list", "set", "zset", "hash", "stream"]))
    big = draw(st.sampled_from([1, 1, 1, 20]))  # some past the listpack limits
    if kind == "string":
        return [("SET", "k", draw(_member) * big)]
    if kind == "list":
        return [("RPUSH", "k", *draw(st.lists(_member, min_size=1, max_size=10 * big)))]
    if kind == "set":
        return [("SADD", "k", *draw(st.lists(_member, min_size=1, max_size=10 * big)))]
    if kind == "zset":
        pairs = draw(st.lists(st.tuples(_score, _member), min_size=1, max_size=10 * big))
        return [("ZADD", "k", *[x for s, m in pairs for x in (repr(float(s)), m)])]
    if kind == "hash":
        pairs = draw(st.lists(st.tuples(_member, _member), min_size=1, max_size=10 * big))
        return [("HSET", "k", *[x for p in pairs for x in p])]
    steps: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(1, 12 * big))):
        fields = draw(
            st.lists(
                st.tuples(st.sampled_from([b"a", b"b", b"1"]), _member), min_size=1, max_size=3
            )
        )
        steps.append(("XADD", "k", "*", *[x for p in fields for x in p]))
    if draw(st.booleans()):
        steps.append(("XGROUP", "CREATE", "k", "g", "0"))
        steps.append(
            (
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "COUNT",
                str(draw(st.integers(1, 5))),
                "STREAMS",
                "k",
                ">",
            )
        )
    if draw(st.booleans()):
        steps.append(("XTRIM", "k", "MAXLEN", str(draw(st.integers(0, 5)))))
    return steps


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=_value())
def test_random_values_both_ways(
    dr: ServerProc, oracle: ServerProc, steps: list[tuple[Any, ...]]
) -> None:
    ours, theirs = dr.client(), oracle.client()
    theirs.delete("k", "back", "copy")
    ours.delete("k")
    for args in steps:
        theirs.execute_command(*args)
    payload = theirs.dump("k")
    ours.restore("k", 0, payload)
    assert snapshot(ours, "k") == snapshot(theirs, "k")
    theirs.restore("copy", 0, payload)  # encodings as a RESTORE in Redis makes them
    assert ours.object("encoding", "k") == theirs.object("encoding", "copy")
    theirs.restore("back", 0, ours.dump("k"))
    assert snapshot(theirs, "back") == snapshot(theirs, "k")


def test_corrupt_payloads_never_hurt_the_server(dr: ServerProc, oracle: ServerProc) -> None:
    """Every truncation and many byte flips of real payloads (re-checksummed, so they reach
    the decoder): RESTORE answers OK or an error, the server stays up."""
    theirs, ours = oracle.client(), dr.client()
    theirs.flushall()
    fill(theirs, seed=2)
    rnd = random.Random(3)
    tried = 0
    for key in theirs.scan_iter():
        if key == b"s:large":
            continue
        body = theirs.dump(key)[:-10]
        cuts = range(1, len(body)) if len(body) < 300 else rnd.sample(range(1, len(body)), 300)
        variants = [body[:n] for n in cuts]
        for _ in range(50):
            flipped = bytearray(body)
            flipped[rnd.randrange(len(body))] ^= 1 << rnd.randrange(8)
            variants.append(bytes(flipped))
        for v in variants:
            try:
                ours.restore("corrupt", 0, _payload(v), replace=True)
            except redis.ResponseError as e:
                assert str(e) == "Bad data format"
            tried += 1
    assert ours.ping() and tried > 3000
    ours.delete("corrupt")


def test_dump_restore_50mb_string(dr: ServerProc) -> None:
    """A 50 MB string goes through DUMP and RESTORE intact (values over 8 MB are written
    uncompressed: compressing one would hold the event loop too long)."""
    c = dr.client()
    value = random.Random(5).randbytes(1 << 20) * 50
    c.set("big", value)
    payload = c.dump("big")
    assert len(payload) >= len(value)
    c.restore("big2", 0, payload)
    assert c.get("big2") == value
    c.delete("big", "big2")


# -- DUMP of big values, off the lane ----------------------------------------------------
def _big(c: redis.Redis, key: str, kind: str, n: int = 20_000) -> None:
    """A collection of `n` elements, or a string of 2 MB (more than a DUMP on the lane
    takes)."""
    c.delete(key)
    if kind == "string":
        c.set(key, random.Random(3).randbytes(1 << 20) * 2)
        return
    p = c.pipeline(transaction=False)
    for start in range(0, n, 2000):
        ids = range(start, min(start + 2000, n))
        if kind == "zset":
            p.zadd(key, {"m%d" % i: i / 3 for i in ids})
        elif kind == "hash":
            p.hset(key, mapping={"f%d" % i: "v%d" % i for i in ids})
        elif kind == "set":
            p.sadd(key, *["m%d" % i for i in ids])
        elif kind == "list":
            p.rpush(key, *ids)
        else:
            for i in ids:
                p.xadd(key, {"f": i}, id="1-%d" % (i + 1))
    p.execute()


@pytest.mark.parametrize("kind", ["zset", "hash", "set", "list", "stream", "string"])
def test_dump_of_a_big_collection_keeps_its_place(
    dr: ServerProc, oracle: ServerProc, kind: str
) -> None:
    """A big value is read and encoded on a worker thread, from a snapshot of the
    moment the DUMP ran (a string: from the value in hand): the DEL pipelined right
    after it does not reach the payload; the payload is the one DUMP gives inside MULTI
    or a script (run there on the lane) and restores in Redis."""
    ours, theirs = dr.client(), oracle.client()
    _big(ours, "big", kind)
    p = ours.pipeline(transaction=False)
    p.dump("big")
    p.delete("big")
    p.exists("big")
    payload, deleted, exists = p.execute()
    assert (deleted, exists) == (1, 0)
    theirs.restore("from-ours", 0, payload, replace=True)
    assert theirs.type("from-ours").decode() == kind
    ours.restore("big", 0, payload)
    assert snapshot(ours, b"big") == snapshot(theirs, b"from-ours")
    p = ours.pipeline(transaction=True)
    p.dump("big")
    assert p.execute() == [payload]
    assert ours.eval("return redis.call('DUMP', KEYS[1])", 1, "big") == payload
    assert ours.dump("missing") is None
    theirs.delete("from-ours")
    ours.delete("big")


def test_a_client_that_leaves_during_a_big_dump_and_shutdown(dr_factory: Any) -> None:
    """The DUMP's worker thread outlives its client without harm, and a SHUTDOWN waits
    for it (it reads the engine, which closes)."""
    sp = dr_factory()
    c = sp.client()
    _big(c, "big", "hash", 50_000)
    leaver = sp.raw()
    leaver.send(b"*2\r\n$4\r\nDUMP\r\n$3\r\nbig\r\n")
    leaver.close()
    assert c.hlen("big") == 50_000 and c.ping()
    waiter = sp.raw()
    waiter.send(b"*2\r\n$4\r\nDUMP\r\n$3\r\nbig\r\n")
    c.shutdown(nosave=True)
    assert sp.proc.wait(30) == 0
    assert "Traceback" not in sp.log()


def test_many_big_dumps_at_once(dr_factory: Any) -> None:
    """More clients DUMP big values at once than run on worker threads (4): the others
    run on the lane; every client gets the whole payload and the server goes on."""
    sp = dr_factory()
    c = sp.client()
    _big(c, "big", "hash", 10_000)
    expected = c.pipeline(transaction=True).dump("big").execute()[0]  # on the lane
    clients = [sp.raw(timeout=60) for _ in range(12)]
    for raw in clients:
        raw.send(b"*2\r\n$4\r\nDUMP\r\n$3\r\nbig\r\n")
    for raw in clients:
        assert raw.reply() == b"$%d\r\n%s\r\n" % (len(expected), expected)
        raw.close()
    assert c.ping() and "Traceback" not in sp.log()


def test_what_is_pushed_during_a_big_dump_follows_its_reply(dr_factory: Any) -> None:
    """A RESP3 client tracking keys DUMPs a big hash while another client changes it:
    the invalidation comes after the DUMP's reply (the payload of the hash as it was),
    as Redis, which answers the DUMP before anything else runs."""
    sp = dr_factory()
    c = sp.client()
    _big(c, "big", "hash", 50_000)
    expected = c.pipeline(transaction=True).dump("big").execute()[0]
    reader = sp.raw(timeout=60)
    reader.command("HELLO", "3")
    assert reader.command("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
    reader.send(b"*2\r\n$4\r\nDUMP\r\n$3\r\nbig\r\n")
    assert c.hset("big", "f0", "changed") == 0  # while the DUMP's job runs (or after)
    assert reader.reply() == b"$%d\r\n%s\r\n" % (len(expected), expected)
    assert reader.reply() == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nbig\r\n"
    reader.close()
