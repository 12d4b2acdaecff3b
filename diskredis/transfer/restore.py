"""diskredis-restore: load an RDB file, JSON lines or a RESP command stream into a data
folder (server stopped) or a running server.

Room: the command line of the tool. Imports: `commands.context`, `commands.functions`,
`commands.scripting`, `errors`, `keyspace.types`, `storage`, `util`, this package,
`rdb`.

The input is read twice: first checked whole (an RDB file's checksum and every value
decoded; every JSON line or command parsed), then loaded. A corrupt or truncated input
is refused before anything is written. Keys are written in batches, one transaction
(offline) or one pipeline of RESTOREs (online) each.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

from diskredis import __version__
from diskredis.commands.context import REDIS_VERSION
from diskredis.errors import RedisError
from diskredis.keyspace.types import value_type
from diskredis.rdb import codec
from diskredis.rdb.model import Record
from diskredis.storage import ENGINES, StorageError
from diskredis.transfer import formats
from diskredis.transfer.offline import Offline, expired
from diskredis.transfer.progress import Progress, summary
from diskredis.transfer.remote import Remote, RemoteError, ReplyError
from diskredis.util import glob_match

_BATCH = 1000  # keys per transaction or pipeline
FORMATS = ("rdb", "jsonl", "resp")


class InputError(Exception):
    """The input can't be loaded; the message says where and why."""


def detect(path: str, head: bytes) -> str:
    if head.startswith(b"REDIS"):
        return "rdb"
    if head.startswith(b"*"):
        return "resp"
    if head.lstrip().startswith(b"{"):
        return "jsonl"
    raise InputError(
        "%s: not an RDB file, JSON lines or a RESP command stream (give --format)" % path
    )


def _open(path: str) -> IO[bytes]:
    if path == "-":
        return io.BytesIO(sys.stdin.buffer.read())  # read twice: keep it
    try:
        return open(path, "rb")
    except OSError as e:
        raise InputError("can't read %s: %s" % (path, e.strerror)) from None


def _size(f: IO[bytes]) -> int:
    pos = f.tell()
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(pos)
    return size


class Input:
    """The file being restored and what reading it has found besides keys."""

    def __init__(self, f: IO[bytes], fmt: str) -> None:
        self.f, self.fmt = f, fmt
        self.functions: list[bytes] = []  # function libraries of an RDB file

    def records(
        self, progress: Progress | None = None, skipped: Counter[str] | None = None
    ) -> Iterator[Record]:
        """The records of an RDB file or JSON lines, checked as they are read."""
        f = self.f
        f.seek(0)
        if self.fmt == "rdb":
            reader = codec.FileReader(f)
            for r in reader:
                if progress is not None:
                    progress.advance(position=reader.offset)
                yield r
            self.functions = reader.functions
            if skipped is not None and reader.empty_skipped:
                skipped["empty collections (Redis skips them too)"] += reader.empty_skipped
                for warning in reader.warnings:
                    if not warning.startswith("skipped empty key"):
                        print("diskredis-restore: %s" % warning, file=sys.stderr)
        else:
            for _, r, pos in formats.read_jsonl(f):
                if progress is not None:
                    progress.advance(position=pos)
                yield r

    def check(self, quiet: bool) -> int:
        """Read the whole input once; raises InputError naming the problem. How many
        keys (or commands) it holds."""
        progress = Progress("checking", _size(self.f), quiet=quiet)
        n = 0
        try:
            if self.fmt == "resp":
                self.f.seek(0)
                for _, pos in formats.read_resp(self.f):
                    n += 1
                    progress.advance(position=pos)
            else:
                for _ in self.records(progress):
                    n += 1
        except (codec.RdbError, formats.FormatError) as e:
            raise InputError("the input is not loadable, nothing was written: %s" % e) from None
        finally:
            progress.finish()
        return n


class Target:
    """Where keys go: `write` a batch of records, `run` a batch of commands."""

    def write(self, records: list[Record], replace: bool) -> list[str | None]:
        raise NotImplementedError

    def run(self, commands: list[list[bytes]]) -> list[str | None]:
        raise NotImplementedError

    def load_functions(self, codes: list[bytes], replace: bool) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class OfflineTarget(Target):
    def __init__(self, path: str, engine: str | None, databases: int) -> None:
        self.folder = Offline(path, engine, databases, create=True)

    def write(self, records: list[Record], replace: bool) -> list[str | None]:
        return self.folder.write(records, replace)

    def run(self, commands: list[list[bytes]]) -> list[str | None]:
        self._scripts()
        return [
            r.text if isinstance(r, RedisError) else None for r in self.folder.execute(commands)
        ]

    def _scripts(self) -> None:
        ctx = self.folder.ctx
        if ctx.scripts is None:
            from diskredis.commands.functions import load_saved
            from diskredis.commands.scripting import Scripts

            ctx.scripts = Scripts(REDIS_VERSION)
            load_saved(ctx.scripts, self.folder.ks)

    def load_functions(self, codes: list[bytes], replace: bool) -> list[str]:
        self._scripts()
        out = self.run(
            [[b"FUNCTION", b"LOAD", *([b"REPLACE"] if replace else []), code] for code in codes]
        )
        return [e for e in out if e]

    def close(self) -> None:
        self.folder.close()


class RemoteTarget(Target):
    def __init__(self, remote: Remote) -> None:
        self.remote = remote

    def write(self, records: list[Record], replace: bool) -> list[str | None]:
        commands: list[list[Any]] = []
        where: list[int] = []
        for r in records:
            if r.db != self.remote.db:
                commands.append(["SELECT", r.db])
                self.remote.db = r.db
            cmd: list[Any] = [
                "RESTORE",
                r.key,
                r.expire_ms or 0,
                codec.dump_payload(r.value, compress=False),
            ]
            if r.expire_ms:
                cmd.append("ABSTTL")
            if replace:
                cmd.append("REPLACE")
            where.append(len(commands))
            commands.append(cmd)
        replies = self.remote.pipeline(commands)
        out: list[str | None] = []
        for i in where:
            reply = replies[i]
            if isinstance(reply, ReplyError):
                text = str(reply)
                out.append(
                    "already in the target (use --replace)" if text.startswith("BUSYKEY") else text
                )
            else:
                out.append(None)
        for i, reply in enumerate(replies):
            if i not in where and isinstance(reply, ReplyError):
                raise RemoteError("%s: SELECT: %s" % (self.remote.where, reply))
        return out

    def run(self, commands: list[list[bytes]]) -> list[str | None]:
        return [
            str(r) if isinstance(r, ReplyError) else None for r in self.remote.pipeline(commands)
        ]

    def load_functions(self, codes: list[bytes], replace: bool) -> list[str]:
        out = self.run(
            [[b"FUNCTION", b"LOAD", *([b"REPLACE"] if replace else []), code] for code in codes]
        )
        return [e for e in out if e]

    def close(self) -> None:
        self.remote.close()


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def restore(
    inp: Input, target: Target, args: argparse.Namespace, quiet: bool
) -> tuple[Counter[str], Counter[str], int, float]:
    """Load the (checked) input into `target`: (keys by type, skipped by reason, bytes,
    seconds)."""
    by_type: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    nbytes = 0
    f, fmt = inp.f, inp.fmt
    progress = Progress("restoring", _size(f), quiet=quiet)
    match = args.match.encode() if args.match else None
    if fmt == "resp":
        f.seek(0)
        errors: Counter[str] = Counter()
        for batch in _batches(formats.read_resp(f), _BATCH):
            results = target.run([c for c, _ in batch])
            for (command, _), problem in zip(batch, results, strict=True):
                if problem:
                    errors[problem] += 1
                else:
                    by_type["succeeded"] += 1
                nbytes += sum(len(a) for a in command)
            progress.advance(
                len(batch), sum(len(a) for c, _ in batch for a in c), position=batch[-1][1]
            )
        for problem, n in errors.items():
            skipped["the command failed: %s" % problem] += n
        return by_type, skipped, nbytes, progress.finish()

    def wanted() -> Iterator[Record]:
        for r in inp.records(progress, skipped):
            if args.db is not None and r.db != args.db:
                skipped["in another database than --db %d" % args.db] += 1
            elif match is not None and not glob_match(match, r.key):
                skipped["not matching --match"] += 1
            elif expired(r):
                skipped["expired before the restore"] += 1
            else:
                yield r

    for batch in _batches(wanted(), _BATCH):
        for r, problem in zip(batch, target.write(batch, args.replace), strict=True):
            if problem:
                skipped[problem] += 1
            else:
                by_type[value_type(r.value)] += 1
        progress.advance(len(batch), nbytes=progress.position - nbytes)
        nbytes = progress.position  # input bytes read (of the keys loaded and skipped)
    if inp.functions:
        failed = target.load_functions(inp.functions, args.replace)
        for problem in failed:
            print(
                "diskredis-restore: a function library was not loaded: %s" % problem,
                file=sys.stderr,
            )
        loaded = len(inp.functions) - len(failed)
        print("loaded %d function librar%s" % (loaded, "y" if loaded == 1 else "ies"))
        if failed:
            skipped["function libraries not loaded"] += len(failed)
    return by_type, skipped, nbytes, progress.finish()


def add_server_options(parser: argparse.ArgumentParser, what: str) -> None:
    where = parser.add_argument_group(what)
    where.add_argument("--dir", help="a data folder (the server must be stopped)")
    where.add_argument(
        "--engine",
        choices=ENGINES,
        help="engine of a new data folder (default: lmdb; an existing folder's own is used)",
    )
    where.add_argument(
        "--databases",
        type=int,
        default=16,
        help="databases of the folder (the server's `databases`; 16)",
    )
    add_connection_options(where)


def add_connection_options(where: Any) -> None:
    """-h -p -s --user -a: how to reach a running server, as redis-cli takes them."""
    where.add_argument("-h", "--host", help="a running server's host (default 127.0.0.1)")
    where.add_argument("-p", "--port", type=int, help="a running server's port (6379)")
    where.add_argument("-s", "--socket", help="a running server's unix socket")
    where.add_argument("--user", help="ACL user name (with --password)")
    where.add_argument(
        "-a", "--password", help="password (or set REDISCLI_AUTH in the environment)"
    )


def connect(args: argparse.Namespace) -> Remote:
    password = args.password or os.environ.get("REDISCLI_AUTH")
    return Remote(args.host or "127.0.0.1", args.port or 6379, args.socket, args.user, password)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="diskredis-restore",
        add_help=False,
        description="Load an RDB file (made by Redis 2.x to 7.0), JSON lines or a RESP "
        "command stream into a diskredis data folder or a running server "
        "(diskredis or Redis).",
        epilog="examples:  diskredis-restore dump.rdb --dir data   |   "
        "diskredis-restore keys.jsonl -p 6380 --replace   |   "
        "diskredis-restore commands.resp --dir data. "
        "Exit status: 0 all loaded, 1 some keys skipped, 2 nothing loaded (bad input "
        "or target).",
    )
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument(
        "--version",
        action="version",
        version="%(prog)s " + __version__,
        help="show the version and exit",
    )
    parser.add_argument("input", help="the file to load ('-' for standard input)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="the input's format (default: recognised from its first bytes)",
    )
    add_server_options(parser, "target (one of --dir or a server)")
    parser.add_argument("--db", type=int, help="load only the keys of this database")
    parser.add_argument("--match", help="load only keys matching this glob pattern")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="overwrite keys that exist (default: keep them, count them as skipped)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    args = parser.parse_args(argv)
    if (args.dir is None) == (args.host is None and args.port is None and args.socket is None):
        parser.error("give exactly one target: --dir FOLDER, or -h/-p/-s for a server")
    if args.format == "resp" and (args.db is not None or args.match):
        parser.error(
            "--db and --match select keys of RDB files and JSON lines; a command "
            "stream runs as it is"
        )
    try:
        f = _open(args.input)
        fmt = args.format or detect(args.input, f.read(16))
        inp = Input(f, fmt)
        n = inp.check(args.quiet)
        what = "commands" if fmt == "resp" else "keys"
        if not args.quiet:
            print("checked %s: %s, %d %s" % (args.input, fmt, n, what), file=sys.stderr)
        target: Target = (
            OfflineTarget(args.dir, args.engine, args.databases)
            if args.dir
            else RemoteTarget(connect(args))
        )
    except (InputError, StorageError, RemoteError) as e:
        print("diskredis-restore: %s" % e, file=sys.stderr)
        return 2
    try:
        by_type, skipped, nbytes, took = restore(inp, target, args, args.quiet)
    except (StorageError, RemoteError, codec.RdbError, formats.FormatError) as e:
        print("diskredis-restore: stopped: %s" % e, file=sys.stderr)
        return 2
    finally:
        target.close()
    print(
        summary(
            "restored" if fmt != "resp" else "ran",
            by_type,
            nbytes,
            took,
            skipped,
            "keys" if fmt != "resp" else "commands",
        )
    )
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
