"""The benchmark entry points run end to end and report what they claim (tiny runs:
the numbers are not judged here, only that every row, latency column and chart is
produced; speed is measured by running the tools themselves)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from diskredis.engines import ENGINES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))

import run  # noqa: E402


def test_parse_output_reads_throughput_and_percentiles() -> None:
    text = (
        "\r====== SET ======\n  2000 requests completed in 0.04 seconds\n"
        "Latency by percentile distribution:\n"
        "0.000% <= 0.015 milliseconds (cumulative count 1)\n"
        "50.000% <= 0.055 milliseconds (cumulative count 1187)\n"
        "99.219% <= 0.159 milliseconds (cumulative count 1986)\n"
        "99.902% <= 0.935 milliseconds (cumulative count 1999)\n"
        "100.000% <= 0.951 milliseconds (cumulative count 2000)\n\n"
        "Cumulative distribution of latencies:\n"
        "99.950% <= 0.103 milliseconds (cumulative count 1946)\n"
        "Summary:\n  throughput summary: 51282.05 requests per second\n"
        "====== EVALSHA " + "ab" * 20 + " 1 k ======\n"
        "Latency by percentile distribution:\n"
        "100.000% <= 2.000 milliseconds (cumulative count 10)\n"
        "Summary:\n  throughput summary: 10.00 requests per second\n"
    )
    got = run.parse_output(text)
    assert got["SET"] == (51282.05, 0.055, 0.159, 0.935)
    assert got["EVALSHA " + "ab" * 20 + " 1 k"] == (10.0, 2.0, 2.0, 2.0)
    assert run.label("EVALSHA " + "ab" * 20 + " 1 k") == "EVALSHA abababab 1 k"


def test_full_suite_runs_from_one_command(tmp_path: str) -> None:
    md, png = os.path.join(tmp_path, "t.md"), os.path.join(tmp_path, "t.png")
    out = subprocess.run(
        [
            sys.executable,
            "tools/bench/run.py",
            "--suite",
            "full",
            "-n",
            "300",
            "-c",
            "10",
            "--rounds",
            "1",
            "--pipelines",
            "1",
            "--fsync",
            "everysec",
            "--engines",
            ",".join(ENGINES),
            "--markdown",
            md,
            "--chart",
            png,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[2:]]
    for engine in ENGINES:
        tests = {" ".join(r[3:-6]) for r in rows if r[2] == engine}
        for want in (
            "PING_MBULK",
            "SET",
            "GET",
            "INCR",
            "MSET (10 keys)",
            "LPUSH",
            "RPOP",
            "SADD",
            "SPOP",
            "HSET",
            "ZADD",
            "LRANGE_100 (first 100 elements)",
            "XADD bench:stream * field __rand_int__",
            "EVALSHA %s 1 rate:__rand_int__ 60" % run.RATE_LIMITER_SHA[:8],
        ):
            assert want in tests, (want, tests)
    for r in rows:
        assert float(r[-5]) > 0 and float(r[-6]) > 0  # diskredis and redis requests/s
        for pair in r[-3:]:  # p50, p99, p99.9 of each side, in order
            redis_ms, mine_ms = (float(x) for x in pair.split("/"))
            assert redis_ms >= 0 and mine_ms > 0
        p = [[float(x) for x in pair.split("/")] for pair in r[-3:]]
        assert p[0][1] <= p[1][1] <= p[2][1]
    with open(md) as f:
        table = f.read()
    assert table.count("\n| everysec | 1 |") == len(rows)
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_larger_than_ram_runs_every_phase(tmp_path: str) -> None:
    png = os.path.join(tmp_path, "rss.png")
    out = subprocess.run(
        [
            sys.executable,
            "tools/bench/big_data.py",
            "--keys",
            "3000",
            "--seconds",
            "0.4",
            "--hot-keys",
            "100",
            "--maxmemory",
            "1mb",
            "--clients",
            "5",
            "--chart",
            png,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[2:]]
    assert [(r[0], " ".join(r[1:-4])) for r in rows] == [
        (e, p) for e in ENGINES for p in ("uniform", "zipf", "all hot")
    ]
    for r in rows:
        gets, hit_rate, total, private = float(r[-4]), float(r[-3][:-1]), float(r[-2]), float(r[-1])
        assert gets > 0 and 0 <= hit_rate <= 100 and total >= private > 0
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_restart_times_every_engine_and_redis_loading_the_same_data() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "tools/bench/restart.py",
            "--keys",
            "2000",
            "--engines",
            ",".join(("redis", *ENGINES)),
            "--repeat",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows] == [
        ("redis", "2000"),
        *((e, keys) for e in ENGINES for keys in ("0", "2000")),
    ]
    for r in rows:
        assert 0 < float(r[3]) <= float(r[4])
    assert float(rows[0][2]) > 0  # the RDB file redis-server made and loaded


def test_replication_times_every_pair_beside_redis_to_redis() -> None:
    out = subprocess.run(
        [sys.executable, "tools/bench/replication.py", "--keys", "2000", "--writes", "2000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    rows = [line.strip("|").split("|") for line in out.stdout.splitlines() if line[:2] == "| "]
    pairs = [r[0].strip() for r in rows[1:]]
    assert pairs == [
        "redis-server -> redis-server",
        *(
            pair
            for e in ENGINES
            for pair in (
                "diskredis (%s) -> redis-server" % e,
                "redis-server -> diskredis (%s)" % e,
            )
        ),
    ]
    for r in rows[1:]:
        full, ratio, rate = float(r[1]), float(r[2]), float(r[3])
        assert full > 0 and ratio > 0 and rate > 0
    assert float(rows[1][2]) == 1.0  # the reference's own ratio


def test_hot_path_counts_bytecodes_by_layer() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "tools/bench/hot_path.py",
            "--opcodes",
            "--tests",
            "get,set",
            "--clients",
            "5",
            "--passes",
            "4",
            "--pipeline",
            "4",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    heads = [line for line in out.stdout.splitlines() if not line.startswith(" ")]
    assert [h.split(":")[0] for h in heads] == ["get", "set"], out.stdout
    for head in heads:
        m = re.match(r"\w+: (\d+) bytecodes and ([\d.]+) Python calls per request$", head)
        assert m and int(m.group(1)) > 100 and float(m.group(2)) > 5, head
    rows = out.stdout.splitlines()
    # each request goes through dispatch and the keyspace
    layers = [r.split("calls", 1)[1].strip() for r in rows if r.startswith("  ") and "calls" in r]
    assert "dispatch: lookup, checks, statistics" in layers
    assert "keyspace, hot cache, records" in layers
    assert any("execute" in r for r in rows)


def test_hot_path_measures_every_test_on_both_engines() -> None:
    for engine in ENGINES:
        out = subprocess.run(
            [
                sys.executable,
                "tools/bench/hot_path.py",
                "--tests",
                "get,set,incr,ping,lpush,hset,zadd",
                "--clients",
                "5",
                "--passes",
                "5",
                "--rounds",
                "1",
                "--engine",
                engine,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        rows = [line.split() for line in out.stdout.splitlines()]
        assert [r[0] for r in rows] == ["get", "set", "incr", "ping", "lpush", "hset", "zadd"]
        for r in rows:
            assert float(r[1]) > 0 and r[2] == "µs" and "(%s," % engine in r


def _table(*argv: str) -> list[list[str]]:
    """Run a bench; the rows of its table (after the comment and the heading)."""
    out = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    return [line.split() for line in out.stdout.splitlines()[2:]]


def test_big_values_times_every_command_on_every_server() -> None:
    rows = _table("tools/bench/big_values.py", "--mb", "2", "-n", "3000")
    servers = ["redis-server"] + ["diskredis %s" % e for e in ENGINES]
    assert [(" ".join(r[:-5]), r[-5], r[-4]) for r in rows] == [
        (s, v, c)
        for s in servers
        for v in ("string", "zset")
        for c in ("DUMP", "RESTORE", "MIGRATE")
    ]
    for r in rows:
        seconds, p99, worst = float(r[-3]), float(r[-2]), float(r[-1])
        assert seconds >= 0 and 0 <= p99 <= worst


def test_compaction_shrinks_every_server_beside_redis_rewriting_its_aof() -> None:
    rows = _table("tools/bench/compaction.py", "--mb", "20", "--keep", "10")
    servers = ["redis-server"] + ["diskredis %s" % e for e in ENGINES]
    assert [" ".join(r[:-6]) for r in rows] == servers
    for r in rows:
        before, after, took, p99, worst = (float(x) for x in r[-6:-1])
        assert after < before / 2, r  # 90 % deleted: the files give most of it back
        assert took >= 0 and 0 <= p99 <= worst
