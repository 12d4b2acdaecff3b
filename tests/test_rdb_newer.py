"""RDB versions 11 and 12, written by real Valkey 8.0 and Redis 8.0 (tools/oracles.py).

Every type and encoding those servers write (set listpacks, streams with consumers'
active times, function libraries, two databases, TTLs) restores into a data folder
and into a running server (RESTORE of their DUMP payloads), and `diskredis-dump
--rdb-version` writes it back as each target asks: version 10 loaded by Redis 7.0, 11
by Valkey 8.0, 12 by Redis 8.0. Hashes with field expiry (Redis 7.4+) are read in both
of their forms, kept here (restored, RESTOREd, DUMPed), and written back in RDB 12, as
commands and as JSON lines. Both engines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from diskredis.rdb import codec
from diskredis.rdb.model import RHash
from tests.conftest import ServerProc, oracle_argv, start_diskredis, start_oracle
from tests.test_dump_restore import snapshot
from tests.test_rdb_tools import _fill_all, _tool

#: the oracle -> the RDB version it writes
WRITERS = {"valkey8": 11, "redis8": 12}
TARGETS = (("redis7", 10), ("valkey8", 11), ("redis8", 12))


def _common(a: Any, b: Any) -> tuple[Any, Any]:
    """Two snapshots reduced to what both servers report: Redis 7.2+ adds fields to
    XINFO STREAM FULL (a consumer's active-time) that Redis 7.0 (and diskredis) lack."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) & set(b)
        pairs = {k: _common(a[k], b[k]) for k in keys}
        return {k: v[0] for k, v in pairs.items()}, {k: v[1] for k, v in pairs.items()}
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        pairs2 = [_common(x, y) for x, y in zip(a, b, strict=True)]
        return [p[0] for p in pairs2], [p[1] for p in pairs2]
    return a, b


def _same(a: ServerProc, b: ServerProc) -> None:
    """Every key of databases 0 and 3 reads the same on both (TTLs within two seconds),
    and the function library answers."""
    for db in (0, 3):
        ca, cb = a.client(db=db), b.client(db=db)
        keys = sorted(ca.keys())
        assert keys and keys == sorted(cb.keys()), (a.kind, b.kind, db)
        for k in keys:
            sa, sb = _common(snapshot(ca, k), snapshot(cb, k))
            assert sa == sb, (a.kind, b.kind, k)
            ta, tb = ca.pttl(k), cb.pttl(k)
            assert (ta > 0) == (tb > 0) and abs(ta - tb) < 2000, (k, ta, tb)
    assert b.client().fcall("answer", 0) == 42


@pytest.fixture(scope="module", params=list(WRITERS))
def writer(request: pytest.FixtureRequest) -> Iterator[ServerProc]:
    """Valkey 8.0 or Redis 8.0 holding every type and encoding, saved to dump.rdb."""
    sp = start_oracle(flavor=request.param)
    try:
        c = sp.client()
        _fill_all(c)
        c.save()
        yield sp
    finally:
        sp.stop()


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    return tmp_path


#: value types each file must hold for the test to cover what that version adds
_NEW_TYPES = {
    "valkey8": {codec.T_SET_LISTPACK, codec.T_STREAM_LISTPACKS_3, codec.T_SET_INTSET},
    "redis8": {codec.T_HASH_LISTPACK_EX, codec.T_HASH_METADATA},
}


def _saved(sp: ServerProc, scratch: Path) -> Path:
    path = scratch / ("%s.rdb" % sp.kind)
    shutil.copy(os.path.join(sp.dir, "dump.rdb"), path)
    assert path.read_bytes()[:9] == b"REDIS%04d" % WRITERS[sp.kind]
    return path


def _types_in(path: Path) -> set[int]:
    with open(path, "rb") as f:
        reader = codec.FileReader(f)
        for _ in reader:
            pass
    return reader.types_seen


def _loading(flavor: str, path: Path, scratch: Path) -> ServerProc:
    """The `flavor` oracle started on a copy of the RDB file `path`."""
    d = scratch / ("load-%s" % flavor)
    d.mkdir()
    shutil.copy(path, d / "dump.rdb")
    return start_oracle("--dir", str(d), "--dbfilename", "dump.rdb", flavor=flavor)


def test_a_newer_rdb_restores_and_dumps_back_for_every_target(
    writer: ServerProc, engine: str, scratch: Path
) -> None:
    folder = scratch / "data"
    saved = _saved(writer, scratch)
    if writer.kind == "valkey8":
        assert _NEW_TYPES["valkey8"] <= _types_in(saved)
    out = _tool("restore", str(saved), "--dir", str(folder), "--engine", engine)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "restored 28 keys" in out.stdout and "loaded 1 function library" in out.stdout
    sp = start_diskredis(engine, data_dir=str(folder))
    try:
        _same(writer, sp)
    finally:
        sp.stop()
    for flavor, version in TARGETS:
        back = scratch / ("back-%d.rdb" % version)
        out = _tool("dump", "--dir", str(folder), "--rdb-version", str(version), "-o", str(back))
        assert out.returncode == 0, out.stderr
        assert back.read_bytes()[:9] == b"REDIS%04d" % version
        loaded = _loading(flavor, back, scratch)
        try:
            _same(writer, loaded)
        finally:
            loaded.stop()


def test_newer_dump_payloads_restore_here_and_ours_restore_there(
    writer: ServerProc, dr: ServerProc
) -> None:
    """RESTORE takes DUMP payloads of RDB version 11 and 12 (what MIGRATE from those
    servers sends); they take ours (version 10)."""
    theirs, ours = writer.client(), dr.client()
    ours.flushall()
    keys = sorted(theirs.keys())
    assert len(keys) == 25
    for key in keys:
        payload = theirs.dump(key)
        assert payload[-10] == WRITERS[writer.kind]
        ttl = theirs.pttl(key)
        assert ours.restore(key, ttl if ttl > 0 else 0, payload) == b"OK"
        a, b = _common(snapshot(ours, key), snapshot(theirs, key))
        assert a == b, key
        assert theirs.restore(b"back:" + key, 0, ours.dump(key)) == b"OK"
        a, b = _common(snapshot(theirs, b"back:" + key), snapshot(theirs, key))
        assert a == b, key
        theirs.delete(b"back:" + key)
    lib = theirs.function_dump()
    ours.function_flush()
    assert ours.function_restore(lib)
    assert ours.fcall("answer", 0) == 42


# -- hashes with field expiry (Redis 7.4+, RDB 12) -----------------------------------------
@pytest.fixture(scope="module")
def redis8() -> Iterator[ServerProc]:
    """Redis 8.0 holding hashes with field expiry, small (listpackex) and large
    (hashtable), beside a plain hash."""
    sp = start_oracle(flavor="redis8")
    try:
        c = sp.client()
        c.hset("hx:small", mapping={"a": "1", "b": "2", "c": "3"})
        c.execute_command("HPEXPIRE", "hx:small", 500_000, "FIELDS", 2, "a", "c")
        c.hset("hx:big", mapping={"f%d" % i: "v%d" % i for i in range(600)})
        c.execute_command("HEXPIRE", "hx:big", 900, "FIELDS", 3, "f1", "f7", "f500")
        c.execute_command("HEXPIRE", "hx:big", 1800, "FIELDS", 1, "f2")
        c.expire("hx:big", 5000)
        c.hset("plain", "x", "y")
        assert c.object("encoding", "hx:small") == b"listpackex"
        assert c.object("encoding", "hx:big") == b"hashtable"
        c.save()
        yield sp
    finally:
        sp.stop()


def _field_view(c: redis.Redis) -> dict[bytes, Any]:
    """Each hash: its fields and values, and each field's expiry time (ms)."""
    out = {}
    for key in sorted(c.keys()):
        fields = sorted(c.hgetall(key))
        when = c.execute_command("HPEXPIRETIME", key, "FIELDS", len(fields), *fields)
        out[key] = (sorted(c.hgetall(key).items()), dict(zip(fields, when, strict=True)))
    return out


def test_hash_field_expiry_is_read_in_both_forms(redis8: ServerProc, scratch: Path) -> None:
    view = _field_view(redis8.client())
    saved = _saved(redis8, scratch)
    assert _NEW_TYPES["redis8"] <= _types_in(saved)
    with open(saved, "rb") as f:
        records = {r.key: r.value for r in codec.FileReader(f)}
    for key, (pairs, when) in view.items():
        value = records[key]
        assert isinstance(value, RHash)
        assert sorted(value.pairs) == pairs
        assert value.expires == {f: t for f, t in when.items() if t > 0}, key
    assert records[b"plain"] == RHash([(b"x", b"y")])


def _dumped_for_redis8(port: str, rdb: Path, scratch: Path, view: dict[bytes, Any]) -> None:
    """`diskredis-dump --rdb-version 12` of the server at `port`, loaded by Redis 8.0,
    holds `view` (`_field_view`)."""
    out = _tool("dump", "-p", port, "--rdb-version", "12", "-o", str(rdb))
    assert out.returncode == 0, out.stderr
    loaded = _loading("redis8", rdb, scratch)
    try:
        assert _field_view(loaded.client()) == view
    finally:
        loaded.stop()


def test_hash_field_expiry_is_written_back_for_redis_8(redis8: ServerProc, scratch: Path) -> None:
    """From a running Redis 8: an RDB 12 file and a RESP command stream that rebuild
    the field TTLs in another Redis 8; an older RDB version is refused with the fix."""
    view = _field_view(redis8.client())
    port = str(redis8.port)
    refused = _tool("dump", "-p", port, "-o", str(scratch / "v10.rdb"))
    assert refused.returncode == 2
    assert "hash with field expiry" in refused.stderr and "--rdb-version 12" in refused.stderr
    assert not (scratch / "v10.rdb").exists()
    _dumped_for_redis8(port, scratch / "v12.rdb", scratch, view)
    resp = scratch / "keys.resp"
    out = _tool("dump", "-p", port, "--format", "resp", "-o", str(resp))
    assert out.returncode == 0, out.stderr
    assert b"HPEXPIREAT" in resp.read_bytes()
    fresh = start_oracle(flavor="redis8")
    try:
        with open(resp, "rb") as f:
            piped = subprocess.run(
                [*oracle_argv("redis8", "cli"), "-p", str(fresh.port), "--pipe"],
                stdin=f,
                capture_output=True,
                text=True,
                timeout=60,
            )
        assert piped.returncode == 0 and "errors: 0" in piped.stdout, piped.stdout
        assert _field_view(fresh.client()) == view
    finally:
        fresh.stop()


def _same_but_relative(ours: dict[bytes, Any], theirs: dict[bytes, Any]) -> None:
    """The same fields and values; expiry times within the minute the transfer took."""
    assert ours.keys() == theirs.keys()
    for key, (pairs, when) in ours.items():
        assert pairs == theirs[key][0], key
        assert when.keys() == theirs[key][1].keys(), key
        for field, t in when.items():
            other = theirs[key][1][field]
            assert (t < 0) == (other < 0) and abs(t - other) < 60_000, (key, field, t, other)


def test_hash_field_expiry_is_kept_by_every_way_in_and_out(
    redis8: ServerProc, dr: ServerProc, engine: str, scratch: Path
) -> None:
    """Field TTLs come in from Redis 8 by file (diskredis-restore), by JSON lines and by
    DUMP payloads (RESTORE), and go back out by DUMP and by file, each compared field by
    field with the source (values and expiry times)."""
    view = _field_view(redis8.client())
    folder = scratch / "data"
    out = _tool("restore", str(_saved(redis8, scratch)), "--dir", str(folder), "--engine", engine)
    assert out.returncode == 0, out.stderr
    restored = start_diskredis(engine, data_dir=str(folder))
    try:
        assert _field_view(restored.client()) == view
        assert restored.client().ttl("hx:big") > 4000
    finally:
        restored.stop()
    jsonl = scratch / "keys.jsonl"
    out = _tool("dump", "-p", str(redis8.port), "--format", "jsonl", "-o", str(jsonl))
    assert out.returncode == 0, out.stderr
    assert '["a","1",' in jsonl.read_text()  # [field, value, ttl]
    c = dr.client()
    c.flushall()
    out = _tool("restore", str(jsonl), "-p", str(dr.port))
    assert out.returncode == 0, out.stderr
    _same_but_relative(_field_view(c), view)  # JSON lines carry time left, not deadlines
    c.flushall()
    source = redis8.client()
    for key in view:
        assert c.restore(key, 0, source.dump(key)) == b"OK"
    assert _field_view(c) == view
    fresh = start_oracle(flavor="redis8")
    try:
        target = fresh.client()
        for key in view:
            assert target.restore(key, 0, c.dump(key)) == b"OK"
        assert _field_view(target) == view
    finally:
        fresh.stop()
    _dumped_for_redis8(str(dr.port), scratch / "ours.rdb", scratch, view)
    c.flushall()


def test_json_lines_ttls_past_what_a_deadline_takes_are_refused() -> None:
    """A field's ttl beyond Redis's latest field deadline (2^46 - 1 ms), a key's beyond
    a 64-bit deadline: the line is refused, saying why (a traceback, or a hash DUMP
    could not carry, before)."""
    from diskredis.transfer.formats import FormatError, from_json

    now = 1_800_000_000_000
    ok = from_json('{"db":0,"key":"h","type":"hash","value":[["a","1",1000]],"ttl":-1}', now)
    assert isinstance(ok.value, RHash) and ok.value.expires == {b"a": now + 1000}
    for line, said in (
        ('{"db":0,"key":"h","type":"hash","value":[["a","1",%d]]}' % 10**23, "past the latest"),
        ('{"db":0,"key":"h","type":"hash","value":[["a","1",3%s]]}' % ("0" * 14), "past the"),
        ('{"db":0,"key":"s","type":"string","value":"v","ttl":%d}' % 2**63, "past the latest"),
    ):
        with pytest.raises(FormatError, match=said):
            from_json(line, now)
