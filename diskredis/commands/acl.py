"""Access control lists: users, their selectors, the permission check, the ACL log, and
the ACL command (Redis 7.0's acl.c, rule for rule).

Room: Redis semantics of users and permissions. Imports: `registry`, `context`, `args`,
`config`, `errors`, `quoting`, `resp.values`, the standard library.

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

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from diskredis import errors
from diskredis.commands.args import parse_int
from diskredis.commands.context import Ctx, Session
from diskredis.commands.registry import (
    ACL_CATEGORIES,
    Command,
    all_commands,
    arg,
    by_fullname,
    command,
    container,
    help_command,
    lookup,
    oneof,
    token,
)
from diskredis.errors import RedisError
from diskredis.quoting import split_inline
from diskredis.resp.values import RSet
from diskredis.util import glob_match

log = logging.getLogger("diskredis")

READ, WRITE = 1, 2
ALL = READ | WRITE

# ACLCheckAllUserCommandPerm results, in Redis's order (a higher one wins the log).
OK, DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 0, 1, 2, 3, 4

# Where the channels of pub/sub commands are (db.c commands_with_channels):
# name -> (first index, how many or -1 for all the rest, pattern, checked).
_CHANNELS = {
    "subscribe": (1, -1, False, True), "ssubscribe": (1, -1, False, True),
    "psubscribe": (1, -1, True, True), "publish": (1, 1, False, True),
    "spublish": (1, 1, False, True),
}
_KEY_READ_FLAGS = frozenset(("access",))
_KEY_WRITE_FLAGS = frozenset(("insert", "delete", "update"))
_LOG_GROUPING_MS = 60_000
_GENPASS_MAX_BITS = 4096


class RuleError(Exception):
    """An ACL rule refused; the text is ACLSetUserStringError's."""


_SYNTAX = "Syntax error"
_UNKNOWN = "Unknown command or category name in ACL"
_KEYS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not "
                   "valid and does not have any effect. Try 'resetkeys' to start with an "
                   "empty list of patterns")
_CHANNELS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allchannels' flag) is "
                       "not valid and does not have any effect. Try 'resetchannels' to "
                       "start with an empty list of channels")
_NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
_BAD_HASH = ("The password hash must be exactly 64 characters and contain only lowercase "
             "hexadecimal characters")
_SUBCOMMAND_FIRSTARG = "Allowing first-arg of a subcommand is not supported"


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def _has_spaces(s: bytes) -> bool:
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
    return Command(name=name, arity=arity, flags=frozenset(flags.split()), group=group,
                   handler=_not_run)


# Redis 7.0 commands diskredis has not (yet: replication comes next). ACL rules may name
# them -- a user list written for Redis loads here -- and they count in the category
# tallies that ACL GETUSER and ACL LIST describe users with, as in Redis; dispatch never
# finds them (unknown command).
_ABSENT = {c.name: c for c in (
    _absent("replicaof", 3, "admin noscript stale no_async_loading", "server"),
    _absent("slaveof", 3, "admin noscript stale no_async_loading", "server"),
    _absent("failover", -1, "admin noscript stale", "server"),
    _absent("script|debug", 3, "noscript", "scripting"),
)}


def _commands() -> list[Command]:
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
    return [*cmd.subcommands.values(),
            *(c for n, c in _ABSENT.items() if n.startswith(cmd.name + "|"))]


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
        return Selector(self.root, self.allkeys, self.allchannels, self.allcommands,
                        self.future, set(self.allowed),
                        {k: list(v) for k, v in self.firstargs.items()},
                        [list(p) for p in self.patterns], list(self.channels))

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
            raise RuleError(_UNKNOWN)
        for cmd in _commands():
            if cat in cmd.categories:
                self.change(cmd, value)

    def all_commands(self, value: bool) -> None:
        self.allowed = {c.name for c in _commands()} if value else set()
        self.allcommands = self.future = value
        self.firstargs = {}

    def count(self, cat: str) -> tuple[int, int]:
        on = off = 0
        for cmd in _commands():
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
            if _has_spaces(op[1:]):
                raise RuleError(_SYNTAX)
            if op[1:] not in self.channels:
                self.channels.append(op[1:])
            self.allchannels = False
        elif op[:1] == b"+" and op[1:2] != b"@":
            self._allow(op[1:])
        elif op[:1] == b"-" and op[1:2] != b"@":
            cmd = _find(op[1:])
            if cmd is None:
                raise RuleError(_UNKNOWN)
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
                c = op[offset:offset + 1]
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
        if _has_spaces(pattern):
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
                raise RuleError(_UNKNOWN)
            self.change(cmd, True)
            return
        base, _, sub = name.rpartition(b"|")
        cmd = _find(base)
        if cmd is None:
            raise RuleError(_UNKNOWN)
        if cmd.parent is not None:
            raise RuleError(_SUBCOMMAND_FIRSTARG)
        if not sub:
            raise RuleError(_SYNTAX)
        if _subcommands(cmd):
            subcmd = _find(name)
            if subcmd is None:
                raise RuleError(_UNKNOWN)
            self.change(subcmd, True)
            return
        log.warning("Deprecation warning: Allowing a first arg of an otherwise blocked "
                    "command is a misuse of ACL and may get disabled in the future "
                    "(offender: +%s)", name.decode("utf-8", "replace"))
        allowed = self.firstargs.setdefault(cmd.name, [])
        if not any(a.lower() == sub.lower() for a in allowed):
            allowed.append(sub)

    # -- checks (ACLSelectorCheckCmd) -------------------------------------------------
    def check(self, cmd: Command, argv: list[bytes]) -> tuple[int, int]:
        if not self.allcommands and "no_auth" not in cmd.flags \
                and cmd.name not in self.allowed:
            allowed = self.firstargs.get(cmd.name)
            idx = 2 if cmd.parent is not None else 1
            if not allowed or len(argv) < 2 or not any(
                    a.lower() == argv[idx].lower() for a in allowed):
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
        need = (READ if _KEY_READ_FLAGS.intersection(spec_flags) else 0) | \
               (WRITE if _KEY_WRITE_FLAGS.intersection(spec_flags) else 0)
        return any(flags & need == need and glob_match(pattern, key)
                   for pattern, flags in self.patterns)

    def unrestricted_keys(self, need: int) -> bool:
        """ACLSelectorHasUnrestrictedKeyAccess: `need` access to every key."""
        return self.allkeys or any(flags & need == need and pattern == b"*"
                                   for pattern, flags in self.patterns)

    def channel_allowed(self, channel: bytes, pattern: bool) -> bool:
        if self.allchannels:
            return True
        return _channel_in(self.channels, channel, pattern)

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
        for cmd in _commands():
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


def _channel_in(channels: list[bytes], channel: bytes, pattern: bool) -> bool:
    """ACLCheckChannelAgainstList: a channel matches the patterns; a pattern (PSUBSCRIBE)
    only an identical one."""
    if pattern:
        return channel in channels
    return any(glob_match(p, channel) for p in channels)


def key_positions(cmd: Command, argv: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """The keys of `argv` with their key-spec flags (GET_KEYSPEC_DEFAULT: not_key specs
    left out); none when the arguments do not even hold them."""
    try:
        return [(i, f) for i, f in cmd.key_positions(argv)
                if "not_key" not in f and i < len(argv)]
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
        self.free = (len(self.selectors) == 1 and s.allcommands and s.allkeys
                     and s.allchannels)

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
        return self.config is not None and \
            self.config["acl-pubsub-default"] == "allchannels"

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
        d.apply(b">" + password.encode("utf-8", "surrogateescape") if password
                else b"nopass", self)
        d.settle()

    def set_user(self, name: bytes, ops: list[bytes]) -> tuple[User | None, User]:
        """ACLStringSetUser: apply `ops` to a copy of user `name` (new if absent); keep it
        only if every rule is valid. Returns (the user as it was, the user now)."""
        merged = _merge_selectors(ops)
        existing = self.users.get(name)
        temp = self.new_user(name)
        if existing is not None:
            temp.copy_from(existing)
        for op in merged:
            try:
                temp.apply(op, self)
            except RuleError as e:
                raise errors.err("Error in ACL SETUSER modifier '%s': %s"
                                 % (op.decode("utf-8", "replace"), e)) from None
        temp.settle()
        before = None
        if existing is None:
            existing = self.users[name] = self.new_user(name)
        else:
            before = self.new_user(name)
            before.copy_from(existing)
        existing.copy_from(temp)
        return before, existing

    def add_log(self, reason: int, context: str, obj: bytes, username: bytes,
                info: bytes) -> None:
        """addACLLogEntry: a new entry, or the count of a similar recent one bumped."""
        now = int(time.time() * 1000)
        entry = LogEntry(1, reason, context, obj, username, now, info)
        for i, old in enumerate(list(self.log)[:10]):
            if (old.reason == reason and old.context == context and old.object == obj
                    and old.username == username and abs(old.ms - now) <= _LOG_GROUPING_MS):
                del self.log[i]
                old.count += 1
                old.info, old.ms = info, now
                self.log.appendleft(old)
                return
        self.log.appendleft(entry)
        limit = self.config["acllog-max-len"] if self.config is not None else 128
        while len(self.log) > limit:
            self.log.pop()


def _merge_selectors(ops: list[bytes]) -> list[bytes]:
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
        raise errors.err("Unmatched parenthesis in acl selector starting at '%s'."
                         % start.decode("utf-8", "replace"))
    return out


# -- what the dispatcher and the connection commands call ---------------------------------
_REASONS = {DENIED_CMD: b"command", DENIED_KEY: b"key", DENIED_CHANNEL: b"channel",
            DENIED_AUTH: b"auth"}


def log_denial(ctx: Ctx, reason: int, argv: list[bytes], idx: int, context: str,
               cmd: Command | None, username: bytes | None = None) -> None:
    """An ACL LOG entry for `ctx`'s client (a script's caller for a script)."""
    from diskredis.commands.connection import client_info_line

    acl = acl_of(ctx)
    if reason == DENIED_CMD:
        obj = cmd.name.encode() if cmd is not None else b""
    elif reason == DENIED_AUTH:
        obj = argv[0]
    else:
        obj = argv[idx]
    session = ctx.session
    real = session
    if session.is_script and ctx.scripts is not None and ctx.scripts.running is not None:
        real = ctx.scripts.running
    user = username if username is not None else user_of(session).name
    acl.add_log(reason, context, obj, user, client_info_line(ctx, real).rstrip(b"\n"))


def acl_of(ctx: Ctx) -> Acl:
    """The server's users (a context with none, a tool's, gets its own defaults)."""
    if ctx.acl is None:
        ctx.acl = Acl(ctx.config)
    acl: Acl = ctx.acl
    return acl


def user_of(session: Session) -> User:
    user: User | None = session.acl_user
    assert user is not None, "a session without a user"
    return user


def denial_text(reason: int, cmd: Command) -> str:
    if reason == DENIED_CMD:
        return "NOPERM this user has no permissions to run the '%s' command" % cmd.name
    if reason == DENIED_KEY:
        return "NOPERM this user has no permissions to access one of the keys used as " \
               "arguments"
    return "NOPERM this user has no permissions to access one of the channels used as " \
           "arguments"


def exec_denial_text(reason: int) -> str:
    why = {DENIED_CMD: "no permission to execute the command or subcommand",
           DENIED_KEY: "no permission to touch the specified keys",
           DENIED_CHANNEL: "no permission to access one of the channels used as arguments"}
    return ("NOPERM ACLs rules changed between the moment the transaction was accumulated "
            "and the EXEC call. This command is no longer allowed for the following "
            "reason: %s" % why.get(reason, "no permission"))


def script_denial_text(reason: int) -> str:
    return "The user executing the script %s" % {
        DENIED_CMD: "can't run this command or subcommand",
        DENIED_KEY: "can't access at least one of the keys mentioned in the command "
                    "arguments",
        DENIED_CHANNEL: "can't publish to the channel mentioned in the command",
    }.get(reason, "lacking the permissions for the command")


def authenticate(ctx: Ctx, argv0: bytes, username: bytes, password: bytes) -> bool:
    """ACLAuthenticateUser: on success the client is that user; else an `auth` log
    entry naming the user as given (and AUTH or HELLO as the client typed it)."""
    acl = acl_of(ctx)
    user = acl.users.get(username)
    if user is not None and user.password_ok(password):
        set_user(ctx.session, user, authenticated=True)
        return True
    context = "multi" if ctx.session.multi is not None else "toplevel"
    log_denial(ctx, DENIED_AUTH, [argv0], 0, context, None, username=username)
    return False


def set_user(session: Session, user: User, authenticated: bool) -> None:
    session.acl_user = user
    session.user = user.name.decode("utf-8", "surrogateescape")
    session.authenticated = authenticated


def kill_users_clients(ctx: Ctx, user: User) -> None:
    """ACLFreeUserAndKillClients: the clients of a removed user become unauthenticated
    default clients and are disconnected (the caller after its reply)."""
    acl = acl_of(ctx)
    for s in ctx.server.sessions():
        if s.acl_user is user and not s.closed:
            set_user(s, acl.default, authenticated=False)
            if s is ctx.session:
                s.close_after_reply = True
            else:
                ctx.server.kill(s)


def kill_pubsub_if_needed(ctx: Ctx, new: User, old: User) -> None:
    """ACLKillPubsubClientsIfNeeded: subscribers of `new` that lost a channel go."""
    if any(s.allchannels for s in new.selectors):
        return
    upcoming = [c for s in new.selectors for c in s.channels]
    if not any(s.allchannels for s in old.selectors) and all(
            c in upcoming for s in old.selectors for c in s.channels):
        return
    for s in ctx.server.sessions():
        if s.acl_user is not new or s.closed or not s.pubsub:
            continue
        if (any(not _channel_in(upcoming, p, True) for p in s.patterns)
                or any(not _channel_in(upcoming, c, False) for c in s.channels)
                or any(not _channel_in(upcoming, c, False) for c in s.shard_channels)):
            ctx.server.kill(s)


def unrestricted_read(ctx: Ctx, cmd: Command, argv: list[bytes]) -> bool:
    """ACLUserCheckCmdWithUnrestrictedKeyAccess(CMD_KEY_ACCESS): SORT BY/GET need it."""
    user = ctx.session.acl_user
    if user is None or user.free:
        return True
    return any(s.check(cmd, argv)[0] == OK and s.unrestricted_keys(READ)
               for s in user.selectors)


# -- loading and saving ---------------------------------------------------------------------
class AclLoadError(Exception):
    """The users of the configuration or the aclfile could not be loaded at start-up."""


def start_acl(config: Any) -> Acl:
    """The users a server starts with: the default user (with `requirepass`), then the
    `user` directives of the configuration or the aclfile -- not both, as Redis."""
    acl = Acl(config)
    acl.set_requirepass(config["requirepass"])
    path = config["aclfile"]
    if path and config.users:
        raise AclLoadError(
            "Configuring Redis with users defined in redis.conf and at the same setting an "
            "ACL file path is invalid. This setup is very likely to lead to configuration "
            "errors and security holes, please define either an ACL file or declare users "
            "directly in your redis.conf, but not both.")
    try:
        load_config_users(acl, config.users)
    except ValueError as e:
        raise AclLoadError("%s; critical error while loading ACLs, exiting." % e) from None
    if path:
        problems, _ = load_file(acl, path, [])
        if problems is not None:
            raise AclLoadError("Aborting Redis startup because of ACL errors: %s" % problems)
    return acl

def load_config_users(acl: Acl, lines: list[list[str]]) -> None:
    """The `user` directives of the configuration (ACLLoadConfiguredUsers); raises
    ValueError with the reason Redis logs."""
    seen: set[bytes] = set()
    for line in lines:
        args = [a.encode("utf-8", "surrogateescape") for a in line]
        name = args[0]
        if name in seen:
            raise ValueError("Duplicate user found. A user can only be defined once in "
                             "config files")
        seen.add(name)
        if _has_spaces(name):
            raise ValueError("Spaces not allowed in ACL usernames")
        user = acl.users.get(name)
        if user is None:
            user = acl.users[name] = acl.new_user(name)
        else:
            user.apply(b"reset", acl)
        try:
            merged = _merge_selectors(args[1:])
        except RedisError as e:
            raise ValueError(str(e)[4:]) from None
        for op in merged:
            try:
                user.apply(op, acl)
            except RuleError as e:
                raise ValueError("Error loading ACL rule '%s' for the user named '%s': %s"
                                 % (op.decode("utf-8", "replace"),
                                    name.decode("utf-8", "replace"), e)) from None
        user.settle()
        if not user.enabled:
            log.info("The user '%s' is disabled (there is no 'on' modifier in the user "
                     "description). Make sure this is not a configuration error.",
                     name.decode("utf-8", "replace"))


def load_file(acl: Acl, path: str, sessions: list[Session]
              ) -> tuple[str | None, list[Session]]:
    """ACLLoadFromFile: replace every user by the file's, or change nothing and return
    the errors found. Also returns the clients of the replaced users (all but the
    default one's), now unauthenticated default clients, for the caller to disconnect."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        return "Error loading ACLs, opening file '%s': %s" % (path, e.strerror), []
    shown = path
    users: dict[bytes, User] = {}
    problems = ""
    for linenum, raw in enumerate(text.split(b"\n"), 1):
        line = raw.strip(b" \t\r\n")
        if not line:
            continue
        argv = [a for a in line.split(b" ") if a]
        if not argv:
            continue
        if argv[0] != b"user" or len(argv) < 2:
            problems += ("%s:%d should start with user keyword followed by the username. "
                         % (shown, linenum))
            continue
        name = argv[1]
        if _has_spaces(name):
            problems += ("'%s:%d: username '%s' contains invalid characters. "
                         % (shown, linenum, name.decode("utf-8", "replace")))
            continue
        if name in users:
            problems += ("WARNING: Duplicate user '%s' found on line %d. "
                         % (name.decode("utf-8", "replace"), linenum))
            continue
        user = users[name] = acl.new_user(name)
        try:
            ops = _merge_selectors(argv[2:])
        except RedisError:
            problems += ("%s:%d: Unmatched parenthesis in selector definition."
                         % (shown, linenum))
            continue
        syntax = False
        for op in ops:
            op = op.strip(b"\t\r\n")
            try:
                user.apply(op, acl)
            except RuleError as e:
                if str(e) == _UNKNOWN:
                    problems += ("%s:%d: Error in applying operation '%s': %s. "
                                 % (shown, linenum, op.decode("utf-8", "replace"), e))
                elif not syntax:
                    problems += "%s:%d: %s. " % (shown, linenum, e)
                    syntax = True
        user.settle()
    if problems:
        return problems + ("WARNING: ACL errors detected, no change to the previously "
                           "active ACL rules was performed"), []
    new_default = users.pop(b"default", None) or Acl._default_user()
    acl.default.copy_from(new_default)
    acl.users = {b"default": acl.default, **users}
    victims = []
    for s in sessions:
        if s.acl_user is not None and s.acl_user is not acl.default:
            set_user(s, acl.default, authenticated=False)
            victims.append(s)
    return None, victims


def users_lines(acl: Acl) -> list[bytes]:
    """`user <name> <rules>` for every user, in name order (ACL LIST, ACL SAVE)."""
    return [b"user " + name + b" " + acl.users[name].describe() for name in sorted(acl.users)]


def save_file(acl: Acl, path: str) -> bool:
    """ACLSaveToFile: written to a temporary file, then renamed over `path`."""
    tmp = "%s.tmp-%d-%d" % (path, os.getpid(), int(time.time() * 1000))
    try:
        with open(tmp, "wb") as f:
            f.write(b"".join(line + b"\n" for line in users_lines(acl)))
        os.rename(tmp, path)
        return True
    except OSError as e:
        log.warning("Writing ACL file for ACL SAVE: %s", e.strerror)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False


# -- the ACL command ------------------------------------------------------------------
_SRV = "server"
_ADMIN = "admin noscript loading stale"

container("acl", group=_SRV, since="6.0.0", summary="A container for Access List Control "
          "commands.", complexity="Depends on subcommand.")


def _syntax(ctx: Ctx, argv: list[bytes]) -> RedisError:
    return errors.unknown_subcommand_or_arity("acl", argv[1])


@command("acl|cat", -2, "noscript loading stale", group=_SRV, since="6.0.0",
         complexity="O(1) since the categories and commands are a fixed set.",
         summary="Lists the ACL categories, or the commands inside a category.",
         args=(arg("category", "string", "optional"),))
def acl_cat(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """ACL CAT [category] -> the categories, or the commands of one."""
    if len(argv) > 3:
        raise _syntax(ctx, argv)
    if len(argv) == 2:
        return [c.encode() for c in ACL_CATEGORIES]
    cat = argv[2].decode("latin-1").lower()
    if cat not in ACL_CATEGORIES:
        raise errors.err("Unknown category '%s'" % argv[2][:128].decode("utf-8", "replace"))
    return [c.name.encode() for c in _commands() if cat in c.categories]


@command("acl|deluser", -3, _ADMIN, group=_SRV, since="6.0.0",
         complexity="O(1) amortized time considering the typical user.",
         summary="Deletes ACL users, and terminates their connections.",
         args=(arg("username", "string", "multiple"),))
def acl_deluser(ctx: Ctx, argv: list[bytes]) -> int:
    """ACL DELUSER username [username ...] -> how many were deleted."""
    if any(name == b"default" for name in argv[2:]):
        raise errors.err("The 'default' user cannot be removed")
    acl = acl_of(ctx)
    deleted = 0
    for name in argv[2:]:
        user = acl.users.pop(name, None)
        if user is not None:
            kill_users_clients(ctx, user)
            deleted += 1
    return deleted


@command("acl|dryrun", -4, _ADMIN, group=_SRV, since="7.0.0", complexity="O(1).",
         summary="Simulates the execution of a command by a user, without executing the "
                 "command.",
         args=(arg("username", "string"), arg("command", "string"),
               arg("arg", "string", "optional", "multiple")))
def acl_dryrun(ctx: Ctx, argv: list[bytes]) -> Any:
    """ACL DRYRUN username command [arg ...] -> OK, or why the user may not."""
    acl = acl_of(ctx)
    user = acl.users.get(argv[2])
    if user is None:
        raise errors.err("User '%s' not found" % argv[2].decode("utf-8", "replace"))
    target = argv[3:]
    cmd = lookup(target)
    if cmd is None:
        raise errors.err("Command '%s' not found" % argv[3].decode("utf-8", "replace"))
    if (cmd.arity > 0 and cmd.arity != len(target)) or len(target) < -cmd.arity:
        raise errors.err("wrong number of arguments for '%s' command" % cmd.name)
    result, idx = user.check(cmd, target)
    if result == OK:
        return "OK"
    if result == DENIED_CMD:
        return b"This user has no permissions to run the '%s' command" % cmd.name.encode()
    what = b"key" if result == DENIED_KEY else b"channel"
    return b"This user has no permissions to access the '%s' %s" % (target[idx], what)


@command("acl|genpass", -2, "noscript loading stale", group=_SRV, since="6.0.0",
         complexity="O(1)",
         summary="Generates a pseudorandom, secure password that can be used to identify "
                 "ACL users.",
         args=(arg("bits", "integer", "optional"),))
def acl_genpass(ctx: Ctx, argv: list[bytes]) -> bytes:
    """ACL GENPASS [bits] -> (bits+3)/4 random hex characters (256 bits by default)."""
    if len(argv) > 3:
        raise _syntax(ctx, argv)
    bits = parse_int(argv[2]) if len(argv) == 3 else 256
    if bits <= 0 or bits > _GENPASS_MAX_BITS:
        raise errors.err("ACL GENPASS argument must be the number of bits for the output "
                         "password, a positive number up to %d" % _GENPASS_MAX_BITS)
    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars].encode()


def _selector_fields(s: Selector) -> dict[bytes, Any]:
    return {b"commands": s.describe_commands(), b"keys": b" ".join(s.describe_keys()),
            b"channels": b" ".join(s.describe_channels())}


@command("acl|getuser", 3, _ADMIN, group=_SRV, since="6.0.0",
         complexity="O(N). Where N is the number of password, command and pattern rules "
                    "that the user has.",
         summary="Lists the ACL rules of a user.",
         history=(("6.2.0", "Added Pub/Sub channel patterns."),
                  ("7.0.0", "Added selectors and changed the format of key and channel "
                            "patterns from a list to their rule representation.")),
         args=(arg("username", "string"),))
def acl_getuser(ctx: Ctx, argv: list[bytes]) -> Any:
    """ACL GETUSER username -> the user's flags, passwords, rules and selectors."""
    acl = acl_of(ctx)
    user = acl.users.get(argv[2])
    if user is None:
        return None
    out: dict[bytes, Any] = {b"flags": RSet(user.flags()),
                             b"passwords": [p.encode() for p in user.passwords]}
    out.update(_selector_fields(user.root))
    out[b"selectors"] = [_selector_fields(s) for s in user.selectors[1:]]
    return out


_HELP = [
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the "
    "command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
]


help_command("acl", _HELP, group=_SRV, since="6.0.0")


@command("acl|list", 2, _ADMIN, group=_SRV, since="6.0.0",
         complexity="O(N). Where N is the number of configured users.",
         summary="Dumps the effective rules in ACL file format.")
def acl_list(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """ACL LIST -> a `user ...` line per user."""
    return users_lines(acl_of(ctx))


_NO_ACLFILE = ("ERR This Redis instance is not configured to use an ACL file. You may want "
               "to specify users via the ACL SETUSER command and then issue a CONFIG "
               "REWRITE (assuming you have a Redis configuration file set) in order to "
               "store users in the Redis configuration.")


def _aclfile(ctx: Ctx) -> str:
    path: str = ctx.config["aclfile"]
    if not path:
        raise RedisError(_NO_ACLFILE)
    return path


@command("acl|load", 2, _ADMIN, group=_SRV, since="6.0.0",
         complexity="O(N). Where N is the number of configured users.",
         summary="Reloads the rules from the configured ACL file.")
def acl_load(ctx: Ctx, argv: list[bytes]) -> str:
    """ACL LOAD -> OK once the aclfile replaced every user; nothing changes on error."""
    path = _aclfile(ctx)
    problems, victims = load_file(acl_of(ctx), path, ctx.server.sessions())
    if problems is not None:
        raise errors.err(problems)
    for s in victims:
        if s is ctx.session:
            s.close_after_reply = True
        elif not s.closed:
            ctx.server.kill(s)
    return "OK"


@command("acl|log", -2, _ADMIN, group=_SRV, since="6.0.0",
         complexity="O(N) with N being the number of entries shown.",
         summary="Lists recent security events generated due to ACL rules.",
         args=(oneof("operation", arg("count", "integer"), token("RESET"),
                     flags=("optional",)),))
def acl_log(ctx: Ctx, argv: list[bytes]) -> Any:
    """ACL LOG [count | RESET] -> the newest entries (10 by default), or OK."""
    if len(argv) > 3:
        raise _syntax(ctx, argv)
    acl = acl_of(ctx)
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            acl.log.clear()
            return "OK"
        count = max(parse_int(argv[2]), 0)
    now = int(time.time() * 1000)
    out = []
    for e in list(acl.log)[:count]:
        out.append({b"count": e.count, b"reason": _REASONS.get(e.reason, b"unknown"),
                    b"context": e.context.encode(), b"object": e.object,
                    b"username": e.username, b"age-seconds": (now - e.ms) / 1000,
                    b"client-info": e.info})
    return out


@command("acl|save", 2, _ADMIN, group=_SRV, since="6.0.0",
         complexity="O(N). Where N is the number of configured users.",
         summary="Saves the effective ACL rules in the configured ACL file.")
def acl_save(ctx: Ctx, argv: list[bytes]) -> str:
    """ACL SAVE -> OK once the users are in the aclfile."""
    path = _aclfile(ctx)
    if not save_file(acl_of(ctx), path):
        raise errors.err("There was an error trying to save the ACLs. Please check the "
                         "server logs for more information")
    return "OK"


@command("acl|setuser", -3, _ADMIN, group=_SRV, since="6.0.0",
         complexity="O(N). Where N is the number of rules provided.",
         summary="Creates and modifies an ACL user and its rules.",
         history=(("6.2.0", "Added Pub/Sub channel patterns."),
                  ("7.0.0", "Added selectors and key based permissions.")),
         args=(arg("username", "string"), arg("rule", "string", "optional", "multiple")))
def acl_setuser(ctx: Ctx, argv: list[bytes]) -> str:
    """ACL SETUSER username [rule ...] -> OK (all rules applied) or the first bad one."""
    name = argv[2]
    if _has_spaces(name):
        raise errors.err("Usernames can't contain spaces or null characters")
    acl = acl_of(ctx)
    before, user = acl.set_user(name, argv[3:])
    if before is not None:
        kill_pubsub_if_needed(ctx, user, before)
    return "OK"


@command("acl|users", 2, _ADMIN, group=_SRV, since="6.0.0",
         complexity="O(N). Where N is the number of configured users.",
         summary="Lists all ACL users.")
def acl_users(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """ACL USERS -> the user names, in order."""
    return sorted(acl_of(ctx).users)


@command("acl|whoami", 2, "noscript loading stale", group=_SRV, since="6.0.0",
         complexity="O(1)", summary="Returns the authenticated username of the current "
                                    "connection.")
def acl_whoami(ctx: Ctx, argv: list[bytes]) -> bytes:
    """ACL WHOAMI -> the connection's user name."""
    user = ctx.session.acl_user
    return (user or acl_of(ctx).default).name
