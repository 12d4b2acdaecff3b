"""diskredis-check: verify a data folder offline, and optionally repair it.

Room: an operator's tool over the storage engines and the key layout (no server, no
commands). Imports: `storage`, `keyspace.layout`, `keyspace.types`.

Checks, in one pass over each table:

- the storage format version is the one this diskredis reads;
- every key record decodes, has a known type, and every collection id belongs to one key;
- every element record belongs to a live collection or to one queued for reclamation;
- the expiry index and the key records agree, both ways;
- each database's key and expiring-key counts match its records;
- key records of a database that no longer has a slot are queued for reclamation.

With --repair, what can be set right is: stray element records and stale expiry entries
are deleted, missing expiry entries added, counts rewritten, and abandoned databases
queued for reclamation. The server must be stopped (the folder's lock is taken).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

from diskredis import __version__
from diskredis.keyspace import layout as L
from diskredis.keyspace.types import by_code
from diskredis.storage import (
    ENGINES,
    FolderBusy,
    StorageError,
    lock_folder,
    open_engine,
    prefix_end,
)

USAGE_EPILOG = """exit status: 0 when the folder is sound (or was repaired), 1 when problems
were found and not repaired, 2 when the folder could not be checked."""


@dataclass
class Findings:
    records: Counter[str] = field(default_factory=Counter)  # table -> records read
    problems: list[str] = field(default_factory=list)  # what an operator reads
    orphan_subs: list[bytes] = field(default_factory=list)
    stale_expires: list[bytes] = field(default_factory=list)
    missing_expires: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value)
    stale_field_expires: list[bytes] = field(default_factory=list)
    missing_field_expires: list[tuple[bytes, bytes]] = field(default_factory=list)
    counts: dict[bytes, int] = field(default_factory=dict)  # stats name -> right value
    dead_slots: set[int] = field(default_factory=set)  # slots to queue for reclamation
    keys_by_type: Counter[str] = field(default_factory=Counter)

    def problem(self, text: str) -> None:
        if len(self.problems) < 1000:
            self.problems.append(text)
        elif len(self.problems) == 1000:
            self.problems.append("... (more problems not listed)")


class _Progress:
    """One line on stderr per table, updated as records go by, with the rate."""

    def __init__(self, out: TextIO, quiet: bool) -> None:
        self.out, self.quiet = out, quiet

    def run(self, name: str, rows: Any) -> Any:
        start = last = time.monotonic()
        n = 0
        for n, row in enumerate(rows, 1):
            if not self.quiet and n % 50_000 == 0 and time.monotonic() - last > 0.5:
                last = time.monotonic()
                self.out.write(
                    "\r%-7s %12d records  %10.0f/s" % (name, n, n / max(last - start, 1e-9))
                )
                self.out.flush()
            yield row
        if not self.quiet:
            took = time.monotonic() - start
            self.out.write(
                "\r%-7s %12d records  %10.0f/s  %.1f s\n" % (name, n, n / max(took, 1e-9), took)
            )
            self.out.flush()


def check(engine: Any, progress: _Progress) -> Findings:
    """Read the whole folder and report what does not add up."""
    f = Findings()
    max_key = engine.max_key_size
    with engine.read() as txn:
        version = txn.get("stats", b"format")
        if version is None or L.read_u32(version) not in L.READABLE_VERSIONS:
            f.problem(
                "storage format %s; this diskredis reads format %d"
                % ("missing" if version is None else L.read_u32(version), L.SCHEMA_VERSION)
            )
            return f
        stats = dict(progress.run("stats", txn.scan("stats")))
        f.records["stats"] = len(stats)
        slot_db = {
            L.read_u32(v): L.read_u32(k[5:]) for k, v in stats.items() if k.startswith(b"slot:")
        }
        queued_slots: set[int] = set()
        # values being stored in steps: their records go to gc at the next start
        queued_kids: set[int] = {
            L.read_u64(k[len(L.BUILDING_KID) :]) for k in stats if k.startswith(L.BUILDING_KID)
        }
        for _, job in progress.run("gc", txn.scan("gc")):
            f.records["gc"] += 1
            if job.startswith(b"slot"):
                queued_slots.add(L.read_u32(job[4:8]))
            elif job.startswith(b"kid "):
                queued_kids.add(L.read_u64(job[4:12]))
            else:
                f.problem("gc queue: unknown job %r" % job[:16])
        kids: dict[int, bytes] = {}
        with_deadlines: list[tuple[int, bytes, int]] = []  # hashes: id, key, fexp
        keys = Counter[int]()
        expiring = Counter[int]()
        for mkey, raw in progress.run("meta", txn.scan("meta")):
            f.records["meta"] += 1
            slot = L.read_u32(mkey[:4])
            try:
                meta = L.decode_meta(raw)
            except Exception as e:  # any damage: reported, never a crash
                f.problem("key record %s does not decode: %s" % (mkey.hex(), e))
                continue
            if meta.type not in by_code:
                f.problem("key record %s has unknown type %d" % (mkey.hex(), meta.type))
                continue
            f.keys_by_type[by_code[meta.type].name] += 1
            if slot not in slot_db and slot not in queued_slots:
                f.dead_slots.add(slot)
            keys[slot] += 1
            live_db = slot in slot_db  # (a flushed database's keys wait for reclamation)
            if meta.expire:
                expiring[slot] += 1
                entry = L.expire_entry(meta.expire, mkey, max_key)
                if live_db and txn.get("expire", entry[0]) is None:
                    f.missing_expires.append(entry)
            fields = L.field_expire(meta)
            if fields:
                entry = L.expire_entry(fields, mkey, max_key)
                if live_db and txn.get("fexpire", entry[0]) is None:
                    f.missing_field_expires.append(entry)
            if L.is_collection(meta.type):
                if len(meta.payload) < 16:
                    f.problem("key record %s: collection payload too short" % mkey.hex())
                    continue
                kid, _ = L.coll_head(meta.payload)
                if kid in kids:
                    f.problem(
                        "collection id %d is used by two keys (%s and %s)"
                        % (kid, kids[kid].hex(), mkey.hex())
                    )
                kids[kid] = mkey
                if meta.type == L.HASH and len(meta.payload) >= 24:  # takes field deadlines
                    with_deadlines.append((kid, mkey, fields))
        for kid, mkey, fexp in with_deadlines:
            _check_field_deadlines(f, txn, kid, mkey, fexp, max_key)
        for ekey, evalue in progress.run("expire", txn.scan("expire")):
            f.records["expire"] += 1
            deadline, mkey = L.split_expire_entry(ekey, evalue)
            raw = txn.get("meta", mkey)
            if raw is None or L.decode_meta(raw).expire != deadline:
                f.stale_expires.append(ekey)
        for ekey, evalue in progress.run("fexpire", txn.scan("fexpire")):
            f.records["fexpire"] += 1
            deadline, mkey = L.split_expire_entry(ekey, evalue)
            raw = txn.get("meta", mkey)
            if raw is None or L.field_expire(L.decode_meta(raw)) != deadline:
                f.stale_field_expires.append(ekey)
        last_kid = None
        live = False
        for skey, _ in progress.run("sub", txn.scan("sub")):
            f.records["sub"] += 1
            kid = L.read_u64(skey[:8])
            if kid != last_kid:
                last_kid = kid
                live = kid in kids or kid in queued_kids
            if not live:
                f.orphan_subs.append(skey)
        for _ in txn.scan("zscore"):
            f.problem("the zscore table is not empty (it is unused)")
            break
        for slot, db in slot_db.items():
            for name, counted in ((b"count:", keys[slot]), (b"expires:", expiring[slot])):
                stored_raw = stats.get(name + L.u32(slot))
                stored = L.read_u64(stored_raw) if stored_raw is not None else 0
                if stored != counted:
                    f.counts[name + L.u32(slot)] = counted
                    f.problem(
                        "db %d: %s says %d, the records say %d"
                        % (db, name[:-1].decode(), stored, counted)
                    )
    for found, text in (
        (f.orphan_subs, "%d element records belong to no key and are not queued for reclamation"),
        (f.stale_expires, "%d expiry entries name keys that are gone or expire at another time"),
        (f.missing_expires, "%d keys with a deadline are missing from the expiry index"),
        (
            f.stale_field_expires,
            "%d field expiry entries name hashes that are gone or expire at another time",
        ),
        (f.missing_field_expires, "%d hashes with field deadlines are missing from their index"),
        (f.dead_slots, "key records of %d abandoned databases are not queued for reclamation"),
    ):
        if found:
            f.problem(text % len(found))
    return f


def repair(engine: Any, f: Findings) -> None:
    """Set right what `check` found that can be: one write transaction per 50,000
    changes, so a big repair is not one huge transaction."""
    changes: list[tuple[str, str, bytes, bytes]] = (
        [("delete", "sub", k, b"") for k in f.orphan_subs]
        + [("delete", "expire", k, b"") for k in f.stale_expires]
        + [("put", "expire", k, v) for k, v in f.missing_expires]
        + [("delete", "fexpire", k, b"") for k in f.stale_field_expires]
        + [("put", "fexpire", k, v) for k, v in f.missing_field_expires]
        + [("put", "stats", k, L.u64(v)) for k, v in f.counts.items()]
    )
    if f.dead_slots:
        with engine.read() as txn:
            last = next(iter(txn.scan("gc", reverse=True)), None)
        seq = L.read_u64(last[0]) + 1 if last else 1
        for slot in sorted(f.dead_slots):
            changes.append(("put", "gc", L.u64(seq), b"slot" + L.u32(slot)))
            seq += 1
    for start in range(0, len(changes), 50_000):
        with engine.write() as txn:
            for op, table, key, value in changes[start : start + 50_000]:
                if op == "delete":
                    txn.delete(table, key)
                else:
                    txn.put(table, key, value)


def _lock(path: str) -> Any:
    try:
        return lock_folder(path)
    except FolderBusy as e:
        raise StorageError(
            "a diskredis server (pid %s) is using %s; stop it first" % (e.holder, e.path)
        ) from None


def _engine_of(path: str) -> str | None:
    found = [name for name in ENGINES if os.path.isdir(os.path.join(path, name))]
    return found[0] if len(found) == 1 else None


def _check_field_deadlines(
    f: Findings, txn: Any, kid: int, mkey: bytes, fexp: int, max_key: int
) -> None:
    """A hash's field deadlines: each field's deadline record and its entry in the
    hash's deadline order go in pairs, for a field that exists, and the head's earliest
    deadline is no later than the first (it may lie before it: a lower bound)."""
    head = L.u64(kid)
    order = L.field_due_prefix(kid)
    due = [(L.due_deadline(k), v) for k, v in txn.scan("sub", order, prefix_end(order))]
    records = sum(1 for _ in txn.scan("sub", head + L.FIELD_TTL, order))
    for deadline, name in due:
        if txn.get("sub", L.field_ttl_key(kid, name, max_key)) != L.u64(deadline):
            f.problem(
                "hash %s: field %r is in the deadline order at %d without that deadline"
                % (mkey.hex(), name[:100], deadline)
            )
        if txn.get("sub", L.sub_key(kid, name, max_key)[0]) is None:
            f.problem("hash %s: a deadline for field %r, which it lacks" % (mkey.hex(), name[:100]))
    if records != len(due):
        f.problem(
            "hash %s: %d field deadline records, %d entries in its deadline order"
            % (mkey.hex(), records, len(due))
        )
    if due and not 0 < fexp <= due[0][0]:
        f.problem(
            "hash %s: its record says the earliest field deadline is %d, the first is %d"
            % (mkey.hex(), fexp, due[0][0])
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="diskredis-check",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        epilog=USAGE_EPILOG,
    )
    parser.add_argument(
        "--version",
        action="version",
        version="%(prog)s " + __version__,
        help="show the version and exit",
    )
    parser.add_argument("dir", help="the data folder (the server's `dir`)")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="the engine (default: the one whose files are in the folder)",
    )
    parser.add_argument(
        "--repair", action="store_true", help="set right what can be (the server must be stopped)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    path = args.dir
    engine_name = args.engine or _engine_of(path)
    if not os.path.isdir(path) or engine_name is None:
        print(
            "diskredis-check: %s holds no diskredis data (give --engine if it should)" % path,
            file=sys.stderr,
        )
        return 2
    try:
        lock = _lock(path)
    except (StorageError, OSError) as e:
        print("diskredis-check: %s" % e, file=sys.stderr)
        return 2
    try:
        engine = open_engine(engine_name, path)
    except StorageError as e:
        print("diskredis-check: can't open %s: %s" % (path, e), file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        findings = check(engine, _Progress(sys.stderr, args.quiet))
        print(
            "checked %s (%s) in %.1f s: %s"
            % (
                os.path.abspath(path),
                engine_name,
                time.monotonic() - start,
                ", ".join("%d %s records" % (n, t) for t, n in sorted(findings.records.items())),
            )
        )
        if findings.keys_by_type:
            print(
                "keys: %s"
                % ", ".join("%d %s" % (n, t) for t, n in sorted(findings.keys_by_type.items()))
            )
        if not findings.problems:
            print("no problems found")
            return 0
        for text in findings.problems:
            print("problem: %s" % text)
        if not args.repair:
            print("run again with --repair to set these right")
            return 1
        repair(engine, findings)
        again = check(engine, _Progress(sys.stderr, True))
        if again.problems:
            for text in again.problems:
                print("still wrong after repair: %s" % text)
            return 1
        print("repaired: no problems left")
        return 0
    finally:
        engine.close()
        lock.close()


if __name__ == "__main__":
    sys.exit(main())
