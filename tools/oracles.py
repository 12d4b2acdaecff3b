"""Newer Redis-family servers for the differential tests: Valkey 8.0 and Redis 8.0.

Usage: python tools/oracles.py fetch [valkey8|redis8|all]
       python tools/oracles.py argv (valkey8|redis8) [server|cli]
       python tools/oracles.py --help

Debian 12 (the machine these tests run on) packages Redis 7.0, the main oracle. RDB
versions 11 and 12 come from newer servers, which Debian also packages:

- valkey8: `valkey-server` 8.0.1 from the `bookworm-backports` suite (RDB version 11).
  Built for Debian 12, it runs as it is, with the two libraries it needs beside it.
- redis8: `redis-server` 8.0.2 from Debian 13 (`trixie`, RDB version 12). Built against
  Debian 13's C library, it runs through that library's own loader:
  `ld-linux --library-path R/usr/lib/<triplet> --argv0 redis-server R/usr/bin/...`
  (the binary picks its role, server or check-rdb, from the name it is given).

`fetch` downloads the packages with `apt-get download` using a sources list and package
lists of its own (the machine's apt set-up is not touched) and unpacks them with
`dpkg-deb -x` into the cache folder, `$DISKREDIS_ORACLES` or
`~/.cache/diskredis/oracles`. It runs once; later calls find the result there. `argv`
prints, as JSON, the command line that starts the server (or the CLI), fetching first
when needed. Any failure exits non-zero with the reason on stderr, so a test that
needs the oracle fails saying why instead of being skipped.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MIRROR = "http://deb.debian.org/debian"

#: name -> (suites, packages (name or name/suite), version the server must print)
ORACLES: dict[str, tuple[list[str], list[str], str]] = {
    "valkey8": (
        ["bookworm", "bookworm-backports"],
        [
            "valkey-server/bookworm-backports",
            "valkey-tools/bookworm-backports",
            "libjemalloc2",
            "liblzf1",
        ],
        "v=8.0.",
    ),
    "redis8": (
        ["trixie"],
        [
            "libc6",
            "libstdc++6",
            "libgcc-s1",
            "libssl3t64",
            "libsystemd0",
            "libjemalloc2",
            "liblzf1",
            "libatomic1",
            "libcap2",
            "libzstd1",
            "liblz4-1",
            "liblzma5",
            "libgcrypt20",
            "libgpg-error0",
            "redis-server",
            "redis-tools",
        ],
        "v=8.0.",
    ),
}

_TRIPLETS = {"amd64": ("x86_64-linux-gnu", "ld-linux-x86-64.so.2")}


class OracleError(Exception):
    """The oracle could not be set up; the message says why and what to do."""


def cache_root() -> Path:
    env = os.environ.get("DISKREDIS_ORACLES")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "diskredis" / "oracles"


def _arch() -> tuple[str, str]:
    try:
        arch = subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        raise OracleError(
            "dpkg is needed to set up the oracles (a Debian machine): %s" % e
        ) from None
    if arch not in _TRIPLETS:
        raise OracleError("the oracles are set up for amd64 only; this machine is %s" % arch)
    return _TRIPLETS[arch]


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise OracleError("%s failed (%s): %s" % (what, " ".join(argv[:3]), " | ".join(tail)))


def _download(name: str, work: Path) -> Path:
    """The packages' .deb files, downloaded into work/debs with a private apt set-up."""
    suites, packages, _ = ORACLES[name]
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise OracleError("apt-get and dpkg-deb are needed to fetch %s (a Debian machine)" % name)
    lists = work / "lists"
    (lists / "partial").mkdir(parents=True)
    (work / "cache" / "archives" / "partial").mkdir(parents=True)
    sources = work / "sources.list"
    sources.write_text(
        "".join("deb [signed-by=%s] %s %s main\n" % (KEYRING, MIRROR, s) for s in suites)
    )
    opts = [
        "-o",
        "Dir::Etc::SourceList=%s" % sources,
        "-o",
        "Dir::Etc::SourceParts=/dev/null",
        "-o",
        "Dir::State::Lists=%s" % lists,
        "-o",
        "Dir::Cache=%s" % (work / "cache"),
        "-o",
        "APT::Sandbox::User=root",
        "-q",
    ]
    _run(["apt-get", *opts, "update"], "apt-get update for %s (%s)" % (name, ", ".join(suites)))
    debs = work / "debs"
    debs.mkdir()
    default = ["-t", suites[-1]]
    proc = subprocess.run(
        ["apt-get", *opts, *default, "download", *packages],
        cwd=debs,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        tail = proc.stderr.strip().splitlines()[-5:]
        raise OracleError("apt-get download for %s failed: %s" % (name, " | ".join(tail)))
    return debs


def fetch(name: str, root: Path | None = None) -> Path:
    """The folder the oracle is unpacked into, fetching it first when it is not there."""
    if name not in ORACLES:
        raise OracleError("unknown oracle %r (known: %s)" % (name, ", ".join(ORACLES)))
    root = root or cache_root()
    dest = root / name
    if (dest / "ready").exists():
        return dest
    root.mkdir(parents=True, exist_ok=True)
    with open(root / (".%s.lock" % name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one fetch at a time; the others wait for it
        if (dest / "ready").exists():
            return dest
        print("oracles: fetching %s into %s ..." % (name, dest), file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix=".%s-" % name, dir=root) as tmp:
            work = Path(tmp)
            debs = _download(name, work)
            tree = work / "tree"
            for deb in sorted(debs.glob("*.deb")):
                _run(["dpkg-deb", "-x", str(deb), str(tree)], "unpacking %s" % deb.name)
            shutil.rmtree(dest, ignore_errors=True)
            tree.rename(dest)
        _check_version(name, dest)
        (dest / "ready").write_text("ok\n")
    return dest


def argv(name: str, role: str = "server", root: Path | None = None) -> list[str]:
    """The command line (without arguments) that runs the oracle's server or CLI."""
    if role not in ("server", "cli"):
        raise OracleError("role is server or cli, not %r" % role)
    dest = fetch(name, root)
    return _argv(name, role, dest)


def _argv(name: str, role: str, dest: Path) -> list[str]:
    triplet, loader = _arch()
    libs = dest / "usr" / "lib" / triplet
    if name == "valkey8":
        exe = dest / "usr" / "bin" / ("valkey-server" if role == "server" else "valkey-cli")
        # built for this Debian: the system loader, with the two unpacked libraries first
        return ["env", "LD_LIBRARY_PATH=%s" % libs, str(exe)]
    real = "redis-check-rdb" if role == "server" else "redis-cli"
    shown = "redis-server" if role == "server" else "redis-cli"
    return [
        str(libs / loader),
        "--library-path",
        str(libs),
        "--argv0",
        shown,
        str(dest / "usr" / "bin" / real),
    ]


def _check_version(name: str, dest: Path) -> None:
    cmd = [*_argv(name, "server", dest), "--version"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    want = ORACLES[name][2]
    if proc.returncode or want not in proc.stdout:
        raise OracleError(
            "%s does not run here: %r printed %r %r"
            % (name, " ".join(cmd), proc.stdout.strip(), proc.stderr.strip()[-300:])
        )


def main(args: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="tools/oracles.py",
        description="Fetch and run newer Redis-family servers (Valkey 8.0, Redis 8.0) "
        "for the differential tests, from Debian's own packages.",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download and unpack (once; cached)")
    f.add_argument("name", nargs="?", default="all", choices=[*ORACLES, "all"])
    a = sub.add_parser("argv", help="print the command line that runs it, as JSON")
    a.add_argument("name", choices=list(ORACLES))
    a.add_argument("role", nargs="?", default="server", choices=["server", "cli"])
    opts = ap.parse_args(args)
    try:
        if opts.cmd == "fetch":
            for name in ORACLES if opts.name == "all" else [opts.name]:
                print("%s: %s" % (name, fetch(name)))
        else:
            print(json.dumps(argv(opts.name, opts.role)))
    except OracleError as e:
        print("oracles: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
