"""diskredis-check: a data folder written by the server checks clean; damage done to one
is found, named, and repaired; a folder in use is refused. On both engines."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from diskredis.keyspace import layout as L
from diskredis.storage import open_engine
from tests.conftest import ROOT, ServerProc


def _check(path: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diskredis.check", path, "-q", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _fill(sp: ServerProc) -> None:
    c = sp.client()
    c.set("s", "v")
    c.set("ttl", "v", ex=3600)
    c.hset("h", mapping={"f%d" % i: i for i in range(100)})
    c.expire("h", 3600)
    c.execute_command("HEXPIRE", "h", 3600, "FIELDS", 2, "f1", "f2")
    c.hset("hx", "x" * 600, "long field")  # (hashed records on LMDB)
    c.execute_command("HEXPIRE", "hx", 3600, "FIELDS", 1, "x" * 600)
    c.sadd("set", *range(50))
    c.zadd("z", {"m%d" % i: i for i in range(80)})
    c.rpush("l", *range(30))
    for i in range(1, 40):
        c.xadd("st", {"n": i}, id="%d-0" % i)
    c.xgroup_create("st", "g", id="0")
    c.xreadgroup("g", "w", {"st": ">"}, count=5)
    c.pfadd("hll", *range(100))
    c.geoadd("geo", (13.36, 38.11, "Palermo"))
    c.sadd("gone", *range(500))
    c.delete("gone")  # a big collection: queued for reclamation
    one = sp.client(db=1)
    one.set("x", 1)
    one.zadd("zz", {"a": 1})
    one.hset("hh", "f", "v")
    one.execute_command("HEXPIRE", "hh", 3600, "FIELDS", 1, "f")
    one.flushdb()  # its old slot: queued for reclamation
    one.set("y", 2)


def test_a_folder_the_server_wrote_checks_clean(dr_factory: Any) -> None:
    sp = dr_factory()
    _fill(sp)
    sp.stop()
    out = _check(sp.dir)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no problems found" in out.stdout
    assert "2 hash" in out.stdout and "1 stream" in out.stdout, out.stdout


def test_damage_is_found_and_repaired(dr_factory: Any, engine: str) -> None:
    sp = dr_factory()
    _fill(sp)
    sp.stop()
    store = open_engine(engine, sp.dir)
    with store.write() as txn:
        txn.put("sub", L.u64(987654) + b"\x00stray", b"x")  # an element of no key
        ttl_key = next(k for k, _ in txn.scan("expire"))
        txn.delete("expire", ttl_key)  # a deadline missing from the index
        txn.put("expire", *L.expire_entry(123, b"\x00\x00\x00\x01\x00nokey", 511))  # stale
        slot = next(L.read_u32(v) for k, v in txn.scan("stats") if k == b"slot:" + L.u32(0))
        txn.put("stats", b"count:" + L.u32(slot), L.u64(999))  # a wrong key count
        hashes = next(k for k, _ in txn.scan("fexpire"))
        txn.delete("fexpire", hashes)  # a hash with field deadlines left out of its index
        txn.put("fexpire", *L.expire_entry(123, b"\x00\x00\x00\x01\x00nokey", 511))  # stale
    store.close()
    found = _check(sp.dir)
    assert found.returncode == 1, found.stdout + found.stderr
    for text in (
        "1 element records belong to no key",
        "1 keys with a deadline are missing",
        "1 expiry entries name keys that are gone",
        "db 0: count says 999",
        "1 field expiry entries name hashes that are gone",
        "1 hashes with field deadlines are missing from their index",
    ):
        assert text in found.stdout, found.stdout
    fixed = _check(sp.dir, "--repair")
    assert fixed.returncode == 0 and "repaired: no problems left" in fixed.stdout, fixed.stdout
    assert _check(sp.dir).returncode == 0
    again = dr_factory(data_dir=sp.dir)
    c = again.client()
    assert c.dbsize() == 10 and c.get("s") == b"v" and c.xlen("st") == 39
    assert 0 < c.ttl("ttl") <= 3600 and 0 < c.ttl("h") <= 3600
    left, none = c.execute_command("HTTL", "h", "FIELDS", 2, "f1", "f3")
    assert 0 < left <= 3600 and none == -1
    assert 0 < c.execute_command("HTTL", "hx", "FIELDS", 1, "x" * 600)[0] <= 3600


def test_damaged_field_deadlines_are_found(dr_factory: Any, engine: str) -> None:
    """A hash's field deadline records and its deadline order must pair up, for fields
    it has, and its head must not promise a later first deadline than the order's."""
    sp = dr_factory()
    _fill(sp)
    sp.stop()
    store = open_engine(engine, sp.dir)
    with store.write() as txn:
        slot = next(L.read_u32(v) for k, v in txn.scan("stats") if k == b"slot:" + L.u32(0))
        mkey = L.meta_key(slot, b"h", 511)[0]
        meta = L.decode_meta(txn.get("meta", mkey))
        kid = L.coll_head(meta.payload)[0]
        due = L.field_due_prefix(kid)
        first, field = next(iter(txn.scan("sub", due, due + b"\xff" * 9)))
        txn.delete("sub", first)  # f1's entry in the order: its record left alone
        txn.put("sub", L.field_due_key(kid, 5, b"nofield", 511), b"nofield")
        txn.put("sub", L.field_ttl_key(kid, b"nofield", 511), L.u64(5))
    store.close()
    found = _check(sp.dir)
    assert found.returncode == 1, found.stdout + found.stderr
    for text in (
        "a deadline for field b'nofield', which it lacks",
        "its record says the earliest field deadline is",
        "3 field deadline records, 2 entries in its deadline order",
    ):
        assert text in found.stdout, found.stdout
    assert field in (b"f1", b"f2")


def test_a_folder_in_use_is_refused(dr_factory: Any) -> None:
    sp = dr_factory()
    out = _check(sp.dir)
    assert out.returncode == 2 and "stop it first" in out.stderr, out.stderr
    assert sp.client().ping()


def test_not_a_data_folder(tmp_path: Any) -> None:
    out = _check(str(tmp_path))
    assert out.returncode == 2 and "holds no diskredis data" in out.stderr
