"""diskredis-dump: write a data folder (server stopped) or a running server -- diskredis
or Redis -- to an RDB file, JSON lines or a RESP command stream.

Room: the command line of the tool. Imports: `commands.context`, `commands.functions`,
`commands.scripting`, `keyspace.clock`, `keyspace.space`, `keyspace.types`, `storage`,
this package, `rdb`.

An RDB file is version 10, what Redis 7.0 and every later Redis and Valkey load
(`redis-server --dbfilename`, or `diskredis-restore`), unless `--rdb-version` asks for
11 (Redis 7.2, Valkey 7.2 and 8: keeps streams' consumer active times) or 12 (Redis
7.4 and 8: also hashes with field expiry). From a folder the copy is one consistent snapshot; from a
running server keys are read with SCAN, DUMP and PEXPIRETIME while clients go on
writing, as `redis-cli --rdb` would not (use diskredis-backup for a consistent copy of
a live server). The output is written to a temporary file renamed into place at the
end, so a failed dump never leaves half a file under the name asked for.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import IO

from diskredis import __version__
from diskredis.commands.context import REDIS_VERSION
from diskredis.keyspace.clock import now_ms
from diskredis.keyspace.types import value_type
from diskredis.rdb import codec
from diskredis.rdb.model import Record
from diskredis.storage import StorageError
from diskredis.transfer import formats
from diskredis.transfer.offline import Offline
from diskredis.transfer.progress import Progress, summary
from diskredis.transfer.remote import Remote, RemoteError, ReplyError
from diskredis.transfer.restore import add_server_options, connect

_SCAN_COUNT = 500


class DumpError(Exception):
    """The data can't be written as asked; the message says which key and what to do."""


class Source:
    """Where keys come from: the databases holding keys, their counts, the records,
    the function libraries."""

    def databases(self) -> list[int]:
        raise NotImplementedError

    def counts(self, db: int) -> tuple[int, int]:
        raise NotImplementedError

    def records(self, db: int, match: bytes | None) -> Iterator[Record]:
        raise NotImplementedError

    def functions(self) -> list[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class FolderSource(Source):
    def __init__(self, path: str, engine: str | None, databases: int) -> None:
        self.folder = Offline(path, engine, databases)

    def databases(self) -> list[int]:
        return self.folder.databases()

    def counts(self, db: int) -> tuple[int, int]:
        return self.folder.counts(db)

    def records(self, db: int, match: bytes | None) -> Iterator[Record]:
        return self.folder.read([db], match)

    def functions(self) -> list[bytes]:
        from diskredis.commands.functions import load_saved
        from diskredis.commands.scripting import Scripts

        scripts = Scripts(REDIS_VERSION)
        load_saved(scripts, self.folder.ks)
        return [lib.code for lib in scripts.libraries.values()]

    def close(self) -> None:
        self.folder.close()


class ServerSource(Source):
    def __init__(self, remote: Remote) -> None:
        self.remote = remote
        self.keyspace: dict[int, tuple[int, int]] = {}
        info = remote.call("INFO", "keyspace")
        if isinstance(info, ReplyError):
            raise RemoteError("%s: INFO keyspace: %s" % (remote.where, info))
        for line in info.decode().splitlines():  # db0:keys=1,expires=0,avg_ttl=0
            if line.startswith("db") and ":" in line:
                name, fields = line.split(":", 1)
                kv = dict(x.split("=", 1) for x in fields.split(","))
                self.keyspace[int(name[2:])] = (int(kv["keys"]), int(kv.get("expires", 0)))

    def databases(self) -> list[int]:
        return sorted(self.keyspace)

    def counts(self, db: int) -> tuple[int, int]:
        return self.keyspace.get(db, (0, 0))

    def records(self, db: int, match: bytes | None) -> Iterator[Record]:
        remote = self.remote
        remote.select(db)
        cursor = b"0"
        while True:
            scan: list[bytes | str | int] = ["SCAN", cursor, "COUNT", _SCAN_COUNT]
            if match is not None:
                scan += ["MATCH", match]
            reply = remote.call(*scan)
            if isinstance(reply, ReplyError):
                raise RemoteError("%s: SCAN: %s" % (remote.where, reply))
            cursor, keys = reply
            commands: list[list[bytes | str | int]] = []
            for key in keys:
                commands += [["DUMP", key], ["PEXPIRETIME", key]]
            replies = remote.pipeline(commands) if commands else []
            for i, key in enumerate(keys):
                payload, when = replies[2 * i], replies[2 * i + 1]
                if isinstance(payload, ReplyError):
                    raise RemoteError("%s: DUMP: %s" % (remote.where, payload))
                if payload is None:
                    continue  # deleted since SCAN saw it
                try:
                    value = codec.parse_dump(payload)
                except codec.RdbError as e:
                    raise RemoteError(
                        "%s: the DUMP of %r does not decode: %s" % (remote.where, key[:100], e)
                    ) from None
                expire = when if isinstance(when, int) and when > 0 else None
                yield Record(db, key, value, expire)
            if cursor == b"0":
                return

    def functions(self) -> list[bytes]:
        reply = self.remote.call("FUNCTION", "LIST", "WITHCODE")
        if isinstance(reply, ReplyError):
            return []  # a server without functions (Redis before 7.0)
        out = []
        for lib in reply:
            fields = dict(zip(lib[0::2], lib[1::2], strict=True))
            out.append(fields[b"library_code"])
        return out

    def close(self) -> None:
        self.remote.close()


class Writer:
    def __init__(
        self, out: IO[bytes], fmt: str, compress: bool, version: int = codec.RDB_VERSION
    ) -> None:
        self.out, self.fmt = out, fmt
        self.now = now_ms()
        self.rdb = codec.FileWriter(out, compress, version) if fmt == "rdb" else None
        if self.rdb is not None:
            self.rdb.aux(b"redis-ver", REDIS_VERSION.encode())
            self.rdb.aux(b"redis-bits", b"64")
            self.rdb.aux(b"ctime", b"%d" % int(time.time()))
            self.rdb.aux(b"used-mem", b"0")
            self.rdb.aux(b"aof-base", b"0")

    def begin_db(self, db: int, keys: int, expires: int) -> None:
        if self.rdb is not None:
            self.rdb.select_db(db, keys, expires)
        elif self.fmt == "resp":
            formats.write_resp(self.out, [b"SELECT", b"%d" % db])

    def record(self, r: Record) -> None:
        if self.rdb is not None:
            needed = codec.needed_version(r.value)
            if needed > self.rdb.version:
                raise DumpError(
                    "key %r (database %d) is a hash with field expiry, which only RDB "
                    "version %d carries: give --rdb-version %d (Redis 7.4 or later loads it)"
                    % (r.key[:100], r.db, needed, needed)
                )
            self.rdb.record(r.key, r.value, r.expire_ms)
        elif self.fmt == "jsonl":
            self.out.write(formats.to_json(r, self.now).encode("utf-8") + b"\n")
        else:
            for command in formats.to_commands(r):
                formats.write_resp(self.out, command)

    def functions(self, codes: list[bytes]) -> None:
        for code in codes:
            if self.rdb is not None:
                self.rdb.function(code)
            elif self.fmt == "resp":
                formats.write_resp(self.out, [b"FUNCTION", b"LOAD", b"REPLACE", code])

    def finish(self) -> None:
        if self.rdb is not None:
            self.rdb.finish()


def dump(
    source: Source, writer: Writer, dbs: list[int], match: bytes | None, quiet: bool
) -> tuple[Counter[str], int, float]:
    total = sum(source.counts(db)[0] for db in dbs)
    progress = Progress("dumping", total, quiet=quiet)
    by_type: Counter[str] = Counter()
    start = writer.out.tell() if writer.out.seekable() else 0
    for db in dbs:
        keys, expires = source.counts(db)
        writer.begin_db(db, keys, expires)
        for r in source.records(db, match):
            writer.record(r)
            by_type[value_type(r.value)] += 1
            progress.advance(position=progress.items + 1)
    codes = source.functions()
    writer.functions(codes)
    if codes and not quiet:
        print(
            "with %d function librar%s" % (len(codes), "y" if len(codes) == 1 else "ies"),
            file=sys.stderr,
        )
    writer.finish()
    size = (writer.out.tell() - start) if writer.out.seekable() else 0
    return by_type, size, progress.finish()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="diskredis-dump",
        add_help=False,
        description="Write a diskredis data folder or a running server (diskredis or "
        "Redis) to an RDB file that redis-server 7.0 loads, JSON lines (one "
        "key per line) or a RESP command stream for `redis-cli --pipe`.",
        epilog="examples:  diskredis-dump --dir data -o dump.rdb   |   "
        "diskredis-dump -p 6380 --format jsonl -o keys.jsonl   |   "
        "diskredis-dump --dir data --format resp | redis-cli --pipe. "
        "Exit status: 0 written, 2 failed (nothing left under the output name).",
    )
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument(
        "--version",
        action="version",
        version="%(prog)s " + __version__,
        help="show the version and exit",
    )
    add_server_options(parser, "source (one of --dir or a server)")
    parser.add_argument(
        "-o",
        "--output",
        help="the file to write (default: dump.rdb for rdb, standard output "
        "for the others; '-' for standard output)",
    )
    parser.add_argument(
        "--format",
        choices=("rdb", "jsonl", "resp"),
        default="rdb",
        help="output format (default rdb)",
    )
    parser.add_argument(
        "--db", type=int, action="append", help="dump only this database (repeat for more)"
    )
    parser.add_argument("--match", help="dump only keys matching this glob pattern")
    parser.add_argument(
        "--no-compress",
        action="store_true",
        help="RDB strings uncompressed (faster; as rdbcompression no)",
    )
    parser.add_argument(
        "--rdb-version",
        type=int,
        choices=codec.WRITE_VERSIONS,
        default=codec.RDB_VERSION,
        help="RDB format version to write: 10 (default) loads in Redis 7.0 and later; "
        "11 in Redis 7.2+ and Valkey 7.2+/8 (keeps consumers' active times); 12 in "
        "Redis 7.4+ (also hashes with field expiry)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    args = parser.parse_args(argv)
    if (args.dir is None) == (args.host is None and args.port is None and args.socket is None):
        parser.error("give exactly one source: --dir FOLDER, or -h/-p/-s for a server")
    output = args.output or ("dump.rdb" if args.format == "rdb" else "-")
    try:
        source: Source = (
            FolderSource(args.dir, args.engine, args.databases)
            if args.dir
            else ServerSource(connect(args))
        )
    except (StorageError, RemoteError) as e:
        print("diskredis-dump: %s" % e, file=sys.stderr)
        return 2
    match = args.match.encode() if args.match else None
    tmp = None
    try:
        dbs = sorted(set(args.db)) if args.db else source.databases()
        with contextlib.ExitStack() as stack:
            if output == "-":
                out: IO[bytes] = sys.stdout.buffer
            else:
                tmp = "%s.tmp-%d" % (output, os.getpid())
                out = stack.enter_context(open(tmp, "wb"))
            writer = Writer(out, args.format, not args.no_compress, args.rdb_version)
            by_type, size, took = dump(source, writer, dbs, match, args.quiet)
            out.flush()
            if tmp:
                os.fsync(out.fileno())
        if tmp:
            os.replace(tmp, output)
            tmp = None
    except (StorageError, RemoteError, DumpError, OSError) as e:
        print("diskredis-dump: %s" % e, file=sys.stderr)
        return 2
    finally:
        source.close()
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
    print(
        summary("dumped", by_type, size, took, Counter())
        + ("" if output == "-" else "\nwritten to %s" % output),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
