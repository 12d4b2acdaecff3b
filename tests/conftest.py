"""Test kit: real servers on ephemeral ports, and the differential helper.

- `dr` / `dr_factory`: diskredis started as a subprocess (``python -m diskredis``)
  on a free port, once per engine (the `engine` parametrisation).
- `oracle`: the real redis-server 7.0 (Debian's package) on a free port.
- `diff`: sends the same raw commands to both and compares the replies byte for byte.
- `node` / `clock`: the in-process tier (tests/inproc.py): commands on a keyspace over a
  temporary engine, in the test's process, with a clock that stands still until moved.

Nothing here sleeps for a fixed time: start-up waits on a bounded poll of PING.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hiredis
import pytest
import redis

from diskredis.engines import ENGINES as REGISTERED_ENGINES
from diskredis.keyspace import clock as keyspace_clock
from tests.inproc import Clock, Node

ROOT = Path(__file__).resolve().parent.parent
ENGINES = list(REGISTERED_ENGINES)  # every test of a server runs on each engine
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RawClient:
    """A socket speaking raw RESP: send bytes, read whole replies as raw bytes."""

    def __init__(
        self, port: int | None = None, *, unix: str | None = None, timeout: float = 10.0
    ) -> None:
        if unix:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(timeout)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, *args: Any) -> bytes:
        self.send(encode_command(args))
        return self.reply()

    def reply(self) -> bytes:
        """Read exactly one reply; return its raw bytes."""
        while True:
            reader = hiredis.Reader(notEnoughData=Ellipsis)
            reader.feed(self.buf)
            got = reader.gets()
            if got is not Ellipsis:
                size = _reply_size(self.buf)
                raw, self.buf = self.buf[:size], self.buf[size:]
                return raw
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed while waiting for a reply; got %r" % self.buf)
            self.buf += chunk

    def closed(self) -> bool:
        """True once the server has closed the connection (after any pending bytes)."""
        try:
            chunk = self.sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return True
        if chunk:
            self.buf += chunk
            return False
        return True

    def close(self) -> None:
        self.sock.close()


def _reply_size(buf: bytes) -> int:
    """Length of the first complete RESP reply in `buf` (RESP2 and RESP3)."""
    pos = 0

    def one(pos: int) -> int:
        kind = buf[pos : pos + 1]
        end = buf.index(b"\r\n", pos)
        head = buf[pos + 1 : end]
        pos = end + 2
        if kind in (b"$", b"=", b"!"):
            n = int(head)
            return pos if n < 0 else pos + n + 2
        if kind in (b"*", b"~", b">"):
            n = int(head)
            for _ in range(max(n, 0)):
                pos = one(pos)
            return pos
        if kind in (b"%", b"|"):
            for _ in range(2 * int(head)):
                pos = one(pos)
            return one(pos) if kind == b"|" else pos
        return pos

    return one(pos)


def encode_command(args: Any) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def blocked_client(sp: ServerProc, *args: Any) -> RawClient:
    """A client that sent `args` and now waits, in a blocking command or held by CLIENT
    PAUSE (CLIENT LIST shows flags=b)."""
    c = RawClient(sp.port, timeout=30)
    my_id = int(c.command("CLIENT", "ID")[1:-2])
    c.send(encode_command(args))
    admin = sp.raw()
    for _ in range(100_000):
        listing = admin.command("CLIENT", "LIST", "ID", my_id)
        if b"flags=b" in listing:
            admin.close()
            return c
    raise AssertionError("the client never blocked")


@dataclass
class ServerProc:
    """A server process on a port; `client()` gives a redis-py client to it."""

    kind: str
    port: int
    proc: subprocess.Popen[bytes]
    dir: str
    args: list[str] = field(default_factory=list)
    unix: str | None = None
    stderr_log: str | None = None  # the file its stderr goes to

    def client(self, **kw: Any) -> redis.Redis:
        kw.setdefault("socket_timeout", 20)
        return redis.Redis(port=self.port, **kw)

    def raw(self, **kw: Any) -> RawClient:
        return RawClient(self.port, **kw)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.stderr_log and os.path.exists(self.stderr_log):
            os.unlink(self.stderr_log)
        return self.proc.returncode

    def log(self) -> str:
        """The server's log file, then what it wrote to stderr (a Python traceback or a
        fatal signal's report lands there, not in the log)."""
        out = []
        for path in (Path(self.dir) / "server.log", self.stderr_log):
            if path and os.path.exists(path):
                out.append(Path(path).read_text(errors="replace"))
        return "\n".join(out)


def _wait_ready(sp: ServerProc) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    delay = 0.01
    while time.monotonic() < deadline:
        if sp.proc.poll() is not None:
            raise RuntimeError("%s exited with %s:\n%s" % (sp.kind, sp.proc.returncode, sp.log()))
        try:
            with socket.create_connection(("127.0.0.1", sp.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(100):
                    return
        except OSError:
            pass
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    sp.stop()
    raise RuntimeError(
        "%s did not answer PING within %ss:\n%s" % (sp.kind, START_TIMEOUT, sp.log())
    )


def start_diskredis(
    engine: str = "lmdb",
    *extra: str,
    port: int | None = None,
    data_dir: str | None = None,
    wait: bool = True,
    env: dict[str, str] | None = None,
    conf: str | None = None,
) -> ServerProc:
    """`conf`: a configuration file, given first (as redis-server takes it)."""
    port = port or free_port()
    d = data_dir or tempfile.mkdtemp(prefix="diskredis-test-")
    args = [
        sys.executable,
        "-m",
        "diskredis",
        *([conf] if conf else []),
        "--port",
        str(port),
        "--dir",
        d,
        "--engine",
        engine,
        "--enable-debug-command",
        "yes",
        "--logfile",
        os.path.join(d, "server.log"),
        *extra,
    ]
    # stderr goes to a file: a pipe nobody reads would block the server once full
    fd, err = tempfile.mkstemp(prefix="diskredis-stderr-", suffix=".log")
    with os.fdopen(fd, "wb") as f:
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=f,
            env=None if env is None else {**os.environ, **env},
        )
    sp = ServerProc("diskredis", port, proc, d, args, stderr_log=err)
    if wait:
        _wait_ready(sp)
    return sp


def oracle_argv(flavor: str, role: str = "server") -> list[str]:
    """The command line of an oracle's server or CLI: `redis7` is Debian's redis-server
    7.0; `valkey8` and `redis8` come from tools/oracles.py (fetched once, cached). The
    test fails, saying why, when the oracle cannot be had."""
    if flavor == "redis7":
        exe = shutil.which("redis-server" if role == "server" else "redis-cli")
        if exe is None:
            pytest.fail("redis-server (the oracle) is not installed: run ./dev test")
        return [exe]
    tool = os.path.join(os.path.dirname(__file__), "..", "tools", "oracles.py")
    proc = subprocess.run(
        [sys.executable, tool, "argv", flavor, role], capture_output=True, text=True
    )
    if proc.returncode:
        pytest.fail("the %s oracle is not available: %s" % (flavor, proc.stderr.strip()))
    argv: list[str] = json.loads(proc.stdout)
    return argv


def start_oracle(*extra: str, flavor: str = "redis7") -> ServerProc:
    """An oracle server (see `oracle_argv`) on a free port, nothing saved unless asked."""
    port = free_port()
    d = tempfile.mkdtemp(prefix="%s-oracle-" % flavor)
    args = [
        *oracle_argv(flavor),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        d,
        "--enable-debug-command",
        "yes",
        "--logfile",
        os.path.join(d, "server.log"),
        *extra,
    ]
    fd, err = tempfile.mkstemp(prefix="redis-oracle-stderr-", suffix=".log")
    with os.fdopen(fd, "wb") as f:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f)
    kind = "redis-server" if flavor == "redis7" else flavor
    sp = ServerProc(kind, port, proc, d, args, stderr_log=err)
    _wait_ready(sp)
    return sp


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def cache_mode(request: pytest.FixtureRequest) -> str:
    """ "cache" (the default hot cache) or "no-cache" (`maxmemory 1`: nothing fits)."""
    return str(getattr(request, "param", "cache"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules that set BOTH_CACHES run their server tests with the hot cache on and off."""
    if "cache_mode" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_CACHES", False):
        metafunc.parametrize("cache_mode", ["cache", "no-cache"], indirect=True, scope="session")


@pytest.fixture(scope="session")
def dr(engine: str, cache_mode: str) -> Iterator[ServerProc]:
    """A diskredis server shared by the tests of a session (one per engine and cache
    mode)."""
    sp = start_diskredis(engine, *(("--maxmemory", "1") if cache_mode == "no-cache" else ()))
    yield sp
    sp.stop()
    shutil.rmtree(sp.dir, ignore_errors=True)


_EXITS_REPORTED: dict[int, str] = {}  # port of a shared server gone -> what it left


@pytest.fixture(autouse=True)
def _shared_servers_survive(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that used a shared server: if it has exited, the first test to
    see it (the one during which it exited) says so with the server's log and stderr;
    later ones name that test and repeat the end of the log (CI shows only the last
    failures) instead of only failing with "connection refused"."""
    yield
    for name in ("dr", "oracle"):
        if name not in request.fixturenames:
            continue
        sp = request.getfixturevalue(name)
        if sp.alive():
            continue
        first = _EXITS_REPORTED.get(sp.port)
        if first is not None:
            pytest.fail("the shared %s on port %d %s" % (sp.kind, sp.port, first), pytrace=False)
        tail = sp.log()[-6000:]
        _EXITS_REPORTED[sp.port] = "exited (code %s) during %s; its log ended:\n%s" % (
            sp.proc.returncode,
            request.node.nodeid,
            tail[-2500:],
        )
        pytest.fail(
            "the shared %s exited (code %s) during this test; its log ends:\n%s"
            % (sp.kind, sp.proc.returncode, tail),
            pytrace=False,
        )


@pytest.fixture
def dr_factory(engine: str) -> Iterator[Any]:
    """Start dedicated diskredis servers (stopped at the end of the test)."""
    started: list[ServerProc] = []

    def make(*extra: str, **kw: Any) -> ServerProc:
        sp = start_diskredis(engine, *extra, **kw)
        started.append(sp)
        return sp

    yield make
    for sp in started:
        sp.stop()
        shutil.rmtree(sp.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def oracle() -> Iterator[ServerProc]:
    sp = start_oracle()
    yield sp
    sp.stop()
    shutil.rmtree(sp.dir, ignore_errors=True)


_MASKS = [
    (re.compile(rb"(\$2\r\nid\r\n:)\d+"), rb"\1?"),
    (
        re.compile(
            rb"\b(id|addr|laddr|fd|age|idle|qbuf|qbuf-free|argv-mem|obl|oll|omem|tot-mem"
            rb"|multi-mem|events|redir|rbs|rbp)=\S*"
        ),
        rb"\1=?",
    ),
    (re.compile(rb"\$\d+\r\n"), rb"$?\r\n"),
    (re.compile(rb"=\d+\r\ntxt:"), rb"=?\r\ntxt:"),
]


def _mask(reply: bytes) -> bytes:
    for pattern, repl in _MASKS:
        reply = pattern.sub(repl, reply)
    return reply


@contextlib.contextmanager
def oracle_password(oracle: ServerProc, password: str) -> Iterator[None]:
    """The oracle with `requirepass` set for the block, then back to none."""
    admin = oracle.raw()
    assert admin.command("CONFIG", "SET", "requirepass", password) == b"+OK\r\n"
    try:
        yield
    finally:
        admin.command("AUTH", password)
        admin.command("CONFIG", "SET", "requirepass", "")
        admin.close()


class Diff:
    """Send the same commands to diskredis and to Redis; compare raw replies."""

    def __init__(self, ours: RawClient, theirs: RawClient) -> None:
        self.ours = ours
        self.theirs = theirs

    def __call__(self, *args: Any) -> bytes:
        a = self.ours.command(*args)
        b = self.theirs.command(*args)
        assert a == b, "%r:\n  diskredis: %r\n  redis:     %r" % (args, a, b)
        return a

    def raw(self, data: bytes, replies: int = 1) -> list[bytes]:
        self.ours.send(data)
        self.theirs.send(data)
        out = []
        for _ in range(replies):
            a, b = self.ours.reply(), self.theirs.reply()
            assert a == b, "%r:\n  diskredis: %r\n  redis:     %r" % (data, a, b)
            out.append(a)
        return out

    def masked(self, *args: Any) -> bytes:
        """Like a call, with the connection-specific parts of replies (ids, addresses,
        ages, fds) masked out of both before they are compared."""
        a, b = (_mask(r) for r in self.both(*args))
        assert a == b, "%r:\n  diskredis: %r\n  redis:     %r" % (args, a, b)
        return a

    def unordered(self, *args: Any) -> Any:
        """Like a call, for replies whose order is a hash table's (CONFIG GET with a glob):
        flat arrays of pairs and maps are compared as dicts."""
        parsed = []
        for raw in self.both(*args):
            reader = hiredis.Reader()
            reader.feed(raw)
            value = reader.gets()
            if isinstance(value, list):
                value = dict(zip(value[::2], value[1::2], strict=True))
            parsed.append(value)
        assert parsed[0] == parsed[1], "%r:\n  diskredis: %r\n  redis:     %r" % (args, *parsed)
        return parsed[0]

    def both(self, *args: Any) -> tuple[bytes, bytes]:
        return self.ours.command(*args), self.theirs.command(*args)


@pytest.fixture
def kdiff(diff: Diff) -> Iterator[Diff]:
    """The differential helper with both servers emptied first."""
    diff("FLUSHALL")
    yield diff


@pytest.fixture
def diff(dr: ServerProc, oracle: ServerProc) -> Iterator[Diff]:
    ours, theirs = dr.raw(), oracle.raw()
    yield Diff(ours, theirs)
    ours.close()
    theirs.close()


# -- replies whose order Redis leaves open ----------------------------------------------
def _parse(raw: bytes) -> Any:
    r = hiredis.Reader()
    r.feed(raw)
    return r.gets()


def _as_set(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(repr(v) for v in value)
    if isinstance(value, dict):
        return sorted(value.items())
    return value


def unordered(d: Diff, *args: Any) -> None:
    raw_ours, raw_theirs = d.both(*args)
    if raw_ours.startswith(b"-") or raw_theirs.startswith(b"-"):
        assert raw_ours == raw_theirs, args
        return
    ours, theirs = _parse(raw_ours), _parse(raw_theirs)
    assert _as_set(ours) == _as_set(theirs), "%r:\n  diskredis: %r\n  redis:     %r" % (
        args,
        ours,
        theirs,
    )


def run_steps(d: Diff, steps: list[tuple[Any, ...]], unordered_cmds: set[str]) -> None:
    """Send each step to both servers: byte-exact, or as sets for `unordered_cmds`."""
    for args in steps:
        if args[0] in unordered_cmds:
            unordered(d, *args)
        else:
            d(*args)


# -- the in-process tier (tests/inproc.py) ----------------------------------------------
@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The keyspace's wall clock, standing still until the test moves it."""
    c = Clock()
    monkeypatch.setattr(keyspace_clock, "clock", c)
    return c


@pytest.fixture
def node(engine: str, clock: Clock) -> Iterator[Node]:
    """A keyspace over a fresh folder of each engine, commands run in-process."""
    n = Node(engine)
    yield n
    n.close()
