"""Memory stays within the budget however much data there is.

The server's private memory (RssAnon: heap, cache, engine buffers) stays under
`maxmemory` plus FIXED_OVERHEAD while 1 GB is written and read back. The engines'
memory-mapped data files show in RSS as file-backed pages (RssFile): those are the
kernel's page cache, shared and reclaimed under pressure, and are not counted
(docs/architecture.md, "Memory").
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.conftest import ServerProc

pytestmark = pytest.mark.stress  # ./dev check leaves it out

BUDGET = 32 << 20
# Interpreter and modules (~20 MB), engine buffers (LevelDB: 40 MB of memtables and
# block cache), and the buffers of the requests and replies in flight (here 4 MB).
FIXED_OVERHEAD = 64 << 20
VALUE = 64 * 1024
KEYS = (1 << 30) // VALUE  # 1 GiB of values


def _private_memory(sp: ServerProc) -> int:
    with open("/proc/%d/status" % sp.proc.pid) as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["RssAnon"].split()[0]) * 1024


def test_one_gigabyte_under_a_32mb_budget(dr_factory: Any) -> None:
    sp = dr_factory("--maxmemory", "32mb")
    c = sp.client()
    base = os.urandom(VALUE - 8)
    peak = 0
    pipe = c.pipeline(transaction=False)
    for i in range(KEYS):
        pipe.set(b"key:%d" % i, base + b"%08d" % i)
        if i % 64 == 63:
            pipe.execute()
            peak = max(peak, _private_memory(sp))
    pipe.execute()
    for start in range(0, KEYS, 32):  # replies of 2 MB: transient buffers stay small
        got = c.mget([b"key:%d" % j for j in range(start, start + 32)])
        assert all(
            v == base + b"%08d" % j for j, v in zip(range(start, start + 32), got, strict=True)
        )
        peak = max(peak, _private_memory(sp))
    info = c.info("storage")
    assert info["cache_used_bytes"] <= BUDGET
    assert peak <= BUDGET + FIXED_OVERHEAD, "private memory peaked at %d MB" % (peak >> 20)
    sp.stop()
    again = dr_factory("--maxmemory", "32mb", data_dir=sp.dir)
    c2 = again.client()
    assert c2.dbsize() == KEYS
    for start in range(0, KEYS, 512):
        got = c2.mget([b"key:%d" % j for j in range(start, start + 512)])
        assert all(
            v == base + b"%08d" % j for j, v in zip(range(start, start + 512), got, strict=True)
        )
