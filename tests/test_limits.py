"""Limits on what one client may cost, against redis-server 7.0 on both engines: the query
buffer limit, the normal class's output buffer limit, and hostile clients (slow-loris,
huge declared arguments) that must neither stall others nor grow memory without bound."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.conftest import RawClient, ServerProc


def _rss_kb(sp: ServerProc) -> int:
    with open("/proc/%d/status" % sp.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _closed_after(c: RawClient) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection (True), or until it stops
    sending for the client's timeout while keeping it open (False)."""
    out = b""
    while True:
        try:
            chunk = c.sock.recv(1 << 20)
        except ConnectionResetError:
            return out, True
        except TimeoutError:
            return out, False
        if not chunk:
            return out, True
        out += chunk


@pytest.fixture
def limited(dr: ServerProc, oracle: ServerProc) -> Iterator[list[ServerProc]]:
    """Both servers with client-query-buffer-limit 1mb (the least Redis takes) and the
    normal class's output limit at 1mb hard; both put back afterwards."""
    servers = [dr, oracle]
    for sp in servers:
        admin = sp.raw()
        assert admin.command("CONFIG", "SET", "client-query-buffer-limit", "1mb") == b"+OK\r\n"
        assert (
            admin.command("CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0")
            == b"+OK\r\n"
        )
        admin.close()
    yield servers
    for sp in servers:
        admin = sp.raw()
        admin.command("CONFIG", "SET", "client-query-buffer-limit", "1gb")
        admin.command("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0")
        admin.command("DEL", "big")
        admin.close()


def test_query_buffer_limit_closes_the_client(limited: list[ServerProc]) -> None:
    """A request still incomplete past the limit: the connection is closed, no reply."""
    got = []
    for sp in limited:
        c = RawClient(sp.port, timeout=10)
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000000\r\n")
        try:
            for _ in range(3):
                c.send(b"x" * 1_000_000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got.append(_closed_after(c))
        c.close()
        other = sp.raw()
        assert other.command("EXISTS", "k") == b":0\r\n"  # nothing half-done
        other.close()
    assert got[0] == got[1] == (b"", True)


def test_output_buffer_limit_closes_a_client_that_does_not_read(limited: list[ServerProc]) -> None:
    """Replies pile up past the normal class's hard limit: the client is disconnected
    (Redis: freeClientAsync), having received only part of what it asked for."""
    outcomes = []
    for sp in limited:
        admin = sp.raw()
        assert admin.command("SET", "big", "v" * 1_000_000) == b"+OK\r\n"
        c = RawClient(sp.port, timeout=20)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.send(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 60)
        data, closed = _closed_after(c)
        outcomes.append((closed, len(data) < 60 * 1_000_000))
        c.close()
        assert admin.command("PING") == b"+PONG\r\n"
        admin.close()
    assert outcomes[0] == outcomes[1] == (True, True)


def test_slow_and_huge_clients_cost_bounded_memory(dr: ServerProc) -> None:
    """Forty clients each declare a 400 MB argument and send a little of it, then
    stall; forty more drip a request a byte at a time. The server keeps answering
    others, and its memory stays far below what was declared."""
    before = _rss_kb(dr)
    hogs: list[RawClient] = []
    for i in range(40):
        c = RawClient(dr.port, timeout=10)
        c.send(b"*3\r\n$3\r\nSET\r\n$%d\r\nhog%d\r\n$400000000\r\n" % (len(b"hog%d" % i), i))
        c.send(b"y" * 20_000)
        hogs.append(c)
    drips: list[RawClient] = []
    for _ in range(40):
        c = RawClient(dr.port, timeout=10)
        drips.append(c)
    request = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n"
    for byte in range(len(request) - 1):
        for c in drips:
            c.send(request[byte : byte + 1])
        probe = dr.raw()
        assert probe.command("PING") == b"+PONG\r\n"
        probe.close()
    grown_mb = (_rss_kb(dr) - before) / 1024
    assert grown_mb < 100, "grew %.0f MB for 16 GB declared" % grown_mb
    for c in drips:
        c.send(request[-1:])
        assert c.reply() == b"$5\r\nhello\r\n"
        c.close()
    for c in hogs:
        c.close()
    assert dr.raw().command("EXISTS", "hog0") == b":0\r\n"
