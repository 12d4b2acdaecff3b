"""Settings: one table of parameters for the config file, the flags and CONFIG.

Room: leaf facts. Imports: the other leaves (`engines`, `quoting`, `util`), the standard
library.

Every parameter name Redis 7.0 knows is here, with Redis's type, bounds,
default and validation, so that CONFIG GET/SET and a redis.conf behave as on
Redis. `Param.effect` is False for the ones that mean nothing to diskredis
(encoding thresholds, replication, cluster...): they are accepted, validated
and echoed back, and `docs/configuration.md` lists them. diskredis' own
parameters (`engine`) and its changed defaults (`appendfsync always`,
`bind 127.0.0.1`, `dir ./data`) are marked in the table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from diskredis import util
from diskredis.engines import DEFAULT_ENGINE, ENGINES
from diskredis.quoting import split_inline
from diskredis.util import INT_MAX, LLONG_MAX, UINT_MAX, ULLONG_MAX, glob_match

__all__ = [
    "PARAMS",
    "Config",
    "ConfigError",
    "Param",
    "parse_memory",
]


class ConfigError(Exception):
    """A value refused; the text is Redis's reason (e.g. "argument must be 'yes' or 'no'").
    `param`: the parameter it concerns, when the raiser knows better than the caller (a
    setting that failed to apply among several set together)."""

    def __init__(self, text: str, param: str | None = None) -> None:
        super().__init__(text)
        self.param = param


# -- value parsers (Redis util.c / config.c semantics) -------------------------------
_MEM_RE = re.compile(r"([0-9]*)(b|k|kb|m|mb|g|gb)?", re.IGNORECASE)
_MEM_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1024**2,
    "g": 1000**3,
    "gb": 1024**3,
}


def string2ll(text: str) -> int | None:
    """`util.string2ll` on a parameter's text."""
    return util.string2ll(text.encode()) if text.isascii() else None


def parse_memory(text: str) -> int | None:
    """Redis memtoull: ``1k`` = 1000, ``1kb`` = 1024, ``1gb``...; None if invalid.

    As in C: digits beyond the range saturate at 2**64-1, the unit multiplies
    modulo 2**64, and no digits at all read as 0.
    """
    m = _MEM_RE.fullmatch(text)
    if m is None:
        return None
    digits = min(int(m.group(1) or "0"), ULLONG_MAX)
    return (digits * _MEM_UNITS[(m.group(2) or "").lower()]) & ULLONG_MAX


def yesno(text: str) -> bool:
    low = text.lower()
    if low == "yes":
        return True
    if low == "no":
        return False
    raise ConfigError("argument must be 'yes' or 'no'")


# -- the table -----------------------------------------------------------------------
@dataclass
class Param:
    name: str
    kind: str  # bool int mem octal pct str enum flags special
    default: Any
    alias: str | None = None
    mutable: bool = True
    lo: int = 0
    hi: int = LLONG_MAX
    choices: tuple[str, ...] = ()
    hidden: bool = False
    protected: bool = False
    sensitive: bool = False
    multi: bool = False
    effect: bool = False  # True when diskredis acts on it
    refused: bool = False  # True when any value but the default is refused
    check: Callable[[Any], None] | None = None
    merge: bool = False  # a new value updates the old dict instead of replacing it
    # CONFIG SET can't change it, a command can (REPLICAOF): CONFIG REWRITE writes it
    # all the same, and drops its line while it is unset (None).
    by_command: bool = False
    parse_fn: Callable[[list[str]], Any] | None = None
    format_fn: Callable[[Any], str] | None = None


PARAMS: dict[str, Param] = {}


def _add(p: Param) -> None:
    PARAMS[p.name] = p


def _b(name: str, default: bool, **kw: Any) -> None:
    _add(Param(name, "bool", default, **kw))


def _n(name: str, default: int, lo: int, hi: int, kind: str = "int", **kw: Any) -> None:
    _add(Param(name, kind, default, lo=lo, hi=hi, **kw))


def _s(name: str, default: str, **kw: Any) -> None:
    _add(Param(name, "str", default, **kw))


def _e(name: str, default: str, choices: str, **kw: Any) -> None:
    _add(Param(name, "enum", default, choices=tuple(choices.split()), **kw))


def _no_path(what: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if "/" in value:
            raise ConfigError("%s can't be a path, just a filename" % what)

    return check


def _aof_name(value: Any) -> None:
    if not value:
        raise ConfigError("appendfilename can't be empty")
    if "/" in value:
        raise ConfigError("appendfilename can't be a path, just a filename")


def _aof_dir(value: Any) -> None:
    if not value:
        raise ConfigError("appenddirname can't be empty")
    if "/" in value:
        raise ConfigError("appenddirname can't be a path, just a dirname")


def _hostname(value: Any) -> None:
    if len(value.encode()) >= 256:
        raise ConfigError("Hostnames must be less than 256 characters")
    if any(not (c.isascii() and (c.isalnum() or c in "-.")) for c in value):
        raise ConfigError("Hostnames may only contain alphanumeric characters, hyphens or dots")


# What each proc-title-template variable expands to when the template is checked
# (the process title itself is not changed by diskredis).
_TITLE_VARS = {
    "title": "",
    "listen-addr": "*:6379",
    "server-mode": "",
    "config-file": "-",
    "port": "0",
    "tls-port": "0",
    "unixsocket": "",
}


def _proc_title(value: Any) -> None:
    out, i = [], 0
    bad = ConfigError("template format is invalid or contains unknown variables")
    while i < len(value):
        start = value.find("{", i)
        if start < 0:
            out.append(value[i:])
            break
        out.append(value[i:start])
        if start + 1 >= len(value):
            raise bad
        if value[start + 1] == "{":
            out.append("{")
            i = start + 2
            continue
        end = value.find("}", start + 1)
        if end < 0 or value[start + 1 : end] not in _TITLE_VARS:
            raise bad
        out.append(_TITLE_VARS[value[start + 1 : end]])
        i = end + 1
    if not "".join(out).strip(" "):
        raise bad


def _no_tls(value: Any) -> None:
    # TLS between cluster nodes or to replicas: diskredis has neither.
    if value:
        raise ConfigError("Unable to update TLS configuration. Check server logs.")


def _openssl_default(name: str, default: Any) -> Callable[[Any], None]:
    """TLS settings Python's ssl module can't apply: only OpenSSL's defaults (which are
    Redis's defaults) are accepted, so a setting never silently does nothing."""

    def check(value: Any) -> None:
        if value != default:
            raise ConfigError(
                "diskredis can't apply %s (Python's ssl module has no such "
                "setting); keep the default, %s" % (name, default or '""')
            )

    return check


def _no_defrag(value: Any) -> None:
    # There is no allocator to defragment; refused as a Redis without its jemalloc does.
    if value:
        raise ConfigError(
            "Active defragmentation cannot be enabled: it requires a Redis server compiled "
            "with a modified Jemalloc like the one shipped by default with the Redis source "
            "distribution"
        )


def _no_cluster(value: Any) -> None:
    # Cluster mode changes what every command promises (slots, redirections): refused
    # rather than accepted without effect until diskredis speaks the cluster bus.
    if value:
        raise ConfigError(
            "diskredis does not run as a cluster node yet: leave "
            "cluster-enabled off (standalone), or run redis-server there"
        )


_IMM: dict[str, Any] = {"mutable": False}
_E: dict[str, Any] = {"effect": True}
_extra: dict[str, Any]  # of each parameter below: `Param` fields besides the usual

# Booleans
for _name, _default, _extra in [
    ("rdbchecksum", True, _IMM),
    ("daemonize", False, {"mutable": False, "effect": True}),
    ("io-threads-do-reads", False, _IMM),
    ("always-show-logo", False, _IMM),
    ("protected-mode", True, _E),
    ("rdbcompression", True, _E),
    ("rdb-del-sync-files", False, {}),
    ("activerehashing", True, {}),
    ("stop-writes-on-bgsave-error", True, {}),
    ("set-proc-title", True, _IMM),
    ("dynamic-hz", True, {}),
    ("lazyfree-lazy-eviction", False, {}),
    ("lazyfree-lazy-expire", False, _E),  # replicated deletions: UNLINK instead of DEL
    ("lazyfree-lazy-server-del", False, {}),
    ("lazyfree-lazy-user-del", False, _E),  # GETDEL replicated as UNLINK
    ("lazyfree-lazy-user-flush", False, {}),
    ("repl-disable-tcp-nodelay", False, {}),
    ("repl-diskless-sync", True, {}),
    ("aof-rewrite-incremental-fsync", True, {}),
    ("no-appendfsync-on-rewrite", False, {}),
    ("cluster-require-full-coverage", True, {}),
    ("rdb-save-incremental-fsync", True, {}),
    ("aof-load-truncated", True, {}),
    ("aof-use-rdb-preamble", True, {}),
    ("aof-timestamp-enabled", False, {}),
    ("cluster-replica-no-failover", False, {"alias": "cluster-slave-no-failover"}),
    ("replica-lazy-flush", False, {"alias": "slave-lazy-flush"}),
    ("replica-serve-stale-data", True, {"alias": "slave-serve-stale-data", "effect": True}),
    ("replica-read-only", True, {"alias": "slave-read-only", "effect": True}),
    ("replica-ignore-maxmemory", True, {"alias": "slave-ignore-maxmemory"}),
    ("jemalloc-bg-thread", True, {}),
    ("activedefrag", False, {"check": _no_defrag, "refused": True}),
    ("syslog-enabled", False, _IMM),
    ("appendonly", False, {}),
    ("cluster-enabled", False, {"mutable": False, "check": _no_cluster, "refused": True}),
    ("cluster-allow-reads-when-down", False, {}),
    ("cluster-allow-pubsubshard-when-down", True, {}),
    ("crash-log-enabled", True, {}),
    ("crash-memcheck-enabled", True, {}),
    ("use-exit-on-panic", False, {"hidden": True}),
    ("disable-thp", True, _IMM),
    ("cluster-allow-replica-migration", True, {}),
    ("replica-announced", True, _E),
    ("latency-tracking", True, _E),
    ("aof-disable-auto-gc", False, {}),
    ("replica-ignore-disk-write-errors", False, {}),
    ("tls-cluster", False, {"check": _no_tls}),
    ("tls-replication", False, {"check": _no_tls}),
    ("tls-prefer-server-ciphers", False, _E),
    ("tls-session-caching", True, {"check": _openssl_default("tls-session-caching", True)}),
]:
    _b(_name, _default, **_extra)

# Strings
_strings: list[tuple[str, str, dict[str, Any]]] = [
    ("aclfile", "", {"mutable": False, "effect": True}),
    ("unixsocket", "", {"mutable": False, "effect": True}),
    ("pidfile", "", {"mutable": False, "effect": True}),
    ("replica-announce-ip", "", {"alias": "slave-announce-ip", "effect": True}),
    ("masteruser", "", {"sensitive": True, "effect": True}),
    ("cluster-announce-ip", "", {}),
    ("cluster-config-file", "nodes.conf", _IMM),
    ("cluster-announce-hostname", "", {"check": _hostname}),
    ("syslog-ident", "redis", _IMM),
    ("dbfilename", "dump.rdb", {"protected": True, "check": _no_path("dbfilename")}),
    ("appendfilename", "appendonly.aof", {"mutable": False, "check": _aof_name}),
    ("appenddirname", "appendonlydir", {"mutable": False, "check": _aof_dir}),
    ("server_cpulist", "", _IMM),
    ("bio_cpulist", "", _IMM),
    ("aof_rewrite_cpulist", "", _IMM),
    ("bgsave_cpulist", "", _IMM),
    ("ignore-warnings", "", {}),
    ("proc-title-template", "{title} {listen-addr} {server-mode}", {"check": _proc_title}),
    ("bind-source-addr", "", {}),
    ("logfile", "", {"mutable": False, "effect": True}),
    ("masterauth", "", {"sensitive": True, "effect": True}),
    ("requirepass", "", {"sensitive": True, "effect": True}),
    ("tls-key-file-pass", "", _E),
    ("tls-client-key-file-pass", "", {}),
    ("tls-cert-file", "", _E),
    ("tls-key-file", "", _E),
    ("tls-client-cert-file", "", {}),
    ("tls-client-key-file", "", {}),
    ("tls-dh-params-file", "", _E),
    ("tls-ca-cert-file", "", _E),
    ("tls-ca-cert-dir", "", _E),
    ("tls-protocols", "", _E),
    ("tls-ciphers", "", _E),
    ("tls-ciphersuites", "", {"check": _openssl_default("tls-ciphersuites", "")}),
]
for _name, _sdefault, _extra in _strings:
    _s(_name, _sdefault, **_extra)

# Enums
_e("supervised", "no", "upstart systemd auto no", mutable=False, effect=True)  # supervision.py
_e(
    "syslog-facility",
    "local0",
    "user local0 local1 local2 local3 local4 local5 local6 local7",
    **_IMM,
)
_e("repl-diskless-load", "disabled", "disabled on-empty-db swapdb")
_e("loglevel", "notice", "debug verbose notice warning", **_E)
_e(
    "maxmemory-policy",
    "noeviction",
    "volatile-lru volatile-lfu volatile-random volatile-ttl allkeys-lru allkeys-lfu "
    "allkeys-random noeviction",
)
# diskredis: durable by default (Redis: everysec).
_e("appendfsync", "always", "everysec always no", **_E)
_e("oom-score-adj", "no", "no yes relative absolute")
_e("acl-pubsub-default", "resetchannels", "allchannels resetchannels", effect=True)
_e("sanitize-dump-payload", "no", "no yes clients")
_e("enable-protected-configs", "no", "no yes local", mutable=False, effect=True)
_e("enable-debug-command", "no", "no yes local", mutable=False, effect=True)
_e("enable-module-command", "no", "no yes local", **_IMM)
_e("cluster-preferred-endpoint-type", "ip", "ip hostname unknown-endpoint")
_e("propagation-error-behavior", "ignore", "ignore panic panic-on-replicas")
_e("tls-auth-clients", "yes", "no yes optional", effect=True)
_add(
    Param(
        "shutdown-on-sigint",
        "flags",
        ("default",),
        choices=("default", "save", "nosave", "now", "force"),
        multi=True,
        effect=True,
    )
)
_add(
    Param(
        "shutdown-on-sigterm",
        "flags",
        ("default",),
        choices=("default", "save", "nosave", "now", "force"),
        multi=True,
        effect=True,
    )
)
# diskredis' own
# Hidden from CONFIG GET patterns (named, it answers), as Redis hides its own settings
# that are not Redis's: a tool that gets every parameter and sets each back (Redis's
# skips its immutable ones by name) does not trip on this immutable one.
_e("engine", DEFAULT_ENGINE, " ".join(ENGINES), mutable=False, effect=True, hidden=True)

# Numbers: name, default, lo, hi, kind, extra
_L = LLONG_MAX
for _name, _ndefault, _lo, _hi, _kind, _extra in [
    ("databases", 16, 1, INT_MAX, "int", {"mutable": False, "effect": True}),
    ("port", 6379, 0, 65535, "int", {"effect": True}),
    ("io-threads", 1, 1, 128, "int", _IMM),
    ("auto-aof-rewrite-percentage", 100, 0, INT_MAX, "int", {}),
    (
        "cluster-replica-validity-factor",
        10,
        0,
        INT_MAX,
        "int",
        {"alias": "cluster-slave-validity-factor"},
    ),
    ("list-max-listpack-size", -2, -(2**31), INT_MAX, "int", {"alias": "list-max-ziplist-size"}),
    ("tcp-keepalive", 300, 0, INT_MAX, "int", _E),
    ("cluster-migration-barrier", 1, 0, INT_MAX, "int", {}),
    ("active-defrag-cycle-min", 1, 1, 99, "int", {}),
    ("active-defrag-cycle-max", 25, 1, 99, "int", {}),
    ("active-defrag-threshold-lower", 10, 0, 1000, "int", {}),
    ("active-defrag-threshold-upper", 100, 0, 1000, "int", {}),
    ("lfu-log-factor", 10, 0, INT_MAX, "int", {}),
    ("lfu-decay-time", 1, 0, INT_MAX, "int", {}),
    ("replica-priority", 100, 0, INT_MAX, "int", {"alias": "slave-priority", "effect": True}),
    ("repl-diskless-sync-delay", 5, 0, INT_MAX, "int", {}),
    ("maxmemory-samples", 5, 1, INT_MAX, "int", {}),
    ("maxmemory-eviction-tenacity", 10, 0, 100, "int", {}),
    ("timeout", 0, 0, INT_MAX, "int", _E),
    ("replica-announce-port", 0, 0, 65535, "int", {"alias": "slave-announce-port", "effect": True}),
    ("tcp-backlog", 511, 0, INT_MAX, "int", {"mutable": False, "effect": True}),
    ("cluster-port", 0, 0, 65535, "int", _IMM),
    ("cluster-announce-bus-port", 0, 0, 65535, "int", {}),
    ("cluster-announce-port", 0, 0, 65535, "int", {}),
    ("cluster-announce-tls-port", 0, 0, 65535, "int", {}),
    ("repl-timeout", 60, 1, INT_MAX, "int", _E),
    (
        "repl-ping-replica-period",
        10,
        1,
        INT_MAX,
        "int",
        {"alias": "repl-ping-slave-period", "effect": True},
    ),
    ("list-compress-depth", 0, 0, INT_MAX, "int", {}),
    ("rdb-key-save-delay", 0, -(2**31), INT_MAX, "int", {"hidden": True, "effect": True}),
    # diskredis's own: start a compaction when this % of the files is reclaimable (0: never)
    ("auto-compact-percent", 0, 0, 100, "int", {"hidden": True, "effect": True}),
    ("key-load-delay", 0, -(2**31), INT_MAX, "int", {"hidden": True}),
    ("active-expire-effort", 1, 1, 10, "int", {}),
    ("hz", 10, 0, INT_MAX, "int", {}),
    # A primary refuses writes (NOREPLICAS) with fewer replicas acknowledging within
    # the lag; a replica ignores them, as Redis does.
    (
        "min-replicas-to-write",
        0,
        0,
        INT_MAX,
        "int",
        {"alias": "min-slaves-to-write", "effect": True},
    ),
    (
        "min-replicas-max-lag",
        10,
        0,
        INT_MAX,
        "int",
        {"alias": "min-slaves-max-lag", "effect": True},
    ),
    ("watchdog-period", 0, 0, INT_MAX, "int", {"hidden": True}),
    ("shutdown-timeout", 10, 0, INT_MAX, "int", _E),
    ("repl-diskless-sync-max-replicas", 0, 0, INT_MAX, "int", {}),
    ("maxclients", 10000, 1, UINT_MAX, "int", _E),
    ("unixsocketperm", 0, 0, 0o777, "octal", {"mutable": False, "effect": True}),
    ("socket-mark-id", 0, 0, UINT_MAX, "int", _IMM),
    ("active-defrag-max-scan-fields", 1000, 1, _L, "int", {}),
    ("slowlog-max-len", 128, 0, _L, "int", _E),
    ("acllog-max-len", 128, 0, _L, "int", _E),
    ("busy-reply-threshold", 5000, 0, _L, "int", {"alias": "lua-time-limit", "effect": True}),
    ("cluster-node-timeout", 15000, 0, _L, "int", {}),
    ("slowlog-log-slower-than", 10000, -1, _L, "int", _E),
    ("latency-monitor-threshold", 0, 0, _L, "int", _E),
    ("proto-max-bulk-len", 512 * 1024 * 1024, 1024 * 1024, _L, "mem", _E),
    ("stream-node-max-entries", 100, 0, _L, "int", _E),
    # The backlog is on disk here: 1 GB by default (Redis: 1 MB in memory).
    ("repl-backlog-size", 1024**3, 1, _L, "mem", _E),
    ("maxmemory", 0, 0, ULLONG_MAX, "mem", _E),
    ("cluster-link-sendbuf-limit", 0, 0, ULLONG_MAX, "mem", {}),
    ("hash-max-listpack-entries", 512, 0, _L, "int", {"alias": "hash-max-ziplist-entries"}),
    ("set-max-intset-entries", 512, 0, _L, "int", {}),
    ("zset-max-listpack-entries", 128, 0, _L, "int", {"alias": "zset-max-ziplist-entries"}),
    ("active-defrag-ignore-bytes", 100 << 20, 1, _L, "mem", {}),
    ("hash-max-listpack-value", 64, 0, _L, "mem", {"alias": "hash-max-ziplist-value"}),
    ("stream-node-max-bytes", 4096, 0, _L, "mem", _E),
    ("zset-max-listpack-value", 64, 0, _L, "mem", {"alias": "zset-max-ziplist-value"}),
    ("hll-sparse-max-bytes", 3000, 0, _L, "mem", _E),
    ("tracking-table-max-keys", 1000000, 0, _L, "int", _E),
    ("client-query-buffer-limit", 1024**3, 1024 * 1024, _L, "mem", _E),
    ("maxmemory-clients", 0, -100, _L, "pct", {}),
    # 0: the disk backlog is kept however long no replica is connected (Redis: 3600 s).
    ("repl-backlog-ttl", 0, 0, _L, "int", _E),
    ("auto-aof-rewrite-min-size", 64 * 1024 * 1024, 0, _L, "mem", {}),
    (
        "loading-process-events-interval-bytes",
        2 * 1024 * 1024,
        1024,
        INT_MAX,
        "int",
        {"hidden": True},
    ),
    ("tls-port", 0, 0, 65535, "int", _E),
    (
        "tls-session-cache-size",
        20 * 1024,
        0,
        INT_MAX,
        "int",
        {"check": _openssl_default("tls-session-cache-size", 20 * 1024)},
    ),
    (
        "tls-session-cache-timeout",
        300,
        0,
        INT_MAX,
        "int",
        {"check": _openssl_default("tls-session-cache-timeout", 300)},
    ),
]:
    _n(_name, _ndefault, _lo, _hi, _kind, **_extra)


# -- special parameters --------------------------------------------------------------
def _parse_save(args: list[str]) -> list[tuple[int, int]]:
    if len(args) == 1 and args[0] == "":
        return []
    if len(args) % 2:
        raise ConfigError("Invalid save parameters")
    pairs = []
    for i in range(0, len(args), 2):
        seconds, changes = string2ll(args[i]), string2ll(args[i + 1])
        if seconds is None or changes is None or seconds < 1 or changes < 0:
            raise ConfigError("Invalid save parameters")
        pairs.append((seconds, changes))
    return pairs


_add(
    Param(
        "save",
        "special",
        [(3600, 1), (300, 100), (60, 10000)],
        multi=True,
        effect=True,
        parse_fn=_parse_save,
        format_fn=lambda v: " ".join("%d %d" % p for p in v),
    )
)

_CLIENT_CLASSES = ("normal", "replica", "pubsub")


def _parse_obuf(args: list[str]) -> dict[str, tuple[int, int, int]]:
    if len(args) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    out: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(args), 4):
        cls = args[i].lower()
        if cls == "slave":
            cls = "replica"
        if cls not in _CLIENT_CLASSES:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        hard, soft = parse_memory(args[i + 1]), parse_memory(args[i + 2])
        secs = string2ll(args[i + 3])
        if hard is None or soft is None or secs is None or secs < 0:
            raise ConfigError(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
            )
        out[cls] = (hard, soft, secs)
    return out


def _format_obuf(v: dict[str, tuple[int, int, int]]) -> str:
    names = {"normal": "normal", "replica": "slave", "pubsub": "pubsub"}
    return " ".join("%s %d %d %d" % ((names[c], *v[c])) for c in _CLIENT_CLASSES)


_add(
    Param(
        "client-output-buffer-limit",
        "special",
        {
            "normal": (0, 0, 0),
            "replica": (256 << 20, 64 << 20, 60),
            "pubsub": (32 << 20, 8 << 20, 60),
        },
        multi=True,
        effect=True,
        merge=True,
        parse_fn=_parse_obuf,
        format_fn=_format_obuf,
    )
)


def _parse_oom(args: list[str]) -> list[int]:
    if len(args) != 3:
        raise ConfigError("wrong number of arguments")
    values = []
    for a in args:
        v = string2ll(a)
        if v is None or not -2000 <= v <= 2000:
            raise ConfigError(
                "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
            )
        values.append(v)
    return values


_add(
    Param(
        "oom-score-adj-values",
        "special",
        [0, 200, 800],
        multi=True,
        parse_fn=_parse_oom,
        format_fn=lambda v: " ".join(map(str, v)),
    )
)

_KEYSPACE_FLAGS = "g$lshzxetdn"  # the classes 'A' stands for, in GET's order


def _parse_notify(args: list[str]) -> str:
    """The classes as one character each, in a fixed order ("g$l...nKEm"); GET shows
    them as Redis does (`_format_flags`)."""
    if len(args) != 1:
        raise ConfigError("wrong number of arguments")
    flags: set[str] = set()
    for ch in args[0]:
        if ch == "A":
            flags.update("g$lshzxetd")
        elif ch in "g$lshzxeKEtmdn":
            flags.add(ch)
        else:
            raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return "".join(c for c in _KEYSPACE_FLAGS + "KEm" if c in flags)


def _format_flags(flags: str) -> str:
    """keyspaceEventsFlagsToString: with every class of 'A', only "A" -- 'n' is then not
    shown at all (Redis 7.0 drops it from the text, though it stays on)."""
    if set("g$lshzxetd") <= set(flags):
        out = "A"
    else:
        out = "".join(c for c in _KEYSPACE_FLAGS if c in flags)
    return out + "".join(c for c in "KEm" if c in flags)


_add(
    Param(
        "notify-keyspace-events",
        "special",
        "",
        parse_fn=_parse_notify,
        effect=True,
        format_fn=_format_flags,
    )
)


def _parse_bind(args: list[str]) -> list[str]:
    if len(args) > 16:
        raise ConfigError("Too many bind addresses specified.")
    if len(args) == 1 and args[0] == "":
        return []
    return args


# diskredis: loopback only by default (Redis: "* -::*" behind protected-mode).
_add(
    Param(
        "bind",
        "special",
        ["127.0.0.1"],
        multi=True,
        effect=True,
        parse_fn=_parse_bind,
        format_fn=lambda v: " ".join(v),
    )
)


def _parse_replicaof(args: list[str]) -> tuple[str, int] | None:
    if len(args) != 2:
        raise ConfigError("wrong number of arguments")
    if args[0].lower() == "no" and args[1].lower() == "one":
        return None
    port = string2ll(args[1])
    if port is None or not 0 <= port <= 65535:
        raise ConfigError("Invalid master port")
    return args[0], port


_add(
    Param(
        "replicaof",
        "special",
        None,
        alias="slaveof",
        mutable=False,
        multi=True,
        effect=True,
        by_command=True,
        parse_fn=_parse_replicaof,
        format_fn=lambda v: "" if v is None else "%s %d" % v,
    )
)


def _parse_percentiles(args: list[str]) -> list[float]:
    if len(args) == 1 and args[0] == "":
        return []
    values = []
    for a in args:
        try:
            v = float(a)
        except ValueError:
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters") from None
        if not 0.0 <= v <= 100.0:
            raise ConfigError(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
            )
        values.append(v)
    return values


def format_percentile(v: float) -> str:
    text = "%f" % v
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_add(
    Param(
        "latency-tracking-info-percentiles",
        "special",
        [50.0, 99.0, 99.9],
        multi=True,
        effect=True,
        parse_fn=_parse_percentiles,
        format_fn=lambda v: " ".join(format_percentile(x) for x in v),
    )
)

# `dir` is diskredis' data directory (Redis: the working directory it chdirs to).
_add(
    Param(
        "dir",
        "special",
        "./data",
        protected=True,
        effect=True,
        parse_fn=lambda args: args[0] if len(args) == 1 else _raise_args(),
        format_fn=lambda v: os.path.abspath(v),
    )
)


def _raise_args() -> Any:
    raise ConfigError("wrong number of arguments")


_ALIASES: dict[str, str] = {p.alias: p.name for p in PARAMS.values() if p.alias}


def lookup(name: str) -> Param | None:
    low = name.lower()
    p = PARAMS.get(low)
    if p is None and low in _ALIASES:
        p = PARAMS[_ALIASES[low]]
    return p


# -- parsing and formatting one value ------------------------------------------------
def parse_value(p: Param, args: list[str]) -> Any:
    """Turn directive arguments into a typed value, validating as Redis does."""
    value = _parse_typed(p, args)
    if p.check:
        p.check(value)
    return value


def _parse_typed(p: Param, args: list[str]) -> Any:
    kind = p.kind
    if kind == "special":
        assert p.parse_fn is not None
        return p.parse_fn(args)
    if kind == "flags":
        return _parse_flagset(p, args)
    if len(args) != 1:
        raise ConfigError("wrong number of arguments")
    text = args[0]
    if kind == "bool":
        return yesno(text)
    if kind == "str":
        return text
    if kind == "enum":
        low = text.lower()
        if low not in p.choices:
            raise ConfigError("argument(s) must be one of the following: " + ", ".join(p.choices))
        return low
    return _parse_number(p, text)


def _parse_flagset(p: Param, args: list[str]) -> tuple[str, ...]:
    chosen: list[str] = []
    if not args:  # setEnumConfig: no argument is no valid flag
        raise ConfigError("argument(s) must be one of the following: " + ", ".join(p.choices))
    for a in args:
        low = a.lower()
        if low not in p.choices:
            raise ConfigError("argument(s) must be one of the following: " + ", ".join(p.choices))
        if low not in chosen:
            chosen.append(low)
    if "save" in chosen and "nosave" in chosen:
        raise ConfigError("shutdown options SAVE and NOSAVE can't be used simultaneously")
    real = [c for c in p.choices if c in chosen and c != "default"]
    return tuple(real) or ("default",)


def _parse_number(p: Param, text: str) -> int:
    value: int | None = None
    if p.kind in ("mem", "pct"):
        value = parse_memory(text)
        if value is not None and p.hi <= LLONG_MAX and value > LLONG_MAX:
            value -= 1 << 64  # stored in a signed C type, as Redis does
    if value is None and p.kind == "pct" and len(text) > 1 and text.endswith("%"):
        pct = string2ll(text[:-1])
        if pct is not None and pct >= 0:
            value = -pct
    if value is None and p.kind == "octal":
        try:
            value = int(text, 8) if re.fullmatch(r"[+-]?[0-7]+", text) else None
        except ValueError:
            value = None
    if value is None and p.kind == "int":
        value = string2ll(text)
    if value is None:
        raise ConfigError(
            {
                "pct": "argument must be a memory or percent value",
                "mem": "argument must be a memory value",
                "octal": "argument couldn't be parsed as an octal number",
            }.get(p.kind, "argument couldn't be parsed into an integer")
        )
    if p.kind == "pct" and value < 0:
        if value < p.lo:
            raise ConfigError("percentage argument must be less or equal to %d" % -p.lo)
    elif not p.lo <= value <= p.hi:
        raise ConfigError("argument must be between %d and %d inclusive" % (p.lo, p.hi))
    return value


def format_value(p: Param, value: Any) -> str:
    kind = p.kind
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "octal":
        return "%o" % value
    if kind == "pct" and value < 0:
        return "%d%%" % -value
    if kind == "flags":
        return " ".join(value)
    if kind == "special":
        assert p.format_fn is not None
        return p.format_fn(value)
    return str(value)


# -- the live settings ---------------------------------------------------------------
@dataclass
class Config:
    """Current values, by canonical name. Read with `cfg["port"]`."""

    values: dict[str, Any] = field(
        default_factory=lambda: {p.name: p.default for p in PARAMS.values()}
    )
    #: The file the server was started with, for CONFIG REWRITE.
    path: str | None = None
    #: `user <name> <rules...>` directives, loaded by the ACL at start-up: [name, rule...].
    users: list[list[str]] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def set(self, name: str, args: list[str]) -> None:
        p = lookup(name)
        if p is None:
            raise KeyError(name)
        self.values[p.name] = self.combine(p, parse_value(p, args))
        self.settle(p.name)

    def combine(self, p: Param, value: Any) -> Any:
        """The parameter's new value; a merging one (client-output-buffer-limit) changes
        only the entries given, as Redis keeps the others."""
        if p.merge:
            return {**self.values[p.name], **value}
        return value

    def settle(self, name: str) -> None:
        """Adjustments Redis makes after accepting a value (its "apply" step)."""
        if name == "hz":  # a hint: out-of-range values are capped, not refused
            self.values["hz"] = min(max(self.values["hz"], 1), 500)
        elif name == "repl-backlog-size":  # CONFIG_REPL_BACKLOG_MIN_SIZE
            self.values[name] = max(self.values[name], 16 * 1024)
        elif name == "watchdog-period" and self.values[name]:
            self.values[name] = max(self.values[name], (1000 // self.values["hz"]) * 2)

    def get_matching(self, patterns: Iterable[bytes]) -> dict[bytes, bytes]:
        """CONFIG GET: exact names (aliases too) or globs over names and aliases."""
        out: dict[bytes, bytes] = {}
        seen: set[str] = set()
        for pat in patterns:
            text = pat.decode("utf-8", "replace")
            if not any(c in text for c in "[*?"):
                p = lookup(text)
                if p is not None and pat not in out:
                    out[pat] = format_value(p, self.values[p.name]).encode()
                continue
            for p in PARAMS.values():
                if p.hidden:
                    continue
                for nm in (p.name, p.alias):
                    if nm is None or nm in seen:
                        continue
                    if glob_match(pat, nm.encode(), nocase=True):
                        seen.add(nm)
                        out[nm.encode()] = format_value(p, self.values[p.name]).encode()
        return out

    def without_effect(self) -> list[str]:
        return sorted(p.name for p in PARAMS.values() if not p.effect)


# -- files and flags -----------------------------------------------------------------
class ConfigFileError(Exception):
    """A directive refused at start-up; `str()` is the operator-facing report."""


def _split(line: str) -> list[str] | None:
    """sdssplitargs over text (the config file and CONFIG SET share Redis's quoting)."""
    parts = split_inline(line.encode("utf-8", "surrogateescape"))
    if parts is None:
        return None
    return [p.decode("utf-8", "surrogateescape") for p in parts]


def apply_text(config: Config, text: str, source: str) -> None:
    """Apply redis.conf-style `text`; raise ConfigFileError naming `source` and the line."""
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(" \t\r\n")
        if not line or line.startswith("#"):
            continue

        def fail(reason: str, line: str = line, lineno: int = lineno) -> ConfigFileError:
            return ConfigFileError(
                "*** FATAL CONFIG FILE ERROR (diskredis) ***\n"
                "Reading %s, at line %d\n>>> '%s'\n%s" % (source, lineno, line, reason)
            )

        args = _split(line)
        if args is None:
            raise fail("Unbalanced quotes in configuration line")
        if not args:
            continue
        name = args[0].lower()
        if name == "include" and len(args) == 2:
            try:
                with open(args[1]) as f:
                    apply_text(config, f.read(), args[1])
            except OSError as e:
                raise fail("Can't open the included file %s: %s" % (args[1], e.strerror)) from None
            continue
        if name == "user" and len(args) >= 2:
            # One quoted string (--user "app on >pw ~*") is split like a line.
            config.users.append(args[1:] if len(args) > 2 else _split(args[1]) or [args[1]])
            continue
        if name in ("rename-command", "loadmodule", "sentinel"):
            raise fail("'%s' is not supported by diskredis" % name)
        p = lookup(name)
        if p is None or (not p.multi and len(args) != 2 and p.kind != "special"):
            raise fail("Bad directive or wrong number of arguments")
        if p.multi and len(args) == 2 and args[1]:
            # As Redis: a multi-argument directive given as one quoted string
            # (--save "3600 1 300 10") is split like a line.
            args = [args[0], *(_split(args[1]) or [])]
        try:
            config.values[p.name] = config.combine(p, parse_value(p, args[1:]))
        except ConfigError as e:
            raise fail(str(e)) from None


def from_argv(argv: list[str]) -> Config:
    """`diskredis-server [configfile] [--name value ...]`, as redis-server reads them."""
    config = Config()
    rest = list(argv)
    if rest and not rest[0].startswith("--"):
        path = rest.pop(0)
        try:
            with open(path) as f:
                text = f.read()
        except OSError as e:
            raise ConfigFileError(
                "Fatal error, can't open config file '%s': %s" % (path, e.strerror)
            ) from None
        config.path = os.path.abspath(path)
        apply_text(config, text, "the configuration file %s" % path)
    lines: list[list[str]] = []
    for a in rest:
        if a.startswith("--") and len(a) > 2:
            lines.append([a[2:]])
        elif not lines:
            raise ConfigFileError("Invalid option '%s': options start with '--'" % a)
        else:
            lines[-1].append(a)
    text = "\n".join(" ".join([ln[0], *(_quote(v) for v in ln[1:])]) for ln in lines)
    apply_text(config, text, "the command line")
    return config


def _quote(value: str) -> str:
    if value and all(c.isprintable() and c not in " \"'\\" for c in value):
        return value
    out = '"'
    for c in value:
        if c in '"\\':
            out += "\\" + c
        elif c == "\n":
            out += "\\n"
        elif c == "\r":
            out += "\\r"
        elif c == "\t":
            out += "\\t"
        elif not c.isprintable():
            out += "\\x%02x" % (ord(c) & 0xFF)
        else:
            out += c
    return out + '"'


def format_memory(value: int) -> str:
    """How CONFIG REWRITE writes a byte count: the largest of gb, mb, kb that divides it."""
    for unit, size in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)):
        if value and value % size == 0:
            return "%d%s" % (value // size, unit)
    return str(value)


def file_line(p: Param, value: Any) -> str:
    if p.kind in ("mem", "pct") and value >= 0:
        return "%s %s" % (p.name, format_memory(value))
    text = format_value(p, value)
    if p.multi and p.kind != "flags":
        return "%s %s" % (p.name, text) if text else '%s ""' % p.name
    return "%s %s" % (p.name, _quote(text))


def rewrite_file(config: Config, users: list[str] | None = None) -> None:
    """CONFIG REWRITE: update the directives in place, append the rest, keep comments.
    `users`: the `user ...` lines, written where the first one was (or appended); the
    file's old user lines go."""
    users = users or []
    assert config.path
    try:
        with open(config.path) as f:
            old = f.read().split("\n")
    except FileNotFoundError:
        old = []
    written: set[str] = set()
    out: list[str] = []
    for raw in old:
        args = _split(raw.strip()) if raw.strip() and not raw.strip().startswith("#") else None
        if args and args[0].lower() == "user":
            if "user" not in written:
                written.add("user")
                out += users
            continue
        p = lookup(args[0]) if args else None
        if p is None:
            if raw.strip() != "# Generated by CONFIG REWRITE":
                out.append(raw)
            continue
        if p.name in written:
            continue
        written.add(p.name)
        if p.by_command and config.values[p.name] is None:
            continue  # e.g. a primary: its replicaof lines go (rewriteConfigReplicaOfOption)
        out.append(file_line(p, config.values[p.name]))
    extra = [
        file_line(p, config.values[p.name])
        for p in PARAMS.values()
        if p.name not in written
        and config.values[p.name] != p.default
        and (p.mutable or p.by_command)
    ]
    if "user" not in written:
        extra += users
    while out and not out[-1].strip():
        out.pop()
    if extra:
        out += ["", "# Generated by CONFIG REWRITE", *extra]
    tmp = config.path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(out) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, config.path)
