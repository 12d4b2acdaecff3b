"""The cost of diskredis's request path in one process, with no load generator.

Usage: python tools/bench/hot_path.py [--tests get,set,incr,ping,lpush,hset,zadd]
                                      [--clients 50] [--pipeline 1] [--passes 200]
                                      [--engine lmdb|leveldb] [--callgrind]

A server (the real `Server`, on a fresh folder, `appendfsync no` so that no fsync is
timed) gets its clients through socket pairs. Each pass sends one request per client
(or `--pipeline N` requests in one write, as redis-benchmark -P N), then does what the
event loop does for a pass: the reactor reads every ready socket,
the lane runs the batch, the replies are written; then every client reads its reply.
So everything of a request but the TCP stack and trio's wait is measured: reader,
dispatch, the command, the keyspace, the cache, the engine, the reply. The SETs of a
warm-up pass store the keys every test then draws (GET finds them in the hot cache);
a reply that is an error stops the run.

Times on a shared machine move by 10 % from run to run. With `--callgrind` the tool
runs itself under valgrind's callgrind twice (without and with the measured passes)
and prints the difference in instructions per request, which is the same from run to
run: the measure for comparing two versions of the code (run it in each tree). With
`--opcodes` it counts, with `sys.settrace`, the bytecodes each request runs and the
Python calls it makes, by layer of diskredis and by function: where a request's
instructions go (the interpreter's cost is spread over them).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from diskredis.engines import ENGINES  # noqa: E402

_VALUE = b"x" * 100
_KEYSPACE = 100_000  # keys are drawn from this many (redis-benchmark -r 100000)
TESTS = ("get", "set", "incr", "ping", "lpush", "hset", "zadd")


def _request(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def _requests(test: str, n: int, rng: random.Random) -> list[bytes]:
    keys = [b"key:%012d" % rng.randrange(_KEYSPACE) for _ in range(n)]
    if test == "set":
        return [_request(b"SET", k, _VALUE) for k in keys]
    if test == "get":
        return [_request(b"GET", k) for k in keys]
    if test == "incr":
        return [_request(b"INCR", b"counter:" + k[4:]) for k in keys]  # not SET's keys
    if test == "ping":
        return [_request(b"PING")] * n
    # As redis-benchmark's rows: one collection, random members.
    if test == "lpush":
        return [_request(b"LPUSH", b"mylist", _VALUE)] * n
    if test == "hset":
        return [_request(b"HSET", b"myhash", b"element:" + k[4:], _VALUE) for k in keys]
    if test == "zadd":
        return [
            _request(b"ZADD", b"myzset", b"%d" % rng.randrange(_KEYSPACE), b"element:" + k[4:])
            for k in keys
        ]
    raise SystemExit("hot_path: unknown test %r (%s)" % (test, ", ".join(TESTS)))


#: Layers of diskredis by module path (the first that matches), for --opcodes.
LAYERS = (
    ("diskredis/server/lane.py", "lane: batches, units, replies"),
    ("diskredis/resp/writer.py", "lane: batches, units, replies"),
    ("diskredis/server/", "server: read, parse, deliver"),
    ("diskredis/resp/", "server: read, parse, deliver"),
    ("diskredis/commands/dispatch.py", "dispatch: lookup, checks, statistics"),
    ("diskredis/commands/registry.py", "dispatch: lookup, checks, statistics"),
    ("diskredis/commands/", "the command's handler"),
    ("diskredis/keyspace/", "keyspace, hot cache, records"),
    ("diskredis/storage/", "storage engine and log"),
    ("<string>", "keyspace, hot cache, records"),
)  # dataclass __init__ (Meta)


def _layer(filename: str) -> str:
    path = filename.replace(os.sep, "/")
    for prefix, name in LAYERS:
        if prefix in path:
            return name
    return "other (trio, standard library)"


class OpcodeCounter:
    """A `sys.settrace` tracer counting bytecodes and calls per function."""

    def __init__(self) -> None:
        self.opcodes: collections.Counter[tuple[str, str]] = collections.Counter()
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()

    def __call__(self, frame: types.FrameType, event: str, arg: object) -> OpcodeCounter:
        code = frame.f_code
        where = (
            code.co_filename,
            "%s:%d %s" % (os.path.basename(code.co_filename), code.co_firstlineno, code.co_name),
        )
        if event == "call":
            self.calls[where] += 1
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        elif event == "opcode":
            self.opcodes[where] += 1
        return self

    def report(self, test: str, n: int, top: int = 12) -> str:
        layers: collections.Counter[str] = collections.Counter()
        layer_calls: collections.Counter[str] = collections.Counter()
        for (filename, _), count in self.opcodes.items():
            layers[_layer(filename)] += count
        for (filename, _), count in self.calls.items():
            layer_calls[_layer(filename)] += count
        total = sum(self.opcodes.values())
        lines = [
            "%s: %.0f bytecodes and %.1f Python calls per request"
            % (test, total / n, sum(self.calls.values()) / n)
        ]
        for name, count in layers.most_common():
            lines.append("  %7.0f  %4.1f calls  %s" % (count / n, layer_calls[name] / n, name))
        lines.append("  functions:")
        for where, count in self.opcodes.most_common(top):
            lines.append("  %7.1f  %4.2f calls  %s" % (count / n, self.calls[where] / n, where[1]))
        return "\n".join(lines)


def measure(
    tests: list[str],
    clients: int,
    passes: int,
    engine: str,
    rounds: int,
    pipeline: int = 1,
    tracer: OpcodeCounter | None = None,
) -> dict[str, float]:
    """Best µs per request of `rounds` runs of `passes` passes, per test. With `tracer`,
    each test's measured runs go through it (a fresh one per test is the caller's)."""
    import hiredis
    import trio

    from diskredis.config import from_argv
    from diskredis.server.app import Server

    folder = tempfile.mkdtemp(prefix="diskredis-hot-path-")
    result: dict[str, float] = {}

    async def main() -> None:
        config = from_argv(
            ["--dir", folder, "--engine", engine, "--appendfsync", "no", "--port", "0"]
        )
        server = Server(config)
        server.token = trio.lowlevel.current_trio_token()
        ends = []
        for _ in range(clients):
            ours, theirs = socket.socketpair()
            server._handle_socket(theirs)
            ends.append(ours)
        # Made before anything is measured (callgrind's baseline makes them too). Every
        # test draws the same keys: GET finds what the first SETs stored (the hot path).
        n = passes * clients * pipeline
        prepared = {
            t: [b"".join(r[i : i + pipeline]) for i in range(0, n, pipeline)]
            for t, r in ((t, _requests(t, n, random.Random(1))) for t in ["set", *tests])
        }
        readers = [hiredis.Reader() for _ in ends]

        def run(test: str, warm_up: bool = False) -> float:
            trace = None if warm_up else tracer
            requests = prepared[test]
            started = time.perf_counter()
            i = 0
            for _ in range(passes):
                for end in ends:
                    end.send(requests[i])
                    i += 1
                if trace is not None:
                    sys.settrace(trace)
                server.reactor.poll_once()
                units, server._gathered = server._gathered, []
                server._deliver(server.lane.run_batch(units))
                if trace is not None:
                    sys.settrace(None)
                for end, reader in zip(ends, readers, strict=True):
                    got = 0
                    while got < pipeline:
                        reply = end.recv(65536)
                        reader.feed(reply)
                        while (r := reader.gets()) is not False:
                            if isinstance(r, hiredis.ReplyError) or not reply:
                                raise SystemExit("hot_path: %s got %r" % (test, r))
                            got += 1
            return (time.perf_counter() - started) / n * 1e6

        run("set", warm_up=True)  # the keys exist, the cache holds them
        for test in tests:
            times = [run(test) for _ in range(rounds)]
            result[test] = min(times) if times else 0.0
        server.reactor.close_all()
        server.engine.close()

    try:
        trio.run(main)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _instructions(args: argparse.Namespace, test: str, rounds: int) -> int:
    """Instructions callgrind counts for the whole run with `rounds` measured runs."""
    if shutil.which("valgrind") is None:
        raise SystemExit("hot_path: --callgrind needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=" + out,
            sys.executable,
            os.path.abspath(__file__),
            "--tests",
            test,
            "--clients",
            str(args.clients),
            "--passes",
            str(args.passes),
            "--pipeline",
            str(args.pipeline),
            "--engine",
            args.engine,
            "--rounds",
            str(rounds),
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            for line in f:
                m = re.match(r"(?:summary|totals): (\d+)", line)
                if m:
                    return int(m.group(1))
    raise SystemExit("hot_path: callgrind wrote no totals")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="The cost of diskredis's request path, in one process: µs per "
        "request, or instructions per request with --callgrind."
    )
    p.add_argument("--tests", default="get,set", help="comma-separated, of: " + ", ".join(TESTS))
    p.add_argument("--clients", type=int, default=50, help="clients, one request each per pass")
    p.add_argument(
        "--pipeline",
        type=int,
        default=1,
        help="requests each client sends in one write per pass (redis-benchmark -P)",
    )
    p.add_argument("--passes", type=int, default=200, help="passes per measured run")
    p.add_argument("--engine", default="lmdb", choices=tuple(ENGINES))
    p.add_argument("--rounds", type=int, default=5, help="measured runs (the best is shown)")
    p.add_argument(
        "--callgrind",
        action="store_true",
        help="count instructions under valgrind (slow: about 2 minutes a test)",
    )
    p.add_argument(
        "--opcodes",
        action="store_true",
        help="count the bytecodes and Python calls of a request, by layer and "
        "by function (sys.settrace; one run of the passes)",
    )
    args = p.parse_args(argv)
    tests = [t for t in args.tests.split(",") if t]
    n = args.passes * args.clients * args.pipeline
    if args.opcodes:
        for test in tests:
            counter = OpcodeCounter()
            measure(
                [test], args.clients, args.passes, args.engine, 1, args.pipeline, tracer=counter
            )
            print(counter.report(test, n), flush=True)
        return 0
    if args.callgrind:
        for test in tests:
            per = (_instructions(args, test, 1) - _instructions(args, test, 0)) // n
            print(
                f"{test:5} {per:8d} instructions per request ({args.engine}, "
                f"{args.clients} clients, pipeline {args.pipeline}, {args.passes} passes)"
            )
        return 0
    for test, us in measure(
        tests, args.clients, args.passes, args.engine, args.rounds, args.pipeline
    ).items():
        print(
            f"{test:5} {us:8.2f} µs per request ({args.engine}, best of {args.rounds} runs "
            f"of {args.passes} passes, {args.clients} clients, pipeline {args.pipeline})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
