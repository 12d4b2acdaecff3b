"""A full disk: writes fail with an error naming the cause; nothing acknowledged is lost.

The data folder is a small tmpfs (the suite runs as root, as CI does).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import redis


@pytest.fixture
def small_disk() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="diskredis-full-")
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", path],
                         capture_output=True, text=True)
    assert out.returncode == 0, "cannot mount a tmpfs (the suite runs as root): " + out.stderr
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], check=False)
        os.rmdir(path)


def test_full_disk_gives_a_clear_error_and_keeps_acknowledged_data(
        dr_factory: Any, small_disk: str) -> None:
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
    assert c.ping()  # the server is still up and answering
    sp.stop()
    # The operator frees space (here: a bigger tmpfs); everything acknowledged is there.
    subprocess.run(["mount", "-o", "remount,size=64m", small_disk], check=True)
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
    out = subprocess.run(["mount", "-o", "remount,ro", small_disk], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    run = subprocess.run([sys.executable, "-m", "diskredis", "--port", "0", "--dir", data],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    said = run.stdout + run.stderr
    assert run.returncode == 1, said
    assert "can't write in the data directory %s" % data in said, said
    assert "Read-only file system" in said and "Traceback" not in said, said
