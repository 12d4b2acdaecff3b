"""diskredis-backup: a consistent copy of a data folder, taken while its server runs.

Room: the command line of the tool. Imports: `storage`, `check`, this package.

LMDB (the default engine) lets other processes read while the server writes: the copy
is made from one read transaction, so it is the folder as it was at one instant, with
every write acknowledged before that instant -- the server is never paused. The copy is
compacted (free pages left out) and then checked with diskredis-check.

A LevelDB folder can't be opened by a second process while its server runs: with the
server stopped the tool copies its files; with it running the copy is made through the
server (give its address, as to redis-cli): the server writes a snapshot of the whole
dataset from one read snapshot of LevelDB (`SYNC`, what `redis-cli --rdb` asks for), the
tool loads it into the new folder. That too is one instant's state, without pausing
the server; it holds the keys, their expiries and the function libraries, not the EVAL
script cache (which Redis does not keep across restarts either).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from diskredis import __version__
from diskredis.check import _Progress, check
from diskredis.storage import FolderBusy, StorageError, engine_class, lock_folder, open_engine
from diskredis.storage.base import folder_size
from diskredis.transfer.offline import engine_of
from diskredis.transfer.progress import Progress
from diskredis.transfer.remote import RemoteError
from diskredis.transfer.restore import (
    Input,
    InputError,
    OfflineTarget,
    add_connection_options,
    connect,
    restore,
)


def copy(engine: str, src: str, dest: str, args: argparse.Namespace) -> int:
    """The engine's own copy of the folder; through the server when the engine can't be
    read while its server runs (and one does)."""
    bar = Progress("copying", 1, quiet=args.quiet)

    def progress(done: int, total: int) -> None:
        bar.total = max(total, 1)
        bar.advance(0, done - bar.bytes, position=done)

    try:
        size = engine_class(engine).copy_folder(src, dest, progress)
    except FolderBusy as e:
        if args.host is None and args.port is None and args.socket is None:
            raise StorageError(
                "%s; a %s folder can't be read while its server runs: give the "
                "server's address (-p PORT, -h HOST or -s SOCKET, -a PASSWORD if it has "
                "one) and the copy is made through it, or stop the server" % (e, engine)
            ) from None
        return backup_through_server(engine, dest, args)
    bar.finish()
    return size


def backup_through_server(engine: str, dest: str, args: argparse.Namespace) -> int:
    """A copy of what the running server holds, from its snapshot (SYNC)."""
    rdb = os.path.join(dest, ".snapshot.rdb")
    bar = Progress("receiving", 1, quiet=args.quiet)

    def progress(done: int, total: int) -> None:
        bar.total = max(total, 1)
        bar.advance(0, done - bar.bytes, position=done)

    remote = connect(args)
    try:
        with open(rdb, "wb") as f:
            remote.snapshot(f, progress)
    finally:
        remote.close()
    bar.finish()
    try:
        with open(rdb, "rb") as saved:
            inp = Input(saved, "rdb")
            inp.check(args.quiet)
            target = OfflineTarget(dest, engine, args.databases)
            try:
                restore(
                    inp, target, argparse.Namespace(match=None, db=None, replace=False), args.quiet
                )
            finally:
                target.close()
    except InputError as e:
        raise StorageError("the server's snapshot did not load: %s" % e) from None
    finally:
        os.unlink(rdb)
    return folder_size(os.path.join(dest, engine))


def compact_copy(dest: str, engine: str) -> tuple[int, int]:
    """--compact: the copy's files hold only live data (LMDB's copy is compacted as it
    is made; this also puts its logs into the file; LevelDB compacts every level).
    The bytes before and after."""
    lock = lock_folder(dest)
    try:
        store = open_engine(engine, dest)
        try:
            before = store.disk_size()
            store.checkpoint()
            work = store.begin_compaction()
            assert work is not None, "nothing runs beside the tool"
            work()
            if store.finish_compaction() is not True:
                raise StorageError("the compaction of the copy in %s failed" % dest)
            return before, store.disk_size()
        finally:
            store.close()
    finally:
        lock.close()


def verify(dest: str, engine: str, quiet: bool) -> tuple[bool, str]:
    lock = lock_folder(dest)
    try:
        store = open_engine(engine, dest, fsync=False)
        try:
            findings = check(store, _Progress(sys.stderr, quiet))
        finally:
            store.close()
    finally:
        lock.close()
    keys = ", ".join("%d %s" % (n, t) for t, n in sorted(findings.keys_by_type.items()))
    if findings.problems:
        return False, "; ".join(findings.problems[:5])
    return True, keys or "no keys"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="diskredis-backup",
        add_help=False,
        description="Copy a diskredis data folder consistently while its server runs, "
        "then check the copy. LMDB folders are copied directly; a LevelDB "
        "folder whose server runs is copied through the server (give its "
        "address), with the server stopped directly.",
        epilog="examples:  diskredis-backup /var/lib/diskredis /backups/diskredis-$(date "
        "+%%F)   |   diskredis-backup /var/lib/diskredis /backups/today -p 6380 "
        "(LevelDB). Start a server on the copy with --dir to use it. Exit status: 0 "
        "copied and checked, 1 copied but the check found problems, 2 not copied.",
    )
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument(
        "--version",
        action="version",
        version="%(prog)s " + __version__,
        help="show the version and exit",
    )
    parser.add_argument("dir", help="the data folder (the server's `dir`)")
    parser.add_argument("dest", help="a new folder for the copy")
    parser.add_argument("--no-check", action="store_true", help="skip diskredis-check on the copy")
    parser.add_argument(
        "--compact",
        action="store_true",
        help="compact the copy: its files hold only live data (as COMPACT does on a server)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    server = parser.add_argument_group(
        "the running server of a LevelDB folder (LMDB folders need none)"
    )
    add_connection_options(server)
    server.add_argument("--databases", type=int, default=16, help="the server's `databases` (16)")
    args = parser.parse_args(argv)
    engine = engine_of(args.dir) if os.path.isdir(args.dir) else None
    if engine is None:
        print("diskredis-backup: %s holds no diskredis data" % args.dir, file=sys.stderr)
        return 2
    if os.path.exists(args.dest) and os.listdir(args.dest):
        print(
            "diskredis-backup: %s is not empty: give a new folder for the copy" % args.dest,
            file=sys.stderr,
        )
        return 2
    start = time.monotonic()
    try:
        os.makedirs(args.dest, exist_ok=True)
        size = copy(engine, args.dir, args.dest, args)
    except (StorageError, OSError, RemoteError) as e:
        print("diskredis-backup: %s" % e, file=sys.stderr)
        shutil.rmtree(args.dest, ignore_errors=True)
        return 2
    took = time.monotonic() - start
    print(
        "copied %s (%s) to %s: %.1f MB in %.1f s" % (args.dir, engine, args.dest, size / 1e6, took)
    )
    if args.compact:
        try:
            before, after = compact_copy(args.dest, engine)
        except (StorageError, OSError) as e:
            print("diskredis-backup: %s" % e, file=sys.stderr)
            return 2
        print("compacted the copy: %.1f MB -> %.1f MB" % (before / 1e6, after / 1e6))
    if args.no_check:
        return 0
    ok, text = verify(args.dest, engine, args.quiet)
    print(("checked the copy: %s" if ok else "the copy has problems: %s") % text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
