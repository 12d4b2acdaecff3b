"""diskredis-backup: a copy of a live folder taken under write load is one instant's
state (every write acknowledged before it, nothing torn), passes diskredis-check and
opens in a server -- LMDB copied directly, LevelDB through its server's snapshot -- and
a LevelDB folder whose server is stopped is copied as files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, start_diskredis


def _backup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diskredis.transfer.backup", *args, "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def dest() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="backup-"))
    shutil.rmtree(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_hot_copy_under_write_load(dr_factory: Any, engine: str, dest: Path) -> None:
    sp = dr_factory()
    c = sp.client()
    c.hset("big", mapping={"f%d" % i: "v" * 50 for i in range(5000)})
    acked = [-1]
    stop = threading.Event()

    def writer() -> None:  # one client, in order: a snapshot holds a prefix of them
        w = sp.client()
        n = 0
        while not stop.is_set():
            w.rpush("log", n)
            w.set("w:%d" % n, n)
            acked[0] = n
            n += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        while acked[0] < 200:
            stop.wait(0.01)
        before = acked[0]
        via = () if engine == "lmdb" else ("-p", str(sp.port))  # LevelDB: its server
        out = _backup(sp.dir, str(dest), *via)
        after = acked[0]
    finally:
        stop.set()
        t.join()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "checked the copy" in out.stdout
    copy = start_diskredis(engine, data_dir=str(dest))
    try:
        cc = copy.client()
        log = [int(x) for x in cc.lrange("log", 0, -1)]
        assert log == list(range(len(log)))  # a prefix: nothing torn, nothing reordered
        assert before < len(log) <= after + 1
        held = sum(1 for _ in cc.scan_iter("w:*", count=1000))
        assert held in (len(log), len(log) - 1)  # the SET after the last RPUSH, or not
        assert cc.hlen("big") == 5000
    finally:
        copy.stop()
    again = _backup(sp.dir, str(dest), *via)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_leveldb_with_its_server_stopped_or_without_its_address(dest: Path) -> None:
    sp = start_diskredis("leveldb")
    try:
        sp.client().set("k", "v")
        out = _backup(sp.dir, str(dest))
        assert out.returncode == 2 and "give the server's address (-p PORT" in out.stderr
        assert not dest.exists()
        sp.stop()
        out = _backup(sp.dir, str(dest))
        assert out.returncode == 0, out.stderr
        copy = start_diskredis("leveldb", data_dir=str(dest))
        try:
            assert copy.client().get("k") == b"v"
        finally:
            copy.stop()
    finally:
        sp.stop()
        shutil.rmtree(sp.dir, ignore_errors=True)


def test_backup_refuses_what_is_not_a_folder(dest: Path) -> None:
    out = _backup("/nonexistent", str(dest))
    assert out.returncode == 2 and "holds no diskredis data" in out.stderr
    assert not os.path.exists(dest)
