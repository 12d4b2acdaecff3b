"""Pub/sub, differential against redis-server 7.0 on both engines: several clients per
server, RESP2 and RESP3, every command and error; then redis-py's PubSub (patterns,
run_in_thread, protocol 3) and the output-buffer limit for slow subscribers.

Each step sends a command on one client of each server followed by ``PING <token>``
and collects every frame that arrives before the token's answer: the command's replies
and any messages pushed to that client, in order. Messages published to other clients
are collected the same way when the test drains them."""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RawClient, ServerProc, _parse, encode_command

_tokens = itertools.count()
_HELLO_ID = re.compile(rb"(\$2\r\nid\r\n:)\d+")


def _frames(client: RawClient, args: tuple[Any, ...] | None) -> list[bytes]:
    """Send `args` (if any) then a PING sentinel; every frame before the sentinel's
    answer."""
    token = b"sentinel-%d" % next(_tokens)
    data = encode_command(args) if args is not None else b""
    client.send(data + encode_command(("PING", token)))
    out = []
    while True:
        frame = client.reply()
        if token in frame and (frame.startswith(b"$") or b"pong" in frame):
            return out
        out.append(_HELLO_ID.sub(rb"\g<1>0", frame))  # HELLO's client id differs


def _loose(frames: list[bytes]) -> tuple[list[str], list[int]]:
    """Frames as a multiset, with subscription counts compared apart (their order
    follows the order Redis walks a hash table in)."""
    shapes, counts = [], []
    for raw in frames:
        value = _parse(raw)
        if isinstance(value, list) and len(value) == 3 and isinstance(value[2], int):
            counts.append(value[2])
            value = value[:2]
        shapes.append(repr(value))
    return sorted(shapes), sorted(counts)


class Pair:
    """`n` clients on diskredis and `n` on Redis, driven in step."""

    def __init__(self, ours: ServerProc, theirs: ServerProc, n: int = 3) -> None:
        _quiesce(ours)
        _quiesce(theirs)
        self.ours = [ours.raw() for _ in range(n)]
        self.theirs = [theirs.raw() for _ in range(n)]

    def __call__(self, c: int, *args: Any, loose: bool = False) -> list[bytes]:
        a = _frames(self.ours[c], args or None)
        b = _frames(self.theirs[c], args or None)
        if loose:
            assert _loose(a) == _loose(b), "%r:\n  diskredis: %r\n  redis:     %r" % (args, a, b)
        else:
            assert a == b, "client %d %r:\n  diskredis: %r\n  redis:     %r" % (c, args, a, b)
        return a

    def raw(self, c: int, *args: Any, replies: int = 1) -> list[bytes]:
        """Send `args` without a sentinel (QUIT, CLIENT REPLY OFF); read `replies`."""
        self.ours[c].send(encode_command(args))
        self.theirs[c].send(encode_command(args))
        out = []
        for _ in range(replies):
            a, b = self.ours[c].reply(), self.theirs[c].reply()
            assert a == b, "client %d %r:\n  diskredis: %r\n  redis:     %r" % (c, args, a, b)
            out.append(a)
        return out

    def drain(self, c: int, loose: bool = False) -> list[bytes]:
        """What client `c` was sent since its last step."""
        return self(c, loose=loose)

    def close(self) -> None:
        for client in self.ours + self.theirs:
            client.close()


def _quiesce(server: ServerProc) -> None:
    """Empty the server, and wait until connections of earlier tests are gone (no
    channel is subscribed)."""
    client = server.client()
    client.flushall()
    for _ in range(200):
        if not (
            client.pubsub_channels()
            or client.pubsub_numpat()
            or client.execute_command("PUBSUB", "SHARDCHANNELS")
        ):
            break
        time.sleep(0.05)
    client.close()


@pytest.fixture
def pair(dr: ServerProc, oracle: ServerProc) -> Any:
    p = Pair(dr, oracle)
    yield p
    p.close()


def test_subscribe_publish_resp2(pair: Pair) -> None:
    pair(0, "SUBSCRIBE", "news", "sport")
    pair(1, "PSUBSCRIBE", "n*", "s[pq]ort")
    pair(2, "PUBLISH", "news", "hello")
    pair.drain(0)
    pair.drain(1)
    pair(2, "PUBLISH", "sport", "goal")
    pair(2, "PUBLISH", "nothing", "x")
    pair(2, "PUBLISH", "other", "x")
    pair.drain(0)
    pair.drain(1)
    pair(2, "PUBSUB", "NUMSUB", "news", "sport", "none")
    pair(2, "PUBSUB", "NUMPAT")
    pair(2, "PUBSUB", "CHANNELS", "n*")
    pair(2, "PUBSUB", "CHANNELS", "*", "extra")
    pair(0, "UNSUBSCRIBE", "news", "never")
    pair(2, "PUBLISH", "news", "after")
    pair.drain(0)
    pair.drain(1)
    pair(0, "UNSUBSCRIBE", loose=True)
    pair(0, "UNSUBSCRIBE")
    pair(1, "PUNSUBSCRIBE", loose=True)
    pair(1, "PUNSUBSCRIBE")
    pair(2, "PUBLISH", "news", "nobody")
    pair(2, "PUBSUB", "NUMSUB", "news")


def test_subscribed_mode_rules(pair: Pair) -> None:
    pair(0, "SUBSCRIBE", "c")
    pair(0, "PING")
    pair(0, "PING", "msg")
    pair(0, "PING", "a", "b")
    pair(0, "GET", "k")
    pair(0, "CLIENT", "LIST")
    pair(0, "MULTI")
    pair(0, "HELLO", "3")
    pair(0, "NOSUCH")
    pair(0, "SUBSCRIBE")
    pair(0, "PSUBSCRIBE", "p")
    pair(0, "SSUBSCRIBE", "s")
    pair(0, "UNSUBSCRIBE", "c")
    pair(0, "PUNSUBSCRIBE", "p")
    pair(0, "GET", "k")  # still subscribed to a shard channel
    pair(0, "SUNSUBSCRIBE", "s")
    pair(0, "GET", "k")
    pair(0, "PING")
    pair(0, "PSUBSCRIBE", "x*")
    pair(0, "RESET")
    pair(0, "GET", "k")
    pair(1, "PUBSUB", "NUMPAT")
    pair(0, "SUBSCRIBE", "q")
    pair.raw(0, "QUIT")
    assert pair.ours[0].closed() and pair.theirs[0].closed()


def test_resp3_push(pair: Pair) -> None:
    for c in range(3):
        pair(c, "HELLO", "3")
    pair(0, "SUBSCRIBE", "ch")
    pair(0, "SET", "k", "v")  # RESP3: every command is allowed while subscribed
    pair(0, "GET", "k")
    pair(0, "PUBLISH", "ch", "to myself")  # the push comes before the :1
    pair(1, "PSUBSCRIBE", "c*")
    pair(2, "PUBLISH", "ch", "both")
    pair.drain(0)
    pair.drain(1)
    pair(0, "PING")
    pair(0, "UNSUBSCRIBE")
    pair(0, "UNSUBSCRIBE")
    pair(1, "PUNSUBSCRIBE", "c*", "zz")
    pair(2, "SSUBSCRIBE", "s1", "s2")
    pair(1, "SPUBLISH", "s1", "shard")
    pair.drain(2)
    pair(2, "SUNSUBSCRIBE", loose=True)
    pair(2, "SUNSUBSCRIBE")


def test_reply_off_still_pushes(pair: Pair) -> None:
    pair.raw(0, "CLIENT", "REPLY", "SKIP", replies=0)
    pair.raw(0, "SUBSCRIBE", "x")  # the skipped "reply" is a push: it is sent
    pair(0, "PING")
    pair(0, "RESET")
    pair(0, "HELLO", "3")
    pair.raw(0, "CLIENT", "REPLY", "OFF", replies=0)
    pair.raw(0, "SUBSCRIBE", "x")  # confirmed even with replies off
    pair(1, "PUBLISH", "x", "m")
    pair.raw(0, "GET", "k", replies=0)
    pair.raw(0, "CLIENT", "REPLY", "ON", replies=2)  # the message, then +OK
    pair.drain(0)


def test_inside_multi(pair: Pair) -> None:
    """Inside MULTI the sentinel PING would be queued: these steps read replies raw."""
    pair(1, "SUBSCRIBE", "m")
    for args in (
        ("MULTI",),
        ("PUBLISH", "m", "one"),
        ("SET", "k", "1"),
        ("PUBLISH", "m", "two"),
        ("EXEC",),
    ):
        pair.raw(0, *args)
    pair.drain(1)
    for args in (("MULTI",), ("SUBSCRIBE", "a", "b"), ("SSUBSCRIBE", "s"), ("PSUBSCRIBE", "p*")):
        pair.raw(0, *args)
    pair.raw(0, "EXEC", replies=2)  # *3 holding 2 confirmations and an error, then 1
    pair(0, "UNSUBSCRIBE", "a", "b")
    pair(0, "PUNSUBSCRIBE", "p*")


def test_published_from_scripts(pair: Pair) -> None:
    pair(1, "SUBSCRIBE", "m")
    pair(
        0,
        "EVAL",
        "redis.call('publish', 'm', 'one') redis.call('set', 'k', 'v') "
        "return redis.call('publish', 'm', 'two')",
        "0",
    )
    pair.drain(1)
    pair(2, "HELLO", "3")
    pair(2, "SUBSCRIBE", "m")
    pair(2, "EVAL", "return redis.call('publish', 'm', 'to myself too')", "0")
    pair.drain(1)


def test_pubsub_introspection(pair: Pair) -> None:
    pair(0, "SUBSCRIBE", "a", "b")
    pair(0, "PSUBSCRIBE", "x*")
    pair(1, "SSUBSCRIBE", "s")
    for args in (
        ("PUBSUB", "NUMSUB"),
        ("PUBSUB", "NUMSUB", "a", "b", "c"),
        ("PUBSUB", "NUMPAT"),
        ("PUBSUB", "NUMPAT", "x"),
        ("PUBSUB", "SHARDNUMSUB", "s", "a"),
        ("PUBSUB", "SHARDCHANNELS"),
        ("PUBSUB", "SHARDCHANNELS", "t*"),
        ("PUBSUB", "CHANNELS", "b"),
        ("PUBSUB", "HELP"),
        ("PUBSUB", "NOPE"),
        ("PUBSUB",),
        ("PUBSUB", "SHARDCHANNELS", "a", "b"),
        ("PUBLISH", "a"),
        ("SPUBLISH", "s", "m", "x"),
    ):
        pair(2, *args)
    ours, theirs = (
        sorted(_parse(c[2].command("PUBSUB", "CHANNELS"))) for c in (pair.ours, pair.theirs)
    )
    assert ours == theirs == [b"a", b"b"]
    for c in (0, 1):
        line = _parse(pair.ours[2].command("CLIENT", "LIST", "ID", _client_id(pair, c)))
        assert (b"flags=P" in line) and (
            b"sub=2 psub=1 ssub=0" in line if c == 0 else b"sub=0 psub=0 ssub=1" in line
        ), line
    info = _parse(pair.ours[2].command("INFO", "STATS")).decode()
    assert "pubsub_channels:2" in info and "pubsub_patterns:1" in info
    assert "pubsubshard_channels:1" in info
    lines = _parse(pair.ours[2].command("CLIENT", "LIST", "TYPE", "pubsub")).splitlines()
    assert len(lines) == 2, lines


def _client_id(pair: Pair, c: int) -> int:
    """The diskredis id of client `c` (a subscribed RESP2 client cannot ask itself)."""
    for line in _parse(pair.ours[2].command("CLIENT", "LIST")).splitlines():
        fields = dict(f.split(b"=", 1) for f in line.split(b" ") if b"=" in f)
        sock = pair.ours[c].sock.getsockname()
        if fields[b"addr"] == b"%s:%d" % (sock[0].encode(), sock[1]):
            return int(fields[b"id"])
    raise AssertionError("client %d not listed" % c)


def test_disconnect_and_kill_unsubscribe(dr: ServerProc) -> None:
    _quiesce(dr)
    sub = dr.raw()
    _frames(sub, ("SUBSCRIBE", "gone"))
    _frames(sub, ("PSUBSCRIBE", "g*"))
    admin = dr.client()
    assert admin.publish("gone", "x") == 2
    sub.close()
    for _ in range(200):  # the server notices the close on its own time
        if admin.publish("gone", "x") == 0:
            break
        time.sleep(0.05)
    assert admin.pubsub_numsub("gone") == [(b"gone", 0)]
    assert admin.pubsub_numpat() == 0
    sub = dr.raw()
    _frames(sub, ("SUBSCRIBE", "killed"))
    assert admin.client_kill_filter(_type="pubsub") == 1
    assert sub.closed()
    assert admin.publish("killed", "x") == 0
    assert admin.pubsub_channels() == []


# -- hypothesis: random sequences over three clients -------------------------------------
_NAMES = st.sampled_from(["a", "b", "ab", "ba", "c"])
_PATTERNS = st.sampled_from(["a*", "*", "?b", "[ab]", "b*", "c"])
_STEP = st.one_of(
    st.tuples(st.just("SUBSCRIBE"), st.lists(_NAMES, min_size=1, max_size=3)),
    st.tuples(st.just("UNSUBSCRIBE"), st.lists(_NAMES, max_size=2)),
    st.tuples(st.just("PSUBSCRIBE"), st.lists(_PATTERNS, min_size=1, max_size=3)),
    st.tuples(st.just("PUNSUBSCRIBE"), st.lists(_PATTERNS, max_size=2)),
    st.tuples(st.just("SSUBSCRIBE"), st.lists(_NAMES, min_size=1, max_size=2)),
    st.tuples(st.just("SUNSUBSCRIBE"), st.lists(_NAMES, max_size=2)),
    st.tuples(st.just("PUBLISH"), st.tuples(_NAMES, st.sampled_from(["m1", "m2"]))),
    st.tuples(st.just("SPUBLISH"), st.tuples(_NAMES, st.just("sm"))),
    st.tuples(
        st.just("PUBSUB"),
        st.sampled_from([("NUMSUB", "a", "b", "c"), ("NUMPAT",), ("SHARDNUMSUB", "a", "b")]),
    ),
    st.tuples(st.sampled_from(["PING", "GET", "RESET"]), st.just(())),
    st.tuples(st.just("HELLO"), st.sampled_from([("2",), ("3",)])),
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(st.tuples(st.integers(0, 2), _STEP), min_size=1, max_size=25))
def test_random_sequences(dr: ServerProc, oracle: ServerProc, steps: list[Any]) -> None:
    p = Pair(dr, oracle)
    try:
        for c, (name, args) in steps:
            p(c, name, *args, loose=True)
            for other in range(3):  # what the others were sent, step by step
                if other != c:
                    p.drain(other, loose=True)
    finally:
        p.close()


# -- client libraries ----------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pubsub(dr: ServerProc, protocol: int) -> None:
    publisher = dr.client(protocol=protocol)
    ps = dr.client(protocol=protocol).pubsub()
    ps.subscribe("jobs")
    ps.psubscribe("ev:*")
    got = [ps.get_message(timeout=10) for _ in range(2)]
    assert [m["type"] for m in got] == ["subscribe", "psubscribe"]
    assert publisher.publish("jobs", "j1") == 1
    assert publisher.publish("ev:x", "e1") == 1
    msgs = [ps.get_message(timeout=10) for _ in range(2)]
    assert msgs[0]["type"] == "message" and msgs[0]["data"] == b"j1"
    assert msgs[1]["type"] == "pmessage" and msgs[1]["pattern"] == b"ev:*"
    assert msgs[1]["channel"] == b"ev:x" and msgs[1]["data"] == b"e1"
    ps.ping()
    assert ps.get_message(timeout=10)["type"] == "pong"
    ps.close()


def test_redis_py_run_in_thread(dr: ServerProc) -> None:
    received: list[bytes] = []
    done = threading.Event()

    def handler(message: dict[str, Any]) -> None:
        received.append(message["data"])
        if len(received) == 100:
            done.set()

    ps = dr.client().pubsub()
    ps.subscribe(**{"work": handler})
    thread = ps.run_in_thread(sleep_time=0.01, daemon=True)
    publisher = dr.client()
    for _ in range(200):  # the subscription is confirmed on the thread's own time
        if publisher.pubsub_numsub("work") == [(b"work", 1)]:
            break
        time.sleep(0.05)
    for i in range(100):
        assert publisher.publish("work", "m%d" % i) == 1
    assert done.wait(30)
    thread.stop()
    thread.join(10)
    assert received == [b"m%d" % i for i in range(100)]


def test_slow_subscriber_disconnected(dr_factory: Any) -> None:
    """A subscriber that never reads is dropped at the pubsub output-buffer limit, and
    the server keeps serving everyone else."""
    sp = dr_factory("--client-output-buffer-limit", "pubsub 1mb 512kb 60")
    sub = sp.raw()
    sub.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    _frames(sub, ("SUBSCRIBE", "firehose"))
    publisher = sp.client()
    payload = b"x" * 65536
    for _ in range(400):  # 25 MB: far past what the socket buffers and the limit hold
        if publisher.publish("firehose", payload) == 0:
            break
    assert publisher.pubsub_numsub("firehose") == [(b"firehose", 0)]
    assert publisher.ping()
    assert "output buffer limits" in sp.log()
