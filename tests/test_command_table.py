"""The command table against the real redis-server 7.0 (8.0 for the commands it added
that diskredis has): COMMAND INFO and COMMAND DOCS of every registered command, field by
field; the deviations are listed here, on purpose."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
import redis

from diskredis.commands.registry import all_commands
from tests.conftest import ServerProc, start_oracle

# Commands of Redis 7.4 and 8.0 (hash field expiry): compared with Redis 8.0.2 instead.
FROM_REDIS_8 = {
    "hexpire", "hpexpire", "hexpireat", "hpexpireat", "httl", "hpttl", "hexpiretime",
    "hpexpiretime", "hpersist", "hgetdel", "hgetex", "hsetex",
}  # fmt: skip
# Commands diskredis has and Redis 7.0 has not (Redis 7.2 additions clients already send,
# and diskredis's own COMPACT).
NOT_IN_REDIS_70 = {"client|setinfo", "client|no-touch", "compact"} | FROM_REDIS_8

# Fields of COMMAND INFO where diskredis departs from Redis 7.0 on purpose, and why.
INFO_DEVIATIONS: dict[str, dict[int, str]] = {}

# COMMAND DOCS: the summary, history and argument descriptions are diskredis's own (written
# from the current Redis documentation, whose argument names are those of Redis 7.2; Redis's
# text is not copied). since, group, complexity, doc flags and the subcommands are compared.
DOCS_OWN_FIELDS = {"summary", "history", "arguments"}

NAMES = sorted(c.name for c in all_commands())


class _Plain:
    """Replies parsed by hiredis alone (redis-py reshapes COMMAND replies)."""

    def __init__(self, sp: ServerProc) -> None:
        self.raw = sp.raw()

    def execute_command(self, *args: Any) -> Any:
        reader = hiredis.Reader()
        reader.feed(self.raw.command(*args))
        return reader.gets()


def _raw_client(sp: ServerProc) -> _Plain:
    return _Plain(sp)


@pytest.fixture(scope="module")
def table(oracle: ServerProc) -> dict[str, Any]:
    """COMMAND INFO of every Redis command and subcommand, by lower-case name."""
    c = _raw_client(oracle)
    out = {}
    for entry in c.execute_command(
        "COMMAND", "INFO", *[n for n in NAMES if n not in NOT_IN_REDIS_70]
    ):
        out[entry[0].decode()] = entry
    return out


def _info(sp: ServerProc, name: str) -> list[Any]:
    return list(_raw_client(sp).execute_command("COMMAND", "INFO", name)[0])


@pytest.fixture(scope="module")
def oracle8() -> Iterator[ServerProc]:
    sp = start_oracle(flavor="redis8")
    yield sp
    sp.stop()


def _oracle_of(request: pytest.FixtureRequest, name: str) -> ServerProc:
    """Redis 8.0 for its commands, else Redis 7.0."""
    fixture = "oracle8" if name in FROM_REDIS_8 else "oracle"
    sp: ServerProc = request.getfixturevalue(fixture)
    return sp


@pytest.mark.parametrize("name", NAMES)
def test_command_info_matches_redis(
    dr: ServerProc, oracle: ServerProc, request: pytest.FixtureRequest, name: str
) -> None:
    if name in NOT_IN_REDIS_70:
        assert _raw_client(oracle).execute_command("COMMAND", "INFO", name) == [None]
        if name not in FROM_REDIS_8:
            return
        oracle = _oracle_of(request, name)
    ours, theirs = _info(dr, name), _info(oracle, name)
    fields = [
        "name",
        "arity",
        "flags",
        "first",
        "last",
        "step",
        "acl",
        "tips",
        "keyspecs",
        "subcommands",
    ]
    for i, field in enumerate(fields):
        if i in INFO_DEVIATIONS.get(name, {}):
            continue
        a, b = ours[i], theirs[i]
        if field == "subcommands":
            a = sorted(x[0] for x in a if x[0].decode() not in NOT_IN_REDIS_70)
            b = sorted(x[0] for x in b if x[0].decode() in NAMES)
        assert a == b, "%s %s: diskredis %r, redis %r" % (name, field, a, b)


def _normalise_docs(doc: Any) -> Any:
    """Lists of pairs to dicts, subcommands as a dict, own fields dropped."""
    if (
        isinstance(doc, list)
        and len(doc) % 2 == 0
        and all(isinstance(k, bytes) for k in doc[::2])
        and doc[:1]
        and doc[0] in (b"summary", b"since", b"group", b"name", b"type", b"complexity")
    ):
        d = {k.decode(): v for k, v in zip(doc[::2], doc[1::2], strict=True)}
        for own in DOCS_OWN_FIELDS:
            d.pop(own, None)
        out = {}
        for k, v in d.items():
            if k == "subcommands":
                subs = {
                    sk.decode(): _normalise_docs(sv) for sk, sv in zip(v[::2], v[1::2], strict=True)
                }
                out[k] = {n: s for n, s in subs.items() if n in NAMES and n not in NOT_IN_REDIS_70}
            elif k == "arguments":
                out[k] = [_normalise_docs(a) for a in v]
            else:
                out[k] = v
        return out
    return doc


@pytest.mark.parametrize(
    "name", [n for n in NAMES if n not in NOT_IN_REDIS_70 or n in FROM_REDIS_8]
)
def test_command_docs_match_redis(
    dr: ServerProc, request: pytest.FixtureRequest, name: str
) -> None:
    ours = _raw_client(dr).execute_command("COMMAND", "DOCS", name)
    theirs = _raw_client(_oracle_of(request, name)).execute_command("COMMAND", "DOCS", name)
    assert _normalise_docs(ours[1]) == _normalise_docs(theirs[1])


def test_command_count_and_list(dr: ServerProc) -> None:
    c = _raw_client(dr)
    top = {cmd.name for cmd in all_commands() if "|" not in cmd.name}
    listed = c.execute_command("COMMAND", "LIST")
    assert {x.decode() for x in listed} == set(NAMES)  # subcommands included, as in Redis
    assert c.execute_command("COMMAND", "COUNT") == len(top)
    assert {entry[0].decode() for entry in c.execute_command("COMMAND")} == top


def test_command_list_filters(dr: ServerProc, oracle: ServerProc) -> None:
    ours, theirs = _raw_client(dr), _raw_client(oracle)
    for args in (
        ("ACLCAT", "connection"),
        ("PATTERN", "c*"),
        ("PATTERN", "config|*"),
        ("MODULE", "x"),
    ):
        a = {
            n
            for n in ours.execute_command("COMMAND", "LIST", "FILTERBY", *args)
            if n.decode() not in NOT_IN_REDIS_70
        }
        b = set(theirs.execute_command("COMMAND", "LIST", "FILTERBY", *args))
        assert (a and a <= b) or a == b == set(), args


def test_getkeys(dr: ServerProc, oracle: ServerProc) -> None:
    for args in (("COMMAND", "GETKEYS", "ECHO", "x"), ("COMMAND", "GETKEYS", "PING")):
        with pytest.raises(redis.ResponseError) as ours:
            dr.client().execute_command(*args)
        with pytest.raises(redis.ResponseError) as theirs:
            oracle.client().execute_command(*args)
        assert str(ours.value) == str(theirs.value)
