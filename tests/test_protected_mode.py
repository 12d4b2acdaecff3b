"""Protected mode: with no password, a server listening beyond loopback serves only
loopback clients, and tells the others why with Redis's exact -DENIED text.

A client from another host is simulated by connecting to one of this machine's own
non-loopback addresses: the server then sees that address, not 127.0.0.1, as the peer.
Where the machine has none, the test (root, like CI) adds one for the run, on a veth
interface (this kind of machine has no dummy interfaces).
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerProc, start_oracle

_VETH = "drtest0"


def _external_address() -> str | None:
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False
    ).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] != "lo" and not parts[3].startswith("127."):
            return parts[3].split("/")[0]
    return None


@pytest.fixture(scope="module")
def external() -> Iterator[str]:
    """An address of this machine that is not loopback."""
    address = _external_address()
    if address is not None:
        yield address
        return
    address = "10.213.77.1"
    for cmd in (
        ["ip", "link", "add", _VETH, "type", "veth", "peer", "name", _VETH + "p"],
        ["ip", "addr", "add", address + "/32", "dev", _VETH],
        ["ip", "link", "set", _VETH, "up"],
    ):
        subprocess.run(cmd, check=True)
    try:
        yield address
    finally:
        subprocess.run(["ip", "link", "del", _VETH], check=False)


def _greeting(address: str, port: int) -> bytes:
    """The server's first reply line to a client from `address` that sends PING; after a
    -DENIED, also checks that the server closed the connection."""
    with socket.create_connection((address, port), timeout=10) as s:
        s.sendall(b"PING\r\n")
        out = b""
        while b"\r\n" not in out:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        if out.startswith(b"-DENIED"):
            try:
                rest = s.recv(65536)
            except ConnectionResetError:
                rest = b""
            assert rest == b"", "the connection stays open after -DENIED"
        return out


def _servers(dr_factory: Any) -> tuple[ServerProc, ServerProc]:
    ours = dr_factory("--bind", "0.0.0.0")
    theirs = start_oracle("--bind", "0.0.0.0", "--protected-mode", "yes")
    return ours, theirs


def test_other_hosts_are_denied_without_a_password(dr_factory: Any, external: str) -> None:
    ours, theirs = _servers(dr_factory)
    try:
        denied = _greeting(external, ours.port)
        assert denied == _greeting(external, theirs.port)
        assert denied.startswith(b"-DENIED Redis is running in protected mode")
        assert _greeting("127.0.0.1", ours.port) == b"+PONG\r\n"  # loopback is served
        for sp in (ours, theirs):
            info = sp.client().info("stats")
            assert info["rejected_connections"] == 1
        # A password lifts it (the client must then authenticate); so does turning it off.
        for sp in (ours, theirs):
            sp.client().config_set("requirepass", "secret")
        assert _greeting(external, ours.port) == _greeting(external, theirs.port)
        assert _greeting(external, ours.port).startswith(b"-NOAUTH")
        for sp in (ours, theirs):
            c = sp.client(password="secret")
            c.config_set("requirepass", "")
            c.config_set("protected-mode", "no")
        assert _greeting(external, ours.port) == b"+PONG\r\n" == _greeting(external, theirs.port)
    finally:
        theirs.stop()


def test_default_bind_is_loopback_only(dr_factory: Any, external: str) -> None:
    """diskredis listens on 127.0.0.1 unless told otherwise: other hosts cannot connect."""
    sp = dr_factory()
    with pytest.raises(OSError):
        socket.create_connection((external, sp.port), timeout=5).close()
