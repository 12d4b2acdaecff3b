"""Coverage-guided fuzzing (atheris) of the request reader and of a running server.

Usage:
    python tools/fuzz.py reader [-t SECONDS] [corpus dir]
    python tools/fuzz.py server [-t SECONDS] [--engine lmdb|leveldb] [corpus dir]

`reader` feeds each input to `RequestReader` in pieces cut where the input says, with
authentication required or not, and checks what must hold for every byte string: the
reader never raises, returns only argument vectors of bytes, and splitting the input
differently changes nothing (same requests, same error). `server` starts diskredis,
sends each input on a fresh connection (a request stream, in pieces), and checks that
the server still answers PING on another connection and that its memory stays bounded.
libFuzzer prints its statistics at the end, `server` also a line every 2,000 inputs
(inputs run, peak memory); a problem stops the run with the input that caused it
(atheris writes it to crash-<sha1>).

atheris is not a dependency of diskredis: `pip install atheris` in the environment that
runs this (it is not needed for `--help`).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
_MAX_RSS = 512 << 20  # a server that grows past this while fuzzed has a leak


def _pieces(data: bytes) -> tuple[bool, list[bytes]]:
    """(auth required, the input cut into pieces): the first byte chooses the mode and
    the piece sizes, the rest is the stream."""
    if not data:
        return False, []
    mode, body = data[0], data[1:]
    size = (mode >> 1) % 17 + 1
    return bool(mode & 1), [body[i : i + size] for i in range(0, len(body), size)]


def _read_all(pieces: list[bytes], auth: bool) -> tuple[list[list[bytes]], str | None, bool]:
    from diskredis.resp.reader import RequestReader

    reader = RequestReader(max_bulk_len=1 << 20, max_query_buffer=4 << 20)
    reader.auth_required = auth
    out: list[list[bytes]] = []
    for piece in pieces:
        reader.feed(piece)
        while True:
            got = reader.pop()
            if not got:
                break
            out += got
    assert all(type(r) is list and all(type(a) is bytes for a in r) for r in out), out
    return out, reader.error, reader.overflow


def _resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


# Seeds for an empty corpus: each starts with the mode byte (see `_pieces`).
_SEEDS = [
    b"\x00" + _resp(b"SET", b"k", b"v") + _resp(b"GET", b"k"),
    b"\x07" + _resp(b"MULTI") + _resp(b"INCR", b"n") + _resp(b"EXEC"),
    b"\x10" + _resp(b"EVAL", b"return redis.call('get', KEYS[1])", b"1", b"k"),
    b"\x02" + _resp(b"SUBSCRIBE", b"c") + _resp(b"PING"),
    b"\x05" + _resp(b"HELLO", b"3") + _resp(b"HSET", b"h", b"f", b"v") + _resp(b"HGETALL", b"h"),
    b"\x09" + b'PING\r\nECHO "a b"\r\n',
    b"\x0b" + _resp(b"XADD", b"s", b"*", b"f", b"v") + _resp(b"XRANGE", b"s", b"-", b"+"),
    b"\x03" + _resp(b"ZADD", b"z", b"1", b"a") + _resp(b"ZRANGE", b"z", b"0", b"-1"),
    b"\x01" + _resp(b"AUTH", b"x") + _resp(b"CLIENT", b"LIST"),
    b"\x04" + _resp(b"SETRANGE", b"k", b"100", b"x") + _resp(b"BITCOUNT", b"k"),
]


def _die_with_parent() -> None:
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def fuzz_reader(data: bytes) -> None:
    auth, pieces = _pieces(data)
    split = _read_all(pieces, auth)
    whole = _read_all([b"".join(pieces)], auth)
    assert split == whole, (split, whole)


class _Server:
    def __init__(self, engine: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="diskredis-fuzz-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "diskredis",
                "--port",
                str(self.port),
                "--dir",
                self.dir,
                "--engine",
                engine,
                "--logfile",
                os.path.join(self.dir, "server.log"),
                "--proto-max-bulk-len",
                "1048576",
                "--client-query-buffer-limit",
                "4mb",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )  # libFuzzer ends the run with exit()
        self.started = time.monotonic()
        self.inputs = 0
        self.peak = 0
        for _ in range(300):
            if self.ping():
                return
            time.sleep(0.05)
        raise SystemExit("the server did not start; see %s/server.log" % self.dir)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16) == b"+PONG\r\n"
        except OSError:
            return False

    def rss(self) -> int:
        with open("/proc/%d/statm" % self.proc.pid) as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def send(self, data: bytes) -> None:
        _, pieces = _pieces(data)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                for piece in pieces:
                    s.sendall(piece)
                s.shutdown(socket.SHUT_WR)
                while s.recv(1 << 16):
                    pass
        except OSError:
            pass  # the server may close on bad input: what matters is that it lives
        self.inputs += 1
        if self.inputs % 20 == 0:
            assert self.proc.poll() is None, "the server exited"
            assert self.ping(), "the server stopped answering PING"
            self.peak = max(self.peak, self.rss())
            assert self.peak < _MAX_RSS, "the server grew to %d bytes" % self.peak
        if self.inputs % 2000 == 0:
            print(
                "server: %d inputs in %.0f s, peak RSS %.1f MB, answering PING"
                % (self.inputs, time.monotonic() - self.started, self.peak / 1e6),
                file=sys.stderr,
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Needs atheris (pip install atheris).",
    )
    parser.add_argument("target", choices=("reader", "server"))
    parser.add_argument("corpus", nargs="?", help="a folder of seed inputs (kept and grown)")
    parser.add_argument(
        "-t", "--seconds", type=int, default=60, help="how long to fuzz (default 60)"
    )
    parser.add_argument("--engine", default="lmdb", choices=("lmdb", "leveldb"))
    args = parser.parse_intermixed_args(argv)
    import atheris

    if args.target == "server":
        server = _Server(args.engine)
        target = server.send
    else:
        with atheris.instrument_imports():
            import diskredis.quoting
            import diskredis.resp.reader  # noqa: F401
        target = fuzz_reader
    libfuzzer = [
        sys.argv[0],
        "-max_total_time=%d" % args.seconds,
        "-max_len=4096",
        "-print_final_stats=1",
    ]
    if args.corpus:
        os.makedirs(args.corpus, exist_ok=True)
        if not os.listdir(args.corpus):
            for i, seed in enumerate(_SEEDS):
                with open(os.path.join(args.corpus, "seed-%d" % i), "wb") as f:
                    f.write(seed)
        libfuzzer.append(args.corpus)
    atheris.Setup(libfuzzer, target)
    atheris.Fuzz()  # ends the process (libFuzzer's exit) when the time is up
    return 0


if __name__ == "__main__":
    sys.exit(main())
