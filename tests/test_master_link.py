"""The replica side's handshake and transfer against a real redis-server 7.0 primary
(server/master_link.py): both RDB framings, partial resync, and the refusals."""

from __future__ import annotations

import os
import tempfile

import pytest
import trio

from diskredis.rdb import codec
from diskredis.server.master_link import LinkError, MasterLink, Resync
from tests.conftest import start_oracle


async def _sync(
    port: int, path: str, replid: str = "", offset: int = 0, password: str = ""
) -> tuple[Resync, int]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        link = MasterLink(stream)
        resync = await link.handshake(4242, replid, offset, password=password)
        size = await link.receive_rdb(path) if resync.full else 0
        return resync, size


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_a_full_resync_brings_the_primarys_rdb(diskless: str) -> None:
    primary = start_oracle("--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0")
    try:
        c = primary.client()
        c.set("a", "1")
        c.rpush("l", "x", "y")
        path = os.path.join(tempfile.mkdtemp(), "sync.rdb")
        resync, size = trio.run(_sync, primary.port, path)
        assert resync.full and len(resync.replid) == 40 and resync.offset >= 0
        assert size == os.path.getsize(path) > 0
        with open(path, "rb") as f:
            reader = codec.FileReader(f)
            records = {r.key: r.value for r in reader}
        assert records[b"a"] == b"1" and records[b"l"].items == [b"x", b"y"]
        assert reader.aux[b"repl-id"].decode() == resync.replid
        # The same history, asked again from where it was: +CONTINUE.
        again, _ = trio.run(_sync, primary.port, path, resync.replid, resync.offset)
        assert not again.full and again.replid == resync.replid
    finally:
        primary.stop()


def test_a_wrong_password_is_a_link_error() -> None:
    primary = start_oracle("--requirepass", "secret")
    try:
        with pytest.raises(LinkError, match="unable to AUTH to MASTER"):
            trio.run(_sync, primary.port, "/dev/null", "", 0, "wrong")
    finally:
        primary.stop()
