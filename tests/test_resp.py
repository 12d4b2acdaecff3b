"""RESP framing, sans-I/O: one table of cases each way, every split point, hypothesis."""

from __future__ import annotations

import itertools

import hiredis
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from diskredis import errors
from diskredis.errors import RedisError
from diskredis.quoting import split_inline
from diskredis.resp.reader import RequestReader
from diskredis.resp.values import NULL_ARRAY, BigNumber, Push, RSet, Verbatim
from diskredis.resp.writer import encode

# -- replies: (value, RESP2 bytes, RESP3 bytes) --------------------------------------
REPLIES = [
    ("OK", b"+OK\r\n", b"+OK\r\n"),
    ("PONG", b"+PONG\r\n", b"+PONG\r\n"),
    (b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    (b"a\r\nb", b"$4\r\na\r\nb\r\n", b"$4\r\na\r\nb\r\n"),
    (0, b":0\r\n", b":0\r\n"),
    (-(2**63), b":-9223372036854775808\r\n", b":-9223372036854775808\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (False, b":0\r\n", b"#f\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    ([], b"*0\r\n", b"*0\r\n"),
    ([b"a", 1, None], b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", b"*3\r\n$1\r\na\r\n:1\r\n_\r\n"),
    (
        {b"k": b"v", b"n": 2},
        b"*4\r\n$1\r\nk\r\n$1\r\nv\r\n$1\r\nn\r\n:2\r\n",
        b"%2\r\n$1\r\nk\r\n$1\r\nv\r\n$1\r\nn\r\n:2\r\n",
    ),
    (RSet([b"x"]), b"*1\r\n$1\r\nx\r\n", b"~1\r\n$1\r\nx\r\n"),
    (
        Push([b"message", b"c", b"m"]),
        b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n",
        b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n",
    ),
    (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (0.1, b"$19\r\n0.10000000000000001\r\n", b",0.10000000000000001\r\n"),
    (float("inf"), b"$3\r\ninf\r\n", b",inf\r\n"),
    (float("-inf"), b"$4\r\n-inf\r\n", b",-inf\r\n"),
    (Verbatim(b"id=1\n"), b"$5\r\nid=1\n\r\n", b"=9\r\ntxt:id=1\n\r\n"),
    (BigNumber(2**70), b"$22\r\n1180591620717411303424\r\n", b"(1180591620717411303424\r\n"),
    (RedisError("ERR bad\r\nthing"), b"-ERR bad  thing\r\n", b"-ERR bad  thing\r\n"),
    (
        [[b"a"], RedisError("ERR x")],
        b"*2\r\n*1\r\n$1\r\na\r\n-ERR x\r\n",
        b"*2\r\n*1\r\n$1\r\na\r\n-ERR x\r\n",
    ),
]


@pytest.mark.parametrize("value,resp2,resp3", REPLIES, ids=[repr(r[0])[:30] for r in REPLIES])
def test_encode_reply_table(value: object, resp2: bytes, resp3: bytes) -> None:
    assert encode(value, 2) == resp2
    assert encode(value, 3) == resp3


@pytest.mark.parametrize("value,resp2,resp3", REPLIES, ids=[repr(r[0])[:30] for r in REPLIES])
def test_encoded_replies_parse_back_with_hiredis(value: object, resp2: bytes, resp3: bytes) -> None:
    for data in (resp2, resp3):
        reader = hiredis.Reader(notEnoughData=Ellipsis)
        reader.feed(data)
        assert reader.gets() is not Ellipsis
        assert reader.gets() is Ellipsis


# -- requests: (bytes in, requests out, error or None) ------------------------------
REQUESTS = [
    (b"*1\r\n$4\r\nPING\r\n", [[b"PING"]], None),
    (b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", [[b"ECHO", b""]], None),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\nbc\r\n", [[b"SET", b"k", b"a\r\nbc"]], None),
    (b"*2\r\n$4\r\nECHO\r\n$2\r\n+a\r\n", [[b"ECHO", b"+a"]], None),
    (b"PING\r\n", [[b"PING"]], None),
    (b"PING\n", [[b"PING"]], None),
    (b'set a "b c"\r\n', [[b"set", b"a", b"b c"]], None),
    (b"echo '\\'x'\r\n", [[b"echo", b"'x"]], None),
    (b'echo "\\x41\\n"\r\n', [[b"echo", b"A\n"]], None),
    (b"\r\n\r\nPING\r\n", [[b"PING"]], None),
    (b"*0\r\n*-1\r\nPING\r\n", [[b"PING"]], None),
    (b"*1\r\n$4\r\nPINGxx", [[b"PING"]], None),  # CRLF after a bulk is not checked (Redis)
    (b"PING\r\n*1\r\n$4\r\nPING\r\n", [[b"PING"], [b"PING"]], None),
    (b'echo "abc\r\n', [], errors.PROTO_UNBALANCED_QUOTES),
    (b'echo "a"b\r\n', [], errors.PROTO_UNBALANCED_QUOTES),
    (b"*1\r\n+PING\r\n", [], errors.proto_expected_dollar(ord("+"))),
    (b"*1\r\n:1\r\n", [], errors.proto_expected_dollar(ord(":"))),
    (b"*x\r\n", [], errors.PROTO_INVALID_MBULK),
    (b"*01\r\n", [], errors.PROTO_INVALID_MBULK),
    (b"*2147483648\r\n", [], errors.PROTO_INVALID_MBULK),
    (b"*1\r\n$-1\r\n", [], errors.PROTO_INVALID_BULK),
    (b"*1\r\n$03\r\n", [], errors.PROTO_INVALID_BULK),
    (b"*1\r\n$536870913\r\n", [], errors.PROTO_INVALID_BULK),
    (b"PING\r\n*1\r\n$x\r\n", [[b"PING"]], errors.PROTO_INVALID_BULK),
    # After a request, only '*' starts a multibulk: RESP3 aggregates are inline commands
    (b"*1\r\n$4\r\nPING\r\n~1\r\n$4\r\nPING\r\n", [[b"PING"], [b"~1"], [b"$4"], [b"PING"]], None),
    (b"*1\r\n$4\r\nPING\r\n>1\r\n$4\r\nPING\r\n", [[b"PING"], [b">1"], [b"$4"], [b"PING"]], None),
    (
        b"*1\r\n$4\r\nPING\r\n|1\r\n$1\r\na\r\n$1\r\nb\r\n",
        [[b"PING"], [b"|1"], [b"$1"], [b"a"], [b"$1"], [b"b"]],
        None,
    ),
    (
        b"*1\r\n$4\r\nPING\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n",
        [[b"PING"], [b"%1"], [b"$1"], [b"a"], [b"$1"], [b"b"]],
        None,
    ),
]


def _feed_all(chunks: list[bytes], **kw: int) -> tuple[list[list[bytes]], str | None]:
    reader = RequestReader(**kw)
    got: list[list[bytes]] = []
    for c in chunks:
        reader.feed(c)
        got += reader.pop()
        if reader.error:
            break
    return got, reader.error


@pytest.mark.parametrize("data,expected,error", REQUESTS, ids=[repr(r[0])[:40] for r in REQUESTS])
def test_request_table(data: bytes, expected: list[list[bytes]], error: str | None) -> None:
    assert _feed_all([data]) == (expected, error)


@pytest.mark.parametrize("data,expected,error", REQUESTS, ids=[repr(r[0])[:40] for r in REQUESTS])
def test_request_table_split_at_every_byte(
    data: bytes, expected: list[list[bytes]], error: str | None
) -> None:
    for cut in range(1, len(data)):
        assert _feed_all([data[:cut], data[cut:]]) == (expected, error), cut
    assert _feed_all([data[i : i + 1] for i in range(len(data))]) == (expected, error)


def test_request_too_big_inline_needs_64k_without_newline() -> None:
    reader = RequestReader()
    reader.feed(b"x" * 65536)
    assert reader.pop() == [] and reader.error is None
    reader.feed(b"x")
    assert reader.pop() == [] and reader.error == errors.PROTO_TOO_BIG_INLINE


def test_request_too_big_count_strings() -> None:
    assert _feed_all([b"*" + b"1" * 65537]) == ([], errors.PROTO_TOO_BIG_MBULK_COUNT)
    assert _feed_all([b"*1\r\n$" + b"1" * 65537]) == ([], errors.PROTO_TOO_BIG_BULK_COUNT)


def test_request_bulk_limit_follows_proto_max_bulk_len() -> None:
    limit = 1024 * 1024
    ok = b"*1\r\n$%d\r\n" % limit
    assert _feed_all([ok], max_bulk_len=limit) == ([], None)
    bad = b"*1\r\n$%d\r\n" % (limit + 1)
    assert _feed_all([bad], max_bulk_len=limit) == ([], errors.PROTO_INVALID_BULK)


def test_request_query_buffer_limit_closes_without_reply() -> None:
    reader = RequestReader(max_query_buffer=1024 * 1024)
    reader.feed(b"*1\r\n$%d\r\n" % (2 * 1024 * 1024))
    reader.feed(b"x" * (1024 * 1024 + 10))
    assert reader.pop() == []
    assert reader.overflow and reader.error is None


def test_request_unauthenticated_limits_apply_one_request_at_a_time() -> None:
    reader = RequestReader()
    reader.auth_required = True
    reader.feed(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n")
    assert reader.pop() == [[b"PING"]]
    assert reader.pop() == [[b"PING"]]
    reader.feed(b"*11\r\n")
    assert reader.pop() == [] and reader.error == errors.PROTO_UNAUTH_MBULK
    reader = RequestReader()
    reader.auth_required = True
    reader.feed(b"*1\r\n$16385\r\n")
    assert reader.pop() == [] and reader.error == errors.PROTO_UNAUTH_BULK


def test_request_after_auth_the_held_requests_are_parsed() -> None:
    reader = RequestReader()
    reader.auth_required = True
    reader.feed(b"AUTH x\r\n" + b"*12\r\n" + b"$1\r\na\r\n" * 12)
    assert reader.pop() == [[b"AUTH", b"x"]]
    reader.auth_required = False
    assert reader.pop() == [[b"a"] * 12]


def test_request_big_argument_across_many_reads() -> None:
    value = bytes(range(256)) * 4096  # 1 MiB
    data = b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" % (len(value), value)
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    assert _feed_all(chunks) == ([[b"ECHO", value]], None)


def test_split_inline_matches_sdssplitargs() -> None:
    assert split_inline(b"") == []
    assert split_inline(b"  a\tb  ") == [b"a", b"b"]
    assert split_inline(b"\"a\\tb\" 'c\\nd'") == [b"a\tb", b"c\\nd"]
    assert split_inline(b'"\\xzz"') == [b"xzz"]
    assert split_inline(b"a\x00b") == [b"a"]
    assert split_inline(b'"a" "b"') == [b"a", b"b"]
    assert split_inline(b"'a'b") is None
    assert split_inline(b"'abc") is None


def _multibulk(argv: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=6), min_size=1, max_size=8),
    st.lists(st.integers(min_value=1, max_value=300), max_size=10),
)
def test_request_roundtrip_any_bytes_any_split(
    requests: list[list[bytes]], cuts: list[int]
) -> None:
    data = b"".join(_multibulk(r) for r in requests)
    points = sorted({c % len(data) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points) if b > a]
    assert _feed_all(chunks) == (requests, None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_request_fuzzed_bytes_never_raise(data: bytes) -> None:
    reader = RequestReader()
    for i in range(0, len(data), 7):
        reader.feed(data[i : i + 7])
        for request in reader.pop():
            assert request and all(isinstance(a, bytes) for a in request)


def test_huge_array_count_allocates_nothing_up_front() -> None:
    """*2000000000 is a valid count; the reader must wait for the elements, not reserve
    room for them (hiredis would). Run under a 1 GB address-space limit."""
    import subprocess
    import sys

    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from diskredis.resp.reader import RequestReader\n"
        "r = RequestReader()\n"
        "r.feed(b'*2000000000\\r\\n$1\\r\\na\\r\\n')\n"
        "assert r.pop() == [] and r.error is None, r.error\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


_FRAGMENTS = st.sampled_from(
    [
        b"*",
        b"$",
        b"%",
        b"~",
        b">",
        b"|",
        b"=",
        b"(",
        b",",
        b"#",
        b"_",
        b":",
        b"+",
        b"-",
        b"!",
        b"\r\n",
        b"\r",
        b"\n",
        b"0",
        b"1",
        b"2",
        b"-1",
        b"99999999999",
        b"PING",
        b"\x00",
        b" ",
        b'"',
        b"'",
        b"x",
        b"\xff",
        # whole frames, so that well-formed stretches reach hiredis's fast path too
        b"*1\r\n",
        b"*2\r\n",
        b"*0\r\n",
        b"$4\r\nECHO\r\n",
        b"$1\r\na\r\n",
        b"%1\r\n",
        b"~1\r\n",
        b":1\r\n",
        b"_\r\n",
        b"#t\r\n",
        b",1.5\r\n",
        b"|1\r\n",
        b">1\r\n",
    ]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=40), st.lists(st.integers(0, 300), max_size=4))
@example([b"*2\r\n", b"$4\r\nECHO\r\n", b"%1\r\n"], [])
@example([b"*1\r\n", b"%1\r\n", b"*0\r\n", b"$1\r\na\r\n"], [])
def test_reader_takes_any_bytes_split_anywhere(parts: list[bytes], cuts: list[int]) -> None:
    """Whatever arrives, however it is split, the reader gives requests or a protocol
    error and never raises (RESP3 frames included: hiredis's fast path builds maps as
    dicts, which once failed on an array key)."""
    data = b"".join(parts)
    reader = RequestReader()
    start = 0
    for cut in [*sorted(c for c in cuts if c < len(data)), len(data)]:
        if cut > start:
            reader.feed(data[start:cut])
            start = cut
        for request in reader.pop():
            assert request and all(type(a) is bytes for a in request)
    assert reader.error is None or reader.error.startswith("ERR Protocol error")


class _ExactReader(RequestReader):
    """The reader without its hiredis fast path: Redis's parser, byte by byte."""

    def _fast(self, data: bytes) -> bool:
        return False


def _requests_of(
    reader: RequestReader, chunks: list[bytes]
) -> tuple[list[list[bytes]], str | None, bool]:
    got: list[list[bytes]] = []
    for c in chunks:
        reader.feed(c)
        got += reader.pop()
    return got, reader.error, reader.overflow


@settings(max_examples=3000, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=40), st.lists(st.integers(0, 300), max_size=4))
@example([b"*1\r\n", b"$1\r\na\r\n", b"~1\r\n", b"$1\r\na\r\n"], [])
def test_fast_path_parses_as_the_exact_parser(parts: list[bytes], cuts: list[int]) -> None:
    """hiredis parses RESP3 replies, a wider language than requests: whatever it is fed,
    the fast path gives the requests and the error the exact parser gives."""
    data = b"".join(parts)
    bounds = [0, *sorted(c for c in cuts if c < len(data)), len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    assert _requests_of(RequestReader(), chunks) == _requests_of(_ExactReader(), chunks)
