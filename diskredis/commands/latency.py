"""Latency diagnostics (Redis group "server"): LATENCY LATEST|HISTORY|RESET|GRAPH|DOCTOR|
HISTOGRAM|HELP.

Room: the latency events the server records (`Stats.latency`: "command", "fast-command",
"expire-cycle"...) and the per-command histograms dispatch keeps (`Command.latency`),
shown as Redis 7.0 shows them (latency.c, sparkline.c). Imports: `context`, `registry`,
`args`, `errors`, `resp.values`.

The per-command histogram is Redis's hdr histogram: each call is counted in the bucket
(2 significant digits) of its whole microseconds, kept by its lowest value in ns, so
LATENCY HISTOGRAM and INFO latencystats give Redis's figures for the same calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from diskredis.commands.context import Ctx
from diskredis.commands.registry import (
    HDR_HIGHEST,
    Command,
    all_commands,
    arg,
    by_fullname,
    command,
    container,
    hdr_highest_equivalent,
    help_command,
)
from diskredis.errors import c_text, err
from diskredis.resp.values import MapPairs, Verbatim

_SRV = "server"
_ADMIN = "admin noscript loading stale"
_LATENCY_TIPS = "nondeterministic_output request_policy:all_nodes response_policy:special"


container(
    "latency",
    group=_SRV,
    since="2.8.13",
    summary="A container for latency diagnostics commands.",
    complexity="Depends on subcommand.",
)


@command(
    "latency|latest",
    2,
    _ADMIN,
    group=_SRV,
    since="2.8.13",
    complexity="O(1)",
    summary="Returns the latest latency samples for all events.",
    tips=_LATENCY_TIPS,
)
def latency_latest(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """LATENCY LATEST -> [event, time, latest ms, max ms] per event."""
    st = ctx.stats
    return [
        [event.encode(), samples[-1][0], samples[-1][1], st.latency_max[event]]
        for event, samples in st.latency.items()
        if samples
    ]


@command(
    "latency|history",
    3,
    _ADMIN,
    group=_SRV,
    since="2.8.13",
    complexity="O(1)",
    summary="Returns timestamp-latency samples for an event.",
    tips=_LATENCY_TIPS,
    args=(arg("event"),),
)
def latency_history(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """LATENCY HISTORY event -> [time, ms] samples."""
    samples = ctx.stats.latency.get(c_text(argv[2]), ())  # a C string: up to a NUL
    return [[t, ms] for t, ms in samples]


@command(
    "latency|reset",
    -2,
    _ADMIN,
    group=_SRV,
    since="2.8.13",
    complexity="O(1)",
    summary="Resets the latency data for one or more events.",
    tips="request_policy:all_nodes response_policy:all_succeeded",
    args=(arg("event", "string", "optional", "multiple"),),
)
def latency_reset(ctx: Ctx, argv: list[bytes]) -> int:
    """LATENCY RESET [event ...] -> number of events reset. Redis matches the names
    without regard to case (latencyResetEvent: strcasecmp), up to a NUL byte."""
    st = ctx.stats
    if len(argv) == 2:
        count = len(st.latency)
        st.latency.clear()
        st.latency_max.clear()
        return count
    count = 0
    for name in argv[2:]:
        wanted = c_text(name).lower()
        for event in [e for e in st.latency if e.lower() == wanted]:
            del st.latency[event]
            st.latency_max.pop(event, None)
            count += 1
    return count


help_command(
    "latency",
    [
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for "
        "the specified command names.",
        "    If no commands are specified then all histograms are replied.",
    ],
    group=_SRV,
    since="2.8.13",
)


def cumulative_usec(latency: dict[int, int], total: int) -> dict[int, int]:
    """The `histogram_usec` map of one command (latency.c fillCommandCDF): hdr's
    logarithmic iteration from 1024 ns, doubling. At each level L the count of calls up
    to the end of L's bucket (L + L/128 - 1 ns), labelled with that end in µs; printed
    when it grew since the previous level. Past the last level that fits (2^29 ns) the
    iteration runs off the table's end, whose last bucket ends at 1073741823 ns. `total`:
    the calls in `latency`."""
    keys = sorted(latency)
    out: dict[int, int] = {}
    cumulative = previous = pos = 0
    level = 1024
    top = 1 << 29
    while True:
        if level <= top:
            bound = level
            label = hdr_highest_equivalent(level) // 1000
        else:
            bound = HDR_HIGHEST
            label = hdr_highest_equivalent(255 << 22) // 1000  # the table's last bucket
        while pos < len(keys) and keys[pos] <= bound:
            cumulative += latency[keys[pos]]
            pos += 1
        if cumulative > previous:
            out[label] = cumulative
        previous = cumulative
        if cumulative >= total or level > top:
            return out
        level <<= 1


def _command_cdf(cmd: Command) -> dict[bytes, Any]:
    total = sum(cmd.latency.values())
    return {b"calls": total, b"histogram_usec": cumulative_usec(cmd.latency, total)}


@command(
    "latency|histogram",
    -2,
    _ADMIN,
    group=_SRV,
    since="7.0.0",
    complexity="O(N) where N is the number of commands with latency information being retrieved.",
    tips=_LATENCY_TIPS,
    summary="Returns the latency distribution of each command, or of the commands named.",
    args=(arg("command", "string", "optional", "multiple"),),
)
def latency_histogram(ctx: Ctx, argv: list[bytes]) -> MapPairs:
    """LATENCY HISTOGRAM [command ...] -> map: command full name -> {calls,
    histogram_usec: {µs: cumulative calls}}, for the commands with data: all of them,
    or those named (``client|id``; a container stands for its subcommands; unknown names
    are skipped, and a name given twice answers twice, as in Redis)."""
    out = MapPairs()
    if len(argv) == 2:
        for cmd in all_commands():
            if cmd.latency:
                out.append((cmd.name.encode(), _command_cdf(cmd)))
        return out
    for name in argv[2:]:
        named = by_fullname(name)
        if named is None:
            continue
        if named.latency:
            out.append((named.name.encode(), _command_cdf(named)))
        for sub in named.subcommands.values():
            if sub.latency:
                out.append((sub.name.encode(), _command_cdf(sub)))
    return out


_SPARK_CHARS = "_-`"
_SPARK_FILL = "_o#"


def sparkline(
    values: Sequence[float],
    labels: Sequence[str | None],
    columns: int = 80,
    rows: int = 4,
    fill: bool = True,
) -> str:
    """sparkline.c: the samples in chunks of `columns`, each drawn over `rows` text rows
    of three levels each (filled below the curve with '|' when `fill`), then, when any
    sample has a label, a blank row and the labels written downwards. Chunks are
    separated by an empty line."""
    if not values:
        return ""
    low, high = min(values), max(values)
    any_label = any(labels)
    relmax = (high - low) or 1
    steps = len(_SPARK_CHARS) * rows
    marks = _SPARK_FILL if fill else _SPARK_CHARS
    out: list[str] = []
    for start in range(0, len(values), columns):
        if start:
            out.append("\n")
        width = min(columns, len(values) - start)
        level = []
        for j in range(width):
            step = int(int((values[start + j] - low) * steps) / relmax)
            level.append(min(max(step, 0), steps - 1))
        for row in range(rows):
            line = []
            for step in level:
                idx = step - (rows - row - 1) * len(_SPARK_CHARS)
                if 0 <= idx < len(_SPARK_CHARS):
                    line.append(marks[idx])
                elif fill and idx >= len(_SPARK_CHARS):
                    line.append("|")
                else:
                    line.append(" ")
            out.append("".join(line) + "\n")
        if any_label:
            out.append(" " * width + "\n")
            chunk = [lb or "" for lb in labels[start : start + width]]
            for i in range(max(len(lb) for lb in chunk)):
                out.append("".join(lb[i] if i < len(lb) else " " for lb in chunk) + "\n")
    return "".join(out)


def _ago(seconds: int) -> str:
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm" % (seconds // 60)
    if seconds < 86400:
        return "%dh" % (seconds // 3600)
    return "%dd" % (seconds // 86400)


def latency_graph_text(
    event: str, samples: Iterable[tuple[int, int]], all_time_high: int, now: int | None = None
) -> str:
    """latencyCommandGenSparkeline: the header, 80 dashes, the samples (oldest first)
    labelled with how long ago they happened."""
    now = int(time.time()) if now is None else now
    samples = list(samples)
    values = [ms for _, ms in samples]
    labels: list[str | None] = [_ago(now - t) for t, _ in samples]
    head = "%s - high %d ms, low %d ms (all time high %d ms)\n" % (
        event,
        max(values),
        min(values),
        all_time_high,
    )
    return head + "-" * 80 + "\n" + sparkline(values, labels, 80, 4, True)


@command(
    "latency|graph",
    3,
    _ADMIN,
    group=_SRV,
    since="2.8.13",
    complexity="O(1)",
    tips=_LATENCY_TIPS,
    summary="Draws the recorded latency samples of one event as an ASCII chart.",
    args=(arg("event"),),
)
def latency_graph(ctx: Ctx, argv: list[bytes]) -> Verbatim:
    """LATENCY GRAPH event -> verbatim text: the chart."""
    event = c_text(argv[2])  # the event table is keyed by C strings
    samples = ctx.stats.latency.get(event)
    if not samples:
        raise err("No samples available for event '%s'" % event)
    text = latency_graph_text(event, samples, ctx.stats.latency_max[event])
    return Verbatim(text.encode("latin-1"))


_DISABLED = (
    "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
    'instance. You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in '
    "order to enable it. If we weren't in a deep space mission I'd suggest to take a look "
    "at https://redis.io/topics/latency-monitor.\n"
)
_NOTHING = (
    "Dave, no latency spike was observed during the lifetime of this Redis instance, not "
    "in the slightest bit. I honestly think you ought to sit down calmly, take a stress "
    "pill, and think things over.\n"
)
_OPENING = (
    "Dave, I have observed latency spikes in this Redis instance. You don't mind "
    "talking about it, do you Dave?\n\n"
)
_NO_FIX = (
    "\nWhile there are latency events logged, I'm not able to suggest any easy fix. "
    "Please use the Redis community to get some help, providing this report in your help "
    "request.\n"
)

# What each event suggests (latency.c createLatencyReport); "command" is handled apart,
# as its advice depends on the SLOWLOG settings. No "fork" row: diskredis never forks.
_EVENT_ADVICE = {
    "fast-command": ("scheduler",),
    "aof-write-pending-fsync": ("local_disk", "disk_contention", "ssd", "data_writeback"),
    "aof-write-active-child": ("no_appendfsync", "data_writeback", "ssd"),
    "aof-write-alone": ("local_disk", "data_writeback", "ssd"),
    "aof-fsync-always": ("relax_fsync_policy",),
    "aof-fstat": ("disk_contention", "local_disk"),
    "rdb-unlink-temp-file": ("disk_contention", "local_disk"),
    "aof-rewrite-diff-write": ("write_load_info", "data_writeback", "ssd", "local_disk"),
    "aof-rename": ("write_load_info", "data_writeback", "ssd", "local_disk"),
    "expire-cycle": ("hz", "large_objects"),
    "eviction-del": ("large_objects",),
    "eviction-cycle": ("mass_eviction",),
}

# The advice paragraphs, in the order Redis writes them (%d: the threshold in µs).
_ADVICE_TEXT = (
    (
        "slowlog_enabled",
        "- There are latency issues with potentially slow commands you are using. Try to "
        "enable the Slow Log Redis feature using the command 'CONFIG SET "
        "slowlog-log-slower-than %d'. If the Slow log is disabled Redis is not able to log "
        "slow commands execution for you.\n",
    ),
    (
        "slowlog_tuning",
        "- Your current Slow Log configuration only logs events that are slower than your "
        "configured latency monitor threshold. Please use 'CONFIG SET "
        "slowlog-log-slower-than %d'.\n",
    ),
    (
        "slowlog_inspect",
        "- Check your Slow Log to understand what are the commands you are running which "
        "are too slow to execute. Please check https://redis.io/commands/slowlog for more "
        "information.\n",
    ),
    (
        "scheduler",
        "- The system is slow to execute Redis code paths not containing system calls. This "
        "usually means the system does not provide Redis CPU time to run for long periods. "
        "You should try to:\n"
        "  1) Lower the system load.\n"
        "  2) Use a computer / VM just for Redis if you are running other software in the "
        "same system.\n"
        '  3) Check if you have a "noisy neighbour" problem.\n'
        "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency "
        "in your system.\n"
        "  5) Check if the problem is allocator-related by recompiling Redis with "
        "MALLOC=libc, if you are using Jemalloc. However this may create fragmentation "
        "problems.\n",
    ),
    (
        "local_disk",
        "- It is strongly advised to use local disks for persistence, especially if you are "
        "using AOF. Remote disks provided by platform-as-a-service providers are known to be "
        "slow.\n",
    ),
    (
        "ssd",
        "- SSD disks are able to reduce fsync latency, and total time needed for "
        "snapshotting and AOF log rewriting (resulting in smaller memory usage). With "
        "extremely high write load SSD disks can be a good option. However Redis should "
        "perform reasonably with high load using normal disks. Use this advice as a last "
        "resort.\n",
    ),
    (
        "data_writeback",
        "- Mounting ext3/4 filesystems with data=writeback can provide a performance boost "
        "compared to data=ordered, however this mode of operation provides less guarantees, "
        "and sometimes it can happen that after a hard crash the AOF file will have a "
        "half-written command at the end and will require to be repaired before Redis "
        "restarts.\n",
    ),
    (
        "disk_contention",
        "- Try to lower the disk contention. This is often caused by other disk intensive "
        "processes running in the same computer (including other Redis instances).\n",
    ),
    (
        "no_appendfsync",
        "- Assuming from the point of view of data safety this is viable in your "
        "environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so "
        "that fsync will not be performed while there is a child rewriting the AOF file or "
        "producing an RDB file (the moment where there is high disk contention).\n",
    ),
    (
        "relax_fsync_policy",
        "- Your fsync policy is set to 'always'. It is very hard to get good performances "
        "with such a setup, if possible try to relax the fsync policy to 'onesec'.\n",
    ),
    (
        "write_load_info",
        "- Latency during the AOF atomic rename operation or when the final difference is "
        "flushed to the AOF file at the end of the rewrite, sometimes is caused by very high "
        "write load, causing the AOF buffer to get very large. If possible try to send less "
        "commands to accomplish the same work, or use Lua scripts to group multiple "
        "operations into a single EVALSHA call.\n",
    ),
    (
        "hz",
        "- In order to make the Redis keys expiring process more incremental, try to set "
        "the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n",
    ),
    (
        "large_objects",
        "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a "
        "blocking operation. If you have very large objects that are often deleted, "
        "expired, or evicted, try to fragment those objects into multiple smaller "
        "objects.\n",
    ),
    (
        "mass_eviction",
        "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of "
        "large objects via sets or sorted sets intersections, STORE option of SORT, Redis "
        "Cluster large keys migrations (RESTORE command), may create sudden memory pressure "
        "forcing the server to block trying to evict keys. \n",
    ),
    (
        "disable_thp",
        "- I detected a non zero amount of anonymous huge pages used by your process. This "
        "creates very serious latency events in different conditions, especially when Redis "
        "is persisting on disk. To disable THP support use the command 'echo never > "
        "/sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into "
        "/etc/rc.local so that the command will be executed again after a reboot. Note that "
        "even if you have already disabled THP, you still need to restart the Redis process "
        "to get rid of the huge pages already created.\n",
    ),
)


def anon_huge_pages() -> int:
    """Bytes of transparent huge pages this process uses (AnonHugePages of
    /proc/self/smaps); 0 where the kernel does not say."""
    for path in ("/proc/self/smaps_rollup", "/proc/self/smaps"):
        try:
            with open(path, "rb") as f:
                total = 0
                for line in f:
                    if line.startswith(b"AnonHugePages:"):
                        total += int(line.split()[1]) * 1024
                return total
        except (OSError, ValueError, IndexError):
            continue
    return 0


def _event_stats(samples: Iterable[tuple[int, int]], now: int) -> tuple[int, int, int, int]:
    """analyzeLatencyForEvent: (samples, average, mean absolute deviation, period), the
    period being the seconds since the oldest sample (at least 1)."""
    values = [(t, ms) for t, ms in samples if t != 0]
    if not values:
        return 0, 0, 0, 0
    n = len(values)
    avg = sum(ms for _, ms in values) // n
    mad = sum(abs(avg - ms) for _, ms in values) // n
    period = now - min(t for t, _ in values) or 1
    return n, avg, mad, period


def latency_report(
    events: dict[str, Any],
    maxima: dict[str, int],
    config: Any,
    now: int | None = None,
    huge_pages: int | None = None,
) -> str:
    """createLatencyReport over `events` (event -> [(time, ms)...]) and `maxima` (event
    -> all-time high), with `config` giving latency-monitor-threshold,
    slowlog-log-slower-than, hz and appendfsync."""
    threshold = config["latency-monitor-threshold"]
    if not events and threshold == 0:
        return _DISABLED
    now = int(time.time()) if now is None else now
    slower_than = config["slowlog-log-slower-than"]
    advise: set[str] = set()
    parts: list[str] = []
    number = 0
    for number, (event, samples) in enumerate(events.items(), 1):
        if number == 1:
            parts.append(_OPENING)
        n, avg, mad, period = _event_stats(samples, now)
        parts.append(
            "%d. %s: %d latency spikes (average %dms, mean deviation %dms, period %.2f "
            "sec). Worst all time event %dms."
            % (number, event, n, avg, mad, period / n, maxima.get(event, 0))
        )
        low = event.lower()  # Redis compares event names with strcasecmp
        if low == "command":
            if slower_than < 0:
                advise.add("slowlog_enabled")
            elif slower_than // 1000 > threshold:
                advise.add("slowlog_tuning")
            advise.update(("slowlog_inspect", "large_objects"))
        advise.update(_EVENT_ADVICE.get(low, ()))
        parts.append("\n")
    if (anon_huge_pages() if huge_pages is None else huge_pages) > 0:
        advise.add("disable_thp")
    if number == 0 and not advise:
        parts.append(_NOTHING)
    elif number > 0 and not advise:
        parts.append(_NO_FIX)
    else:
        parts.append("\nI have a few advices for you:\n\n")
        for name, text in _ADVICE_TEXT:
            if name not in advise:
                continue
            if name == "relax_fsync_policy" and config["appendfsync"] != "always":
                continue
            if name == "hz" and config["hz"] >= 100:
                continue
            parts.append(text % (threshold * 1000) if "%d" in text else text)
    return "".join(parts)


@command(
    "latency|doctor",
    2,
    _ADMIN,
    group=_SRV,
    since="2.8.13",
    complexity="O(1)",
    tips=_LATENCY_TIPS,
    summary="Writes a plain-language analysis of the latency events recorded, with advice.",
)
def latency_doctor(ctx: Ctx, argv: list[bytes]) -> Verbatim:
    """LATENCY DOCTOR -> verbatim text: the report."""
    st = ctx.stats
    return Verbatim(latency_report(st.latency, st.latency_max, ctx.config).encode("latin-1"))
