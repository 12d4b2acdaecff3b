"""The engine contract (diskredis/storage/base.py), on every engine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskredis.storage import ENGINES, TABLES, Engine, StorageError, open_engine, prefix_end


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    engine = open_engine(request.param, str(tmp_path))
    yield engine
    engine.close()


def _fill(engine: Engine, table: str, keys: list[bytes]) -> None:
    with engine.write() as txn:
        for k in keys:
            txn.put(table, k, b"v" + k)


def test_get_put_delete_commit(store: Engine) -> None:
    with store.write() as txn:
        assert txn.get("meta", b"a") is None
        txn.put("meta", b"a", b"1")
        assert txn.get("meta", b"a") == b"1"
        assert txn.dirty
    r = store.read()
    assert r.get("meta", b"a") == b"1"
    assert r.get("sub", b"a") is None  # tables are separate
    r.abort()
    with store.write() as txn:
        assert txn.delete("meta", b"a") is True
        assert txn.delete("meta", b"a") is False
        assert txn.get("meta", b"a") is None
    assert store.read().get("meta", b"a") is None


def test_byte_order_and_bounded_scans(store: Engine) -> None:
    keys = [
        b"",
        b"\x00",
        b"\x00\x00",
        b"a",
        b"a\x00",
        b"ab",
        b"b",
        b"\x7f",
        b"\x80",
        b"\xff",
        b"\xff\xff",
    ]
    _fill(store, "sub", [k for k in keys if k])  # LMDB refuses an empty key
    present = sorted(k for k in keys if k)
    txn = store.read()
    assert [k for k, _ in txn.scan("sub")] == present
    assert [k for k, _ in txn.scan("sub", reverse=True)] == present[::-1]
    assert [k for k, _ in txn.scan("sub", b"a", b"b")] == [b"a", b"a\x00", b"ab"]
    assert [k for k, _ in txn.scan("sub", b"a", b"b", reverse=True)] == [b"ab", b"a\x00", b"a"]
    assert [k for k, _ in txn.scan("sub", b"a\x01", b"a\x02")] == []
    assert [k for k, _ in txn.scan("sub", b"\x80")] == [b"\x80", b"\xff", b"\xff\xff"]
    assert [v for _, v in txn.scan("sub", b"ab", b"b")] == [b"vab"]
    assert list(txn.scan("meta")) == []
    txn.abort()


def test_prefix_end() -> None:
    assert prefix_end(b"ab") == b"ac"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") is None
    assert prefix_end(b"") is None


def test_reverse_scan_that_starts_on_a_key(store: Engine) -> None:
    # plyvel's own reverse iterator returns nothing here (start is a key, stop past all)
    _fill(store, "sub", [b"W", b"j"])
    txn = store.read()
    assert [k for k, _ in txn.scan("sub", b"j", b"\xcdX\xf7", reverse=True)] == [b"j"]
    assert [k for k, _ in txn.scan("sub", b"W", b"j", reverse=True)] == [b"W"]
    assert [k for k, _ in txn.scan("sub", b"W", b"k", reverse=True)] == [b"j", b"W"]
    txn.abort()


def test_read_your_writes_in_scans(store: Engine) -> None:
    _fill(store, "sub", [b"b", b"d", b"f"])
    with store.write() as txn:
        txn.put("sub", b"c", b"new")
        txn.put("sub", b"d", b"changed")
        txn.delete("sub", b"f")
        txn.put("sub", b"g", b"tail")
        txn.put("meta", b"c", b"other table")
        assert list(txn.scan("sub")) == [
            (b"b", b"vb"),
            (b"c", b"new"),
            (b"d", b"changed"),
            (b"g", b"tail"),
        ]
        assert [k for k, _ in txn.scan("sub", reverse=True)] == [b"g", b"d", b"c", b"b"]
        assert [k for k, _ in txn.scan("sub", b"c", b"g")] == [b"c", b"d"]


def test_abort_on_exception_leaves_nothing(store: Engine) -> None:
    _fill(store, "meta", [b"keep"])
    with pytest.raises(RuntimeError), store.write() as txn:
        txn.put("meta", b"lost", b"x")
        txn.delete("meta", b"keep")
        raise RuntimeError("boom")
    r = store.read()
    assert r.get("meta", b"lost") is None and r.get("meta", b"keep") == b"vkeep"


def test_read_only_transaction_refuses_writes(store: Engine) -> None:
    r = store.read()
    with pytest.raises(StorageError):
        r.put("meta", b"x", b"y")
    r.abort()


def test_reopen_keeps_committed_writes(tmp_path: Any) -> None:
    for name in ENGINES:
        path = str(tmp_path / name)
        e = open_engine(name, path)
        _fill(e, "meta", [b"k%d" % i for i in range(1000)])
        with pytest.raises(RuntimeError), e.write() as txn:
            txn.put("meta", b"aborted", b"x")
            raise RuntimeError
        e.close()
        e = open_engine(name, path)
        txn = e.read()
        assert len(list(txn.scan("meta"))) == 1000 and txn.get("meta", b"aborted") is None
        txn.abort()
        e.close()


def test_killed_process_keeps_committed_writes(tmp_path: Any) -> None:
    """A process that commits and is then killed with SIGKILL loses nothing it committed,
    with fsync on and with fsync off (only a power cut may lose unsynced commits)."""
    for name in ENGINES:
        for fsync in (True, False):
            path = str(tmp_path / ("%s-%s" % (name, fsync)))
            code = (
                "import os, sys\n"
                "from diskredis.storage import open_engine\n"
                "e = open_engine(%r, %r, fsync=%r)\n"
                "for i in range(200):\n"
                "    with e.write() as t:\n"
                "        t.put('meta', b'k%%d' %% i, b'v' * 1000)\n"
                "print('done', flush=True)\n"
                "os.kill(os.getpid(), 9)\n" % (name, path, fsync)
            )
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
            )
            assert out.stdout.strip() == "done", out.stderr
            e = open_engine(name, path)
            t = e.read()
            assert len(list(t.scan("meta"))) == 200
            t.abort()
            e.close()


def test_big_values_and_longest_keys(store: Engine) -> None:
    big = os.urandom(50 * 1024 * 1024)
    key = b"k" * store.max_key_size
    store.before_batch(len(big))
    with store.write() as txn:
        txn.put("sub", key, big)
    r = store.read()
    assert r.get("sub", key) == big
    r.abort()


def test_map_grows_without_limit_in_sight(tmp_path: Any) -> None:
    e = open_engine("lmdb", str(tmp_path))
    chunk = os.urandom(1 << 20)
    for i in range(40):  # 40 batches of 32 MiB: past the initial 1 GiB map
        e.before_batch(32 << 20)
        with e.write() as txn:
            for j in range(32):
                txn.put("sub", b"%04d-%02d" % (i, j), chunk)
    t = e.read()
    assert sum(1 for _ in t.scan("sub")) == 40 * 32
    t.abort()
    e.close()


def test_all_tables_exist(store: Engine) -> None:
    with store.write() as txn:
        for t in TABLES:
            txn.put(t, b"k", t.encode())
    r = store.read()
    assert [r.get(t, b"k") for t in TABLES] == [t.encode() for t in TABLES]
    r.abort()


_ops = st.lists(
    st.tuples(
        st.sampled_from(["put", "delete", "scan", "rscan", "commit", "abort"]),
        st.binary(min_size=1, max_size=3),
        st.binary(max_size=3),
    ),
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_ops)
def test_model(store: Engine, ops: list[tuple[str, bytes, bytes]]) -> None:
    """Random puts, deletes, scans, commits and aborts agree with a dict model."""
    committed = {k: v for k, v in store.read().scan("sub")}
    model = dict(committed)
    txn = store.write()
    for op, key, value in ops:
        if op == "put":
            txn.put("sub", key, value)
            model[key] = value
        elif op == "delete":
            assert txn.delete("sub", key) == (key in model)
            model.pop(key, None)
        elif op in ("scan", "rscan"):
            lo, hi = sorted([key, value or b"\xff\xff\xff\xff"])
            want = sorted((k, v) for k, v in model.items() if lo <= k < hi)
            got = list(txn.scan("sub", lo, hi, reverse=op == "rscan"))
            assert got == (want[::-1] if op == "rscan" else want)
        elif op == "commit":
            txn.commit()
            committed = dict(model)
            txn = store.write()
        else:
            txn.abort()
            model = dict(committed)
            txn = store.write()
    txn.abort()
    assert dict(store.read().scan("sub")) == committed


def _without_plyvel(main: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `main` (module:function) with plyvel hidden, as if not installed."""
    module, func = main.split(":")
    code = "import sys; sys.modules['plyvel'] = None; from %s import %s; sys.exit(%s())"
    return subprocess.run(
        [sys.executable, "-c", code % (module, func, func), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_engine_without_its_package_names_the_extra(tmp_path: Any) -> None:
    """plyvel is an extra (diskredis[leveldb]): without it, `engine leveldb` stops the
    server at once with the command that installs it, and the tools say the same."""
    server = _without_plyvel(
        "diskredis.cli:main", "--port", "0", "--dir", str(tmp_path / "s"), "--engine", "leveldb"
    )
    assert server.returncode == 1
    said = "the leveldb engine needs the Python package 'plyvel', which is not installed: "
    assert said + "pip install 'diskredis[leveldb]'" in server.stdout + server.stderr
    keys = tmp_path / "keys.jsonl"
    keys.write_text('{"db":0,"key":"a","type":"string","ttl":-1,"value":"x"}\n')
    restore = _without_plyvel(
        "diskredis.transfer.restore:main",
        *(str(keys), "--dir", str(tmp_path / "r"), "--engine", "leveldb", "-q"),
    )
    assert restore.returncode == 2 and said in restore.stderr, restore.stderr
