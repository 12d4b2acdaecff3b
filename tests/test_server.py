"""The server process: malformed protocol, pipelining, limits, sockets, signals, start-up
configuration, and the real redis-cli and redis-benchmark against it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, Diff, RawClient, ServerProc, free_port, start_diskredis

# Malformed requests: both servers answer with the same error and close the connection.
MALFORMED = [
    b"*1\r\n$4\r\nPING\r\nxyz\r\n*x\r\n",
    b"*-5\r\n*1\r\n$4\r\nPING\r\n*x\r\n",
    b"*1\r\n$-1\r\n",
    b"*1\r\n$x\r\n",
    b"*1\r\n+PING\r\n",
    b"*1\r\n$2147483648\r\n",
    b"*1\r\n$536870913\r\n",
    b"*1048577\r\n",
    b"*2147483648\r\n",
    b"*99999999999999999999\r\n",
    b"*1\r\n$4\r\nPINGXX\r\n",
    b'"unbalanced\r\n',
    b"echo 'a'b\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n:1\r\n",
    b"x" * 70000,
    b"*" + b"1" * 70000,
    b"*1\r\n$" + b"1" * 70000,
    b"*1\r\n*1\r\n$4\r\nPING\r\n",  # nested, typed: requests are arrays of bulk strings
    b"*2\r\n$4\r\nECHO\r\n%1\r\n",
    b"*1\r\n" + b"*1\r\n" * 1000,
    b"*1\r\n:1\r\n",
    b"*1\r\n_\r\n",
]


@pytest.mark.parametrize("data", MALFORMED, ids=lambda d: repr(d[:30]))
def test_malformed_request_error_and_close(diff: Diff, data: bytes) -> None:
    for c in (diff.ours, diff.theirs):
        c.send(data)
        c.sock.shutdown(socket.SHUT_WR)  # so a request left incomplete ends too
    ours, theirs = _drain(diff.ours), _drain(diff.theirs)
    assert ours == theirs


def _drain(client: RawClient) -> bytes:
    """Everything the server sends until it closes the connection."""
    out = client.buf
    client.buf = b""
    while True:
        try:
            chunk = client.sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            return out
        if not chunk:
            return out
        out += chunk


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.sampled_from(
            [
                b"*",
                b"$",
                b"\r\n",
                b"1",
                b"2",
                b"-1",
                b"0",
                b"PING",
                b"+",
                b"\r",
                b"\n",
                b" ",
                b'"',
                b"'",
                b"99999999999",
                b"\x00",
                b"x",
                b"\xff",
            ]
        ),
        min_size=1,
        max_size=25,
    )
)
def test_fuzzed_bytes_never_crash(dr: ServerProc, oracle: ServerProc, parts: list[bytes]) -> None:
    data = b"".join(parts) + b"\r\n"
    got = []
    for sp in (dr, oracle):
        c = RawClient(sp.port, timeout=10)
        c.send(data + b"*1\r\n$4\r\nPING\r\n")
        c.sock.shutdown(socket.SHUT_WR)  # end of input: the server answers, then closes
        got.append(_drain(c))
        c.close()
    assert got[0] == got[1]
    assert dr.alive()
    assert RawClient(dr.port).command("PING") == b"+PONG\r\n"


@pytest.mark.parametrize("marker", [b"~", b">", b"%", b"|", b"+", b"=", b"("])
def test_resp3_markers_after_a_request_are_inline_commands(
    dr: ServerProc, oracle: ServerProc, marker: bytes
) -> None:
    """After a request, only '*' starts a multibulk: what Redis reads as inline commands
    must not reach hiredis's fast path as a RESP3 aggregate or string."""
    data = b"*1\r\n$4\r\nPING\r\n" + marker + b"1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"
    got = []
    for sp in (dr, oracle):
        c = RawClient(sp.port, timeout=10)
        c.send(data)
        c.sock.shutdown(socket.SHUT_WR)
        got.append(_drain(c))
        c.close()
    assert got[0] == got[1]
    assert got[0].startswith(b"+PONG\r\n-ERR unknown command")


def test_protocol_error_leaves_other_clients_alone(dr: ServerProc) -> None:
    good = dr.raw()
    bad = dr.raw()
    bad.send(b"*1\r\n$x\r\n")
    assert _drain(bad) == b"-ERR Protocol error: invalid bulk length\r\n"
    assert good.command("PING") == b"+PONG\r\n"


def test_pipeline_of_many_commands(dr: ServerProc) -> None:
    c = dr.raw()
    n = 5000
    c.send(b"".join(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(n)))
    for i in range(n):
        assert c.reply() == b"$%d\r\n%d\r\n" % (len(str(i)), i)


def test_pipeline_longer_than_the_read_ahead(dr: ServerProc) -> None:
    """A client that pipelines megabytes without reading: the server reads ahead only
    a bounded amount while a unit runs, and every reply still comes, in order."""
    c = dr.raw(timeout=60)
    value = b"v" * 100
    n = 40_000
    c.send(
        b"".join(
            b"*3\r\n$3\r\nSET\r\n$%d\r\nra:%d\r\n$100\r\n%s\r\n" % (len(b"ra:%d" % i), i, value)
            for i in range(n)
        )
    )
    for _ in range(n):
        assert c.reply() == b"+OK\r\n"
    assert c.command("GET", "ra:%d" % (n - 1)) == b"$100\r\n" + value + b"\r\n"
    c.command("DEL", *["ra:%d" % i for i in range(n)])


def test_half_closed_client_is_answered(diff: Diff) -> None:
    """A client that sends and shuts its side (echo ... | nc) gets every reply, then
    the connection ends, as from Redis."""
    for c in (diff.ours, diff.theirs):
        c.send(b"SET hc 1\r\nINCR hc\r\nGET hc\r\nDEL hc\r\n")
        c.sock.shutdown(socket.SHUT_WR)
    assert _drain(diff.ours) == _drain(diff.theirs) == b"+OK\r\n:2\r\n$1\r\n2\r\n:1\r\n"


@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix"])
def test_commands_of_a_client_that_hangs_up_still_run(dr_factory: Any, unix: bool) -> None:
    """Writes sent just before a close are applied, as Redis reads what came before the
    end of the stream (a unix socket reports the hang-up at once, with the data)."""
    path = os.path.join(tempfile.mkdtemp(prefix="drsock-"), "d.sock")
    sp = dr_factory("--unixsocket", path)
    for i in range(20):
        c = RawClient(unix=path) if unix else sp.raw()
        c.send(b"RPUSH gone %d\r\n" % i)
        c.close()
    check = sp.raw()
    for _ in range(20_000):  # the server sees the closes asynchronously
        if check.command("LLEN", "gone") == b":20\r\n":
            break
    # Each client's push arrives whole; the order across clients is the kernel's.
    assert sorted(sp.client().lrange("gone", 0, -1), key=int) == [b"%d" % i for i in range(20)]


def test_inline_commands_as_telnet_sends_them(diff: Diff) -> None:
    diff.raw(b"PING\r\n")
    diff.raw(b"echo \"a\\x41\\n\" 'b c'\n")
    diff.raw(b"\r\n\r\nPING\r\n")
    diff.raw(b"  ECHO   x  \r\nECHO y\r\n", replies=2)


def test_big_argument(dr: ServerProc) -> None:
    c = dr.client()
    value = os.urandom(8 * 1024 * 1024)
    assert c.echo(value) == value


def test_maxclients(dr_factory: Any) -> None:
    sp = dr_factory("--maxclients", "2")
    a = sp.raw()
    assert a.command("PING") == b"+PONG\r\n"
    b = _connect_when_free(sp)  # the start-up probe's connection may still be counted
    c = sp.raw()
    assert _drain(c) == b"-ERR max number of clients reached\r\n"
    b.close()
    assert _connect_when_free(sp).command("PING") == b"+PONG\r\n"


def _connect_when_free(sp: ServerProc) -> RawClient:
    """A connection that got in: the server notices closed ones asynchronously."""
    for _ in range(20_000):
        d = sp.raw()
        if d.command("PING") == b"+PONG\r\n":
            return d
    raise AssertionError("a freed slot was never reused")


def test_idle_timeout_closes_connection(dr_factory: Any) -> None:
    sp = dr_factory("--timeout", "1")
    c = RawClient(sp.port, timeout=30)
    assert c.command("PING") == b"+PONG\r\n"
    assert _drain(c) == b""  # closed by the server, no reply


def test_timeout_spares_subscribers_and_blocked_clients(
    dr_factory: Any, oracle: ServerProc
) -> None:
    """`timeout` closes idle clients, not subscribers nor clients blocked in BLPOP (both
    servers, the same clients)."""
    ours = dr_factory("--timeout", "1")
    admin = oracle.raw()
    assert admin.command("CONFIG", "SET", "timeout", "1") == b"+OK\r\n"
    try:
        for sp in (ours, oracle):
            sub, blocked, idle = (RawClient(sp.port, timeout=30) for _ in range(3))
            sub.command("SUBSCRIBE", "ch")
            blocked.send(b"BLPOP tq 0\r\n")
            assert idle.command("PING") == b"+PONG\r\n"
            assert _drain(idle) == b""  # closed by the server: idle for over a second
            pusher = sp.raw()
            assert pusher.command("RPUSH", "tq", "x") == b":1\r\n"
            assert blocked.reply() == b"*2\r\n$2\r\ntq\r\n$1\r\nx\r\n"
            assert pusher.command("PUBLISH", "ch", "m") == b":1\r\n"
            assert sub.reply() == b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n"
    finally:  # a fresh connection: the first one idled past the timeout
        oracle.raw().command("CONFIG", "SET", "timeout", "0")


def test_unix_socket(dr_factory: Any) -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="drsock-"), "d.sock")
    sp = dr_factory("--unixsocket", path, "--unixsocketperm", "700")
    assert oct(os.stat(path).st_mode & 0o777) == "0o700"
    c = RawClient(unix=path)
    assert c.command("PING") == b"+PONG\r\n"
    assert b" addr=" + path.encode() + b":0 " in c.command("CLIENT", "INFO")
    assert b"flags=U" in c.command("CLIENT", "INFO")
    sp.stop()
    assert not os.path.exists(path)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(dr_factory: Any, sig: int) -> None:
    sp = dr_factory()
    c = sp.raw()
    assert c.command("PING") == b"+PONG\r\n"
    sp.proc.send_signal(sig)
    assert sp.proc.wait(30) == 0
    assert c.closed()
    log = sp.log()
    assert "Received SIG" in log and "ready to exit" in log


def rotate_log(sp: ServerProc) -> tuple[Path, Path]:
    """Rename the server's log away and send SIGHUP; return (log, rotated) once the
    server has logged the reopening into a new file of the log's name."""
    logfile = Path(sp.dir) / "server.log"
    rotated = logfile.with_suffix(".log.1")
    logfile.rename(rotated)
    sp.proc.send_signal(signal.SIGHUP)
    c = sp.raw()
    for _ in range(100_000):  # until the server logged the reopening (bounded, no sleep)
        if logfile.exists() and "Received SIGHUP" in logfile.read_text():
            break
        assert c.command("PING") == b"+PONG\r\n"
    assert "Received SIGHUP" in logfile.read_text()
    return logfile, rotated


def test_sighup_reopens_the_log_file(dr_factory: Any) -> None:
    """Log rotation: after the log is renamed away, SIGHUP makes the server write to a new
    file of the configured name; the server keeps serving."""
    sp = dr_factory()
    logfile, rotated = rotate_log(sp)
    assert "Received SIGHUP" not in rotated.read_text()
    sp.proc.send_signal(signal.SIGTERM)
    assert sp.proc.wait(30) == 0
    assert "ready to exit" in logfile.read_text()


def test_fatal_signal_leaves_the_stacks_in_the_log(dr_factory: Any) -> None:
    """A fatal error in native code ends the process without a Python exception; the log
    still says what every thread was running (also after SIGHUP moved it)."""
    sp = dr_factory()
    logfile, _ = rotate_log(sp)
    sp.proc.send_signal(signal.SIGABRT)
    assert sp.proc.wait(30) == -signal.SIGABRT
    text = logfile.read_text()
    assert "Fatal Python error: Aborted" in text
    assert 'diskredis/cli.py", line' in text  # the main thread's stack, with its frames


def test_shutdown_abort_and_flags(dr_factory: Any) -> None:
    sp = dr_factory()
    c = sp.raw()
    assert c.command("SHUTDOWN", "ABORT") == b"-ERR No shutdown in progress.\r\n"
    c.send(b"*4\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n$3\r\nNOW\r\n$5\r\nFORCE\r\n")
    assert _drain(c) == b""  # no reply: the server is gone
    assert sp.proc.wait(30) == 0


def _req(*args: str) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args)


def _stopped_by(sp: ServerProc, *shutdown: str) -> str:
    """Write a key and send SHUTDOWN `shutdown` in the same unit; the server exits 0 with
    no reply; its log."""
    c = sp.raw()
    c.send(_req("SET", "during", " ".join(shutdown) or "-") + _req("SHUTDOWN", *shutdown))
    assert _drain(c) == b""  # held with its client, as Redis exits inside the command
    assert sp.proc.wait(30) == 0
    return sp.log()


def _replayed(c: Any) -> int | None:
    """The log records the LMDB engine replayed at opening (None on LevelDB)."""
    value = c.info("storage").get("wal_replayed_records")
    return None if value is None else int(value)


def test_shutdown_saves_as_its_flags_and_the_save_points_say(dr_factory: Any) -> None:
    """finishShutdown: SAVE, or save points without NOSAVE, save (here a checkpoint: the
    restart has no log to replay); NOSAVE exits without, and the restart replays the log.
    Nothing acknowledged is lost either way."""
    sp = dr_factory()
    folder = sp.dir
    for shutdown, save_points, saved in [
        ((), (), True),
        (("NOSAVE",), (), False),
        (("SAVE", "NOW"), ("--save", ""), True),
        ((), ("--save", ""), False),
        (("NOSAVE", "FORCE"), (), False),
    ]:
        log = _stopped_by(sp, *shutdown)
        assert ("Saving the final checkpoint before exiting." in log) == saved, log
        assert "User requested shutdown..." in log and "ready to exit" in log
        os.unlink(os.path.join(folder, "server.log"))
        sp = dr_factory(*save_points, data_dir=folder)
        c = sp.client()
        assert c.get("during") == (" ".join(shutdown) or "-").encode()
        replayed = _replayed(c)
        if replayed is not None:  # LMDB: NOSAVE left the SET in the log
            assert (replayed == 0) == saved, (shutdown, save_points, replayed)


def test_a_shutdown_that_cannot_save_answers_and_serves_on() -> None:
    """A save that fails (the disk is full) keeps the server up: SHUTDOWN gets "Errors
    trying to SHUTDOWN", the client's next request runs, every write is kept; FORCE exits
    anyway, and the restart replays the log. LMDB: its checkpoint is what needs room
    (LevelDB's save is a synced write of its own log)."""
    path = tempfile.mkdtemp(prefix="diskredis-shutdown-full-")
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", path], capture_output=True, text=True
    )
    assert out.returncode == 0, "cannot mount a tmpfs (the suite runs as root): " + out.stderr
    sp = again = None
    try:
        data = os.path.join(path, "data")
        sp = start_diskredis("lmdb", "--save", "", data_dir=data)
        c = sp.client()
        stat = os.statvfs(path)
        filler = os.path.join(path, "filler")
        with open(filler, "wb") as f:  # leave 3 MB: the log takes 2, the checkpoint can't
            f.write(b"\0" * (stat.f_bavail * stat.f_frsize - (3 << 20)))
        value = os.urandom(64 * 1024)
        pipe = c.pipeline(transaction=False)
        for i in range(30):
            pipe.set("k%d" % i, value)
        assert pipe.execute() == [True] * 30
        raw = sp.raw()
        raw.send(_req("SHUTDOWN", "SAVE") + _req("GET", "k7"))
        assert raw.reply() == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        assert raw.reply() == b"$65536\r\n" + value + b"\r\n"
        assert sp.alive()
        assert "Error trying to save the DB, can't exit" in sp.log()
        # Two clients at once (in one batch or not), and one pipelining two: every
        # SHUTDOWN is answered, then what follows it runs.
        other = sp.raw()
        other.send(_req("SHUTDOWN", "SAVE"))
        raw.send(_req("SHUTDOWN", "SAVE") + _req("SHUTDOWN", "SAVE") + _req("GET", "k3"))
        assert other.reply() == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        for _ in range(2):
            assert raw.reply() == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        assert raw.reply() == b"$65536\r\n" + value + b"\r\n"  # reads go on (PING: MISCONF)
        raw.send(_req("SHUTDOWN", "SAVE", "FORCE"))
        assert _drain(raw) == b""
        assert sp.proc.wait(30) == 0
        assert "Error trying to save the DB. Exit anyway" in sp.log()
        os.unlink(filler)
        again = start_diskredis("lmdb", data_dir=data)
        c = again.client()
        assert c.mget(["k%d" % i for i in range(30)]) == [value] * 30
        assert (_replayed(c) or 0) > 0
        raw = again.raw()
        raw.send(_req("SHUTDOWN", "SAVE"))
        assert _drain(raw) == b""
        assert again.proc.wait(30) == 0
        assert "Saving the final checkpoint before exiting." in again.log()
    finally:
        for server in (sp, again):
            if server is not None:
                server.stop()
        subprocess.run(["umount", "-l", path], check=False)
        os.rmdir(path)


def test_signals_shut_down_as_shutdown_on_sigterm_and_sigint_say(dr_factory: Any) -> None:
    sp = dr_factory("--shutdown-on-sigterm", "nosave")
    sp.client().set("k", "v")
    sp.proc.send_signal(signal.SIGTERM)
    assert sp.proc.wait(30) == 0
    log = sp.log()
    assert "Received SIGTERM scheduling shutdown..." in log and "ready to exit" in log
    assert "Saving the final checkpoint" not in log
    os.unlink(os.path.join(sp.dir, "server.log"))
    sp = dr_factory("--shutdown-on-sigint", "save now", data_dir=sp.dir)
    assert sp.client().get("k") == b"v"
    sp.proc.send_signal(signal.SIGINT)
    assert sp.proc.wait(30) == 0
    assert "Saving the final checkpoint before exiting." in sp.log()


def test_requirepass_noauth(dr_factory: Any) -> None:
    sp = dr_factory("--requirepass", "pw")
    c = sp.raw()
    assert c.command("ECHO", "x") == b"-NOAUTH Authentication required.\r\n"
    assert c.command("AUTH", "pw") == b"+OK\r\n"
    assert c.command("ECHO", "x") == b"$1\r\nx\r\n"


def test_config_set_port_rebinds(dr_factory: Any) -> None:
    sp = dr_factory()
    new = free_port()
    c = sp.raw()
    assert c.command("CONFIG", "SET", "port", str(new)) == b"+OK\r\n"
    assert RawClient(new).command("PING") == b"+PONG\r\n"
    assert c.command("PING") == b"+PONG\r\n"  # existing connections stay
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", sp.port), timeout=2).recv(1)


# -- start-up configuration -----------------------------------------------------------
def _run(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diskredis", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd or ROOT,
    )


def test_help_and_version() -> None:
    out = _run("--help")
    assert out.returncode == 0 and "Usage" in out.stdout + out.stderr
    out = _run("--version")
    assert out.returncode == 0 and "diskredis server v=0.1.0" in out.stdout
    assert "Redis 7.0.15" in out.stdout


def test_bad_config_file_names_file_line_and_directive(tmp_path: Any) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("port 0\n# comment\nmaxmemory 1xb\n")
    out = _run(str(conf))
    assert out.returncode == 1
    err = out.stderr
    assert "FATAL CONFIG FILE ERROR" in err and str(conf) in err
    assert "at line 3" in err and ">>> 'maxmemory 1xb'" in err
    assert "argument must be a memory value" in err


def test_unknown_directive_and_flag(tmp_path: Any) -> None:
    conf = tmp_path / "u.conf"
    conf.write_text("nosuch-directive yes\n")
    out = _run(str(conf))
    assert out.returncode == 1 and "Bad directive or wrong number of arguments" in out.stderr
    out = _run("--port", "x")
    assert out.returncode == 1 and "argument couldn't be parsed into an integer" in out.stderr
    assert "command line" in out.stderr.lower() or "Reading" in out.stderr


def test_config_file_and_rewrite(tmp_path: Any, engine: str) -> None:
    port = free_port()
    data = tmp_path / "data"
    conf = tmp_path / "d.conf"
    conf.write_text(
        "# mine\nport %d\ndir %s\nengine %s\nhz 20\nlist-max-listpack-size -3\n"
        % (port, data, engine)
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "diskredis", str(conf)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sp = ServerProc("diskredis", port, proc, str(data))
    try:
        from tests.conftest import _wait_ready

        _wait_ready(sp)
        c = sp.client()
        assert c.config_get("hz") == {"hz": "20"}
        assert c.config_get("list-max-listpack-size") == {"list-max-listpack-size": "-3"}
        c.config_set("maxmemory", "100mb")
        assert c.execute_command("CONFIG", "REWRITE")
        text = conf.read_text()
        assert "# mine" in text and "maxmemory 100mb" in text and "hz 20" in text
    finally:
        sp.stop()


def test_config_rewrite_without_file(dr: ServerProc) -> None:
    assert dr.raw().command("CONFIG", "REWRITE") == (
        b"-ERR The server is running without a config file\r\n"
    )


# -- the real clients ----------------------------------------------------------------
def test_redis_cli_session(dr: ServerProc) -> None:
    script = (
        "PING\nCONFIG GET maxclients\nINFO server\nHELLO 3\nCLIENT SETNAME me\nCLIENT GETNAME\n"
    )
    out = subprocess.run(
        ["redis-cli", "-p", str(dr.port)], input=script, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "PONG"
    assert "maxclients" in lines and "10000" in lines
    assert "redis_version:7.0.15" in out.stdout
    assert lines[-1] == "me"


def _redis_cli_tty(port: int, keystrokes: list[bytes]) -> bytes:
    """Drive redis-cli in a pseudo-terminal, as a person at a prompt; return what it showed.

    linenoise asks the terminal for the cursor position (ESC[6n); the answer is given.
    A keystroke group is typed whenever the screen has been quiet for a moment.
    """
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child becomes redis-cli
        os.execvp("redis-cli", ["redis-cli", "-p", str(port)])
    out = b""
    todo = list(keystrokes)
    try:
        for _ in range(400):
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                if not todo:
                    break
                os.write(fd, todo.pop(0))
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if chunk.endswith(b"\x1b[6n"):
                os.write(fd, b"\x1b[1;200R")
    finally:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return out


def test_redis_cli_interactive_start_and_hints(dr: ServerProc) -> None:
    out = _redis_cli_tty(
        dr.port,
        [b"PING\r", b"CONFIG GET maxc*\r", b"HELLO 3\r", b"CLIENT KILL ", b"\x15", b"quit\r"],
    )
    assert b"PONG" in out and b"maxclients" in out and b'"proto" => (integer) 3' in out
    # The hint redis-cli builds from COMMAND DOCS at start-up, shown after "CLIENT KILL ".
    assert b"ip:port" in out and b"ID client-id" in out
    assert b"Could not connect" not in out


def test_redis_benchmark_runs_to_completion(dr: ServerProc) -> None:
    out = subprocess.run(
        [
            "redis-benchmark",
            "-p",
            str(dr.port),
            "-t",
            "ping_inline,ping_mbulk",
            "-n",
            "2000",
            "-c",
            "20",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "PING_INLINE" in out.stdout and "PING_MBULK" in out.stdout
    assert "requests per second" in out.stdout


def test_info_storage_counts_batches_and_write_commits(dr_factory: Any) -> None:
    """INFO storage shows the group commit: batches run, the client units they held, and
    the commits that wrote. One client waiting for each reply puts one unit in each
    batch; reads commit nothing. A server of its own: on a shared one, keys other tests
    left to expire or to reclaim are written away in batches of their own, between these
    (the counts were off by one now and then)."""
    c = dr_factory().client()

    def counts() -> tuple[int, int, int]:
        s = c.info("storage")
        return (
            int(s["lane_batches"]),
            int(s["lane_batched_clients"]),
            int(s["lane_write_commits"]),
        )

    b0, u0, w0 = counts()  # INFO itself is a unit of the next batch
    for i in range(10):
        c.set("batch:%d" % i, i)
    b1, u1, w1 = counts()
    assert (u1 - u0, w1 - w0) == (11, 10) and b1 - b0 >= 11
    for i in range(10):
        assert c.get("batch:%d" % i) == b"%d" % i
    b2, u2, w2 = counts()
    assert (u2 - u1, w2 - w1) == (11, 0) and b2 - b1 >= 11
    pipe = c.pipeline(transaction=False)
    for _ in range(50):
        pipe.incr("batch:n")
    pipe.execute()  # one read, so one unit and one commit (more if the kernel split it)
    _, u3, w3 = counts()
    assert u3 - u2 >= 2 and 1 <= w3 - w2 <= u3 - u2 - 1
