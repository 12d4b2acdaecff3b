"""Run redis-benchmark against redis-server and diskredis side by side; print ratios.

Usage: ./dev bench [--suite strings|collections|scripting|streams] [--tests LIST]
                   [--commands "CMD;CMD"]
                   [-n 100000] [-c 50] [--pipelines 1,16] [--engines lmdb,leveldb]
                   [--fsync always,everysec] [-d 100]

For every appendfsync mode and pipeline depth, redis-server (AOF on with the same
appendfsync, so "always" is the same promise on both sides) and then each diskredis
engine run on ephemeral ports in temporary folders, one after the other, with the same
redis-benchmark command (random keys, `-d` byte values); that is repeated `--rounds`
times, alternating the servers, each round on fresh servers. The table gives the median
requests per second of the rounds, the ratio of the medians diskredis / redis, and the
median p50 and p99 latency (ms, redis-benchmark's) of both; `--markdown FILE` writes
the same table in Markdown. `--commands` adds command lines run
after the `-t` tests on the same server (so they see what those wrote), e.g. a
ZRANGEBYSCORE over the sorted set the zadd test filled.

Suites: strings = set,get,incr,mset,ping; collections = lpush,rpop,sadd,spop,hset,zadd,
lrange_100 and "ZRANGEBYSCORE myzset 0 +inf LIMIT 0 10"; scripting = EVALSHA of a rate
limiter (INCR + EXPIRE on a random key), loaded with SCRIPT LOAD first; streams = XADD
to one stream, then an EVALSHA that reads one entry with XREADGROUP and acknowledges it
with XACK (the group is made before the run), then PFADD of random elements.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator

from diskredis.engines import ENGINES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ping(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit("bench: %s exited during start-up (code %s)" % (what, proc.returncode))
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return
        time.sleep(0.05)
    raise SystemExit("bench: %s did not answer PING on port %d" % (what, port))


@contextlib.contextmanager
def server(kind: str, fsync: str, engine: str, args: argparse.Namespace) -> Iterator[int]:
    port = free_port()
    folder = tempfile.mkdtemp(prefix="bench-%s-" % kind)
    if kind == "redis":
        cmd = [
            "redis-server",
            "--port",
            str(port),
            "--dir",
            folder,
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            fsync,
        ]
    else:
        cmd = [
            sys.executable,
            "-m",
            "diskredis",
            "--port",
            str(port),
            "--dir",
            folder,
            "--engine",
            engine,
            "--appendfsync",
            fsync,
        ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        wait_ping(port, proc, kind)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


RATE_LIMITER = (
    "local v = redis.call('incr', KEYS[1]) redis.call('expire', KEYS[1], ARGV[1]) return v"
)
RATE_LIMITER_SHA = hashlib.sha1(RATE_LIMITER.encode()).hexdigest()

STREAM_CONSUMER = (
    "local r = redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '1', "
    "'STREAMS', KEYS[1], '>') "
    "if r then redis.call('XACK', KEYS[1], 'g', r[1][2][1][1]) return 1 end "
    "return 0"
)
STREAM_CONSUMER_SHA = hashlib.sha1(STREAM_CONSUMER.encode()).hexdigest()

SUITES = {
    "strings": ("set,get,incr,mset,ping", ""),
    "collections": (
        "lpush,rpop,sadd,spop,hset,zadd,lrange_100",
        "ZRANGEBYSCORE myzset 0 +inf LIMIT 0 10",
    ),
    "scripting": ("", "EVALSHA %s 1 rate:__rand_int__ 60" % RATE_LIMITER_SHA),
    "full": (
        "ping_mbulk,set,get,incr,mset,lpush,rpop,sadd,spop,hset,zadd,lrange_100",
        "XADD bench:stream * field __rand_int__;"
        "EVALSHA %s 1 rate:__rand_int__ 60" % RATE_LIMITER_SHA,
    ),
    "streams": (
        "",
        "XADD bench:stream * field __rand_int__;"
        "EVALSHA %s 1 bench:stream;PFADD bench:hll __rand_int__" % STREAM_CONSUMER_SHA,
    ),
}
# Sent to each server before its run: the scripts, and the stream's consumer group.
SETUP = [
    ("SCRIPT", "LOAD", RATE_LIMITER),
    ("SCRIPT", "LOAD", STREAM_CONSUMER),
    ("XGROUP", "CREATE", "bench:stream", "g", "$", "MKSTREAM"),
]


def load_scripts(port: int) -> None:
    for args in SETUP:
        parts = [a.encode() for a in args]
        request = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        with socket.create_connection(("127.0.0.1", port), 10) as s:
            s.sendall(request)
            reply = s.recv(100)
            if reply.startswith(b"-") and not reply.startswith(b"-BUSYGROUP"):
                raise SystemExit("bench: %s failed on port %d: %r" % (args[0], port, reply))


BLOCK = re.compile(r"^====== (.+?) ======\s*$", re.M)
PERCENTILE = re.compile(r"^\s*([\d.]+)% <= ([\d.]+) milliseconds", re.M)
THROUGHPUT = re.compile(r"throughput summary: ([\d.]+) requests per second")


def parse_output(text: str) -> dict[str, tuple[float, float, float, float]]:
    """redis-benchmark's full report -> test -> (requests/s, p50, p99, p99.9 ms).

    Each percentile is the first line of the "Latency by percentile distribution" at or
    above it (redis-benchmark prints percentiles at halving steps: 99.902% stands for
    p99.9), an upper bound within the histogram's precision.
    """
    text = text.replace("\r", "\n")
    marks = list(BLOCK.finditer(text))
    result = {}
    for i, mark in enumerate(marks):
        body = text[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        rps = THROUGHPUT.search(body)
        points = [
            (float(p), float(ms))
            for p, ms in PERCENTILE.findall(body.split("Cumulative distribution")[0])
        ]
        if rps is None or not points:
            continue

        def at(target: float, points: list[tuple[float, float]] = points) -> float:
            return next((ms for p, ms in points if p >= target), points[-1][1])

        result[mark.group(1).strip()] = (float(rps.group(1)), at(50.0), at(99.0), at(99.9))
    return result


def run_benchmark(
    port: int, args: argparse.Namespace, pipeline: int
) -> dict[str, tuple[float, float, float, float]]:
    """test -> (requests/s, p50 ms, p99 ms, p99.9 ms)."""
    load_scripts(port)
    base = [
        "redis-benchmark",
        "-p",
        str(port),
        "-n",
        str(args.n),
        "-c",
        str(args.c),
        "-P",
        str(pipeline),
        "-r",
        "1000000",
        "-d",
        str(args.d),
    ]
    runs = [["-t", args.tests]] if args.tests else []
    runs += [line.split() for line in args.commands.split(";") if line.strip()]
    result: dict[str, tuple[float, float, float, float]] = {}
    for extra in runs:
        out = subprocess.run(base + extra, check=True, capture_output=True, text=True).stdout
        result.update(parse_output(out))
    return result


SHA = re.compile(r"\b[0-9a-f]{40}\b")


def label(test: str) -> str:
    """A test's name for the table: script digests cut to 8 digits, at most 40 chars."""
    name = SHA.sub(lambda m: m.group(0)[:8], test)
    return name if len(name) <= 40 else name[:39] + "…"


def chart(table: list[tuple[str, int, str, str, float]], title: str, path: str) -> None:
    """One panel per (appendfsync, -P): a bar per test and engine, the ratio to Redis."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit(
            "bench: --chart needs matplotlib (in the test extras: pip install -e '.[test]')"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(f, p) for f, p, _, _, _ in table}, key=lambda k: (k[0], k[1]))
    engines = sorted({e for _, _, e, _, _ in table})
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.2 * len(panels)), squeeze=False)
    for ax, (fsync, pipeline) in zip(axes[:, 0], panels, strict=True):
        tests = list(dict.fromkeys(t for f, p, _, t, _ in table if (f, p) == (fsync, pipeline)))
        width = 0.8 / max(1, len(engines))
        for i, engine in enumerate(engines):
            ratios = {t: r for f, p, e, t, r in table if (f, p, e) == (fsync, pipeline, engine)}
            ax.bar(
                [x + i * width for x in range(len(tests))],
                [ratios.get(t, 0.0) for t in tests],
                width,
                label=engine,
            )
        ax.set_xticks([x + width * (len(engines) - 1) / 2 for x in range(len(tests))])
        ax.set_xticklabels(
            [t.split(" (")[0][:18] for t in tests], rotation=30, ha="right", fontsize=8
        )
        ax.set_ylabel("diskredis / redis")
        ax.set_title("appendfsync %s, -P %d" % (fsync, pipeline), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("\n".join(textwrap.wrap(title, 150)), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--suite",
        choices=sorted(SUITES),
        default="strings",
        help="which tests and commands (default: %(default)s)",
    )
    parser.add_argument(
        "--tests", default=None, help="redis-benchmark -t list (default: the suite's)"
    )
    parser.add_argument(
        "--commands",
        default=None,
        help="command lines to benchmark, separated by ';' (default: the suite's)",
    )
    parser.add_argument("-n", type=int, default=100000, help="requests per test")
    parser.add_argument("-c", type=int, default=50, help="parallel connections")
    parser.add_argument("-d", type=int, default=100, help="value size in bytes")
    parser.add_argument("--pipelines", default="1,16", help="pipeline depths (-P)")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--fsync", default="always,everysec", help="appendfsync modes")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds per configuration, alternating the servers; the "
        "table shows medians (default 3)",
    )
    parser.add_argument("--markdown", help="also write the table to this Markdown file")
    parser.add_argument("--chart", help="also draw the ratios as a PNG chart in this file")
    args = parser.parse_args(argv)
    suite_tests, suite_commands = SUITES[args.suite]
    args.tests = suite_tests if args.tests is None else args.tests
    args.commands = suite_commands if args.commands is None else args.commands
    if shutil.which("redis-benchmark") is None:
        raise SystemExit("bench: redis-benchmark not found; install Debian's redis-tools")
    title = (
        "redis-benchmark -t %s %s-n %d -c %d -d %d -r 1000000, %d rounds alternating "
        "the servers, medians"
        % (
            args.tests,
            "and '%s' " % args.commands if args.commands else "",
            args.n,
            args.c,
            args.d,
            args.rounds,
        )
    )
    print("# " + title)
    print(
        "%-9s %3s %-8s %-40s %9s %9s %6s %13s %13s %13s"
        % (
            "fsync",
            "-P",
            "engine",
            "test",
            "redis rps",
            "diskredis",
            "ratio",
            "p50 ms r/d",
            "p99 ms r/d",
            "p99.9 ms r/d",
        )
    )
    md = [
        "`%s`" % title,
        "",
        "| fsync | -P | engine | test | redis rps | diskredis rps | "
        "ratio | p50 ms redis / diskredis | p99 ms | p99.9 ms |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    engines = args.engines.split(",")
    table: list[tuple[str, int, str, str, float]] = []
    for fsync in args.fsync.split(","):
        for pipeline in (int(p) for p in args.pipelines.split(",")):
            seen: dict[str, dict[str, list[tuple[float, ...]]]] = {}
            for round_no in range(args.rounds):
                for kind, engine in [("redis", "")] + [("diskredis", e) for e in engines]:
                    print(
                        "\r  fsync %s -P %d round %d/%d: %-18s"
                        % (fsync, pipeline, round_no + 1, args.rounds, engine or "redis-server"),
                        end="",
                        file=sys.stderr,
                        flush=True,
                    )
                    with server(kind, fsync, engine, args) as port:
                        got = run_benchmark(port, args, pipeline)
                    for test, row in got.items():
                        seen.setdefault(engine, {}).setdefault(test, []).append(row)
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)
            ref = seen.get("", {})
            for engine in engines:
                for test, rows in ref.items():
                    mine = seen.get(engine, {}).get(test, [])
                    r = [_median([x[i] for x in rows]) for i in range(4)]
                    d = [_median([x[i] for x in mine]) for i in range(4)]
                    ratio = d[0] / r[0] if r[0] else 0.0
                    name = label(test)
                    table.append((fsync, pipeline, engine, name, ratio))
                    print(
                        "%-9s %3d %-8s %-40s %9.0f %9.0f %6.2f %6.2f/%-6.2f %6.2f/%-6.2f "
                        "%6.2f/%-6.2f"
                        % (
                            fsync,
                            pipeline,
                            engine,
                            name,
                            r[0],
                            d[0],
                            ratio,
                            r[1],
                            d[1],
                            r[2],
                            d[2],
                            r[3],
                            d[3],
                        ),
                        flush=True,
                    )
                    md.append(
                        "| %s | %d | %s | %s | %.0f | %.0f | %.2f | %.2f / %.2f | "
                        "%.2f / %.2f | %.2f / %.2f |"
                        % (
                            fsync,
                            pipeline,
                            engine,
                            name,
                            r[0],
                            d[0],
                            ratio,
                            r[1],
                            d[1],
                            r[2],
                            d[2],
                            r[3],
                            d[3],
                        )
                    )
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(md) + "\n")
    if args.chart:
        chart(table, title, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
