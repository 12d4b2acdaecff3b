"""A full disk: writes fail with an error naming the cause, reads go on, writes resume once
there is room again; nothing acknowledged is lost.

The data folder is a small tmpfs (the suite runs as root, as CI does).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis


@pytest.fixture
def small_disk() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="diskredis-full-")
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", path], capture_output=True, text=True
    )
    assert out.returncode == 0, "cannot mount a tmpfs (the suite runs as root): " + out.stderr
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], check=False)
        os.rmdir(path)


def test_full_disk_gives_a_clear_error_and_keeps_acknowledged_data(
    dr_factory: Any, small_disk: str
) -> None:
    data = os.path.join(small_disk, "data")
    sp = dr_factory(data_dir=data)
    c = sp.client()
    acked = {}
    error = None
    value = os.urandom(64 * 1024)
    for i in range(400):  # 25 MB into 6 MB
        key = b"k%d" % i
        try:
            c.set(key, value)
        except redis.ResponseError as e:
            error = str(e)
            break
        acked[key] = value
    assert error is not None, "the disk never filled"
    assert "storage error, nothing written" in error and "is full" in error, error
    # the server is up and answers; PING says writes are refused, as Redis's does
    with pytest.raises(redis.ResponseError, match=r"^MISCONF diskredis can't write"):
        c.ping()
    for key, v in list(acked.items())[-5:]:  # reads keep working on a full disk
        assert c.get(key) == v
    with pytest.raises(redis.ResponseError, match=r"^MISCONF diskredis can't write"):
        c.set("more", "x")  # refused, not tried: reads in its batch are not failed
    assert c.get("more") is None
    # The operator frees space (here: a bigger tmpfs): writes resume, no restart needed.
    subprocess.run(["mount", "-o", "remount,size=64m", small_disk], check=True)
    deadline = time.monotonic() + 30  # the server looks again a second after the failure
    while True:
        try:
            c.set("resumed", "yes")
            break
        except redis.ResponseError as e:
            assert str(e).startswith("MISCONF") and time.monotonic() < deadline, e
            time.sleep(0.05)
    for i in range(400, 420):
        key = b"k%d" % i
        c.set(key, value)
        acked[key] = value
    assert "Writes to %s" % data in sp.log() and "resume" in sp.log()
    sp.stop()
    # After a restart, everything acknowledged is there.
    again = dr_factory(data_dir=data)
    c2 = again.client()
    for key, v in acked.items():
        assert c2.get(key) == v


def test_read_only_data_directory_is_a_clear_start_up_error(small_disk: str) -> None:
    """A data folder on a read-only mount: the server refuses to start, naming the folder
    and the cause, instead of failing later or crashing."""
    from tests.conftest import ROOT

    data = os.path.join(small_disk, "data")
    os.makedirs(data)
    out = subprocess.run(["mount", "-o", "remount,ro", small_disk], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    run = subprocess.run(
        [sys.executable, "-m", "diskredis", "--port", "0", "--dir", data],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    said = run.stdout + run.stderr
    assert run.returncode == 1, said
    assert "can't write in the data directory %s" % data in said, said
    assert "Read-only file system" in said and "Traceback" not in said, said


def _start_fails(data: str, engine: str) -> str:
    from tests.conftest import ROOT

    run = subprocess.run(
        [sys.executable, "-m", "diskredis", "--port", "0", "--dir", data, "--engine", engine],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    said = run.stdout + run.stderr
    assert run.returncode == 1 and "Traceback" not in said, said
    return said


def test_corrupt_or_foreign_engine_files_are_named_at_start_up(tmp_path: Any) -> None:
    """Damaged engine files, or an engine's files written by another program, stop the
    server at start-up with a message naming them; nothing is changed."""
    lmdb_dir = tmp_path / "a" / "lmdb"
    lmdb_dir.mkdir(parents=True)
    garbage = os.urandom(100_000)
    (lmdb_dir / "data.mdb").write_bytes(garbage)
    said = _start_fails(str(tmp_path / "a"), "lmdb")
    assert "cannot open the LMDB environment in %s" % lmdb_dir in said, said
    assert (lmdb_dir / "data.mdb").read_bytes() == garbage

    level_dir = tmp_path / "b" / "leveldb"
    level_dir.mkdir(parents=True)
    (level_dir / "CURRENT").write_bytes(b"\x00garbage")
    said = _start_fails(str(tmp_path / "b"), "leveldb")
    assert "cannot open the LevelDB database in %s" % level_dir in said, said

    import lmdb

    foreign = tmp_path / "c" / "lmdb"
    foreign.mkdir(parents=True)
    env = lmdb.open(str(foreign), max_dbs=8)
    table = env.open_db(b"meta")
    with env.begin(write=True) as txn:
        txn.put(b"someone else's", b"data", db=table)
    env.close()
    said = _start_fails(str(tmp_path / "c"), "lmdb")
    assert "holds data without a format record" in said and str(foreign) in said, said
