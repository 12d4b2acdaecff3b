"""`diskredis-server` / `python -m diskredis`: start-up, like redis-server.

Room: turn the command line into a configured, logging, running server.
Imports: `commands.acl`, `commands.context`, `storage`, `config`, `server`.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from diskredis import __version__
from diskredis.commands.context import REDIS_VERSION
from diskredis.config import ConfigFileError, from_argv

USAGE = """\
Usage: diskredis-server [/path/to/redis.conf] [options]
       diskredis-server --check-config /path/to/redis.conf [options]
       diskredis-server -v or --version
       diskredis-server -h or --help

A Redis-compatible server whose data lives on disk (LMDB by default, or LevelDB).
It reads redis.conf files and takes every redis-server option as --name value;
diskredis' own options are documented in docs/configuration.md.

--check-config reads the configuration as a start would (the file, its includes and
the options) and says whether the server would start with it, without starting it:
exit status 0 when it would, 1 with the reason when it would not (for a service
unit's ExecStartPre=, or before a restart).

Examples:
       diskredis-server                            (LMDB in ./data, 127.0.0.1:6379)
       diskredis-server --port 7777 --dir /var/lib/diskredis
       diskredis-server --engine leveldb --appendfsync everysec
       diskredis-server /etc/redis/redis.conf --loglevel verbose
"""

_MARKS = {
    logging.DEBUG: ".",
    15: "-",
    logging.INFO: "*",
    logging.WARNING: "#",
    logging.ERROR: "#",
    logging.CRITICAL: "#",
}


class RedisStyleFormatter(logging.Formatter):
    """`pid:M 25 Nov 2026 06:16:34.123 * message`, as redis-server logs."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(record.created))
        msg = "%d:M %s.%03d %s %s" % (
            os.getpid(),
            stamp,
            int(record.msecs),
            _MARKS.get(record.levelno, "*"),
            record.getMessage(),
        )
        if record.exc_info:
            msg += "\n" + self.formatException(record.exc_info)
        return msg


def _setup_logging(logfile: str, level: str) -> None:
    from diskredis.server.app import report_faults
    from diskredis.server.port import set_log_level

    logging.addLevelName(15, "VERBOSE")
    handler: logging.Handler = (
        logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stdout)
    )
    handler.setFormatter(RedisStyleFormatter())
    root = logging.getLogger("diskredis")
    root.handlers[:] = [handler]
    root.propagate = False
    set_log_level(level)
    report_faults(logfile)


def _daemonize() -> None:
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)


def check_config(args: list[str]) -> int:
    """`--check-config FILE [options]`: what a start would make of them, without
    starting (the data folder is neither created nor opened)."""
    if not args or args[0].startswith("--"):
        print("diskredis-server: --check-config needs the configuration file", file=sys.stderr)
        return 1
    try:
        config = from_argv(args)
    except ConfigFileError as e:
        print(e, file=sys.stderr)
        return 1
    from diskredis.storage import StorageError, engine_class

    try:
        engine_class(config["engine"])
    except StorageError as e:
        print("diskredis-server: %s: %s" % (args[0], e), file=sys.stderr)
        return 1
    binds = " ".join(config["bind"]) or "*"
    where = (
        " and ".join(
            x
            for x in (
                "%s port %d" % (binds, config["port"]) if config["port"] else "",
                config["unixsocket"],
            )
            if x
        )
        or "nothing (port 0, no unixsocket)"
    )
    print(
        "diskredis-server: %s is valid: engine %s, data in %s, listening on %s"
        % (args[0], config["engine"], os.path.abspath(config["dir"]), where)
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    if args and args[0] in ("-v", "--version"):
        print("diskredis server v=%s (Redis %s compatible)" % (__version__, REDIS_VERSION))
        return 0
    if args and args[0] == "--check-config":
        return check_config(args[1:])
    try:
        config = from_argv(args)
    except ConfigFileError as e:
        print(e, file=sys.stderr)
        return 1
    data_dir = config["dir"]
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as e:
        print("Can't create the data directory '%s': %s" % (data_dir, e.strerror), file=sys.stderr)
        return 1
    from diskredis.server import supervision

    supervised = supervision.Supervision(config["supervised"])
    if config["daemonize"] and not supervised.supervised:
        _daemonize()
    _setup_logging(config["logfile"], config["loglevel"])
    log = logging.getLogger("diskredis")
    log.info(
        "diskredis %s starting (pid %d), Redis %s compatible, engine %s, data in %s",
        __version__,
        os.getpid(),
        REDIS_VERSION,
        config["engine"],
        os.path.abspath(data_dir),
    )
    supervision.current = supervised
    supervised.start()
    import trio

    from diskredis.commands.acl import AclLoadError
    from diskredis.server.app import Server, TlsStartError
    from diskredis.storage import StorageError

    try:
        server = Server(config)
    except StorageError as e:
        log.error("Can't open the data: %s", e)
        return 1
    except (AclLoadError, TlsStartError) as e:
        log.error("%s", e)
        return 1
    try:
        trio.run(server.serve)
    except OSError as e:
        log.error("%s", e)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
