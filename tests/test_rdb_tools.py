"""diskredis-restore and diskredis-dump with the real redis-server, on both engines:
an RDB file saved by Redis restores into a data folder (offline) and into a running
diskredis; diskredis dumps to an RDB file that redis-server loads; JSON lines and RESP
command streams go both ways; corrupt input is refused before anything is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import ROOT, ServerProc, start_diskredis, start_oracle
from tests.test_dump_restore import fill, snapshot

LIBRARY = "#!lua name=mylib\nredis.register_function('answer', function() return 42 end)"


def _tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diskredis.transfer." + name, *args, "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _fill_all(c: redis.Redis) -> None:
    c.flushall()
    fill(c)
    three = redis.Redis(port=c.connection_pool.connection_kwargs["port"], db=3)
    three.set("in-db3", "x")
    three.hset("h3", "a", "b")
    three.set("db3-ttl", "v", ex=5000)
    c.function_load(LIBRARY, replace=True)


def _same(a: ServerProc, b: ServerProc, streams_exact: bool = True) -> None:
    """Every key of databases 0 and 3 reads the same on both; TTLs within a second."""
    for db in (0, 3):
        ca, cb = a.client(db=db), b.client(db=db)
        keys = sorted(ca.keys())
        assert keys == sorted(cb.keys()), db
        assert keys
        for k in keys:
            sa, sb = snapshot(ca, k), snapshot(cb, k)
            if not streams_exact and sa[0] == b"stream":
                for s in (sa, sb):
                    s[1].pop("radix-tree-keys")  # node boundaries: kept by RDB only
                    for g in s[1]["groups"]:
                        for c in g["consumers"]:
                            c.pop(b"seen-time")  # commands can't set it
            assert sa == sb, k
            ta, tb = ca.pttl(k), cb.pttl(k)
            assert (ta > 0) == (tb > 0) and abs(ta - tb) < 2000, (k, ta, tb)
    assert b.client().fcall("answer", 0) == 42


@pytest.fixture
def saved(oracle: ServerProc) -> Iterator[str]:
    """An RDB file Redis saved, holding every type and encoding, two databases, TTLs
    and a function library."""
    c = oracle.client()
    _fill_all(c)
    c.save()
    d = tempfile.mkdtemp(prefix="rdb-")
    path = os.path.join(d, "dump.rdb")
    shutil.copy(os.path.join(c.config_get("dir")["dir"], "dump.rdb"), path)
    yield path
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def scratch() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="tools-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _redis_loading(path: str, scratch: Path) -> ServerProc:
    """A redis-server started on a copy of the RDB file `path`."""
    d = scratch / "redis-load"
    d.mkdir()
    shutil.copy(path, d / "dump.rdb")
    return start_oracle("--dir", str(d), "--dbfilename", "dump.rdb")


def _dumped_file_loads_in_redis(oracle: ServerProc, scratch: Path, *source: str) -> None:
    """diskredis-dump from `source` to an RDB file; redis-server loads it and holds what
    the oracle holds."""
    back = str(scratch / "back.rdb")
    out = _tool("dump", *source, "-o", back)
    assert out.returncode == 0, out.stderr
    loaded = _redis_loading(back, scratch)
    try:
        _same(oracle, loaded)
    finally:
        loaded.stop()


def test_redis_rdb_into_a_folder_and_back(
    saved: str, oracle: ServerProc, engine: str, scratch: Path
) -> None:
    folder = scratch / "data"
    out = _tool("restore", saved, "--dir", str(folder), "--engine", engine)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "restored 28 keys" in out.stdout and "loaded 1 function library" in out.stdout
    check = subprocess.run(
        [sys.executable, "-m", "diskredis.check", str(folder), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout
    sp = start_diskredis(engine, data_dir=str(folder))
    try:
        _same(oracle, sp)
    finally:
        sp.stop()
    _dumped_file_loads_in_redis(oracle, scratch, "--dir", str(folder))


def test_redis_rdb_into_a_running_server_and_back(
    saved: str, oracle: ServerProc, dr: ServerProc, scratch: Path
) -> None:
    dr.client().flushall()
    dr.client().function_flush()
    out = _tool("restore", saved, "-p", str(dr.port))
    assert out.returncode == 0, out.stdout + out.stderr
    _same(oracle, dr)
    again = _tool("restore", saved, "-p", str(dr.port))
    assert again.returncode == 1 and "skipped 28 keys: already in the target" in again.stdout
    assert _tool("restore", saved, "-p", str(dr.port), "--replace").returncode == 0
    _dumped_file_loads_in_redis(oracle, scratch, "-p", str(dr.port))


def test_db_and_match_filters(saved: str, dr: ServerProc) -> None:
    c = dr.client()
    c.flushall()
    out = _tool("restore", saved, "-p", str(dr.port), "--db", "3", "--match", "*3")
    assert out.returncode == 1 and "restored 2 keys" in out.stdout, out.stdout
    assert sorted(dr.client(db=3).keys()) == [b"h3", b"in-db3"]
    assert c.dbsize() == 0


@pytest.mark.parametrize("fmt", ["jsonl", "resp"])
def test_text_formats_both_ways(fmt: str, oracle: ServerProc, engine: str, scratch: Path) -> None:
    _fill_all(oracle.client())
    text = scratch / ("keys." + fmt)
    out = _tool("dump", "-p", str(oracle.port), "--format", fmt, "-o", str(text))
    assert out.returncode == 0, out.stderr
    folder = scratch / "data"
    out = _tool("restore", str(text), "--dir", str(folder), "--engine", engine)
    assert out.returncode == 0, out.stdout + out.stderr
    sp = start_diskredis(engine, data_dir=str(folder))
    try:
        if fmt == "jsonl":  # no function libraries in JSON lines: load it by hand
            sp.client().function_load(LIBRARY)
        _same(oracle, sp, streams_exact=False)
        mine = scratch / ("mine." + fmt)
        out = _tool("dump", "-p", str(sp.port), "--format", fmt, "-o", str(mine))
        assert out.returncode == 0
    finally:
        sp.stop()
    fresh = start_oracle()
    try:
        if fmt == "resp":  # what redis-cli --pipe does with it
            pipe = subprocess.run(
                ["redis-cli", "-p", str(fresh.port), "--pipe"],
                input=mine.read_bytes(),
                capture_output=True,
            )
            pipe.stdout = pipe.stdout.decode()
            assert "errors: 0" in pipe.stdout, pipe.stdout
        else:
            out = _tool("restore", str(mine), "-p", str(fresh.port))
            assert out.returncode == 0, out.stdout
            fresh.client().function_load(LIBRARY)
        _same(oracle, fresh, streams_exact=False)
    finally:
        fresh.stop()


def _keys_in(folder: Path, engine: str) -> int:
    sp = start_diskredis(engine, data_dir=str(folder))
    try:
        return sum(sp.client(db=db).dbsize() for db in range(16))
    finally:
        sp.stop()


def test_corrupt_input_writes_nothing(saved: str, engine: str, scratch: Path) -> None:
    data = Path(saved).read_bytes()
    folder = scratch / "data"
    for name, bad in [
        ("truncated", data[: len(data) * 2 // 3]),
        ("bad checksum", data[:-1] + bytes([data[-1] ^ 1])),
        ("flipped byte", data[:200] + bytes([data[200] ^ 0x40]) + data[201:]),
        ("version 13", b"REDIS0013" + data[9:]),
        ("not rdb", b"REDISxxxx" + data[9:]),
    ]:
        path = scratch / "bad.rdb"
        path.write_bytes(bad)
        out = _tool(
            "restore", str(path), "--dir", str(folder), "--engine", engine, "--format", "rdb"
        )
        assert out.returncode == 2, name
        assert (
            "nothing was written" in out.stderr
            or "not an RDB file" in out.stderr
            or "version 13" in out.stderr
        ), (name, out.stderr)
    assert not folder.exists() or _keys_in(folder, engine) == 0
    jsonl = scratch / "bad.jsonl"
    jsonl.write_text(
        '{"db":0,"key":"a","type":"string","ttl":-1,"value":"x"}\n'
        '{"db":0,"key":"b","type":"list","ttl":-1,"value":[]}\n'
    )
    out = _tool("restore", str(jsonl), "--dir", str(folder), "--engine", engine)
    assert out.returncode == 2 and "line 2: an empty list" in out.stderr, out.stderr
    assert not folder.exists() or _keys_in(folder, engine) == 0


def test_help_and_bad_arguments() -> None:
    for name in ("restore", "dump"):
        out = subprocess.run(
            [sys.executable, "-m", "diskredis.transfer." + name, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0 and "usage: diskredis-" + name in out.stdout
    out = _tool("restore", "x.rdb")
    assert out.returncode == 2 and "give exactly one target" in out.stderr
    out = _tool("restore", "/nonexistent.rdb", "--dir", "/tmp/never")
    assert out.returncode == 2 and "can't read /nonexistent.rdb" in out.stderr
    assert not os.path.exists("/tmp/never")


def test_the_folder_is_locked_while_a_server_runs(dr: ServerProc, saved: str) -> None:
    out = _tool("restore", saved, "--dir", dr.dir)
    assert out.returncode == 2 and "in use" in out.stderr, out.stderr
    out = _tool("dump", "--dir", dr.dir, "-o", os.path.join(dr.dir, "x.rdb"))
    assert out.returncode == 2 and not os.path.exists(os.path.join(dr.dir, "x.rdb"))


def test_redis_cli_pipe_and_scan_work(dr: ServerProc, scratch: Path) -> None:
    """redis-cli's own --pipe, --scan and --bigkeys against diskredis."""
    c = dr.client()
    c.flushall()
    payload = b"".join(
        b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nv\r\n" % (len(b"k%d" % i), i) for i in range(2000)
    )
    pipe = subprocess.run(
        ["redis-cli", "-p", str(dr.port), "--pipe"], input=payload, capture_output=True
    )
    assert b"errors: 0, replies: 2000" in pipe.stdout, pipe.stdout
    scan = subprocess.run(
        ["redis-cli", "-p", str(dr.port), "--scan", "--pattern", "k1*"],
        capture_output=True,
        text=True,
    )
    assert sorted(scan.stdout.split()) == sorted(k.decode() for k in c.keys("k1*"))
    c.rpush("biglist", *range(100))
    big = subprocess.run(
        ["redis-cli", "-p", str(dr.port), "--bigkeys"], capture_output=True, text=True
    )
    assert "Biggest   list found '\"biglist\"' has 100 items" in big.stdout, big.stdout
    assert "2000 strings" in big.stdout
    mem = subprocess.run(
        ["redis-cli", "-p", str(dr.port), "--memkeys"], capture_output=True, text=True
    )
    assert "Biggest   list found '\"biglist\"'" in mem.stdout, mem.stdout
    assert "2000 strings with" in mem.stdout
