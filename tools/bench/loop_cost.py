"""What the event loop costs: PING, SET and GET through minimal servers and diskredis.

Usage: python tools/bench/loop_cost.py [-n 100000] [-c 50] [-P 1] [--tests ping_mbulk,set,get]

The minimal servers parse with hiredis and answer PING, SET and GET from a plain dict
(no durability): the ceiling of the stack, against which diskredis's hot path is
judged.
1. a bare trio server on raw non-blocking sockets, a task per client;
2. the same server handing each read's requests to a worker thread and back
   (a queue and `run_sync_soon`, as diskredis once handed units to its lane);
3. one trio task over an epoll set of every client socket (trio waits on the set's
   descriptor): how diskredis's reactor drives connections;
4. diskredis (LMDB, defaults, so SET waits for its fsync);
and redis-server beside them for scale. Each is measured with
`redis-benchmark -t <tests> -c 50 -P <depth> -d 100 -r 1000000`.
"""

from __future__ import annotations

import argparse
import os
import queue
import socket
import subprocess
import sys
import threading
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))

from run import free_port, wait_ping  # noqa: E402


def answer(reader: Any, data: bytes, store: dict[bytes, bytes]) -> bytes:
    """The replies to the requests in `data`: PING, SET key value and GET key."""
    if data[:1] != b"*":  # an inline PING (the start-up probe)
        return b"+PONG\r\n" * data.count(b"\n")
    out = []
    reader.feed(data)
    while (req := reader.gets()) is not False:
        name = req[0].upper()
        if name == b"GET":
            v = store.get(req[1])
            out.append(b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v))
        elif name == b"SET":
            store[req[1]] = req[2]
            out.append(b"+OK\r\n")
        else:
            out.append(b"+PONG\r\n")
    return b"".join(out)


def _listener(port: int) -> socket.socket:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(512)
    listener.setblocking(False)
    return listener


def bare_server(port: int, hop: bool) -> None:
    """Answer PINGs on `port`, optionally through a worker thread."""
    import hiredis
    import trio

    store: dict[bytes, bytes] = {}

    async def handle(sock: socket.socket, token: Any, work: queue.SimpleQueue[Any]) -> None:
        reader = hiredis.Reader()
        while True:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(sock)
                continue
            if not data:
                sock.close()
                return
            if hop:
                done = trio.Event()
                item: list[Any] = [(reader, data), b"", done]
                work.put(item)
                await done.wait()
                out = item[1]
            else:
                out = answer(reader, data, store)
            while out:
                try:
                    out = out[sock.send(out) :]
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(sock)

    def worker(token: Any, work: queue.SimpleQueue[Any]) -> None:
        while True:
            batch = [work.get()]
            while True:
                try:
                    batch.append(work.get_nowait())
                except queue.Empty:
                    break
            for item in batch:
                item[1] = answer(*item[0], store)
            token.run_sync_soon(lambda b=batch: [i[2].set() for i in b])

    async def main() -> None:
        work: queue.SimpleQueue[Any] = queue.SimpleQueue()
        token = trio.lowlevel.current_trio_token()
        if hop:
            threading.Thread(target=worker, args=(token, work), daemon=True).start()
        listener = _listener(port)
        async with trio.open_nursery() as nursery:
            while True:
                await trio.lowlevel.wait_readable(listener)
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                nursery.start_soon(handle, conn, token, work)

    trio.run(main)


def reactor_server(port: int) -> None:
    """Answer PINGs on `port` from one task over an epoll set (see the docstring)."""
    import select

    import hiredis
    import trio

    async def main() -> None:
        listener = _listener(port)
        ep = select.epoll()
        ep.register(listener.fileno(), select.EPOLLIN)
        conns: dict[int, tuple[socket.socket, Any]] = {}
        store: dict[bytes, bytes] = {}
        while True:
            await trio.lowlevel.wait_readable(ep.fileno())
            for fd, _ in ep.poll(0):
                if fd == listener.fileno():
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    conns[conn.fileno()] = (conn, hiredis.Reader())
                    ep.register(conn.fileno(), select.EPOLLIN)
                    continue
                sock, reader = conns[fd]
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    ep.unregister(fd)
                    sock.close()
                    del conns[fd]
                    continue
                out = answer(reader, data, store)
                while out:  # rarely more than the socket buffer takes at once
                    try:
                        out = out[sock.send(out) :]
                    except BlockingIOError:
                        await trio.lowlevel.wait_writable(sock)

    trio.run(main)


def measure(cmd: list[str], port: int, args: argparse.Namespace) -> dict[str, float]:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_ping(port, proc, " ".join(cmd[:3]))
        except SystemExit:
            assert proc.stderr is not None
            sys.stderr.write(proc.stderr.read().decode(errors="replace"))
            raise
        out = subprocess.run(
            [
                "redis-benchmark",
                "-p",
                str(port),
                "-t",
                args.tests,
                "-n",
                str(args.n),
                "-c",
                str(args.c),
                "-P",
                str(args.P),
                "-d",
                "100",
                "-r",
                "1000000",
                "--csv",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows = [line.split(",") for line in out.strip().splitlines()[1:]]
        return {row[0].strip('"'): float(row[1].strip('"')) for row in rows}
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100000)
    parser.add_argument("-c", type=int, default=50)
    parser.add_argument("-P", type=int, default=1, help="pipeline depth (redis-benchmark -P)")
    parser.add_argument(
        "--tests",
        default="ping_mbulk,set,get",
        help="redis-benchmark -t list (only PING, SET and GET mean anything "
        "to the minimal servers)",
    )
    parser.add_argument("--serve", choices=["bare", "hop", "reactor"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "reactor":
        reactor_server(args.port)
        return 0
    if args.serve:
        bare_server(args.port, args.serve == "hop")
        return 0
    me = os.path.abspath(__file__)
    rows = []
    for name, make in [
        ("redis-server", lambda p: ["redis-server", "--port", str(p), "--save", ""]),
        (
            "trio, raw sockets, answers itself",
            lambda p: [sys.executable, me, "--serve", "bare", "--port", str(p)],
        ),
        (
            "the same + worker-thread hand-off",
            lambda p: [sys.executable, me, "--serve", "hop", "--port", str(p)],
        ),
        (
            "trio, one task over epoll",
            lambda p: [sys.executable, me, "--serve", "reactor", "--port", str(p)],
        ),
        (
            "diskredis (lmdb)",
            lambda p: [
                sys.executable,
                "-m",
                "diskredis",
                "--port",
                str(p),
                "--dir",
                "/tmp/loop-cost-%d" % p,
            ],
        ),
    ]:
        port = free_port()
        rows.append((name, measure(make(port), port, args)))
    tests = list(rows[0][1])
    print(
        "# redis-benchmark -t %s -n %d -c %d -P %d -d 100 -r 1000000, requests/s (ratio "
        "to redis-server)" % (args.tests, args.n, args.c, args.P)
    )
    print("%-36s" % "" + "".join("%18s" % t for t in tests))
    for name, got in rows:
        print(
            "%-36s" % name
            + "".join(
                "%10.0f (%4.2f)" % (got.get(t, 0.0), got.get(t, 0.0) / rows[0][1][t]) for t in tests
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
