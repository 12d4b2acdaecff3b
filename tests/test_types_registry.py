"""The type registry (`keyspace.types`), in-process: every type the layout knows is
registered once, and each one's export and load are inverses, on both engines.

A new type module is covered here as soon as it is in the registry: its value is built
with its own commands, exported, loaded under another key and exported again.
"""

from __future__ import annotations

from typing import Any

import pytest

from diskredis.keyspace import layout as L
from diskredis.keyspace import types
from diskredis.keyspace.space import LOOKUP_TOUCH
from tests.inproc import Node

# Commands that build a value of each type (every encoding-relevant shape: an int
# string, a set of integers and one of words, a big-enough sorted set...).
_BUILD: dict[str, list[tuple[Any, ...]]] = {
    "string": [("SET", "k", "12345")],
    "list": [("RPUSH", "k", "a", "b", "c"), ("LPUSH", "k", "z")],
    "set": [("SADD", "k", "1", "2", "x")],
    "zset": [("ZADD", "k", "1", "a", "2.5", "b", "-0", "c")],
    "hash": [("HSET", "k", "f", "v", "g", "w")],
    "stream": [
        ("XADD", "k", "1-1", "f", "v"),
        ("XADD", "k", "2-1", "f", "w", "g", "x"),
        ("XGROUP", "CREATE", "k", "grp", "0"),
        ("XREADGROUP", "GROUP", "grp", "alice", "COUNT", "1", "STREAMS", "k", ">"),
    ],
}


def test_every_type_code_is_registered_once_with_its_name() -> None:
    codes = [L.STRING, L.LIST, L.SET, L.ZSET, L.HASH, L.STREAM]
    assert sorted(types.by_code) == sorted(codes)
    assert sorted(s.name for s in types.by_code.values()) == sorted(_BUILD)
    assert len(types.by_model) == len(types.by_name) == len(codes)
    for code, spec in types.by_code.items():
        assert spec.code == code
        assert spec.collection == L.is_collection(code)  # the keyspace's own view
        assert types.by_name[spec.name.encode()] is spec
        assert types.by_model[spec.model] is spec


@pytest.mark.parametrize("name", sorted(_BUILD))
def test_export_then_load_gives_the_same_value(node: Node, name: str) -> None:
    for command in _BUILD[name]:
        node.run(*command)
    node.run("PEXPIRE", "k", 100_000)
    ks, config = node.offline.ks, node.offline.ctx.config
    ks.begin()
    try:
        meta = ks.lookup(0, b"k", LOOKUP_TOUCH)
        assert meta is not None and types.name_of(meta) == name
        value = types.export(ks, meta, config)
        assert types.value_type(value) == name
        types.load(ks, 0, b"copy", value, meta.expire, config)
        copied = ks.lookup(0, b"copy", LOOKUP_TOUCH)
        assert copied is not None and copied.expire == meta.expire
        assert types.export(ks, copied, config) == value
        assert types.encoding(ks, copied, config) == types.encoding(ks, meta, config)
        ks.commit()
    except BaseException:
        ks.abort()
        raise
    assert node.run("TYPE", "copy") == name
