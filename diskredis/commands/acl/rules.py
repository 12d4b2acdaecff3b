"""The ACL model: users, their selectors, the permission check, the ACL log (Redis 7.0's
acl.c, rule for rule).

Room: what users and rules mean. Imports: `registry`, `context`, `args`, `errors`,
`quoting`, `util`, `resp.values`, the standard library.

A user has flags (on/off, nopass, sanitize-payload), password hashes (SHA-256, hex) and
selectors: the root one (the rules written outside parentheses) and any added with
`(...)`. A selector allows commands (one bit per command and subcommand, plus the
"future commands" bit that +@all sets), first arguments of commands that have no
subcommands (`+select|0`), key patterns with read/write permissions and channel
patterns. A command runs when one selector allows the command, every key it names
(with the access its key specs declare) and every channel it publishes or subscribes
to. `User.free` marks the common case -- one selector allowing everything -- which the
dispatcher tests first, so that checking costs nothing for the default user.

Rules are applied to a copy of the user and kept only when all of them are valid, as
Redis does. `describe` writes the rules back in the form ACL LIST, ACL SAVE and CONFIG
REWRITE use; it picks categories with Redis's greedy best fit, then single commands (in
the command table's order, where Redis's follows its hash table).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from diskredis import errors
from diskredis.commands.context import Ctx, Session
from diskredis.commands.registry import (
    ACL_CATEGORIES,
    Command,
    all_commands,
    by_fullname,
)
from diskredis.errors import RedisError
from diskredis.quoting import split_inline
from diskredis.util import glob_match

log = logging.getLogger("diskredis")

READ, WRITE = 1, 2
ALL = READ | WRITE

# ACLCheckAllUserCommandPerm results, in Redis's order (a higher one wins the log).
OK, DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 0, 1, 2, 3, 4

# Where the channels of pub/sub commands are (db.c commands_with_channels):
# name -> (first index, how many or -1 for all the rest, pattern, checked).
_CHANNELS = {
    "subscribe": (1, -1, False, True),
    "ssubscribe": (1, -1, False, True),
    "psubscribe": (1, -1, True, True),
    "publish": (1, 1, False, True),
    "spublish": (1, 1, False, True),
}
_KEY_READ_FLAGS = frozenset(("access",))
_KEY_WRITE_FLAGS = frozenset(("insert", "delete", "update"))
_LOG_GROUPING_MS = 60_000


class RuleError(Exception):
    """An ACL rule refused; the text is ACLSetUserStringError's."""


_SYNTAX = "Syntax error"
UNKNOWN_NAME = "Unknown command or category name in ACL"
_KEYS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not "
    "valid and does not have any effect. Try 'resetkeys' to start with an "
    "empty list of patterns"
)
_CHANNELS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is "
    "not valid and does not have any effect. Try 'resetchannels' to "
    "start with an empty list of channels"
)
_NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
_BAD_HASH = (
    "The password hash must be exactly 64 characters and contain only lowercase "
    "hexadecimal characters"
)
_SUBCOMMAND_FIRSTARG = "Allowing first-arg of a subcommand is not supported"


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def has_spaces(s: bytes) -> bool:
    """ACLStringHasSpaces: C isspace() or a NUL byte."""
    return any(c in b" \t\n\v\f\r\x00" for c in s)


def _hash_of(op: bytes) -> str:
    """The hash a password rule names: of the clear text after > or <, or the hash
    itself after # or !."""
    if op[:1] in (b">", b"<"):
        return hash_password(op[1:])
    h = op[1:]
    if len(h) != 64 or not all(c in b"0123456789abcdef" for c in h):
        raise RuleError(_BAD_HASH)
    return h.decode()


def _not_run(ctx: Ctx, argv: list[bytes]) -> Any:
    raise AssertionError("not a command of diskredis")  # dispatch never finds these


def _absent(name: str, arity: int, flags: str, group: str) -> Command:
    return Command(
        name=name, arity=arity, flags=frozenset(flags.split()), group=group, handler=_not_run
    )


# Redis 7.0 commands diskredis has not (yet). ACL rules may name
# them -- a user list written for Redis loads here -- and they count in the category
# tallies that ACL GETUSER and ACL LIST describe users with, as in Redis; dispatch never
# finds them (unknown command).
_ABSENT = {c.name: c for c in (_absent("script|debug", 3, "noscript", "scripting"),)}


def acl_commands() -> list[Command]:
    """Every command and subcommand (each container followed by its subcommands), and
    the Redis commands ACL rules may name that diskredis has not."""
    return all_commands() + list(_ABSENT.values())


def _find(name: bytes) -> Command | None:
    """A command an ACL rule names (lookupCommandBySds), diskredis's or `_ABSENT`."""
    cmd = by_fullname(name)
    if cmd is None:
        cmd = _ABSENT.get(name.decode("latin-1").lower())
    return cmd


def _subcommands(cmd: Command) -> list[Command]:
    return [
        *cmd.subcommands.values(),
        *(c for n, c in _ABSENT.items() if n.startswith(cmd.name + "|")),
    ]


# -- selectors ----------------------------------------------------------------------------
@dataclass
class Selector:
    root: bool = False
    allkeys: bool = False
    allchannels: bool = False
    allcommands: bool = False
    future: bool = False  # the reserved bit: set by +@all, cleared only by -@all
    allowed: set[str] = field(default_factory=set)  # full names whose bit is set
    firstargs: dict[str, list[bytes]] = field(default_factory=dict)
    patterns: list[list[Any]] = field(default_factory=list)  # [pattern, READ|WRITE]
    channels: list[bytes] = field(default_factory=list)

    def copy(self) -> Selector:
        return Selector(
            self.root,
            self.allkeys,
            self.allchannels,
            self.allcommands,
            self.future,
            set(self.allowed),
            {k: list(v) for k, v in self.firstargs.items()},
            [list(p) for p in self.patterns],
            list(self.channels),
        )

    # -- command bits (ACLSetSelectorCommandBit, ACLChangeSelectorPerm) ------------------
    def _bit(self, cmd: Command, value: bool) -> None:
        if value:
            self.allowed.add(cmd.name)
        else:
            self.allowed.discard(cmd.name)
            self.allcommands = False

    def change(self, cmd: Command, value: bool) -> None:
        self._bit(cmd, value)
        self.firstargs.pop(cmd.name, None)
        for sub in _subcommands(cmd):
            self._bit(sub, value)

    def category(self, name: bytes, value: bool) -> None:
        cat = name.decode("latin-1").lower()
        if cat not in ACL_CATEGORIES:
            raise RuleError(UNKNOWN_NAME)
        for cmd in acl_commands():
            if cat in cmd.categories:
                self.change(cmd, value)

    def all_commands(self, value: bool) -> None:
        self.allowed = {c.name for c in acl_commands()} if value else set()
        self.allcommands = self.future = value
        self.firstargs = {}

    def count(self, cat: str) -> tuple[int, int]:
        on = off = 0
        for cmd in acl_commands():
            if cat in cmd.categories:
                if cmd.name in self.allowed:
                    on += 1
                else:
                    off += 1
        return on, off

    # -- rules (ACLSetSelector) -------------------------------------------------------
    def apply(self, op: bytes) -> None:
        low = op.lower()
        if low in (b"allkeys", b"~*"):
            self.allkeys = True
            self.patterns = []
        elif low == b"resetkeys":
            self.allkeys = False
            self.patterns = []
        elif low in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels = []
        elif low == b"resetchannels":
            self.allchannels = False
            self.channels = []
        elif low in (b"allcommands", b"+@all"):
            self.all_commands(True)
        elif low in (b"nocommands", b"-@all"):
            self.all_commands(False)
        elif op[:1] in (b"~", b"%"):
            self._key_pattern(op)
        elif op[:1] == b"&":
            if self.allchannels:
                raise RuleError(_CHANNELS_AFTER_ALL)
            if has_spaces(op[1:]):
                raise RuleError(_SYNTAX)
            if op[1:] not in self.channels:
                self.channels.append(op[1:])
            self.allchannels = False
        elif op[:1] == b"+" and op[1:2] != b"@":
            self._allow(op[1:])
        elif op[:1] == b"-" and op[1:2] != b"@":
            cmd = _find(op[1:])
            if cmd is None:
                raise RuleError(UNKNOWN_NAME)
            self.change(cmd, False)
        elif op[:1] in (b"+", b"-") and op[1:2] == b"@":
            self.category(op[2:], op[:1] == b"+")
        else:
            raise RuleError(_SYNTAX)

    def _key_pattern(self, op: bytes) -> None:
        if self.allkeys:
            raise RuleError(_KEYS_AFTER_ALL)
        flags, offset = 0, 1
        if op[:1] == b"%":
            while offset < len(op):
                c = op[offset : offset + 1]
                if c.upper() == b"R" and not flags & READ:
                    flags |= READ
                elif c.upper() == b"W" and not flags & WRITE:
                    flags |= WRITE
                elif c == b"~":
                    offset += 1
                    break
                else:
                    raise RuleError(_SYNTAX)
                offset += 1
            if not flags:  # "%~x", "%": no permission named (Redis 7.0.15 refuses them)
                raise RuleError(_SYNTAX)
        else:
            flags = ALL
        pattern = op[offset:]
        if has_spaces(pattern):
            raise RuleError(_SYNTAX)
        for p in self.patterns:
            if p[0] == pattern:
                p[1] |= flags
                break
        else:
            self.patterns.append([pattern, flags])
        self.allkeys = False

    def _allow(self, name: bytes) -> None:
        if b"|" not in name:
            cmd = _find(name)
            if cmd is None:
                raise RuleError(UNKNOWN_NAME)
            self.change(cmd, True)
            return
        base, _, sub = name.rpartition(b"|")
        cmd = _find(base)
        if cmd is None:
            raise RuleError(UNKNOWN_NAME)
        if cmd.parent is not None:
            raise RuleError(_SUBCOMMAND_FIRSTARG)
        if not sub:
            raise RuleError(_SYNTAX)
        if _subcommands(cmd):
            subcmd = _find(name)
            if subcmd is None:
                raise RuleError(UNKNOWN_NAME)
            self.change(subcmd, True)
            return
        log.warning(
            "Deprecation warning: Allowing a first arg of an otherwise blocked "
            "command is a misuse of ACL and may get disabled in the future "
            "(offender: +%s)",
            name.decode("utf-8", "replace"),
        )
        allowed = self.firstargs.setdefault(cmd.name, [])
        if not any(a.lower() == sub.lower() for a in allowed):
            allowed.append(sub)

    # -- checks (ACLSelectorCheckCmd) -------------------------------------------------
    def check(self, cmd: Command, argv: list[bytes]) -> tuple[int, int]:
        if not self.allcommands and "no_auth" not in cmd.flags and cmd.name not in self.allowed:
            allowed = self.firstargs.get(cmd.name)
            idx = 2 if cmd.parent is not None else 1
            if (
                not allowed
                or len(argv) < 2
                or not any(a.lower() == argv[idx].lower() for a in allowed)
            ):
                return DENIED_CMD, 0
        if not self.allkeys and (cmd.key_specs or cmd.getkeys is not None):
            for idx, flags in key_positions(cmd, argv):
                if not self.key_allowed(argv[idx], flags):
                    return DENIED_KEY, idx
        spec = _CHANNELS.get(cmd.name)
        if spec is not None and not self.allchannels:
            start, count, pattern, _ = spec
            stop = len(argv) if count < 0 else min(start + count, len(argv))
            for idx in range(start, stop):
                if not self.channel_allowed(argv[idx], pattern):
                    return DENIED_CHANNEL, idx
        return OK, 0

    def key_allowed(self, key: bytes, spec_flags: tuple[str, ...] | frozenset[str]) -> bool:
        if self.allkeys:
            return True
        need = (READ if _KEY_READ_FLAGS.intersection(spec_flags) else 0) | (
            WRITE if _KEY_WRITE_FLAGS.intersection(spec_flags) else 0
        )
        return any(
            flags & need == need and glob_match(pattern, key) for pattern, flags in self.patterns
        )

    def unrestricted_keys(self, need: int) -> bool:
        """ACLSelectorHasUnrestrictedKeyAccess: `need` access to every key."""
        return self.allkeys or any(
            flags & need == need and pattern == b"*" for pattern, flags in self.patterns
        )

    def channel_allowed(self, channel: bytes, pattern: bool) -> bool:
        if self.allchannels:
            return True
        return channel_in(self.channels, channel, pattern)

    # -- descriptions (ACLDescribeSelector) --------------------------------------------
    def describe_keys(self) -> list[bytes]:
        if self.allkeys:
            return [b"~*"]
        return [_pattern_text(p, f) for p, f in self.patterns]

    def describe_channels(self) -> list[bytes]:
        if self.allchannels:
            return [b"&*"]
        return [b"&" + c for c in self.channels]

    def describe(self) -> bytes:
        parts = self.describe_keys()
        parts += [b"&*"] if self.allchannels else [b"resetchannels", *self.describe_channels()]
        parts.append(self.describe_commands())
        return b" ".join(parts)

    def describe_commands(self) -> bytes:
        """ACLDescribeSelectorCommandRules: +@all or -@all, the categories that fit best
        (greedily), then the single commands (and first arguments) still different."""
        fake = Selector()
        if self.future:
            additive, rules = False, [b"+@all"]
            fake.all_commands(True)
        else:
            additive, rules = True, [b"-@all"]
        temp = Selector(allowed=set(self.allowed))
        applied: set[str] = set()
        while True:
            best, mindiff, maxsame = None, 1 << 31, 0
            for cat in ACL_CATEGORIES:
                if cat in applied:
                    continue
                on, off = temp.count(cat)
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = cat, diff, same
            if best is None:
                break
            fake.category(best.encode(), additive)
            temp.category(best.encode(), not additive)
            rules.append((b"+@" if additive else b"-@") + best.encode())
            applied.add(best)
        for cmd in acl_commands():
            mine = cmd.name in self.allowed
            if mine != (cmd.name in fake.allowed):
                rules.append((b"+" if mine else b"-") + cmd.name.encode())
                fake.change(cmd, mine)
            if not mine:
                for first in self.firstargs.get(cmd.name, ()):
                    rules.append(b"+" + cmd.name.encode() + b"|" + first)
        return b" ".join(rules)


def _pattern_text(pattern: bytes, flags: int) -> bytes:
    prefix = {ALL: b"~", READ: b"%R~", WRITE: b"%W~"}[flags]
    return prefix + pattern


def channel_in(channels: list[bytes], channel: bytes, pattern: bool) -> bool:
    """ACLCheckChannelAgainstList: a channel matches the patterns; a pattern (PSUBSCRIBE)
    only an identical one."""
    if pattern:
        return channel in channels
    return any(glob_match(p, channel) for p in channels)


def key_positions(cmd: Command, argv: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """The keys of `argv` with their key-spec flags (GET_KEYSPEC_DEFAULT: not_key specs
    left out); none when the arguments do not even hold them."""
    try:
        return [(i, f) for i, f in cmd.key_positions(argv) if "not_key" not in f and i < len(argv)]
    except (IndexError, ValueError, RedisError):
        return []


# -- users ----------------------------------------------------------------------------
@dataclass
class User:
    name: bytes
    enabled: bool = False
    nopass: bool = False
    sanitize: bytes = b""  # b"sanitize-payload", b"skip-sanitize-payload" or none
    passwords: list[str] = field(default_factory=list)
    selectors: list[Selector] = field(default_factory=lambda: [Selector(root=True)])
    free: bool = False  # one selector allowing every command, key and channel

    def copy_from(self, other: User) -> None:
        self.enabled, self.nopass, self.sanitize = other.enabled, other.nopass, other.sanitize
        self.passwords = list(other.passwords)
        self.selectors = [s.copy() for s in other.selectors]
        self.settle()

    def settle(self) -> None:
        s = self.selectors[0]
        self.free = len(self.selectors) == 1 and s.allcommands and s.allkeys and s.allchannels

    @property
    def root(self) -> Selector:
        return self.selectors[0]

    def apply(self, op: bytes, acl: Acl) -> None:
        """ACLSetUser: one rule (raises RuleError)."""
        if not op:
            return
        low = op.lower()
        if low == b"on":
            self.enabled = True
        elif low == b"off":
            self.enabled = False
        elif low in (b"skip-sanitize-payload", b"sanitize-payload"):
            self.sanitize = low
        elif low == b"nopass":
            self.nopass, self.passwords = True, []
        elif low == b"resetpass":
            self.nopass, self.passwords = False, []
        elif op[:1] in (b">", b"#"):
            hashed = _hash_of(op)
            if hashed not in self.passwords:
                self.passwords.append(hashed)
            self.nopass = False
        elif op[:1] in (b"<", b"!"):
            hashed = _hash_of(op)
            if hashed not in self.passwords:
                raise RuleError(_NO_SUCH_PASSWORD)
            self.passwords.remove(hashed)
        elif op[:1] == b"(" and op[-1:] == b")":
            selector = Selector()
            if acl.pubsub_default_all():
                selector.allchannels = True
            for part in split_inline(op[1:-1]) or []:
                selector.apply(part)
            self.selectors.append(selector)
        elif low == b"clearselectors":
            del self.selectors[1:]
        elif low == b"reset":
            self.nopass, self.passwords = False, []
            root = self.root
            root.allkeys, root.patterns = False, []
            root.allchannels, root.channels = acl.pubsub_default_all(), []
            self.enabled = False
            self.sanitize = b"sanitize-payload"
            del self.selectors[1:]
            root.all_commands(False)
        else:
            self.root.apply(op)

    def check(self, cmd: Command, argv: list[bytes]) -> tuple[int, int]:
        """ACLCheckAllUserCommandPerm: OK, or the denial to report and its argument."""
        relevant, last = DENIED_CMD, 0
        for s in self.selectors:
            result, idx = s.check(cmd, argv)
            if result == OK:
                return OK, 0
            if result > relevant or (result == relevant and idx > last):
                relevant, last = result, idx
        return relevant, last

    def password_ok(self, password: bytes) -> bool:
        if not self.enabled:
            return False
        if self.nopass:
            return True
        hashed = hash_password(password)
        return any(hmac.compare_digest(hashed, p) for p in self.passwords)

    def describe(self) -> bytes:
        """ACLDescribeUser: flags, password hashes, the root selector, the others."""
        parts = [b"on" if self.enabled else b"off"]
        if self.nopass:
            parts.append(b"nopass")
        if self.sanitize == b"skip-sanitize-payload":
            parts.append(b"skip-sanitize-payload")
        elif self.sanitize:
            parts.append(b"sanitize-payload")
        parts += [b"#" + p.encode() for p in self.passwords]
        parts.append(self.root.describe())
        text = b" ".join(parts)
        for s in self.selectors[1:]:
            text += b" (" + s.describe() + b")"
        return text

    def flags(self) -> list[bytes]:
        out = [b"on" if self.enabled else b"off"]
        if self.nopass:
            out.append(b"nopass")
        if self.sanitize == b"skip-sanitize-payload":
            out.append(b"skip-sanitize-payload")
        elif self.sanitize:
            out.append(b"sanitize-payload")
        return out


@dataclass
class LogEntry:
    count: int
    reason: int
    context: str
    object: bytes
    username: bytes
    ms: int
    info: bytes


class Acl:
    """The users of a server, its default user and its ACL log."""

    def __init__(self, config: Any = None) -> None:
        self.config = config
        self.users: dict[bytes, User] = {}
        self.default = self._default_user()
        self.users[b"default"] = self.default
        self.log: deque[LogEntry] = deque()

    @staticmethod
    def _default_user() -> User:
        u = User(b"default", enabled=True, nopass=True)
        s = u.root
        s.all_commands(True)
        s.allkeys = s.allchannels = True
        u.settle()
        return u

    def pubsub_default_all(self) -> bool:
        return self.config is not None and self.config["acl-pubsub-default"] == "allchannels"

    def new_user(self, name: bytes) -> User:
        u = User(name)
        u.root.allchannels = self.pubsub_default_all()
        return u

    def auth_required(self, session: Session) -> bool:
        """authRequired: the default user needs a password (or is off) and the client
        has not authenticated."""
        d = self.default
        return not session.authenticated and (not d.nopass or not d.enabled)

    def default_authenticated(self) -> bool:
        """A new client is authenticated as the default user when it needs no password."""
        return self.default.nopass and self.default.enabled

    def set_requirepass(self, password: str) -> None:
        """ACLUpdateDefaultUserPassword: `requirepass` is the default user's password."""
        d = self.default
        d.apply(b"resetpass", self)
        d.apply(b">" + password.encode("utf-8", "surrogateescape") if password else b"nopass", self)
        d.settle()

    def set_user(self, name: bytes, ops: list[bytes]) -> tuple[User | None, User]:
        """ACLStringSetUser: apply `ops` to a copy of user `name` (new if absent); keep it
        only if every rule is valid. Returns (the user as it was, the user now)."""
        merged = merge_selectors(ops)
        existing = self.users.get(name)
        temp = self.new_user(name)
        if existing is not None:
            temp.copy_from(existing)
        for op in merged:
            try:
                temp.apply(op, self)
            except RuleError as e:
                raise errors.err(
                    "Error in ACL SETUSER modifier '%s': %s" % (op.decode("utf-8", "replace"), e)
                ) from None
        temp.settle()
        before = None
        if existing is None:
            existing = self.users[name] = self.new_user(name)
        else:
            before = self.new_user(name)
            before.copy_from(existing)
        existing.copy_from(temp)
        return before, existing

    def add_log(self, reason: int, context: str, obj: bytes, username: bytes, info: bytes) -> None:
        """addACLLogEntry: a new entry, or the count of a similar recent one bumped."""
        now = int(time.time() * 1000)
        entry = LogEntry(1, reason, context, obj, username, now, info)
        for i, old in enumerate(list(self.log)[:10]):
            if (
                old.reason == reason
                and old.context == context
                and old.object == obj
                and old.username == username
                and abs(old.ms - now) <= _LOG_GROUPING_MS
            ):
                del self.log[i]
                old.count += 1
                old.info, old.ms = info, now
                self.log.appendleft(old)
                return
        self.log.appendleft(entry)
        limit = self.config["acllog-max-len"] if self.config is not None else 128
        while len(self.log) > limit:
            self.log.pop()


def merge_selectors(ops: list[bytes]) -> list[bytes]:
    """ACLMergeSelectorArguments: a selector spread over several arguments is one rule."""
    out: list[bytes] = []
    current: bytes | None = None
    start = b""
    for op in ops:
        if current is None and op[:1] == b"(" and op[-1:] != b")":
            current, start = op, op
            continue
        if current is not None:
            current += b" " + op
            if op[-1:] == b")":
                out.append(current)
                current = None
            continue
        out.append(op)
    if current is not None:
        raise errors.err(
            "Unmatched parenthesis in acl selector starting at '%s'."
            % start.decode("utf-8", "replace")
        )
    return out
