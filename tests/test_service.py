"""Running as a service: the systemd unit checked by systemd's own `systemd-analyze
verify`, the readiness protocol (`supervised systemd`: sd_notify datagrams on a socket
the test listens on; `supervised upstart`: the stop upstart waits for), the logrotate
configuration run by the real logrotate against a running server, and
`diskredis-server --check-config`. On both engines where a server runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, ServerProc, _wait_ready, start_diskredis

UNIT = Path(ROOT) / "tools" / "systemd" / "diskredis.service"
LOGROTATE = Path(ROOT) / "tools" / "systemd" / "diskredis.logrotate"
SAMPLE_CONF = Path(ROOT) / "tools" / "systemd" / "diskredis.conf"
SERVER = str(Path(sys.executable).parent / "diskredis-server")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is not installed: run ./dev test, which installs it" % name)
    return path


# -- the unit file ----------------------------------------------------------------------
def test_the_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """The shipped unit, with its paths pointed at this checkout's server (verify checks
    that the programs exist), has no directive systemd refuses or warns about."""
    venv = str(Path(sys.executable).parent.parent)
    text = UNIT.read_text().replace("/opt/diskredis", venv)
    unit = tmp_path / "diskredis.service"
    unit.write_text(text)
    out = subprocess.run(
        [_tool("systemd-analyze"), "verify", str(unit)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "", out.stderr
    for line in ("Type=notify", "--supervised systemd", "LimitNOFILE=65535", "--check-config"):
        assert line in text


def test_the_sample_configuration_is_valid() -> None:
    out = subprocess.run(
        [SERVER, "--check-config", str(SAMPLE_CONF)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "is valid: engine lmdb, data in /var/lib/diskredis" in out.stdout


# -- --check-config ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("port 7000\nnosuch yes\n", "Bad directive or wrong number of arguments"),
        ("cluster-enabled yes\n", "does not run as a cluster node"),
        ("appendfsync sometimes\n", "argument(s) must be one of"),
        ("include /nonexistent/other.conf\n", "Can't open the included file"),
    ],
)
def test_check_config_refuses_what_a_start_would_refuse(
    tmp_path: Path, text: str, said: str
) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    out = subprocess.run([SERVER, "--check-config", str(conf)], capture_output=True, text=True)
    assert out.returncode == 1 and said in out.stderr, out.stderr
    started = subprocess.run(
        [SERVER, str(conf), "--port", "0", "--dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 1 and said in started.stderr  # the same refusal
    assert not (tmp_path / "d").exists()


def test_check_config_takes_options_and_creates_nothing(tmp_path: Path) -> None:
    conf = tmp_path / "ok.conf"
    conf.write_text("port 7000\nunixsocket %s/s.sock\n" % tmp_path)
    data = tmp_path / "data"
    out = subprocess.run(
        [SERVER, "--check-config", str(conf), "--dir", str(data), "--engine", "leveldb"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "engine leveldb, data in %s" % data in out.stdout
    assert "port 7000 and %s/s.sock" % tmp_path in out.stdout
    assert not data.exists()
    missing = subprocess.run([SERVER, "--check-config"], capture_output=True, text=True)
    assert missing.returncode == 1 and "needs the configuration file" in missing.stderr


# -- readiness -------------------------------------------------------------------------
class Listener:
    """A NOTIFY_SOCKET, as systemd opens one for a Type=notify service."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + path[1:] if path.startswith("@") else path)
        self.sock.settimeout(0.2)
        self.lines: list[str] = []

    def until(self, line: str, timeout: float = 30.0) -> list[str]:
        """Every line received, once `line` is among them."""
        deadline = time.monotonic() + timeout
        while line not in self.lines:
            if time.monotonic() > deadline:
                pytest.fail("no %r from the server; it sent %r" % (line, self.lines))
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.lines += data.decode().splitlines()
        return self.lines

    def close(self) -> None:
        self.sock.close()


def _start(engine: str, tmp: Path, *extra: str, env: dict[str, str]) -> ServerProc:
    """A server in `tmp`/data, not waited for; its log is `_log(tmp)`."""
    return start_diskredis(engine, *extra, data_dir=str(tmp / "data"), wait=False, env=env)


def _log(tmp: Path) -> str:
    return (tmp / "data" / "server.log").read_text()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[Listener]:
    lst = Listener(str(tmp_path / "notify.sock"))
    yield lst
    lst.close()


def test_systemd_hears_loading_ready_and_stopping(
    engine: str, tmp_path: Path, notify: Listener
) -> None:
    """`daemonize yes` too: a supervised server stays in the foreground, as redis-server."""
    sp = _start(
        engine,
        tmp_path,
        "--supervised",
        "systemd",
        "--daemonize",
        "yes",
        env={"NOTIFY_SOCKET": notify.path},
    )
    try:
        lines = notify.until("READY=1")
        assert lines == [
            "STATUS=diskredis is loading...",
            "STATUS=Ready to accept connections",
            "READY=1",
        ]
        _wait_ready(sp)
        assert sp.proc.poll() is None  # not forked away
        assert "Supervised by systemd" in _log(tmp_path)
        sp.client().shutdown(nosave=True)
        assert notify.until("STOPPING=1")[-1] == "STOPPING=1"
        assert sp.proc.wait(timeout=30) == 0
    finally:
        sp.stop()


def test_a_replica_tells_systemd_of_its_sync(engine: str, tmp_path: Path, dr_factory: Any) -> None:
    """`supervised auto` finds the socket (abstract, named with @) by itself."""
    primary = dr_factory()
    primary.client().set("k", "v")
    notify = Listener("@diskredis-test-%d" % os.getpid())
    sp = _start(
        engine,
        tmp_path,
        "--supervised",
        "auto",
        "--replicaof",
        "127.0.0.1",
        str(primary.port),
        env={"NOTIFY_SOCKET": notify.path},
    )
    try:
        lines = notify.until(
            "STATUS=MASTER <-> REPLICA sync: Finished with success. Ready to accept "
            "connections in read-write mode."
        )
        assert lines[1:3] == [
            "STATUS=Ready to accept connections in read-only mode. Waiting for MASTER "
            "<-> REPLICA sync",
            "READY=1",
        ]
        assert sp.client().get("k") == b"v"
    finally:
        sp.stop()
        notify.close()


def test_systemd_requested_without_a_socket_is_said_and_not_supervised(
    engine: str, tmp_path: Path
) -> None:
    sp = _start(engine, tmp_path, "--supervised", "systemd", env={})
    try:
        _wait_ready(sp)
        assert "NOTIFY_SOCKET not found" in _log(tmp_path)
    finally:
        sp.stop()


def test_upstart_waits_for_the_servers_stop(engine: str, tmp_path: Path) -> None:
    """upstart's `expect stop`: the server stops itself once configured; resumed, it
    serves."""
    sp = _start(engine, tmp_path, "--supervised", "upstart", env={"UPSTART_JOB": "diskredis"})
    try:
        stat = Path("/proc/%d/stat" % sp.proc.pid)
        for _ in range(600):
            if stat.read_text().split(") ", 1)[1][0] == "T":
                break
            time.sleep(0.05)
        else:
            pytest.fail("the server never stopped itself")
        os.kill(sp.proc.pid, signal.SIGCONT)
        _wait_ready(sp)
        assert sp.client().ping()
        assert "supervised by upstart" in _log(tmp_path)
    finally:
        sp.stop()


# -- logrotate ---------------------------------------------------------------------------
def test_logrotate_rotates_a_running_servers_log(engine: str, tmp_path: Path) -> None:
    """The shipped configuration, run by logrotate with the log's folder and the signal
    pointed at this test's server: the old log is rotated away and the server writes a
    new one at once."""
    logs = tmp_path / "logs"
    logs.mkdir()
    sp = _start(engine, tmp_path, "--logfile", str(logs / "diskredis.log"), env={})
    try:
        _wait_ready(sp)
        text = LOGROTATE.read_text().replace("/var/log/diskredis", str(logs))
        text = text.replace(
            "systemctl kill --signal=HUP --kill-whom=main diskredis.service",
            "kill -HUP %d" % sp.proc.pid,
        )
        conf = tmp_path / "logrotate.conf"
        conf.write_text(text)
        state = tmp_path / "state"
        out = subprocess.run(
            [_tool("logrotate"), "--force", "--state", str(state), str(conf)],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        assert (logs / "diskredis.log.1").exists()
        for _ in range(200):
            current = logs / "diskredis.log"
            if current.exists() and "Received SIGHUP" in current.read_text():
                break
            time.sleep(0.05)
        else:
            pytest.fail("the server did not open a new log after the rotation")
        assert "Ready to accept connections" in (logs / "diskredis.log.1").read_text()
    finally:
        sp.stop()
