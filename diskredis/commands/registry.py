"""The command table: every command is declared once, beside its handler.

Room: command metadata and lookup. Imports: `args`, `keyspace.space` (lookup flags),
`resp.values`, `errors`, `util`, the standard library.

`@command(...)` records name, arity, flags, group, key specs, ACL categories,
tips and documentation next to the handler. Dispatch, the arity check,
COMMAND INFO/DOCS/LIST/COUNT/GETKEYS, ACL categories and docs/commands.md are
all derived from this table (Redis does the same from its JSON files).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from diskredis import errors
from diskredis.commands.args import help_reply
from diskredis.keyspace.space import LOOKUP_CACHE, LOOKUP_READ, LOOKUP_TOUCH
from diskredis.resp.values import RSet
from diskredis.util import string2ll

__all__ = [
    "ACL_CATEGORIES",
    "COMMANDS",
    "Arg",
    "Command",
    "KeySpec",
    "arg",
    "block",
    "command",
    "lookup",
    "oneof",
    "token",
]

# The order COMMAND INFO prints flags in (server.c addReplyFlagsForCommand).
FLAG_ORDER = (
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
)
# Flags Redis keeps but never prints.
HIDDEN_FLAGS = frozenset(
    {"may_replicate", "sentinel", "only_sentinel", "protected", "touches_arbitrary_keys"}
)
# The order of ACL categories (acl.c ACLCommandCategories).
ACL_CATEGORIES = (
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
)
GROUPS = (
    "generic",
    "string",
    "list",
    "set",
    "sorted-set",
    "hash",
    "pubsub",
    "transactions",
    "connection",
    "server",
    "scripting",
    "hyperloglog",
    "cluster",
    "sentinel",
    "geo",
    "stream",
    "bitmap",
    "module",
)
# The ACL category each command group implies (Redis's JSON files spell them out;
# they follow the group with few exceptions, written as `acl="-category"`).
_GROUP_CATEGORY = {
    "generic": "keyspace",
    "string": "string",
    "list": "list",
    "set": "set",
    "sorted-set": "sortedset",
    "hash": "hash",
    "pubsub": "pubsub",
    "transactions": "transaction",
    "connection": "connection",
    "scripting": "scripting",
    "hyperloglog": "hyperloglog",
    "geo": "geo",
    "stream": "stream",
    "bitmap": "bitmap",
}
KEY_FLAG_ORDER = (
    "RO",
    "RW",
    "OW",
    "RM",
    "access",
    "update",
    "insert",
    "delete",
    "not_key",
    "incomplete",
    "variable_flags",
)


@dataclass(frozen=True)
class KeySpec:
    """Where a command's keys are (Redis 7 key specs).

    begin: ``("index", pos)`` or ``("keyword", word, startfrom)`` or ``("unknown",)``
    find: ``("range", lastkey, step, limit)`` or ``("keynum", idx, first, step)``
    or ``("unknown",)``.
    """

    flags: tuple[str, ...]
    begin: tuple[Any, ...]
    find: tuple[Any, ...]
    notes: str | None = None

    def info(self) -> dict[bytes, Any]:
        out: dict[bytes, Any] = {}
        if self.notes:
            out[b"notes"] = self.notes.encode()
        out[b"flags"] = _rset([f for f in KEY_FLAG_ORDER if f in self.flags])
        kind = self.begin[0]
        if kind == "index":
            spec: dict[bytes, Any] = {b"index": self.begin[1]}
        elif kind == "keyword":
            spec = {b"keyword": self.begin[1].encode(), b"startfrom": self.begin[2]}
        else:
            spec = {}
        out[b"begin_search"] = {b"type": kind.encode(), b"spec": spec}
        kind = self.find[0]
        if kind == "range":
            spec = {b"lastkey": self.find[1], b"keystep": self.find[2], b"limit": self.find[3]}
        elif kind == "keynum":
            spec = {b"keynumidx": self.find[1], b"firstkey": self.find[2], b"keystep": self.find[3]}
        else:
            spec = {}
        out[b"find_keys"] = {b"type": kind.encode(), b"spec": spec}
        return out

    def keys(self, argv: list[bytes]) -> list[int] | None:
        """Indexes of the keys this spec finds in `argv`, None when the arguments do not
        fit it (Redis getKeysUsingKeySpecs: an invalid spec, which voids every spec's
        keys); a keyword that is not there finds none."""
        argc = len(argv)
        if self.begin[0] == "index":
            first = self.begin[1]
        elif self.begin[0] == "keyword":
            word, start = self.begin[1].encode().lower(), self.begin[2]
            i = start if start > 0 else argc + start
            end = argc - 1 if start > 0 else 1
            way = 1 if i <= end else -1
            first = 0
            while i != end and 1 <= i < argc:
                if argv[i].lower() == word:
                    first = i + 1
                    break
                i += way
            if first == 0:
                return []
        else:
            return None
        if self.find[0] == "range":
            _, lastkey, step, limit = self.find
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + (argc - first) // limit + lastkey
        elif self.find[0] == "keynum":
            _, idx, firstkey, step = self.find
            if idx >= argc or first + idx >= argc:
                return None
            num = string2ll(argv[first + idx])
            if num is None or num < 0:
                return None
            first += firstkey
            last = first + num - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        return list(range(first, last + 1, step))


def _rset(items: list[Any]) -> RSet:
    return RSet(items)


@dataclass
class Arg:
    """One argument of COMMAND DOCS."""

    name: str
    type: str
    token: str | None = None
    flags: tuple[str, ...] = ()
    key_spec_index: int = -1
    since: str | None = None
    subargs: tuple[Arg, ...] = ()

    def docs(self) -> dict[bytes, Any]:
        out: dict[bytes, Any] = {b"name": self.name.encode(), b"type": self.type.encode()}
        if self.key_spec_index != -1:
            out[b"key_spec_index"] = self.key_spec_index
        if self.token is not None:  # MIGRATE's empty_string has the token ""
            out[b"token"] = self.token.encode()
        if self.since:
            out[b"since"] = self.since.encode()
        if self.flags:
            out[b"flags"] = _rset(list(self.flags))
        if self.type in ("oneof", "block"):
            out[b"arguments"] = [a.docs() for a in self.subargs]
        return out


def keys_at(
    flags: str,
    index: int = 1,
    last: int = 0,
    step: int = 1,
    limit: int = 0,
    notes: str | None = None,
) -> KeySpec:
    """The common key spec: keys from argument `index` to `last` (negative: from the end)."""
    return KeySpec(tuple(flags.split()), ("index", index), ("range", last, step, limit), notes)


def arg(
    name: str,
    type_: str = "string",
    *flags: str,
    token: str | None = None,
    key: int = -1,
    since: str | None = None,
) -> Arg:
    """A documented argument; flags among ``optional``, ``multiple``, ``multiple_token``."""
    return Arg(name, type_, token, tuple(flags), key, since)


def token(word: str, *flags: str, since: str | None = None) -> Arg:
    return Arg(word.lower(), "pure-token", word, tuple(flags), since=since)


def oneof(
    name: str,
    *subargs: Arg,
    flags: tuple[str, ...] = (),
    tok: str | None = None,
    since: str | None = None,
) -> Arg:
    return Arg(name, "oneof", tok, flags, since=since, subargs=subargs)


def block(
    name: str,
    *subargs: Arg,
    flags: tuple[str, ...] = (),
    tok: str | None = None,
    since: str | None = None,
) -> Arg:
    return Arg(name, "block", tok, flags, since=since, subargs=subargs)


Handler = Callable[..., Any]

_HDR_LOWEST = 1  # LATENCY_HISTOGRAM_MIN_VALUE: 1 ns
HDR_HIGHEST = 1_000_000_000  # LATENCY_HISTOGRAM_MAX_VALUE: 1 s
# 2 significant digits: 256 sub-buckets (the first 256 ns exact, then steps of 2, 4, ...)
_HDR_SUB_BITS = 8


def hdr_bucket(elapsed_ns: int) -> int:
    """The bucket of Redis's per-command hdr histogram a call falls in, by its lowest
    value in ns: Redis feeds it the duration in whole microseconds (times 1000), clamped
    to [1 ns, 1 s]."""
    value = elapsed_ns // 1000 * 1000 or _HDR_LOWEST
    if value > HDR_HIGHEST:
        value = HDR_HIGHEST
    shift = value.bit_length() - _HDR_SUB_BITS
    if shift > 0:
        value = value >> shift << shift
    return value


def hdr_highest_equivalent(value: int) -> int:
    """The last value counted in the same hdr bucket as `value` (ns)."""
    shift = max(value.bit_length(), _HDR_SUB_BITS) - _HDR_SUB_BITS
    return (value >> shift << shift) + (1 << shift) - 1


@dataclass
class Command:
    name: str  # full name, lower case: "get", "client|list"
    arity: int
    flags: frozenset[str]
    group: str
    handler: Handler | None
    key_specs: tuple[KeySpec, ...] = ()
    acl: tuple[str, ...] = ()
    tips: tuple[str, ...] = ()
    summary: str = ""
    since: str = ""
    complexity: str = ""
    doc_flags: tuple[str, ...] = ()
    args: tuple[Arg, ...] = ()
    history: tuple[tuple[str, str], ...] = ()
    deprecated_since: str | None = None
    replaced_by: str | None = None
    subcommands: dict[str, Command] = field(default_factory=dict)
    parent: Command | None = None
    #: Where the keys are when the key specs cannot say (SORT's STORE): Redis's
    #: getkeys_proc, argv -> [(index, flags)].
    getkeys: Callable[[list[bytes]], list[tuple[int, tuple[str, ...]]]] | None = None
    #: The flags of this call when they depend on its arguments (EVAL and FCALL take
    #: them from the script's declared flags, EXEC from the queued commands): Redis's
    #: getCommandFlags, (the command, ctx, argv) -> flags.
    flags_of: Callable[[Command, Any, list[bytes]], frozenset[str]] | None = None
    # Derived once in __post_init__:
    categories: tuple[str, ...] = ()
    legacy: tuple[int, int, int] = (0, 0, 0)
    # Statistics (commandstats), maintained by the lane.
    calls: int = 0
    usec: int = 0
    rejected_calls: int = 0
    failed_calls: int = 0
    # Latency histogram (INFO latencystats, LATENCY HISTOGRAM): hdr bucket -> calls.
    latency: dict[int, int] = field(default_factory=dict)

    def latency_percentile(self, pct: float) -> float:
        """hdr_value_at_percentile, in µs: the high end of the bucket in which the
        cumulative count first reaches `pct` percent of the calls (rounded half up, at least
        one call); the low end for the 0th percentile."""
        total = sum(self.latency.values())
        wanted = int((min(pct, 100.0) / 100) * total + 0.5)
        wanted = max(wanted, 1)
        seen = 0
        for bucket in sorted(self.latency):
            seen += self.latency[bucket]
            if seen >= wanted:
                value = bucket if pct == 0.0 else hdr_highest_equivalent(bucket)
                return value / 1000.0
        return 0.0

    def __post_init__(self) -> None:
        flags = set(self.flags)
        self.legacy = self._legacy_range(flags)
        self.flags = frozenset(flags)
        self.categories = self._categories()
        # The flags dispatch tests for every call, as attributes (no set lookups).
        self.protected = "protected" in flags
        self.no_auth = "no_auth" in flags
        self.no_multi = "no_multi" in flags
        self.allow_busy = "allow_busy" in flags
        self.readonly = "readonly" in flags
        # How its lookups go (`Keyspace.lookup`): a read-only command's are reads.
        self.lookup_flags = LOOKUP_TOUCH | (LOOKUP_READ | LOOKUP_CACHE if self.readonly else 0)
        self.quiet = "skip_slowlog" in flags  # SLOWLOG skips it
        self.unmonitored = "skip_monitor" in flags or "admin" in flags

    def flags_for(self, ctx: Any, argv: list[bytes]) -> frozenset[str]:
        """The flags of this call (getCommandFlags): the declared ones, or those its
        arguments give it."""
        return self.flags if self.flags_of is None else self.flags_of(self, ctx, argv)

    def _categories(self) -> tuple[str, ...]:
        cats = {c for c in self.acl if not c.startswith("-")}
        group_cat = _GROUP_CATEGORY.get(self.group)
        if group_cat and self.handler is not None and "-" + group_cat not in self.acl:
            cats.add(group_cat)  # containers carry only @slow, as in Redis
        f = self.flags
        if "write" in f:
            cats.add("write")
        if "readonly" in f and "scripting" not in cats:
            cats.add("read")
        if "admin" in f:
            cats.update(("admin", "dangerous"))
        if "pubsub" in f:
            cats.add("pubsub")
        if "fast" in f:
            cats.add("fast")
        if "blocking" in f:
            cats.add("blocking")
        if "fast" not in cats:
            cats.add("slow")
        return tuple(c for c in ACL_CATEGORIES if c in cats)

    def _legacy_range(self, flags: set[str]) -> tuple[int, int, int]:
        """(first, last, step) as Redis's populateCommandLegacyRangeSpec derives them."""
        specs = self.key_specs
        if not specs:
            return (0, 0, 0)

        def plain(s: KeySpec) -> bool:
            return bool(s.begin[0] == "index" and s.find[0] == "range")

        if len(specs) == 1 and plain(specs[0]):
            s = specs[0]
            if "incomplete" in s.flags:
                flags.add("movablekeys")
            last = s.find[1]
            return (s.begin[1], last + s.begin[1] if last >= 0 else last, s.find[2])
        first, last, prev = 1 << 31, 0, 0
        for s in specs:
            if not plain(s):
                flags.add("movablekeys")
                continue
            if s.find[2] != 1 or (prev and prev != s.begin[1] - 1):
                flags.add("movablekeys")
                continue
            if "incomplete" in s.flags:
                flags.add("movablekeys")
            first = min(first, s.begin[1])
            abs_last = s.find[1] + s.begin[1] if s.find[1] >= 0 else s.find[1]
            last = max(last % (1 << 32), abs_last % (1 << 32))
            last = last - (1 << 32) if last >= 1 << 31 else last
            prev = last
        if first == 1 << 31:
            flags.add("movablekeys")
            return (0, 0, 0)
        return (first, last, 1)

    # -- COMMAND replies -----------------------------------------------------------
    def info(self) -> list[Any]:
        first, last, step = self.legacy
        return [
            self.name.encode(),
            self.arity,
            _rset([f for f in FLAG_ORDER if f in self.flags]),
            first,
            last,
            step,
            _rset(["@" + c for c in self.categories]),
            _rset([t.encode() for t in self.tips]),
            _rset([s.info() for s in self.key_specs]),
            [sub.info() for sub in self.subcommands.values()] if self.subcommands else _rset([]),
        ]

    def docs(self) -> dict[bytes, Any]:
        out: dict[bytes, Any] = {}
        if self.summary:
            out[b"summary"] = self.summary.encode()
        if self.since:
            out[b"since"] = self.since.encode()
        out[b"group"] = self.group.encode()
        if self.complexity:
            out[b"complexity"] = self.complexity.encode()
        if self.doc_flags:
            out[b"doc_flags"] = _rset(list(self.doc_flags))
        if self.deprecated_since:
            out[b"deprecated_since"] = self.deprecated_since.encode()
        if self.replaced_by:
            out[b"replaced_by"] = self.replaced_by.encode()
        if self.history:
            out[b"history"] = _rset([[a.encode(), b.encode()] for a, b in self.history])
        if self.args:
            out[b"arguments"] = [a.docs() for a in self.args]
        if self.subcommands:
            out[b"subcommands"] = {s.name.encode(): s.docs() for s in self.subcommands.values()}
        return out

    def key_positions(self, argv: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
        """(index, flags) of each key in `argv`, in key-spec order, not_key specs left
        out (getKeysFromCommandWithSpecs, GET_KEYSPEC_DEFAULT): the key specs when they
        all fit the arguments and their flags hold for every call, else the command's
        own finder, else none."""
        specs = [s for s in self.key_specs if "not_key" not in s.flags]
        if specs and not any("variable_flags" in s.flags for s in self.key_specs):
            out: list[tuple[int, tuple[str, ...]]] = []
            for spec in specs:
                found = spec.keys(argv)
                if found is None or "incomplete" in spec.flags:
                    break
                out.extend((i, spec.flags) for i in found)
            else:
                return out
        if self.getkeys is not None:
            return self.getkeys(argv)
        return []


COMMANDS: dict[str, Command] = {}


def command(
    name: str,
    arity: int,
    flags: str = "",
    *,
    group: str,
    summary: str,
    since: str,
    complexity: str = "",
    acl: str = "",
    tips: str = "",
    keys: tuple[KeySpec, ...] = (),
    args: tuple[Arg, ...] = (),
    doc_flags: str = "",
    history: tuple[tuple[str, str], ...] = (),
    deprecated_since: str | None = None,
    replaced_by: str | None = None,
    getkeys: Callable[[list[bytes]], list[tuple[int, tuple[str, ...]]]] | None = None,
    flags_of: Callable[[Command, Any, list[bytes]], frozenset[str]] | None = None,
) -> Callable[[Handler], Handler]:
    """Register the decorated handler as command `name` (``"client|list"`` for a subcommand).

    A container (a command with subcommands, such as CLIENT) is registered
    with `container()`; its subcommands name it before the ``|``.
    """
    assert group in GROUPS, group

    def register(handler: Handler) -> Handler:
        cmd = Command(
            name=name,
            arity=arity,
            flags=frozenset(flags.split()),
            group=group,
            handler=handler,
            key_specs=keys,
            acl=tuple(acl.split()),
            tips=tuple(tips.split()),
            summary=summary,
            since=since,
            complexity=complexity,
            doc_flags=tuple(doc_flags.split()),
            args=args,
            history=history,
            deprecated_since=deprecated_since,
            replaced_by=replaced_by,
            getkeys=getkeys,
            flags_of=flags_of,
        )
        _install(cmd)
        return handler

    return register


def container(
    name: str, *, group: str, summary: str, since: str, complexity: str = "", acl: str = ""
) -> None:
    """Declare a command that only has subcommands (arity -2, like Redis's containers)."""
    _install(
        Command(
            name=name,
            arity=-2,
            flags=frozenset(),
            group=group,
            handler=None,
            acl=tuple(acl.split()),
            summary=summary,
            since=since,
            complexity=complexity,
        )
    )


def _install(cmd: Command) -> None:
    if "|" in cmd.name:
        parent_name, _ = cmd.name.split("|", 1)
        parent = COMMANDS[parent_name]
        cmd.parent = parent
        assert cmd.name not in parent.subcommands, cmd.name
        parent.subcommands[cmd.name.split("|", 1)[1]] = cmd
    else:
        assert cmd.name not in COMMANDS, cmd.name
        COMMANDS[cmd.name] = cmd


def lookup(argv: list[bytes]) -> Command | None:
    """Redis lookupCommand: a container with 2+ arguments resolves to its subcommand."""
    try:
        base = COMMANDS.get(argv[0].decode("ascii").lower())
    except UnicodeDecodeError:
        return None
    if base is None or not base.subcommands or len(argv) == 1:
        return base
    try:
        return base.subcommands.get(argv[1].decode("ascii").lower())
    except UnicodeDecodeError:
        return None


def by_fullname(name: bytes) -> Command | None:
    """lookupCommandBySds: ``get`` or ``config|get``, case-insensitive."""
    try:
        text = name.decode("ascii").lower()
    except UnicodeDecodeError:
        return None
    base_name, _, sub = text.partition("|")
    base = COMMANDS.get(base_name)
    if base is None or not sub:
        return base if "|" not in text else None
    return base.subcommands.get(sub)


def resolve(argv: list[bytes]) -> Command:
    """The command to run, or the error Redis gives for an unknown one or a wrong arity."""
    cmd = find(argv)
    check_arity(cmd, len(argv))
    return cmd


_SEEN: dict[bytes, Command] = {}  # argv[0] as clients send it -> command without subcommands
_SEEN_MAX = 4096  # spellings kept (a client cycling through letter cases can't grow it)


def find(argv: list[bytes]) -> Command:
    """The command `argv` names, or Redis's unknown command / subcommand error."""
    cmd = _SEEN.get(argv[0])
    if cmd is not None:
        return cmd
    cmd = lookup(argv)
    if cmd is not None and not cmd.subcommands and cmd.parent is None and len(_SEEN) < _SEEN_MAX:
        _SEEN[argv[0]] = cmd
    if cmd is None:
        base = None
        with contextlib.suppress(UnicodeDecodeError):
            base = COMMANDS.get(argv[0].decode("ascii").lower())
        if base is not None and base.subcommands:
            raise errors.unknown_subcommand(argv[0], argv[1])
        raise errors.unknown_command(argv)
    return cmd


def check_arity(cmd: Command, argc: int) -> None:
    if (cmd.arity > 0 and cmd.arity != argc) or argc < -cmd.arity:
        raise errors.wrong_arity(cmd.name)


def all_commands() -> list[Command]:
    """Every command and subcommand."""
    out: list[Command] = []
    for cmd in COMMANDS.values():
        out.append(cmd)
        out.extend(cmd.subcommands.values())
    return out


HELP_SUMMARY = "Returns helpful text about the different subcommands."


def help_command(
    parent: str,
    lines: list[str],
    *,
    group: str,
    since: str,
    flags: str = "loading stale",
    acl: str = "",
    summary: str = HELP_SUMMARY,
) -> None:
    """Register ``<parent> HELP``: Redis's help header, `lines`, and the HELP footer."""

    def handler(ctx: Any, argv: list[bytes]) -> list[Any]:
        return help_reply(parent, lines)

    handler.__doc__ = "%s HELP -> help lines." % parent.upper()
    command(
        "%s|help" % parent,
        2,
        flags,
        group=group,
        since=since,
        complexity="O(1)",
        acl=acl,
        summary=summary,
    )(handler)
