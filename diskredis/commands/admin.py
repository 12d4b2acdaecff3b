"""Server administration: INFO CONFIG TIME LASTSAVE SAVE BGSAVE SHUTDOWN SLOWLOG
MONITOR DEBUG MEMORY LATENCY.

Room: Redis's "server" group (COMMAND lives in `introspection`). Imports: `acl`,
`generic`, `serialize`, `keyspace.types`, `util`, `registry`, `context`, `args`,
`config`, `errors`, `resp.values`. Whatever needs the process or the sockets is asked of
`ctx.server`."""

from __future__ import annotations

import gc
import logging
import os
import platform
import resource
import struct
import sys
import time
from typing import Any

from diskredis import config as cfg
from diskredis import errors
from diskredis.commands.args import help_reply, parse_int, parse_positive
from diskredis.commands.context import (
    DISKREDIS_VERSION,
    REDIS_VERSION,
    Ctx,
    MasterState,
    Shutdown,
)
from diskredis.commands.generic import encoding_of
from diskredis.commands.registry import (
    all_commands,
    arg,
    command,
    container,
    help_command,
    keys_at,
    oneof,
    token,
)
from diskredis.commands.serialize import (
    dump_payload,
    export_value,
    mix_digest,
    value_digest,
    xor_digest,
)
from diskredis.errors import RedisError
from diskredis.keyspace.types import LIST, NO_EXPIRY, STRING, Meta
from diskredis.resp.values import (
    Attributed,
    BigNumber,
    ErrorLine,
    Push,
    Pushes,
    RSet,
    Status,
    Verbatim,
)
from diskredis.util import atoi

log = logging.getLogger("diskredis")

_SRV = "server"
_ADMIN = "admin noscript loading stale"


# -- INFO ---------------------------------------------------------------------------
def _human(n: float) -> str:
    """bytesToHuman: 1.50K, 2.00M..."""
    for unit, size in (("P", 1024**5), ("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n >= size:
            return "%.2f%s" % (n / size, unit)
    return "%dB" % n


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _total_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def _section_server(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    now = time.time()
    uptime = int(time.monotonic() - ctx.stats.started_mono)
    uname = platform.uname()
    shutdown_in = ctx.server.shutdown_in_ms()  # only while a shutdown waits (Redis)
    waiting = [] if shutdown_in is None else [("shutdown_in_milliseconds", shutdown_in)]
    return [
        ("redis_version", REDIS_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "0"),
        ("redis_mode", "standalone"),
        ("os", "%s %s %s" % (uname.system, uname.release, uname.machine)),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", f["run_id"]),
        ("tcp_port", ctx.config["port"]),
        ("server_time_usec", int(now * 1e6)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", ctx.config["hz"]),
        ("configured_hz", ctx.config["hz"]),
        ("lru_clock", int(now) & ((1 << 24) - 1)),
        ("executable", f["executable"]),
        ("config_file", ctx.config.path or ""),
        ("io_threads_active", 0),
        *waiting,
        ("diskredis_version", DISKREDIS_VERSION),
        ("python_version", platform.python_version()),
    ]


def _section_clients(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    sessions = [s for s in ctx.server.sessions() if not s.closed]
    return [
        ("connected_clients", len(sessions)),
        ("cluster_connections", 0),
        ("maxclients", ctx.config["maxclients"]),
        ("client_recent_max_input_buffer", max((s.qbuf for s in sessions), default=0)),
        ("client_recent_max_output_buffer", 0),
        ("blocked_clients", f.get("blocked_clients", 0)),
        ("tracking_clients", ctx.tracking.clients if ctx.tracking is not None else 0),
        ("clients_in_timeout_table", 0),
    ]


def _section_memory(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    # Python has no allocator statistics worth the name: used_memory is the RSS, the
    # allocator figures repeat it, and the overhead is what the process held at start-up.
    rss = _rss()
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, rss)
    total = _total_memory()
    maxmemory = ctx.config["maxmemory"]
    startup = f["startup_rss"]
    dataset = max(rss - startup, 0)
    return [
        ("used_memory", rss),
        ("used_memory_human", _human(rss)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", _human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", _human(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (100.0 * rss / peak if peak else 100.0)),
        ("used_memory_overhead", startup),
        ("used_memory_startup", startup),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", "%.2f%%" % (100.0 * dataset / rss if rss else 0.0)),
        ("allocator_allocated", rss),
        ("allocator_active", rss),
        ("allocator_resident", rss),
        ("total_system_memory", total),
        ("total_system_memory_human", _human(total)),
        ("used_memory_lua", 0),
        ("used_memory_vm_eval", 0),
        ("used_memory_lua_human", "0B"),
        ("used_memory_scripts_eval", 0),
        ("number_of_cached_scripts", len(ctx.scripts.cache)),
        ("number_of_functions", 0),
        ("number_of_libraries", 0),
        ("used_memory_vm_functions", 0),
        ("used_memory_vm_total", 0),
        ("used_memory_vm_total_human", "0B"),
        ("used_memory_functions", 0),
        ("used_memory_scripts", 0),
        ("used_memory_scripts_human", "0B"),
        ("maxmemory", maxmemory),
        ("maxmemory_human", _human(maxmemory)),
        ("maxmemory_policy", ctx.config["maxmemory-policy"]),
        ("allocator_frag_ratio", "1.00"),
        ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", "1.00"),
        ("allocator_rss_bytes", 0),
        ("rss_overhead_ratio", "1.00"),
        ("rss_overhead_bytes", 0),
        ("mem_fragmentation_ratio", "1.00"),
        ("mem_fragmentation_bytes", 0),
        ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", f.get("client_memory", 0)),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", 0),
        ("mem_allocator", "libc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", ctx.ks.reclaim.pending()),
        ("lazyfreed_objects", ctx.ks.reclaim.lazyfreed),
    ]


def _section_persistence(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    # No fork, no RDB, no AOF: every write is in the engine when its reply leaves.
    return [
        ("loading", 0),
        ("async_loading", 0),
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_cow_size_age", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", ctx.ks.changes),
        ("rdb_bgsave_in_progress", 0),
        ("rdb_last_save_time", ctx.stats.last_save),
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", -1),
        ("rdb_current_bgsave_time_sec", -1),
        ("rdb_saves", ctx.stats.saves),
        ("rdb_last_cow_size", 0),
        ("rdb_last_load_keys_expired", 0),
        ("rdb_last_load_keys_loaded", 0),
        ("aof_enabled", 0),
        ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", 0),
        ("aof_rewrites_consecutive_failures", 0),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", 0),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]


def _section_stats(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    st = ctx.stats
    return [
        ("total_connections_received", st.connections),
        ("total_commands_processed", st.commands),
        ("instantaneous_ops_per_sec", f["ops_per_sec"]),
        ("total_net_input_bytes", f["net_in"]),
        ("total_net_output_bytes", f["net_out"]),
        ("total_net_repl_input_bytes", 0),
        ("total_net_repl_output_bytes", 0),
        ("instantaneous_input_kbps", "%.2f" % f["in_kbps"]),
        ("instantaneous_output_kbps", "%.2f" % f["out_kbps"]),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", st.rejected_connections),
        ("sync_full", ctx.stats.sync_full),
        ("sync_partial_ok", ctx.stats.sync_partial_ok),
        ("sync_partial_err", ctx.stats.sync_partial_err),
        ("expired_subkeys", f.get("expired_subkeys", 0)),  # Redis 7.4: hash fields
        ("expired_keys", f.get("expired_keys", 0)),
        ("expired_stale_perc", "0.00"),
        ("expired_time_cap_reached_count", 0),
        ("expire_cycle_cpu_milliseconds", 0),
        ("evicted_keys", 0),
        ("evicted_clients", 0),
        ("total_eviction_exceeded_time", 0),
        ("current_eviction_exceeded_time", 0),
        ("keyspace_hits", f.get("keyspace_hits", 0)),
        ("keyspace_misses", f.get("keyspace_misses", 0)),
        ("pubsub_channels", len(ctx.hub.channels)),
        ("pubsub_patterns", len(ctx.hub.patterns)),
        ("pubsubshard_channels", len(ctx.hub.shard_channels)),
        ("latest_fork_usec", 0),
        ("total_forks", 0),
        ("migrate_cached_sockets", 0),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        *(
            ctx.tracking.info()
            if ctx.tracking is not None
            else {"tracking_total_keys": 0, "tracking_total_items": 0, "tracking_total_prefixes": 0}
        ).items(),
        ("unexpected_error_replies", 0),
        ("total_error_replies", st.errors_total),
        ("dump_payload_sanitizations", 0),
        ("total_reads_processed", f["reads"]),
        ("total_writes_processed", f["writes"]),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
    ]


def _section_replication(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    backlog = ctx.ks.backlog
    replicas = ctx.server.replica_states()
    master = ctx.server.master_state()
    out: list[tuple[str, Any]] = [("role", "master" if master is None else "slave")]
    if master is not None:
        out += _replica_fields(ctx, master)
    out.append(("connected_slaves", len(replicas)))
    if ctx.config["min-replicas-to-write"] and ctx.config["min-replicas-max-lag"]:
        lag = ctx.config["min-replicas-max-lag"]
        good = sum(1 for r in replicas if r.state == "online" and r.lag <= lag)
        out.append(("min_slaves_good_slaves", good))
    line = "ip=%s,port=%d,state=%s,offset=%d,lag=%d"
    for i, r in enumerate(replicas):
        out.append(("slave%d" % i, line % (r.ip, r.port, r.state, r.ack, r.lag)))
    active = backlog.active
    return [
        *out,
        ("master_failover_state", ctx.server.failover_state),
        ("master_replid", backlog.replid or f["run_id"]),
        ("master_replid2", backlog.replid2),
        ("master_repl_offset", backlog.offset),
        ("second_repl_offset", backlog.id2_offset),
        ("repl_backlog_active", int(active)),
        ("repl_backlog_size", ctx.config["repl-backlog-size"]),
        ("repl_backlog_first_byte_offset", backlog.first if active else 0),
        ("repl_backlog_histlen", backlog.histlen if active else 0),
    ]


def _replica_fields(ctx: Ctx, master: MasterState) -> list[tuple[str, Any]]:
    """INFO replication's lines of a replica (its primary, the link, the transfer)."""
    now = time.monotonic()
    connected = master.state == "connected"
    backlog = ctx.ks.backlog
    applied = master.offset if connected else (backlog.offset if backlog.active else 1)
    read = master.read_offset if connected else applied
    out: list[tuple[str, Any]] = [
        ("master_host", master.host),
        ("master_port", master.port),
        ("master_link_status", "up" if connected else "down"),
        ("master_last_io_seconds_ago", int(now - master.last_io) if master.last_io else -1),
        ("master_sync_in_progress", int(master.state == "sync")),
        ("slave_read_repl_offset", read),
        ("slave_repl_offset", applied),
    ]
    if master.state == "sync":
        total, done = master.transfer_total, master.transfer_read
        out += [
            ("master_sync_total_bytes", total),
            ("master_sync_read_bytes", done),
            ("master_sync_left_bytes", total - done),
            ("master_sync_perc", "%.2f" % (done * 100 / total if total > 0 else 0.0)),
            ("master_sync_last_io_seconds_ago", int(now - master.transfer_last_io)),
        ]
    if not connected:
        down = int(now - master.down_since) if master.down_since else -1
        out.append(("master_link_down_since_seconds", down))
    config = ctx.config
    return [
        *out,
        ("slave_priority", config["replica-priority"]),
        ("slave_read_only", int(config["replica-read-only"])),
        ("replica_announced", int(config["replica-announced"])),
    ]


def _section_cpu(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    lane = resource.getrusage(resource.RUSAGE_THREAD)
    return [
        ("used_cpu_sys", "%.6f" % me.ru_stime),
        ("used_cpu_user", "%.6f" % me.ru_utime),
        ("used_cpu_sys_children", "%.6f" % kids.ru_stime),
        ("used_cpu_user_children", "%.6f" % kids.ru_utime),
        # The thread INFO runs on: the event loop's, which runs the commands.
        ("used_cpu_sys_main_thread", "%.6f" % lane.ru_stime),
        ("used_cpu_user_main_thread", "%.6f" % lane.ru_utime),
    ]


def _section_errorstats(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    return [("errorstat_" + code, "count=%d" % n) for code, n in sorted(ctx.stats.errors.items())]


def _section_commandstats(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    out = []
    for cmd in all_commands():
        if cmd.calls or cmd.rejected_calls or cmd.failed_calls:
            per = cmd.usec / cmd.calls if cmd.calls else 0.0
            out.append(
                (
                    "cmdstat_" + cmd.name,
                    "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d"
                    % (cmd.calls, cmd.usec, per, cmd.rejected_calls, cmd.failed_calls),
                )
            )
    return out


def _section_latencystats(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    pcts = ctx.config["latency-tracking-info-percentiles"]
    out = []
    for cmd in all_commands():
        if cmd.latency:
            out.append(
                (
                    "latency_percentiles_usec_" + cmd.name,
                    ",".join(
                        "p%s=%.3f" % (cfg.format_percentile(p), cmd.latency_percentile(p))
                        for p in pcts
                    ),
                )
            )
    return out


def _section_storage(ctx: Ctx, f: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("engine", ctx.config["engine"]),
        ("dir", os.path.abspath(ctx.config["dir"])),
        ("appendfsync", ctx.config["appendfsync"]),
        *f.get("storage", []),
    ]


_SECTIONS = {
    "server": _section_server,
    "clients": _section_clients,
    "memory": _section_memory,
    "persistence": _section_persistence,
    "stats": _section_stats,
    "replication": _section_replication,
    "cpu": _section_cpu,
    "modules": lambda ctx, f: [],
    "commandstats": _section_commandstats,
    "errorstats": _section_errorstats,
    "latencystats": _section_latencystats,
    "cluster": lambda ctx, f: [("cluster_enabled", 0)],
    "keyspace": lambda ctx, f: list(f["keyspace"]()) if "keyspace" in f else [],
    "storage": _section_storage,
}
_DEFAULT = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
    "storage",
)


def info_text(ctx: Ctx, names: list[bytes]) -> bytes:
    chosen: list[str] = []
    wanted = [n.decode("utf-8", "replace").lower() for n in names] or ["default"]
    for w in wanted:
        if w == "default":
            picks: tuple[str, ...] = _DEFAULT
        elif w in ("all", "everything"):
            picks = tuple(_SECTIONS)
        else:
            picks = (w,)
        chosen += [p for p in picks if p in _SECTIONS and p not in chosen]
    order = [s for s in _SECTIONS if s in chosen]
    fields = ctx.server.info_fields()
    parts = []
    for name in order:
        title = "CPU" if name == "cpu" else name.capitalize()
        lines = ["# " + title] + ["%s:%s" % kv for kv in _SECTIONS[name](ctx, fields)]
        parts.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(parts).encode()


@command(
    "info",
    -1,
    "loading stale",
    group=_SRV,
    acl="dangerous",
    since="1.0.0",
    complexity="O(1)",
    summary="Returns information and statistics about the server.",
    tips="nondeterministic_output request_policy:all_shards response_policy:special",
    history=(("7.0.0", "Added support for taking multiple section arguments."),),
    args=(arg("section", "string", "optional", "multiple"),),
)
def info(ctx: Ctx, argv: list[bytes]) -> Verbatim:
    """INFO [section ...] -> the report, as Redis lays it out, plus a `storage` section."""
    return Verbatim(info_text(ctx, argv[1:]))


# -- CONFIG -------------------------------------------------------------------------
container(
    "config",
    group=_SRV,
    since="2.0.0",
    summary="A container for server configuration commands.",
    complexity="Depends on subcommand.",
)


@command(
    "config|get",
    -3,
    _ADMIN,
    group=_SRV,
    since="2.0.0",
    complexity="O(N) when N is the number of configuration parameters provided",
    summary="Returns the effective values of configuration parameters.",
    history=(("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),),
    args=(arg("parameter", "string", "multiple"),),
)
def config_get(ctx: Ctx, argv: list[bytes]) -> dict[bytes, bytes]:
    """CONFIG GET parameter [parameter ...] -> map of matching names to values."""
    return ctx.config.get_matching(argv[2:])


@command(
    "config|set",
    -4,
    _ADMIN,
    group=_SRV,
    since="2.0.0",
    complexity="O(N) when N is the number of configuration parameters provided",
    summary="Sets configuration parameters in-flight.",
    tips="request_policy:all_nodes response_policy:all_succeeded",
    history=(("7.0.0", "Added the ability to set multiple parameters in one call."),),
    args=(oneof("data", arg("parameter"), arg("value"), flags=("multiple",)),),
)
def config_set(ctx: Ctx, argv: list[bytes]) -> str:
    """CONFIG SET parameter value [parameter value ...] -> OK; all or nothing."""
    if len(argv) % 2:
        raise RedisError(errors.SYNTAX)
    seen: set[str] = set()
    chosen: list[tuple[cfg.Param, str, bytes]] = []
    err_name: str | None = None
    err_text: str | None = None
    for i in range(2, len(argv), 2):
        name = argv[i].decode("latin-1")
        p = cfg.lookup(name)
        if p is None:
            raise errors.err("Unknown option or number of arguments for CONFIG SET - '%s'" % name)
        if err_name is not None:
            continue
        if not p.mutable:
            err_name, err_text = name, "can't set immutable config"
        elif p.protected and ctx.config["enable-protected-configs"] == "no":
            err_name, err_text = name, "can't set protected config"
        elif p.name in seen:
            err_name, err_text = name, "duplicate parameter"
        seen.add(p.name)
        chosen.append((p, name, argv[i + 1]))
    if err_name is not None:
        raise errors.err(
            "CONFIG SET failed (possibly related to argument '%s') - %s" % (err_name, err_text)
        )
    new: dict[str, Any] = {}
    for p, _name, raw in chosen:
        text = raw.decode("utf-8", "surrogateescape")
        # sdssplitlen: an empty value is no arguments at all; otherwise every space splits
        values = (text.split(" ") if text else []) if p.multi else [text]
        try:
            new[p.name] = ctx.config.combine(p, cfg.parse_value(p, values))
        except cfg.ConfigError as e:
            raise errors.err(
                "CONFIG SET failed (possibly related to argument '%s') - %s" % (p.name, e)
            ) from None
    old = {name: ctx.config.values[name] for name in new}
    ctx.config.values.update(new)
    for name in new:
        ctx.config.settle(name)
    # What did not change is not applied again (Redis skips their apply functions too):
    # setting port or bind to what they are must not listen twice.
    changed = sorted(name for name in new if new[name] != old[name])
    try:
        ctx.server.apply_config(changed)
    except cfg.ConfigError as e:
        ctx.config.values.update(old)
        raise errors.err(
            "CONFIG SET failed (possibly related to argument '%s') - %s"
            % (e.param or changed[0], e)
        ) from None
    return "OK"


@command(
    "config|resetstat",
    2,
    _ADMIN,
    group=_SRV,
    since="2.0.0",
    complexity="O(1)",
    summary="Resets the server's statistics.",
)
def config_resetstat(ctx: Ctx, argv: list[bytes]) -> str:
    """CONFIG RESETSTAT -> OK: command, error and connection counters back to zero."""
    st = ctx.stats
    st.commands = st.connections = st.rejected_connections = 0
    st.errors_total = 0
    st.errors.clear()
    for cmd in all_commands():
        cmd.calls = cmd.usec = cmd.rejected_calls = cmd.failed_calls = 0
        cmd.latency.clear()
    ctx.ks.hits = ctx.ks.misses = ctx.ks.expired_keys = ctx.ks.reclaim.lazyfreed = 0
    ctx.ks.expired_fields = 0
    ctx.server.reset_stats()
    return "OK"


@command(
    "config|rewrite",
    2,
    _ADMIN,
    group=_SRV,
    since="2.8.0",
    complexity="O(1)",
    summary="Persists the effective configuration to file.",
)
def config_rewrite(ctx: Ctx, argv: list[bytes]) -> str:
    """CONFIG REWRITE -> OK: the config file updated to the running settings."""
    if not ctx.config.path:
        raise errors.err("The server is running without a config file")
    from diskredis.commands.acl import acl_of, users_lines

    # The users go in the file too, unless they live in an aclfile (Redis's
    # rewriteConfigUserOption): then the file's user lines are dropped.
    users = (
        []
        if ctx.config["aclfile"]
        else [line.decode("utf-8", "surrogateescape") for line in users_lines(acl_of(ctx))]
    )
    try:
        cfg.rewrite_file(ctx.config, users)
    except OSError as e:
        raise errors.err("Rewriting config file: %s" % e.strerror) from None
    return "OK"


help_command(
    "config",
    [
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
    ],
    group=_SRV,
    since="5.0.0",
)


# -- TIME, LASTSAVE, SAVE, BGSAVE, SHUTDOWN ------------------------------------------
@command(
    "time",
    1,
    "loading stale fast",
    group=_SRV,
    since="2.6.0",
    complexity="O(1)",
    summary="Returns the server time.",
    tips="nondeterministic_output",
)
def time_(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """TIME -> [unix seconds, microseconds]."""
    now_us = time.time_ns() // 1000
    return [b"%d" % (now_us // 1000000), b"%d" % (now_us % 1000000)]


@command(
    "lastsave",
    1,
    "loading stale fast",
    group=_SRV,
    acl="admin dangerous",
    since="1.0.0",
    complexity="O(1)",
    summary="Returns the Unix timestamp of the last successful save to disk.",
    tips="nondeterministic_output",
)
def lastsave(ctx: Ctx, argv: list[bytes]) -> int:
    """LASTSAVE -> unix time of the last durable checkpoint."""
    return ctx.stats.last_save


def _checkpoint(ctx: Ctx, save: bool = True) -> None:
    """Make every write durable; as a SAVE (not BGREWRITEAOF) it is the point INFO's
    rdb_changes_since_last_save and rdb_last_save_time count from."""
    try:
        ctx.server.checkpoint()
    except OSError as e:
        raise errors.err("checkpoint of the data directory failed: %s" % e) from None
    if save:
        ctx.stats.last_save = int(time.time())
        ctx.stats.saves += 1
        ctx.ks.changes = 0


@command(
    "save",
    1,
    "admin noscript no_async_loading no_multi",
    group=_SRV,
    since="1.0.0",
    complexity="O(N) where N is the total number of keys in all databases",
    summary="Synchronously saves the database(s) to disk.",
)
def save(ctx: Ctx, argv: list[bytes]) -> str:
    """SAVE -> OK once everything written so far is synced to disk."""
    _checkpoint(ctx)
    return "OK"


@command(
    "compact",
    1,
    "admin noscript",
    group=_SRV,
    since="0.1.0",  # diskredis's own (Kvrocks has one by this name)
    complexity="O(N) where N is the size of the data files, in the background",
    summary="Gives the disk space of deleted data back, in the background (diskredis).",
)
def compact(ctx: Ctx, argv: list[bytes]) -> str:
    """COMPACT -> OK: a compaction of the data files starts (INFO storage
    `compaction_in_progress`); an error if one is running."""
    ctx.server.start_compaction()
    return "OK"


@command(
    "bgsave",
    -1,
    "admin noscript no_async_loading",
    group=_SRV,
    since="1.0.0",
    complexity="O(1)",
    summary="Asynchronously saves the database(s) to disk.",
    history=(("3.2.2", "Added the `SCHEDULE` option."),),
    args=(token("SCHEDULE", "optional", since="3.2.2"),),
)
def bgsave(ctx: Ctx, argv: list[bytes]) -> str:
    """BGSAVE [SCHEDULE] -> "Background saving started" (the sync is quick: data is on
    disk); "scheduled" inside a transaction, where Redis defers its fork."""
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() != b"schedule"):
        raise RedisError(errors.SYNTAX)
    _checkpoint(ctx)
    return "Background saving scheduled" if ctx.session.in_exec else "Background saving started"


@command(
    "shutdown",
    -1,
    "admin noscript loading stale no_multi allow_busy",
    group=_SRV,
    since="1.0.0",
    complexity="O(N) when saving, where N is the total number of keys in "
    "all databases when saving data, otherwise O(1)",
    summary="Synchronously saves the database(s) to disk and shuts down the Redis server.",
    history=(("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."),),
    args=(
        oneof("save-selector", token("NOSAVE"), token("SAVE"), flags=("optional",)),
        token("NOW", "optional", since="7.0.0"),
        token("FORCE", "optional", since="7.0.0"),
        token("ABORT", "optional", since="7.0.0"),
    ),
)
def shutdown(ctx: Ctx, argv: list[bytes]) -> Any:
    """SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] -> no reply: the server stops (after
    the save, a checkpoint: NOSAVE skips it, and the restart replays the log instead);
    when the save fails, "Errors trying to SHUTDOWN" unless FORCE, and it serves on.
    Lagging replicas are waited for first, up to shutdown-timeout seconds, with writes
    held (not with NOW); ABORT calls such a wait off."""
    flags: set[bytes] = set()
    abort = False
    for a in argv[1:]:
        low = a.lower()
        if low in (b"nosave", b"save", b"now", b"force"):
            flags.add(low)
        elif low == b"abort":
            abort = True
        else:
            raise RedisError(errors.SYNTAX)
    if (abort and flags) or {b"nosave", b"save"} <= flags:
        raise RedisError(errors.SYNTAX)
    if abort:  # a shutdown waiting for replicas, or a signal's, is called off
        if not ctx.server.abort_shutdown():
            raise RedisError(errors.NO_SHUTDOWN_IN_PROGRESS)
        return "OK"
    if ctx.scripts is not None and ctx.scripts.busy:  # while a script is busy: NOSAVE, at once
        if b"nosave" not in flags:
            raise RedisError(errors.BUSY_EVAL if ctx.scripts.is_eval else errors.BUSY_FUNCTION)
        session = ctx.session
        ctx.server.exit_now(
            "SHUTDOWN NOSAVE from client id=%d addr=%s while the script %s "
            "was busy" % (session.id, session.addr, ctx.scripts.name)
        )
    # finishShutdown saves when asked to, or when save points are configured and NOSAVE
    # is not given.
    save = b"save" in flags or (b"nosave" not in flags and bool(ctx.config["save"]))
    return Shutdown(save, b"now" in flags, b"force" in flags)


@command(
    "bgrewriteaof",
    1,
    "admin noscript no_async_loading",
    group=_SRV,
    since="1.0.0",
    complexity="O(1)",
    summary="Starts rewriting the append-only file in the background.",
)
def bgrewriteaof(ctx: Ctx, argv: list[bytes]) -> Any:
    """BGREWRITEAOF -> status. There is no append-only file: the engine's write-ahead
    log is what it would rewrite, so this checkpoints it, as BGSAVE does."""
    _checkpoint(ctx, save=False)
    if ctx.session.in_exec:  # where Redis defers its fork
        return "Background append only file rewriting scheduled"
    return "Background append only file rewriting started"


# -- SLOWLOG ------------------------------------------------------------------------
container(
    "slowlog",
    group=_SRV,
    since="2.2.12",
    summary="A container for slow log commands.",
    complexity="Depends on subcommand.",
)


@command(
    "slowlog|get",
    -2,
    "admin loading stale",
    group=_SRV,
    since="2.2.12",
    complexity="O(N) where N is the number of entries returned",
    summary="Returns the slow log's entries.",
    tips="request_policy:all_nodes nondeterministic_output",
    history=(("4.0.0", "Added client IP address, port and name to the reply."),),
    args=(arg("count", "integer", "optional"),),
)
def slowlog_get(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """SLOWLOG GET [count] -> newest entries first (10 by default, -1 for all)."""
    count = 10
    if len(argv) == 3:
        count = parse_int(argv[2], "ERR count should be greater than or equal to -1")
        if count < -1:
            raise errors.err("count should be greater than or equal to -1")
        if count == -1:
            count = len(ctx.stats.slowlog)
    elif len(argv) > 3:
        raise errors.unknown_subcommand_or_arity("slowlog", argv[1])
    out = []
    for e in list(ctx.stats.slowlog)[:count]:
        out.append([e.id, e.when, e.usec, list(e.argv), e.addr.encode(), e.name])
    return out


@command(
    "slowlog|len",
    2,
    "admin loading stale",
    group=_SRV,
    since="2.2.12",
    complexity="O(1)",
    summary="Returns the number of entries in the slow log.",
    tips="request_policy:all_nodes response_policy:agg_sum nondeterministic_output",
)
def slowlog_len(ctx: Ctx, argv: list[bytes]) -> int:
    """SLOWLOG LEN -> number of entries."""
    return len(ctx.stats.slowlog)


@command(
    "slowlog|reset",
    2,
    "admin loading stale",
    group=_SRV,
    since="2.2.12",
    complexity="O(N) where N is the number of entries in the slowlog",
    summary="Clears all entries from the slow log.",
    tips="request_policy:all_nodes response_policy:all_succeeded",
)
def slowlog_reset(ctx: Ctx, argv: list[bytes]) -> str:
    """SLOWLOG RESET -> OK."""
    ctx.stats.slowlog.clear()
    return "OK"


help_command(
    "slowlog",
    [
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
    ],
    group=_SRV,
    since="6.2.0",
    summary="Show helpful text about the different subcommands",
)


# -- MONITOR, DEBUG -----------------------------------------------------------------
@command(
    "monitor",
    1,
    _ADMIN,
    group=_SRV,
    since="1.0.0",
    complexity="",
    summary="Listens for all requests received by the server in real-time.",
)
def monitor(ctx: Ctx, argv: list[bytes]) -> str:
    """MONITOR -> OK, then every command the server runs, one line each."""
    if not ctx.session.monitor:
        ctx.session.monitor = True
        ctx.server.start_monitor(ctx.session)
    return "OK"


@command(
    "debug",
    -2,
    "admin noscript loading stale protected",
    group=_SRV,
    since="1.0.0",
    complexity="Depends on subcommand.",
    summary="A container for debugging commands.",
    doc_flags="syscmd",
)
def debug(ctx: Ctx, argv: list[bytes]) -> Any:
    """DEBUG DIGEST | DIGEST-VALUE key ... | ERROR text | LOG message | OBJECT key |
    POPULATE count [prefix] [size] | PROTOCOL type | RELOAD [MERGE] [NOFLUSH] [NOSAVE] |
    SLEEP seconds |
    SET-ACTIVE-EXPIRE 0|1 | SET-DISABLE-DENY-SCRIPTS 0|1 | PAUSE-CRON 0|1 | HELP (the DEBUG
    subcommands diskredis has). Never replicated, as in Redis."""
    ctx.ks.repl.prevent()
    sub = argv[1].lower()
    if sub == b"help" and len(argv) == 2:
        return help_reply(
            "debug",
            [
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "ERROR <string>",
                "    Return a Redis protocol error with <string> as message. Useful for clients",
                "    unit tests to simulate Redis errors.",
                "LOG <message>",
                "    Write <message> to the server log.",
                "OBJECT <key>",
                "    Show low level info about `key` and associated value.",
                "POPULATE <count> [<prefix>] [<size>]",
                "    Create <count> string keys named key:<num> (<prefix>:<num> if a prefix is",
                "    given) holding value:<num>, zero-padded or cut to <size> bytes if given.",
                "    Keys that exist are left as they are.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "RELOAD [option ...]",
                "    Save the dataset (a checkpoint) and load it back from disk (the hot cache is",
                "    dropped). Options:",
                "    * MERGE: Merge the loaded data with the existing dataset.",
                "    * NOFLUSH: Do not empty the dataset before loading it.",
                "    * NOSAVE: Do not save before loading.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "PAUSE-CRON <0|1>",
                "    Stop periodic work: active expiry, reclamation of deleted big keys, client",
                "    timeouts and the instantaneous statistics.",
            ],
        )
    if sub == b"populate" and 3 <= len(argv) <= 5:
        return _debug_populate(ctx, argv)
    if sub == b"reload":
        return _debug_reload(ctx, argv[2:])
    if sub == b"set-active-expire" and len(argv) == 3:
        ctx.ks.active_expire = bool(atoi(argv[2]))
        return "OK"
    if sub == b"pause-cron" and len(argv) == 3:
        ctx.ks.cron_paused = bool(atoi(argv[2]))
        return "OK"
    if sub == b"set-disable-deny-scripts" and len(argv) == 3:
        ctx.scripts.deny_noscript = not atoi(argv[2])
        return "OK"
    if sub == b"digest" and len(argv) == 2:
        return Status(_dataset_digest(ctx).hex().encode())
    if sub == b"digest-value" and len(argv) >= 2:
        out = []
        for key in argv[2:]:
            digest = bytearray(20)
            meta = ctx.ks.record(ctx.session.db, key)  # logically expired keys too
            if meta is not None:
                value_digest(ctx, meta, digest)
            out.append(Status(digest.hex().encode()))
        return out
    if sub == b"protocol" and len(argv) == 3:
        return _protocol_sample(ctx, argv[2].lower())
    if sub == b"object" and len(argv) == 3:
        return _debug_object(ctx, argv[2])
    if sub == b"error" and len(argv) == 3:  # the client's own error reply, for its tests
        return ErrorLine(argv[2].replace(b"\r", b" ").replace(b"\n", b" "))
    if sub == b"log" and len(argv) == 3:
        log.warning("DEBUG LOG: %s", errors.c_text(argv[2]))
        return "OK"
    if sub == b"sleep" and len(argv) == 3:
        try:
            seconds = float(argv[2])
        except ValueError:
            seconds = 0.0
        # Like Redis, this blocks the whole server: the lane sleeps.
        time.sleep(max(seconds, 0.0))
        return "OK"
    raise errors.unknown_subcommand_or_arity("debug", argv[1])


def _debug_populate(ctx: Ctx, argv: list[bytes]) -> str:
    """DEBUG POPULATE count [prefix] [size]: string keys prefix:0 .. prefix:count-1 (the
    name cut at 127 bytes, as Redis's buffer cuts it) holding value:N, padded with zero
    bytes or cut to `size`; keys that exist are left alone. No keyspace events, as in
    Redis; WATCH and client-side caching see the keys change."""
    count = parse_positive(argv[2])
    size = parse_positive(argv[4]) if len(argv) == 5 else 0
    prefix = argv[3].split(b"\0", 1)[0] if len(argv) >= 4 else b"key"
    db = ctx.session.db
    for j in range(count):
        key = b"%s:%d" % (prefix, j)
        if len(key) > 127:
            key = key[:127]
        if ctx.lookup(key, db, read=False, notify_miss=False) is not None:
            continue
        value = b"value:%d" % j
        if size:
            value = value[:size].ljust(size, b"\0")
        ctx.ks.store(db, key, Meta(STRING, NO_EXPIRY, value))
    return "OK"


def _debug_reload(ctx: Ctx, options: list[bytes]) -> str:
    """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: Redis saves its RDB file, empties the
    dataset and loads the file back. Here the data on disk is what that file would hold
    (every acknowledged write is durable): the save is a checkpoint, and the reload drops
    the hot cache, so what follows is read back from disk (with NOSAVE too: an RDB file
    left in `dir` is not what the data is here). NOFLUSH without MERGE loads
    the file over a dataset that already holds it: Redis fails (a library that exists) or
    stops (a key that exists); here it fails whenever the dataset is not empty."""
    flush = save = True
    merge = False
    for opt in options:
        low = opt.lower()
        if low == b"merge":
            merge = True
        elif low == b"noflush":
            flush = False
        elif low == b"nosave":
            save = False
        else:
            raise errors.err("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    if save:
        _checkpoint(ctx)
    if (
        not flush
        and not merge
        and (ctx.scripts.libraries or any(ctx.ks.stored(db) for db in range(ctx.ks.databases)))
    ):
        log.warning(
            "DEBUG RELOAD NOFLUSH: the dataset already holds what the reload "
            "would load (add MERGE to load it over itself)"
        )
        raise errors.err("Error trying to load the RDB dump")
    ctx.ks.expire_due(quietly=True)  # rdbLoad leaves out keys past their deadline
    ctx.ks.forget_cached()
    log.warning("DB reloaded by DEBUG RELOAD")
    return "OK"


def _protocol_sample(ctx: Ctx, name: bytes) -> Any:
    """DEBUG PROTOCOL: a reply of each RESP type, for clients' tests."""
    if name == b"push":
        if ctx.session.resp < 3:
            raise errors.err("RESP2 is not supported by this command")
        return Pushes(
            [Push([b"server-cpu-usage", 42]), b"Some real reply following the push reply"]
        )
    samples: dict[bytes, Any] = {
        b"string": b"Hello World",
        b"integer": 12345,
        b"double": 3.141,
        b"bignum": BigNumber(b"1234567999999999999999999999999999999"),
        b"null": None,
        b"array": [0, 1, 2],
        b"set": RSet([0, 1, 2]),
        b"map": {0: False, 1: True, 2: False},
        b"attrib": Attributed(
            {b"key-popularity": [b"key:123", 90]}, b"Some real reply following the attribute"
        ),
        b"verbatim": Verbatim(b"This is a verbatim\nstring"),
        b"true": True,
        b"false": False,
    }
    if name not in samples:
        raise errors.err(
            "Wrong protocol type name. Please use one of the following: "
            "string|integer|double|bignum|null|array|set|map|attrib|push|"
            "verbatim|true|false"
        )
    return samples[name]


def _debug_object(ctx: Ctx, key: bytes) -> Status:
    """DEBUG OBJECT key: Redis's line about the value. Its address and refcount stand for
    nothing here (values are records on disk); the encoding is OBJECT ENCODING's, the
    serialized length the RDB encoding's (DUMP's payload less its type, version and
    checksum), the idle time the access table's. Like Redis's, it shows a key past its
    deadline that nothing has removed yet, and leaves it there."""
    meta = ctx.ks.record(ctx.session.db, key)
    if meta is None:
        raise errors.err("no such key")
    dumped = dump_payload(ctx, meta)
    idle = ctx.ks.access.idle_ms(ctx.ks.mkey(ctx.session.db, key)) // 1000
    lru = (int(time.time()) - idle) & ((1 << 24) - 1)  # Redis's 24-bit LRU clock, in s
    line = b"Value at:0x0 refcount:1 encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d" % (
        encoding_of(ctx, meta).encode(),
        len(dumped) - 11,
        lru,
        idle,
    )
    if meta.type == LIST:
        line += _quicklist_figures(ctx, meta)
    return Status(line)


_LISTPACK_LIMITS = {-1: 4096, -2: 8192, -3: 16384, -4: 32768, -5: 65536}


def _quicklist_figures(ctx: Ctx, meta: Meta) -> bytes:
    """The quicklist fields DEBUG OBJECT adds for a list, as the list would be laid out
    in Redis's listpacks of list-max-listpack-size (sizes estimated from the elements;
    nothing is compressed: list-compress-depth is not applied here)."""
    items = export_value(ctx, meta).items  # type: ignore[union-attr]
    fill = ctx.config["list-max-listpack-size"]
    sizes = [len(x) + (1 if len(x) < 64 else 2 if len(x) < 4096 else 5) + 1 for x in items]
    nodes, used, count = 0, 0, 0
    for size in sizes:
        full = count >= fill if fill > 0 else used + size > _LISTPACK_LIMITS.get(fill, 8192)
        if nodes == 0 or full:
            nodes, used, count = nodes + 1, 7, 0
        used += size
        count += 1
    nodes = max(nodes, 1)
    return (
        b" ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:0 "
        b"ql_uncompressed_size:%d" % (nodes, len(items) / nodes, fill, 7 * nodes + sum(sizes))
    )


def _dataset_digest(ctx: Ctx) -> bytes:
    """computeDatasetDigest: the databases in order, each one's keys xored together
    (their order does not count), so equal data gives equal digests anywhere. It reads
    everything, as Redis's does: a command for tests and comparisons."""
    final = bytearray(20)
    ks = ctx.ks
    for db in range(ks.databases):
        first = True
        for _, key, meta in ks.iter_keys(db, due=True):  # as Redis's dict holds them
            if first:
                mix_digest(final, struct.pack(">I", db))
                first = False
            digest = bytearray(20)
            mix_digest(digest, key)
            value_digest(ctx, meta, digest)
            xor_digest(final, bytes(digest))
    return bytes(final)


# -- MEMORY -------------------------------------------------------------------------
container(
    "memory",
    group=_SRV,
    since="4.0.0",
    summary="A container for memory diagnostics commands.",
    complexity="Depends on subcommand.",
)


@command(
    "memory|stats",
    2,
    "",
    group=_SRV,
    since="4.0.0",
    complexity="O(1)",
    summary="Returns details about memory usage.",
    tips="nondeterministic_output request_policy:all_shards response_policy:special",
)
def memory_stats(ctx: Ctx, argv: list[bytes]) -> dict[bytes, Any]:
    """MEMORY STATS -> map of memory figures (process RSS based)."""
    rss = _rss()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    fields = ctx.server.info_fields()
    startup = fields["startup_rss"]
    sessions = [s for s in ctx.server.sessions() if not s.closed]
    return {
        b"peak.allocated": peak,
        b"total.allocated": rss,
        b"startup.allocated": startup,
        b"replication.backlog": 0,
        b"clients.slaves": 0,
        b"clients.normal": sum(1024 + s.qbuf for s in sessions),
        b"cluster.links": 0,
        b"aof.buffer": 0,
        b"lua.caches": 0,
        b"functions.caches": 0,
        b"overhead.total": startup,
        b"keys.count": fields.get("keys_count", 0),
        b"keys.bytes-per-key": 0,
        b"dataset.bytes": max(rss - startup, 0),
        b"dataset.percentage": 0.0,
        b"peak.percentage": 100.0 * rss / peak if peak else 100.0,
        b"allocator.allocated": rss,
        b"allocator.active": rss,
        b"allocator.resident": rss,
        b"allocator-fragmentation.ratio": 1.0,
        b"allocator-fragmentation.bytes": 0,
        b"allocator.rss-ratio": 1.0,
        b"allocator.rss-bytes": 0,
        b"rss-overhead.ratio": 1.0,
        b"rss-overhead.bytes": 0,
        b"fragmentation": 1.0,
        b"fragmentation.bytes": 0,
    }


@command(
    "memory|doctor",
    2,
    "",
    group=_SRV,
    since="4.0.0",
    complexity="O(1)",
    summary="Outputs a memory problems report.",
    tips="nondeterministic_output request_policy:all_shards response_policy:special",
)
def memory_doctor(ctx: Ctx, argv: list[bytes]) -> Verbatim:
    """MEMORY DOCTOR -> a short report for an operator."""
    rss = _rss()
    budget = ctx.config["maxmemory"]
    if budget and rss > budget * 2:
        text = (
            "The process uses %s of memory, more than twice its cache budget "
            "(maxmemory %s). The data itself lives on disk; look at client buffers "
            "(CLIENT LIST qbuf/omem) and lower maxmemory if the host is short of "
            "memory.\n" % (_human(rss), _human(budget))
        )
    else:
        text = (
            "No memory problem found: the process uses %s and the data lives on disk.\n"
            % _human(rss)
        )
    return Verbatim(text.encode())


@command(
    "memory|purge",
    2,
    "",
    group=_SRV,
    since="4.0.0",
    complexity="Depends on how much memory is allocated, could be slow",
    summary="Asks the allocator to release memory.",
    tips="request_policy:all_shards response_policy:all_succeeded",
)
def memory_purge(ctx: Ctx, argv: list[bytes]) -> str:
    """MEMORY PURGE -> OK after a full garbage collection."""
    gc.collect()
    return "OK"


@command(
    "memory|malloc-stats",
    2,
    "",
    group=_SRV,
    since="4.0.0",
    complexity="Depends on how much memory is allocated, could be slow",
    summary="Returns the allocator statistics.",
    tips="nondeterministic_output request_policy:all_shards response_policy:special",
)
def memory_malloc_stats(ctx: Ctx, argv: list[bytes]) -> Verbatim:
    """MEMORY MALLOC-STATS -> what Redis says for an allocator without statistics."""
    return Verbatim(b"Stats not supported for the current allocator")


@command(
    "memory|usage",
    -3,
    "readonly",
    group=_SRV,
    since="4.0.0",
    complexity="O(N) where N is the number of samples.",
    summary="Estimates the memory usage of a key.",
    keys=(keys_at("RO", index=2),),
    args=(arg("key", "key"), arg("count", "integer", "optional", token="SAMPLES")),
)
def memory_usage(ctx: Ctx, argv: list[bytes]) -> int | None:
    """MEMORY USAGE key [SAMPLES count] -> bytes the key takes in storage, or nil.

    diskredis answers with the size of the key's records on disk (key, value, expiry
    entry, and a collection's element records: the first SAMPLES of them measured, the
    rest extrapolated; 0 measures all).
    """
    samples = 5
    j = 3
    while j < len(argv):
        if argv[j].lower() == b"samples" and j + 1 < len(argv):
            samples = parse_int(argv[j + 1])
            if samples < 0:
                raise RedisError(errors.SYNTAX)
            j += 2
        else:
            raise RedisError(errors.SYNTAX)
    return ctx.ks.storage_size(ctx.session.db, argv[2], samples)


help_command(
    "memory",
    [
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
    ],
    group=_SRV,
    since="4.0.0",
)
