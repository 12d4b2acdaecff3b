"""Server commands (CONFIG, INFO, SLOWLOG, LATENCY, MONITOR, MEMORY, DEBUG, TIME, SAVE,
SHUTDOWN), differential against redis-server 7.0 where the reply is not server-specific."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import hiredis
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diskredis.config import PARAMS
from tests.conftest import Diff, RawClient, ServerProc, _parse, unordered

SAME: list[tuple[Any, ...]] = [
    ("CONFIG",),
    ("CONFIG", "nosuch"),
    ("CONFIG", "GET"),
    ("CONFIG", "GET", "nosuch*"),
    ("CONFIG", "GET", "maxclients"),
    ("CONFIG", "GET", "MAXCLIENTS"),
    ("CONFIG", "GET", "hash-max-ziplist-entries"),
    ("CONFIG", "GET", "timeout", "timeout"),
    ("CONFIG", "GET", "notify-keyspace-events"),
    ("CONFIG", "GET", "client-output-buffer-limit"),
    ("CONFIG", "GET", "oom-score-adj-values"),
    ("CONFIG", "GET", "latency-tracking-info-percentiles"),
    ("CONFIG", "SET"),
    ("CONFIG", "SET", "timeout"),
    ("CONFIG", "SET", "nosuch", "1"),
    ("CONFIG", "SET", "timeout", "x"),
    ("CONFIG", "SET", "timeout", "-1"),
    ("CONFIG", "SET", "timeout", "1", "timeout", "2"),
    ("CONFIG", "SET", "timeout", "1", "x"),
    ("CONFIG", "SET", "maxmemory", "1zb"),
    ("CONFIG", "SET", "maxmemory-policy", "nope"),
    ("CONFIG", "SET", "daemonize", "yes"),
    ("CONFIG", "SET", "databases", "4"),
    ("CONFIG", "SET", "hz", "x"),
    ("CONFIG", "SET", "notify-keyspace-events", "Q"),
    ("CONFIG", "SET", "appendonly", "maybe"),
    ("CONFIG", "SET", "save", "x"),
    ("CONFIG", "SET", "save", "10"),
    ("CONFIG", "SET", "client-output-buffer-limit", "bogus 1 2 3"),
    ("CONFIG", "SET", "oom-score-adj-values", "1 2"),
    ("CONFIG", "SET", "lfu-log-factor", "-1"),
    ("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0"),
    ("CONFIG", "GET", "client-output-buffer-limit"),
    ("CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60 slave 256mb 64mb 60"),
    ("CONFIG", "GET", "client-output-buffer-limit"),
    ("CONFIG", "SET", "client-output-buffer-limit", ""),
    ("CONFIG", "SET", "save", ""),
    ("CONFIG", "SET", "shutdown-on-sigint", ""),
    ("CONFIG", "SET", "shutdown-on-sigint", "default"),
    ("CONFIG", "SET", "hash-max-ziplist-entries", "100", "nosuch", "1"),
    ("CONFIG", "GET", "hash-max-ziplist-entries"),
    ("CONFIG", "SET", "hash-max-ziplist-entries", "100", "timeout", "x"),
    ("CONFIG", "SET", "list-max-listpack-size", "-2", "set-max-intset-entries", "512"),
    ("CONFIG", "SET", "notify-keyspace-events", "KEA"),
    ("CONFIG", "GET", "notify-keyspace-events"),
    ("CONFIG", "SET", "notify-keyspace-events", "AKEnm"),
    ("CONFIG", "GET", "notify-keyspace-events"),
    ("CONFIG", "SET", "notify-keyspace-events", "g$lnKx"),
    ("CONFIG", "GET", "notify-keyspace-events"),
    ("CONFIG", "SET", "notify-keyspace-events", ""),
    ("CONFIG", "SET", "slowlog-max-len", "128"),
    ("CONFIG", "SET", "maxmemory", "0"),
    ("CONFIG", "SET", "proto-max-bulk-len", "1k"),
    ("CONFIG", "SET", "save", ""),
    ("CONFIG", "RESETSTAT", "x"),
    ("CONFIG", "REWRITE", "x"),
    ("CONFIG", "HELP"),
    ("TIME", "x"),
    ("LASTSAVE", "x"),
    ("SAVE", "x"),
    ("BGSAVE", "x", "y"),
    ("BGSAVE", "NOW"),
    ("SHUTDOWN", "ABORT"),
    ("SHUTDOWN", "NOSAVE", "SAVE"),
    ("SHUTDOWN", "bogus"),
    ("SHUTDOWN", "ABORT", "NOW"),
    ("SLOWLOG",),
    ("SLOWLOG", "x"),
    ("SLOWLOG", "GET", "x"),
    ("SLOWLOG", "GET", "-2"),
    ("SLOWLOG", "GET", "1", "2"),
    ("SLOWLOG", "LEN", "x"),
    ("SLOWLOG", "HELP"),
    ("SLOWLOG", "RESET"),
    ("SLOWLOG", "LEN"),
    ("SLOWLOG", "GET", "0"),
    ("LATENCY",),
    ("LATENCY", "RESET"),
    ("LATENCY", "LATEST"),
    ("LATENCY", "HISTORY"),
    ("LATENCY", "HISTORY", "command"),
    ("LATENCY", "RESET", "a", "b"),
    ("LATENCY", "nosuch"),
    ("MEMORY",),
    ("MEMORY", "nosuch"),
    ("MEMORY", "STATS", "x"),
    ("MEMORY", "DOCTOR", "x"),
    ("MEMORY", "PURGE", "x"),
    ("MEMORY", "HELP"),
    ("MEMORY", "USAGE"),
    ("MEMORY", "USAGE", "nokey"),
    ("MEMORY", "USAGE", "k", "SAMPLES"),
    ("MEMORY", "USAGE", "k", "SAMPLES", "-1"),
    ("MEMORY", "USAGE", "k", "SAMPLES", "x"),
    ("MEMORY", "USAGE", "k", "FOO"),
    ("MEMORY", "USAGE", "nokey", "SAMPLES", "0"),
    ("DEBUG",),
    ("DEBUG", "SLEEP"),
    ("DEBUG", "SLEEP", "0"),
    ("DEBUG", "SLEEP", "x"),
    ("MONITOR", "x"),
    ("INFO", "nosuch"),
    ("COMMAND", "HELP"),
    ("COMMAND", "nosuch"),
    ("COMMAND", "COUNT", "x"),
    ("COMMAND", "GETKEYS"),
    ("COMMAND", "GETKEYS", "ping"),
    ("COMMAND", "GETKEYS", "nosuch", "a"),
    ("COMMAND", "LIST", "FILTERBY"),
    ("COMMAND", "LIST", "FILTERBY", "nosuch", "x"),
    ("COMMAND", "LIST", "x"),
    ("COMMAND", "INFO", "nosuch"),
    ("COMMAND", "DOCS", "nosuch"),
    ("COMMAND", "INFO", "ping", "echo", "client|id", "config|get", "nosuch"),
    ("COMMAND", "DOCS", "nosuch"),
    ("COMMAND", "GETKEYSANDFLAGS", "echo", "x"),
]


@pytest.mark.parametrize("args", SAME, ids=lambda a: " ".join(map(str, a))[:60])
def test_same_reply(diff: Diff, args: tuple[Any, ...]) -> None:
    diff(*args)


UNORDERED: list[tuple[Any, ...]] = [
    ("CONFIG", "GET", "*max-*-entries*"),
    ("CONFIG", "GET", "slave-*"),
    ("CONFIG", "GET", "list-max-*"),
    ("CONFIG", "GET", "b*"),
    ("CONFIG", "GET", "hash-max-*-entries"),
    ("CONFIG", "GET", "timeout", "databases"),
    ("CONFIG", "GET", "replica-serve-stale-data", "slave-serve-stale-data"),
    ("CONFIG", "GET", "*"),
]


@pytest.mark.parametrize("args", UNORDERED, ids=lambda a: " ".join(map(str, a))[:60])
def test_same_reply_unordered(diff: Diff, args: tuple[Any, ...]) -> None:
    if args == ("CONFIG", "GET", "*"):
        ours, theirs = (_pairs_of(r) for r in diff.both(*args))
        assert set(ours) == set(theirs)  # engine is hidden from patterns
    else:
        diff.unordered(*args)


def _pairs_of(raw: bytes) -> dict[bytes, bytes]:
    values = _bulk_values(raw)
    return dict(zip(values[::2], values[1::2], strict=True))


@pytest.mark.parametrize("proto", ["2", "3"])
def test_same_reply_resp3(diff: Diff, proto: str) -> None:
    diff.masked("HELLO", proto)
    diff.unordered("CONFIG", "GET", "max*")
    for args in (
        ("COMMAND", "INFO", "ping", "config|set"),
        ("SLOWLOG", "GET"),
        ("LATENCY", "LATEST"),
        ("CONFIG", "GET", "nosuch"),
    ):
        diff(*args)
    diff.masked("RESET")


def test_every_redis_parameter_is_known(dr: ServerProc, oracle: ServerProc) -> None:
    ours = dict(_pairs(dr.client().config_get("*")))
    theirs = dict(_pairs(oracle.client().config_get("*")))
    assert set(theirs) == set(ours)
    # diskredis's own setting answers when named, and only then
    assert dr.client().config_get("engine") == {"engine": dr.args[dr.args.index("--engine") + 1]}
    assert oracle.client().config_get("engine") == {}


def test_get_every_parameter_and_set_it_back(dr: ServerProc) -> None:
    """What Redis's own CONFIG sanity test does (it skips Redis's immutable parameters by
    name): diskredis's immutable engine does not come with the pattern."""
    c = dr.client()
    skip = {
        "rdbchecksum",
        "daemonize",
        "io-threads-do-reads",
        "tcp-backlog",
        "always-show-logo",
        "syslog-enabled",
        "cluster-enabled",
        "disable-thp",
        "aclfile",
        "unixsocket",
        "pidfile",
        "syslog-ident",
        "appendfilename",
        "appenddirname",
        "supervised",
        "syslog-facility",
        "databases",
        "io-threads",
        "logfile",
        "unixsocketperm",
        "replicaof",
        "slaveof",
        "requirepass",
        "server_cpulist",
        "bio_cpulist",
        "aof_rewrite_cpulist",
        "bgsave_cpulist",
        "set-proc-title",
        "cluster-config-file",
        "cluster-port",
        "oom-score-adj",
        "oom-score-adj-values",
        "enable-protected-configs",
        "enable-debug-command",
        "enable-module-command",
        "dbfilename",
        "dir",
        "socket-mark-id",
    }
    for name, value in c.config_get("*").items():
        if name not in skip and not name.startswith("tls-"):
            assert c.config_set(name, value), name


def _pairs(d: dict[Any, Any]) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in d.items()]


# What diskredis sets differently on purpose, or what depends on the process.
_OWN = {
    "engine",
    "dir",
    "port",
    "logfile",
    "pidfile",
    "bind",
    "appendfsync",
    "enable-debug-command",
    "appendonly",
    "save",
    "maxmemory",
    "always-show-logo",
    "daemonize",
    "supervised",
    "unixsocket",
    "dbfilename",
    "appendfilename",
    "appenddirname",
    "timeout",
    "repl-backlog-size",  # the backlog is on disk: 1 GB (docs/replication.md)
    "repl-backlog-ttl",  # and kept while no replica is connected
}


def test_defaults_match_redis(dr: ServerProc, oracle: ServerProc) -> None:
    ours = dr.client().config_get("*")
    theirs = oracle.client().config_get("*")
    differ = {k: (ours[k], theirs[k]) for k in theirs if k not in _OWN and ours[k] != theirs[k]}
    assert differ == {}


SETTABLE = sorted(
    p.name
    for p in PARAMS.values()
    if p.mutable
    and not p.protected
    and p.name
    not in (
        "port",
        "bind",
        "requirepass",
        "dir",
        "logfile",
        "unixsocketperm",
        "maxmemory-clients",
        "maxmemory",
        "appendfsync",
        "appendonly",
        "maxclients",
        "timeout",
        "client-query-buffer-limit",
        "proto-max-bulk-len",
        # diskredis's own (tests/test_compaction.py)
        "auto-compact-percent",
        # refused unless default (docs/security.md, test_tls)
        "tls-ciphersuites",
        "tls-session-caching",
        "tls-session-cache-size",
        "tls-session-cache-timeout",
    )
)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(SETTABLE),
    value=st.sampled_from(
        [
            "0",
            "1",
            "-1",
            "yes",
            "no",
            "100",
            "1k",
            "2mb",
            "1gb",
            "x",
            "",
            "512",
            "-2",
            "99999999999999999999",
            "0.5",
            "allkeys-lru",
            "3 4",
            "everysec",
            "notice",
            "1 2 3",
            "Kx",
            "E",
            "off",
            "on",
        ]
    ),
)
def test_generated_config_set_get(diff: Diff, name: str, value: str) -> None:
    before = diff.theirs.command("CONFIG", "GET", name)
    old = _bulk_values(before)
    if len(old) == 2:  # start from the same value (the oracle starts with save "")
        diff.ours.command("CONFIG", "SET", name, old[1])
    diff("CONFIG", "SET", name, value)
    diff.unordered("CONFIG", "GET", name)
    # restore the oracle's value on both
    if len(old) == 2:
        diff("CONFIG", "SET", name, old[1])


def _bulk_values(raw: bytes) -> Any:
    r = hiredis.Reader()
    r.feed(raw)
    return r.gets()


def test_config_set_is_all_or_nothing(dr: ServerProc) -> None:
    c = dr.client()
    c.config_set("hz", "10")
    with pytest.raises(Exception, match="CONFIG SET failed"):
        c.execute_command("CONFIG", "SET", "hz", "20", "maxmemory-policy", "bogus")
    assert c.config_get("hz") == {"hz": "10"}


def test_config_set_slowlog_takes_effect(dr: ServerProc) -> None:
    c = dr.client()
    c.config_set("slowlog-log-slower-than", "0")
    try:
        c.slowlog_reset()
        c.echo("traced")
        entries = c.execute_command("SLOWLOG", "GET", "-1")
        assert any(e[3] == [b"ECHO", b"traced"] for e in entries)
        assert c.slowlog_len() >= 1
    finally:
        c.config_set("slowlog-log-slower-than", "10000")
        c.slowlog_reset()


def test_slowlog_entry_shape_matches_redis(dr: ServerProc, oracle: ServerProc) -> None:
    def entry(sp: ServerProc) -> list[Any]:
        c = sp.client()
        c.config_set("slowlog-log-slower-than", "0")
        c.slowlog_reset()
        c.client_setname("slow")
        c.execute_command("CONFIG", "GET", "x" * 200, *["a"] * 40)
        got = c.execute_command("SLOWLOG", "GET", "1")[0]
        c.config_set("slowlog-log-slower-than", "10000")
        return [type(got[0]), type(got[1]), type(got[2]), got[3], type(got[4]), got[5]]

    assert entry(dr) == entry(oracle)


def test_info_sections_and_format(dr: ServerProc, oracle: ServerProc) -> None:
    def sections(sp: ServerProc, *args: str) -> list[str]:
        text = _bulk_values(sp.raw().command("INFO", *args)).decode()
        assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
        return [line for line in text.split("\r\n") if line.startswith("# ")]

    for args in ((), ("all",), ("everything",), ("server", "clients"), ("default",)):
        ours, theirs = sections(dr, *args), sections(oracle, *args)
        assert [s for s in ours if s != "# Storage"] == theirs
    assert "# Storage" in sections(dr)


def test_info_fields_cover_redis(dr: ServerProc, oracle: ServerProc) -> None:
    def fields(sp: ServerProc, section: str) -> set[str]:
        text = _bulk_values(sp.raw().command("INFO", section)).decode()
        return {line.split(":")[0] for line in text.split("\r\n") if ":" in line}

    allowed_missing = {
        # replication internals and allocator details that have no counterpart here
        "memory": {"mem_allocator"},
    }
    for section in ("server", "clients", "memory", "persistence", "stats", "replication", "cpu"):
        missing = fields(oracle, section) - fields(dr, section)
        assert missing <= allowed_missing.get(section, set()), (section, missing)


def test_info_commandstats_and_errorstats(dr_factory: Any) -> None:
    sp = dr_factory()
    raw = sp.raw()
    raw.command("ECHO", "a")
    raw.command("ECHO", "b")
    assert raw.command("nosuch").startswith(b"-ERR unknown command")
    assert raw.command("ECHO").startswith(b"-ERR wrong number")
    assert raw.command("CONFIG", "SET", "x", "y").startswith(b"-ERR Unknown option")
    info = _bulk_values(raw.command("INFO", "commandstats")).decode()
    assert re.search(
        r"cmdstat_echo:calls=2,usec=\d+,usec_per_call=[\d.]+,rejected_calls=1,"
        r"failed_calls=0",
        info,
    )
    assert re.search(r"cmdstat_config\|set:calls=1,.*,rejected_calls=0,failed_calls=1", info)
    errors = _bulk_values(raw.command("INFO", "errorstats")).decode()
    assert "errorstat_ERR:count=3" in errors
    assert raw.command("CONFIG", "RESETSTAT") == b"+OK\r\n"
    assert b"cmdstat_echo" not in raw.command("INFO", "commandstats")
    latency = _bulk_values(raw.command("INFO", "latencystats")).decode()
    assert re.search(r"latency_percentiles_usec_info:p50=[\d.]+,p99=[\d.]+,p99.9=[\d.]+", latency)


def test_storage_section(dr: ServerProc, engine: str) -> None:
    info = dr.client().info("storage")
    assert info["engine"] == engine


def test_time_and_lastsave(dr: ServerProc) -> None:
    c = dr.client()
    secs, micros = c.time()
    assert abs(secs - time.time()) < 3600 and 0 <= micros < 1_000_000
    before = c.lastsave()
    assert c.save()
    assert c.lastsave() >= before
    assert c.execute_command("BGSAVE") is True  # redis-py reads "+Background saving started"
    assert c.execute_command("BGSAVE", "SCHEDULE")


def test_debug_sleep_blocks_everyone(dr: ServerProc) -> None:
    c, other = dr.raw(), dr.raw()
    c.send(b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n0.3\r\n")
    other.send(b"*1\r\n$4\r\nPING\r\n")
    assert c.reply() == b"+OK\r\n"
    assert other.reply() == b"+PONG\r\n"


def test_debug_needs_enable_debug_command(dr_factory: Any, oracle: ServerProc) -> None:
    sp = dr_factory("--enable-debug-command", "no")
    assert sp.raw().command("DEBUG", "SLEEP", "0") == (
        b'-ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", '
        b"you can run it from a local connection, otherwise you need to set this option in the "
        b"configuration file, and then restart the server.\r\n"
    )


def test_monitor_streams_commands(dr: ServerProc, oracle: ServerProc) -> None:
    def lines(sp: ServerProc) -> list[bytes]:
        mon = sp.raw()
        assert mon.command("MONITOR") == b"+OK\r\n"
        c = sp.raw()
        c.command("ECHO", 'a b"\\\n\x01')
        c.command("SELECT", "2")
        c.command("PING")
        c.command("AUTH", "secret")  # redacted
        out = [mon.reply() for _ in range(4)]
        mon.close()
        return [re.sub(rb"^\+[\d.]+ \[\d+ [^\]]+\]", b"+T [db addr]", x) for x in out]

    assert lines(dr) == lines(oracle)


def test_monitor_after_a_monitor_left(dr: ServerProc, oracle: ServerProc) -> None:
    # A monitor that left is dropped from the list the commands look at; a new one,
    # started after, sees the next commands (and not the QUIT of the one before).
    def lines(sp: ServerProc) -> list[bytes]:
        first = sp.raw()
        assert first.command("MONITOR") == b"+OK\r\n"
        assert first.command("QUIT") == b"+OK\r\n"  # and no line of its own QUIT after
        assert first.closed() and first.buf == b""
        c = sp.raw()
        assert c.command("SET", "mon:k", "1") == b"+OK\r\n"
        assert c.command("GET", "mon:k") == b"$1\r\n1\r\n"
        second = sp.raw()
        assert second.command("MONITOR") == b"+OK\r\n"
        c.command("GET", "mon:after")
        out = [second.reply()]
        second.close()
        return [re.sub(rb"^\+[\d.]+ \[\d+ [^\]]+\]", b"+T [db addr]", x) for x in out]

    assert lines(dr) == lines(oracle) == [b'+T [db addr] "GET" "mon:after"\r\n']


def test_monitor_of_its_own_commands(dr: ServerProc, oracle: ServerProc) -> None:
    # Redis feeds monitors once the command has replied: a client that monitors
    # itself reads each reply, then the command's line.
    def frames(sp: ServerProc) -> list[bytes]:
        mon = sp.raw()
        assert mon.command("MONITOR") == b"+OK\r\n"
        mon.send(b"PING\r\nECHO x\r\n")
        out = [mon.reply() for _ in range(4)]
        mon.close()
        return [re.sub(rb"^\+[\d.]+ \[\d+ [^\]]+\]", b"+T [db addr]", x) for x in out]

    assert (
        frames(dr)
        == frames(oracle)
        == [
            b"+PONG\r\n",
            b'+T [db addr] "PING"\r\n',
            b"$1\r\nx\r\n",
            b'+T [db addr] "ECHO" "x"\r\n',
        ]
    )


def test_monitor_shows_scripts_before_their_commands(dr: ServerProc, oracle: ServerProc) -> None:
    """EVAL, EVALSHA, their _RO forms, FCALL and FCALL_RO show a line before the lines
    of the commands they run -- also when they fail or the script is unknown."""
    lib = (
        "#!lua name=monlib\nredis.register_function{function_name='monf', "
        "callback=function(k) return redis.call('get', k[1]) end, flags={'no-writes'}}"
    )
    calls: list[tuple[Any, ...]] = [
        ("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "mk", "v"),
        ("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "mk"),
        ("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"),
        ("EVALSHA_RO", "ffffffffffffffffffffffffffffffffffffffff", "0"),
        ("EVAL", "error('x')", "0"),
        ("EVAL", "return 1", "x"),
        ("FCALL", "monf", "1", "mk"),
        ("FCALL_RO", "MONF", "1", "mk"),
        ("FCALL", "nosuch", "0"),
        ("ECHO", "last"),
    ]

    def lines(sp: ServerProc) -> list[bytes]:
        c = sp.raw()
        c.command("FUNCTION", "LOAD", "REPLACE", lib)
        c.command("SCRIPT", "FLUSH")
        mon = sp.raw()
        assert mon.command("MONITOR") == b"+OK\r\n"
        for args in calls:
            c.command(*args)
        out = []
        while not out or b'"ECHO"' not in out[-1]:
            out.append(re.sub(rb"^\+[\d.]+ \[\d+ [^\]]+\]", b"+T [db addr]", mon.reply()))
        mon.close()
        return out

    ours, theirs = lines(dr), lines(oracle)
    assert ours == theirs
    assert ours[:2] == [
        b'+T [db addr] "EVAL" "return redis.call(\'set\', KEYS[1], ARGV[1])" "1" "mk" "v"\r\n',
        b'+T [db addr] "set" "mk" "v"\r\n',
    ]


def test_memory_usage_counts_the_records(dr: ServerProc) -> None:
    c = dr.client()
    c.set("mu:small", "x")
    c.set("mu:big", "x" * 100_000)
    small, big = c.memory_usage("mu:small"), c.memory_usage("mu:big")
    # same layout; the values differ by 99 999 bytes and the keys by 2
    assert small is not None and big is not None and big - small == 99_999 - 2
    c.expire("mu:small", 100)
    assert c.memory_usage("mu:small") > small
    assert c.memory_usage("mu:none") is None


def test_memory_stats_and_doctor(dr: ServerProc) -> None:
    c = dr.client()
    stats = c.execute_command("MEMORY", "STATS")
    assert b"peak.allocated" in stats and b"total.allocated" in stats
    assert isinstance(c.execute_command("MEMORY", "DOCTOR"), bytes)
    assert c.execute_command("MEMORY", "PURGE") in (b"OK", "OK", True)


def test_latency_records_slow_events(dr: ServerProc) -> None:
    c = dr.client()
    c.config_set("latency-monitor-threshold", "50")
    try:
        c.execute_command("LATENCY", "RESET")
        c.execute_command("DEBUG", "SLEEP", "0.1")
        latest = c.execute_command("LATENCY", "LATEST")
        assert latest and latest[0][0] == b"command" and latest[0][2] >= 50
        history = c.execute_command("LATENCY", "HISTORY", "command")
        assert history and history[-1][1] >= 50
        assert c.execute_command("LATENCY", "RESET") == 1
    finally:
        c.config_set("latency-monitor-threshold", "0")


def test_shutdown_stops_the_server(dr_factory: Any) -> None:
    sp = dr_factory()
    raw = RawClient(sp.port)
    raw.send(b"*1\r\n$8\r\nSHUTDOWN\r\n")
    assert raw.closed()
    assert sp.proc.wait(30) == 0
    assert "ready to exit" in sp.log()


def _info_field(c: Any, section: str, name: str) -> bytes:
    m = re.search(rb"\r\n" + name.encode() + rb":([^\r]*)\r\n", c.command("INFO", section))
    assert m is not None, name
    return m.group(1)


def test_info_counts_scripts_changes_and_background_frees(
    dr: ServerProc, oracle: ServerProc
) -> None:
    for sp in (dr, oracle):
        c = sp.raw()
        c.command("FLUSHALL")
        c.command("SCRIPT", "FLUSH")
        c.command("SAVE")
        assert _info_field(c, "persistence", "rdb_changes_since_last_save") == b"0"
        c.command("EVAL", "return 1", "0")
        c.command("SCRIPT", "LOAD", "return 2")
        assert _info_field(c, "memory", "number_of_cached_scripts") == b"2", sp.kind
        c.command("SET", "a", "1")
        c.command("SET", "b", "1", "EX", "1000")
        c.command("SET", "c", "1", "EX", "3000")
        assert _info_field(c, "persistence", "rdb_changes_since_last_save") == b"3", sp.kind
        ttl = _avg_ttl(c)
        assert 1_000_000 <= ttl <= 3_000_000, (sp.kind, ttl)
        c.command("SAVE")
        assert _info_field(c, "persistence", "rdb_changes_since_last_save") == b"0"


def _avg_ttl(c: RawClient) -> int:
    """db0's avg_ttl once there is one (Redis estimates it in its expiry cycle)."""
    for _ in range(500):
        ttl = int(_info_field(c, "keyspace", "db0").split(b"avg_ttl=")[1])
        if ttl:
            return ttl
        threading.Event().wait(0.01)
    return 0


def test_avg_ttl_of_a_small_database_beside_a_big_one(dr: ServerProc, oracle: ServerProc) -> None:
    """A database with one expiring key next to one with thousands (the expire index
    holds all databases'): its avg_ttl is still that key's."""
    for sp in (dr, oracle):
        c = sp.raw()
        c.command("FLUSHALL")
        c.command("SELECT", "1")
        c.command("DEBUG", "POPULATE", "3000")
        c.command("EVAL", "for i = 0, 2999 do redis.call('expire', 'key:' .. i, 100 + i) end", "0")
        c.command("SELECT", "0")
        c.command("SET", "k", "v", "EX", "2550")
        ttl = _avg_ttl(c)
        assert 2_500_000 <= ttl <= 2_550_000, (sp.kind, ttl)
        c.command("FLUSHALL")


def test_lazyfreed_objects_count_big_keys_reclaimed(dr: ServerProc) -> None:
    """As Redis's lazy free: a big collection's elements go in the background and count
    once done; a small one goes at once and counts nothing."""
    c = dr.raw()
    c.command("CONFIG", "RESETSTAT")
    c.command("SADD", "small", "a", "b")
    c.command("UNLINK", "small")
    for start in range(0, 1000, 500):
        c.command("SADD", "big", *[str(i) for i in range(start, start + 500)])
    c.command("UNLINK", "big")
    for _ in range(100_000):
        if _info_field(c, "memory", "lazyfree_pending_objects") == b"0":
            break
    assert _info_field(c, "memory", "lazyfree_pending_objects") == b"0"
    assert _info_field(c, "memory", "lazyfreed_objects") == b"1"
    c.command("CONFIG", "RESETSTAT")
    assert _info_field(c, "memory", "lazyfreed_objects") == b"0"


def test_debug_error_and_log(kdiff: Diff, dr: ServerProc) -> None:
    kdiff("CONFIG", "RESETSTAT")
    kdiff("DEBUG", "ERROR", "LOADING Redis is loading the dataset in memory")
    kdiff("DEBUG", "ERROR", "my\r\nerror")
    kdiff("DEBUG", "ERROR")
    kdiff("DEBUG", "LOG", "hello from a test")
    kdiff("INFO", "errorstats")  # DEBUG ERROR's replies are not errors of the server's
    assert "DEBUG LOG: hello from a test" in dr.log()


def test_debug_digest_is_redis(kdiff: Diff) -> None:
    """DEBUG DIGEST and DIGEST-VALUE give Redis's hex signatures for the same data, so
    two servers (Redis or diskredis) can be compared by them."""
    kdiff("DEBUG", "DIGEST")
    for args in (
        ("SET", "s", "v"),
        ("SET", "n", "123"),
        ("RPUSH", "l", "a", "b", "1"),
        ("SADD", "st", "x", "y", "3"),
        ("SADD", "ints", "3", "1", "-2"),
        ("ZADD", "z", "1.5", "a", "2", "b", "-0", "c", "inf", "d"),
        ("HSET", "h", "f", "v", "g", "2"),
        ("XADD", "x", "1-1", "f", "v", "g", "w"),
        ("XADD", "x", "2-5", "f", "z"),
        ("XDEL", "x", "1-1"),
        ("SET", "e", "v", "EX", "1000"),
        ("SELECT", "3"),
        ("SET", "o", "v"),
        ("SELECT", "0"),
    ):
        kdiff(*args)
    kdiff("DEBUG", "DIGEST")
    kdiff("DEBUG", "DIGEST-VALUE", "s", "n", "l", "st", "ints", "z", "h", "x", "e", "nosuch")
    kdiff("DEBUG", "DIGEST-VALUE")
    kdiff("FLUSHALL")
    kdiff("DEBUG", "DIGEST")


@pytest.mark.parametrize("proto", ["2", "3"])
def test_debug_protocol_samples(kdiff: Diff, proto: str) -> None:
    kdiff.masked("HELLO", proto)
    for name in (
        "string",
        "integer",
        "double",
        "bignum",
        "null",
        "array",
        "set",
        "map",
        "attrib",
        "verbatim",
        "true",
        "false",
        "nosuch",
        "STRING",
    ):
        kdiff("DEBUG", "PROTOCOL", name)
    if proto == "3":
        kdiff.raw(b"*3\r\n$5\r\nDEBUG\r\n$8\r\nPROTOCOL\r\n$4\r\npush\r\n", replies=2)
    else:
        kdiff("DEBUG", "PROTOCOL", "push")
    kdiff.masked("HELLO", "2")


def test_debug_object(kdiff: Diff) -> None:
    """Redis's fields; the address is not one (values are records on disk)."""
    kdiff("SET", "k", "v")
    kdiff("SET", "n", "12345")
    kdiff("RPUSH", "l", "a", "b", "c")
    kdiff("DEBUG", "OBJECT", "nosuch")
    for key in ("k", "n", "l"):
        ours, theirs = (
            re.sub(rb"Value at:\S+ |serializedlength:\d+ |lru:\d+ ", b"", r)
            for r in kdiff.both("DEBUG", "OBJECT", key)
        )
        assert ours == theirs, key


def test_monitor_redacts_migrate_credentials(dr: ServerProc, oracle: ServerProc) -> None:
    def lines(sp: ServerProc) -> list[bytes]:
        mon = sp.raw()
        assert mon.command("MONITOR") == b"+OK\r\n"
        c = sp.raw()
        for extra in ((), ("AUTH", "user"), ("AUTH2", "user", "password")):
            c.command("MIGRATE", "127.0.0.1", str(sp.port), "key", "9", "5000", *extra)
        out = [re.sub(rb"^\+[\d.]+ \[\d+ [^\]]+\]", b"+T", mon.reply()) for _ in range(3)]
        mon.close()
        return [re.sub(rb'"\d+" "key"', b'"PORT" "key"', x) for x in out]

    assert lines(dr) == lines(oracle)


def test_slowlog_redacts_secrets(kdiff: Diff) -> None:
    """ACL SETUSER (whatever its rules hold) and sensitive CONFIG SET values are logged
    redacted, failed calls too, as Redis logs them."""
    kdiff("CONFIG", "SET", "slowlog-log-slower-than", "0")
    try:
        kdiff("SLOWLOG", "RESET")
        kdiff("ACL", "SETUSER", "slowlog test user", "+get", "+set")
        kdiff("CONFIG", "SET", "masterauth", "")
        kdiff("ACL", "SETUSER", "slowlog-test-user", "+get", "+set", ">secret")
        kdiff("AUTH", "nobody", "wrong")
        entries = [[e[3] for e in _parse(raw)] for raw in kdiff.both("SLOWLOG", "GET")]
        assert entries[0] == entries[1]
        assert [
            b"ACL",
            b"SETUSER",
            b"(redacted)",
            b"(redacted)",
            b"(redacted)",
            b"(redacted)",
        ] in entries[0]
        assert not any(b"secret" in arg for entry in entries[0] for arg in entry)
    finally:
        kdiff("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        kdiff("ACL", "DELUSER", "slowlog-test-user")


def test_debug_reload(kdiff: Diff) -> None:
    """DEBUG RELOAD and its options: the data and libraries are there afterwards (read
    back from disk here: the hot cache is dropped)."""
    kdiff("FLUSHALL")
    kdiff("FUNCTION", "FLUSH")
    for args in (
        ("DEBUG", "RELOAD", "bogus"),
        ("DEBUG", "RELOAD", "NOFLUSH", "x"),
        ("DEBUG", "RELOAD", "noflush"),  # an empty dataset loads over nothing
        ("SET", "x", "1"),
        ("RPUSH", "l", "a", "b"),
        ("DEBUG", "RELOAD"),
        ("GET", "x"),
        ("LRANGE", "l", "0", "-1"),
        ("DEBUG", "RELOAD", "noflush", "merge"),
        ("DEBUG", "RELOAD", "NOSAVE", "MERGE"),
        ("GET", "x"),
        ("FLUSHALL",),
        ("FUNCTION", "LOAD", "#!lua name=t\nredis.register_function('f', function() return 1 end)"),
        ("DEBUG", "RELOAD", "noflush"),  # Redis: the library exists
        ("DEBUG", "RELOAD", "merge", "noflush", "nosave"),
        ("FCALL", "f", "0"),
        ("MULTI",),
        ("DEBUG", "RELOAD"),
        ("EXEC",),
        ("FUNCTION", "FLUSH"),
        # a key past its deadline (active expiry off) is not loaded back
        ("DEBUG", "SET-ACTIVE-EXPIRE", "0"),
        ("SET", "gone", "v", "PX", "1"),
        ("DEBUG", "SLEEP", "0.01"),
        ("DBSIZE",),
        ("DEBUG", "RELOAD"),
        ("DBSIZE",),
        ("INFO", "keyspace"),
        ("DEBUG", "SET-ACTIVE-EXPIRE", "1"),
    ):
        kdiff(*args)


def test_debug_reload_noflush_over_keys(dr: ServerProc) -> None:
    """NOFLUSH without MERGE over keys: Redis stops (a duplicated key in its RDB file);
    diskredis answers the load error and keeps everything."""
    r = dr.client()
    r.flushall()
    r.set("k", "v")
    with pytest.raises(redis.ResponseError, match="Error trying to load the RDB dump"):
        r.execute_command("DEBUG", "RELOAD", "NOFLUSH")
    assert r.get("k") == b"v"
    assert r.execute_command("DEBUG", "RELOAD", "NOFLUSH", "MERGE") == b"OK"
    assert r.get("k") == b"v"


def test_debug_populate(kdiff: Diff) -> None:
    """DEBUG POPULATE's keys, values, padding, name cut and errors, as Redis makes them."""
    kdiff("FLUSHALL")
    for args in (
        ("DEBUG", "POPULATE"),
        ("DEBUG", "POPULATE", "-1"),
        ("DEBUG", "POPULATE", "x"),
        ("DEBUG", "POPULATE", "2", "q", "-1"),
        ("DEBUG", "POPULATE", "2", "q", "1", "x"),
        ("DEBUG", "POPULATE", "0"),
        ("DBSIZE",),
        ("DEBUG", "POPULATE", "3", "pre", "0"),
        ("MGET", "pre:0", "pre:2", "pre:3"),
        ("SET", "key:1", "mine"),
        ("SET", "key:2", "gone", "PX", "1"),
        ("DEBUG", "SLEEP", "0.01"),
        ("DEBUG", "POPULATE", "3"),
        ("MGET", "key:0", "key:1", "key:2"),
        ("DEBUG", "POPULATE", "2", "z", "12"),
        ("MGET", "z:0", "z:1"),
        ("DEBUG", "POPULATE", "2", "y", "3"),
        ("MGET", "y:0", "y:1"),
        ("DEBUG", "POPULATE", "1000", "many"),
        ("DBSIZE",),
        ("DEBUG", "DIGEST"),
    ):
        kdiff(*args)
    kdiff("DEBUG", "POPULATE", "2", "a\0b")  # the name ends at a zero byte
    unordered(kdiff, "KEYS", "a*")
    kdiff("DEBUG", "POPULATE", "12", "L" * 125)  # names cut at 127 bytes: L...:10 is L...:1
    unordered(kdiff, "KEYS", "L*")
    kdiff("DBSIZE")


def test_debug_sees_logically_expired_keys(kdiff: Diff) -> None:
    """DEBUG OBJECT and DIGEST-VALUE show a key past its deadline that nothing removed
    (active expiry off) and leave it; the next read removes it."""
    kdiff("FLUSHALL")
    kdiff("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        kdiff("SET", "key", "value", "PX", "1")
        kdiff("DEBUG", "SLEEP", "0.01")
        kdiff("DEBUG", "DIGEST-VALUE", "key", "nokey")
        kdiff("DEBUG", "DIGEST")
        for raw in kdiff.both("DEBUG", "OBJECT", "key"):
            assert raw.startswith(b"+Value at:") and b" encoding:embstr " in raw, raw
        kdiff("DBSIZE")
        kdiff("EVAL", "return redis.call('exists', 'key')", "0")
        kdiff("DBSIZE")
        kdiff("DEBUG", "OBJECT", "key")
    finally:
        kdiff("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_debug_pause_cron_stops_active_expiry(kdiff: Diff) -> None:
    """DEBUG PAUSE-CRON 1: keys past their deadline stay (and count) until read."""
    kdiff("FLUSHALL")
    kdiff("DEBUG", "PAUSE-CRON", "1")
    try:
        kdiff("SET", "key", "value", "PX", "1")
        kdiff("SET", "kept", "value")
        time.sleep(0.3)  # idle servers: a few cron periods pass (Redis's hz is 10)
        kdiff("DBSIZE")
        kdiff("EXISTS", "key")
        kdiff("DBSIZE")
    finally:
        kdiff("DEBUG", "PAUSE-CRON", "0")


def test_monitor_sees_a_refused_exec(dr: ServerProc, oracle: ServerProc) -> None:
    """execCommandAbort shows MONITOR the EXEC that ended the transaction; commands
    refused before it show nothing."""

    def lines(sp: ServerProc) -> list[bytes]:
        mon = sp.raw()
        assert mon.command("MONITOR") == b"+OK\r\n"
        c = sp.raw()
        for args in (
            ("MULTI",),
            ("SET", "k", "v"),
            ("EXEC", "x"),
            ("MULTI",),
            ("NOSUCH",),
            ("EXEC",),
            ("GET",),
            ("PING",),
        ):
            c.command(*args)
        out = [re.sub(rb"^\+[\d.]+ \[\d+ [^\]]+\]", b"+T", mon.reply()) for _ in range(5)]
        mon.close()
        return out

    assert lines(dr) == lines(oracle)
