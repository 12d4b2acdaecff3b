"""TLS on the TLS port (tls-port, tls-cert-file, tls-key-file, tls-ca-cert-file,
tls-auth-clients), with certificates made here by openssl: redis-py and redis-cli talk
to diskredis over TLS; clients without a trusted certificate are refused; the settings
change at run time; bad settings stop the server at start-up with Redis's reasons."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.conftest import ROOT, ServerProc, free_port


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(d: Path, ca: str, name: str, cn: str, server: bool) -> None:
    _openssl(
        "req",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-keyout",
        name + ".key",
        "-out",
        name + ".csr",
        "-subj",
        "/CN=" + cn,
        cwd=d,
    )
    ext = d / (name + ".ext")
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n" if server else "extendedKeyUsage=clientAuth\n"
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        name + ".csr",
        "-CA",
        ca + ".crt",
        "-CAkey",
        ca + ".key",
        "-CAcreateserial",
        "-out",
        name + ".crt",
        "-days",
        "2",
        "-extfile",
        ext.name,
        cwd=d,
    )


@pytest.fixture(scope="module")
def certs(tmp_path_factory: Any) -> Path:
    """A CA, a server and a client certificate it signed, and a client certificate of
    another CA."""
    d = tmp_path_factory.mktemp("certs")
    for ca in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-keyout",
            ca + ".key",
            "-out",
            ca + ".crt",
            "-days",
            "2",
            "-subj",
            "/CN=" + ca,
            cwd=d,
        )
    _issue(d, "ca", "server", "localhost", True)
    _issue(d, "ca", "client", "client", False)
    _issue(d, "other-ca", "stranger", "stranger", False)
    return d


def _tls_args(certs: Path, port: int, *extra: str) -> list[str]:
    return [
        "--tls-port",
        str(port),
        "--tls-cert-file",
        str(certs / "server.crt"),
        "--tls-key-file",
        str(certs / "server.key"),
        "--tls-ca-cert-file",
        str(certs / "ca.crt"),
        *extra,
    ]


def _client(port: int, certs: Path, who: str | None = "client", **kw: Any) -> redis.Redis:
    extra: dict[str, Any] = {}
    if who:
        extra = {
            "ssl_certfile": str(certs / (who + ".crt")),
            "ssl_keyfile": str(certs / (who + ".key")),
        }
    return redis.Redis(
        port=port,
        ssl=True,
        ssl_ca_certs=str(certs / "ca.crt"),
        socket_timeout=20,
        retry=Retry(NoBackoff(), 0),
        **extra,
        **kw,
    )


def test_redis_py_and_redis_cli_over_tls(dr_factory: Any, certs: Path) -> None:
    port = free_port()
    sp = dr_factory(*_tls_args(certs, port))
    c = _client(port, certs)
    assert c.ping()
    big = os.urandom(3 << 20)  # several TLS records, partial sends
    assert c.set("big", big) and c.get("big") == big
    p = c.pipeline(transaction=False)
    for i in range(2000):
        p.set("k%d" % i, i)
        p.get("k%d" % i)
    replies = p.execute()
    assert replies[1::2] == [b"%d" % i for i in range(2000)]
    assert sp.client().get("k1999") == b"1999"  # the plain port sees the same data
    sub = _client(port, certs).pubsub()
    sub.subscribe("news")
    assert sub.get_message(timeout=10)["type"] == "subscribe"
    assert c.publish("news", "hello") == 1
    assert sub.get_message(timeout=10)["data"] == b"hello"
    cli = subprocess.run(
        [
            "redis-cli",
            "--tls",
            "--cacert",
            str(certs / "ca.crt"),
            "--cert",
            str(certs / "client.crt"),
            "--key",
            str(certs / "client.key"),
            "-p",
            str(port),
            "GET",
            "k7",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.stdout.strip() == "7", cli.stdout + cli.stderr
    rdb = certs / ("over-tls-%d.rdb" % port)
    cli = subprocess.run(
        [
            "redis-cli",
            "--tls",
            "--cacert",
            str(certs / "ca.crt"),
            "--cert",
            str(certs / "client.crt"),
            "--key",
            str(certs / "client.key"),
            "-p",
            str(port),
            "--rdb",
            str(rdb),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Transfer finished with success" in cli.stderr, cli.stderr
    assert rdb.read_bytes().startswith(b"REDIS0010")


def test_clients_without_a_trusted_certificate_are_refused(dr_factory: Any, certs: Path) -> None:
    port = free_port()
    sp = dr_factory(*_tls_args(certs, port, "--loglevel", "verbose"))
    for who in (None, "stranger"):
        with pytest.raises(redis.ConnectionError):
            _client(port, certs, who).ping()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        plain.sendall(b"PING\r\n")  # no TLS at all on the TLS port
        answer = b""
        try:
            while chunk := plain.recv(100):
                answer += chunk
        except ConnectionResetError:
            pass
        assert b"PONG" not in answer  # a TLS alert at most, then the end
    assert sp.client().ping()  # the server goes on
    assert _client(port, certs).ping()
    assert "Error accepting a client connection" in sp.log()
    admin = sp.client()
    admin.config_set("tls-auth-clients", "optional")
    assert _client(port, certs, None).ping()  # no certificate: allowed now
    with pytest.raises(redis.ConnectionError):
        _client(port, certs, "stranger").ping()  # a wrong one still is not
    admin.config_set("tls-auth-clients", "no")
    assert _client(port, certs, "stranger").ping()


def test_tls_settings_change_at_run_time(dr_factory: Any, certs: Path) -> None:
    port = free_port()
    sp = dr_factory(*_tls_args(certs, port))
    admin = sp.client()
    with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
        admin.config_set("tls-cert-file", str(certs / "nosuch.crt"))
    assert _client(port, certs).ping()  # the old context stays
    other = free_port()
    admin.config_set("tls-port", str(other))
    assert _client(other, certs).ping()
    with pytest.raises(redis.ConnectionError):
        _client(port, certs).ping()
    with pytest.raises(redis.ResponseError, match="can't apply tls-ciphersuites"):
        admin.config_set("tls-ciphersuites", "TLS_AES_128_GCM_SHA256")
    admin.config_set("tls-protocols", "TLSv1.3")
    ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    ctx.load_cert_chain(str(certs / "client.crt"), str(certs / "client.key"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        pytest.raises(ssl.SSLError),
        socket.create_connection(("127.0.0.1", other)) as s,
        ctx.wrap_socket(s, server_hostname="localhost"),
    ):
        pass


@pytest.mark.parametrize(
    "extra,reason",
    [
        ((), "No tls-cert-file configured!"),
        (("--tls-cert-file", "{d}/server.crt"), "No tls-key-file configured!"),
        (
            ("--tls-cert-file", "{d}/server.crt", "--tls-key-file", "{d}/server.key"),
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified",
        ),
        (
            (
                "--tls-cert-file",
                "{d}/nosuch.crt",
                "--tls-key-file",
                "{d}/server.key",
                "--tls-auth-clients",
                "no",
            ),
            "Failed to load certificate",
        ),
        (
            (
                "--tls-cert-file",
                "{d}/server.crt",
                "--tls-key-file",
                "{d}/server.key",
                "--tls-auth-clients",
                "no",
                "--tls-protocols",
                "TLSv9",
            ),
            "Invalid tls-protocols",
        ),
    ],
)
def test_bad_tls_settings_stop_the_server(
    certs: Path, tmp_path: Any, extra: tuple[str, ...], reason: str
) -> None:
    args = [a.format(d=certs) for a in extra]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "diskredis",
            "--port",
            str(free_port()),
            "--dir",
            str(tmp_path),
            "--tls-port",
            str(free_port()),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = run.stdout + run.stderr
    assert run.returncode == 1 and reason in said and "Traceback" not in said, said


def test_tls_only_server(certs: Path, tmp_path: Any) -> None:
    """`port 0` and a TLS port: nothing listens in the clear."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "diskredis",
        "--port",
        "0",
        "--dir",
        str(tmp_path),
        *_tls_args(certs, port),
        "--logfile",
        str(tmp_path / "server.log"),
    ]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sp = ServerProc("diskredis", port, proc, str(tmp_path), args)
    try:
        c = _client(port, certs)
        for _ in range(300):  # the server starts in the background
            try:
                assert c.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None:
                    raise
                time.sleep(0.05)
        assert c.set("x", "1") and c.get("x") == b"1"
    finally:
        sp.stop()
