"""diskredis-backup: a consistent copy of a data folder, taken while its server runs.

Room: the command line of the tool. Imports: `storage`, `check`, this package.

LMDB (the default engine) lets other processes read while the server writes: the copy
is made from one read transaction, so it is the folder as it was at one instant, with
every write acknowledged before that instant -- the server is never paused. The copy is
compacted (free pages left out) and then checked with diskredis-check.

A LevelDB folder can't be opened by a second process while its server runs: with the
server stopped the tool copies its files; with it running the tool refuses and says
what to do instead (stop it for a moment, or `diskredis-dump` for a key-by-key copy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from diskredis.check import _Progress, check
from diskredis.storage import FolderBusy, StorageError, lock_folder, open_engine
from diskredis.transfer.offline import engine_of
from diskredis.transfer.progress import Progress


def backup_lmdb(src: str, dest: str, quiet: bool) -> int:
    from diskredis.storage.lmdb_engine import hot_copy

    bar = Progress("copying", 1, quiet=quiet)

    def progress(done: int, total: int) -> None:
        bar.total = max(total, 1)
        bar.advance(0, done - bar.bytes, position=done)

    size = hot_copy(src, dest, progress)
    bar.finish()
    return size


def backup_leveldb(src: str, dest: str) -> int:
    try:
        lock = lock_folder(src)
    except FolderBusy as e:
        raise StorageError(
            "%s; a LevelDB folder can only be copied with its server stopped: stop it, "
            "run diskredis-backup again, start it (or take a key-by-key copy with "
            "diskredis-dump -p PORT, which is not one instant's snapshot)" % e) from None
    try:
        target = os.path.join(dest, "leveldb")
        if os.path.exists(target):
            raise StorageError("%s exists: give a new folder for the copy" % target)
        shutil.copytree(os.path.join(src, "leveldb"), target)
    finally:
        lock.close()
    return sum(os.path.getsize(os.path.join(target, f)) for f in os.listdir(target))


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
        description="Copy a diskredis data folder consistently while its server runs "
                    "(LMDB; a LevelDB folder with its server stopped), then check the copy.",
        epilog="example:  diskredis-backup /var/lib/diskredis /backups/diskredis-$(date +%%F). "
               "Start a server on the copy with --dir to use it. Exit status: 0 copied and "
               "checked, 1 copied but the check found problems, 2 not copied.")
    parser.add_argument("dir", help="the data folder (the server's `dir`)")
    parser.add_argument("dest", help="a new folder for the copy")
    parser.add_argument("--no-check", action="store_true",
                        help="skip diskredis-check on the copy")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    args = parser.parse_args(argv)
    engine = engine_of(args.dir) if os.path.isdir(args.dir) else None
    if engine is None:
        print("diskredis-backup: %s holds no diskredis data" % args.dir, file=sys.stderr)
        return 2
    if os.path.exists(args.dest) and os.listdir(args.dest):
        print("diskredis-backup: %s is not empty: give a new folder for the copy" % args.dest,
              file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        os.makedirs(args.dest, exist_ok=True)
        size = (backup_lmdb(args.dir, args.dest, args.quiet) if engine == "lmdb"
                else backup_leveldb(args.dir, args.dest))
    except (StorageError, OSError) as e:
        print("diskredis-backup: %s" % e, file=sys.stderr)
        shutil.rmtree(args.dest, ignore_errors=True)
        return 2
    took = time.monotonic() - start
    print("copied %s (%s) to %s: %.1f MB in %.1f s" % (
        args.dir, engine, args.dest, size / 1e6, took))
    if args.no_check:
        return 0
    ok, text = verify(args.dest, engine, args.quiet)
    print(("checked the copy: %s" if ok else "the copy has problems: %s") % text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
