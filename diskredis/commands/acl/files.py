"""Users from the config file (`user` lines) and the ACL file: loading, checking,
saving (ACL LOAD and ACL SAVE's file format, as Redis writes it).

Room: users on disk. Imports: `rules`, `checks`, `context`, `quoting`, `errors`, the
standard library.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

from diskredis.commands.acl.checks import set_user
from diskredis.commands.acl.rules import (
    UNKNOWN_NAME,
    Acl,
    RuleError,
    User,
    has_spaces,
    merge_selectors,
)
from diskredis.commands.context import Session
from diskredis.errors import RedisError

log = logging.getLogger("diskredis")


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
            "directly in your redis.conf, but not both."
        )
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
            raise ValueError(
                "Duplicate user found. A user can only be defined once in config files"
            )
        seen.add(name)
        if has_spaces(name):
            raise ValueError("Spaces not allowed in ACL usernames")
        user = acl.users.get(name)
        if user is None:
            user = acl.users[name] = acl.new_user(name)
        else:
            user.apply(b"reset", acl)
        try:
            merged = merge_selectors(args[1:])
        except RedisError as e:
            raise ValueError(str(e)[4:]) from None
        for op in merged:
            try:
                user.apply(op, acl)
            except RuleError as e:
                raise ValueError(
                    "Error loading ACL rule '%s' for the user named '%s': %s"
                    % (op.decode("utf-8", "replace"), name.decode("utf-8", "replace"), e)
                ) from None
        user.settle()
        if not user.enabled:
            log.info(
                "The user '%s' is disabled (there is no 'on' modifier in the user "
                "description). Make sure this is not a configuration error.",
                name.decode("utf-8", "replace"),
            )


def load_file(acl: Acl, path: str, sessions: list[Session]) -> tuple[str | None, list[Session]]:
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
            problems += "%s:%d should start with user keyword followed by the username. " % (
                shown,
                linenum,
            )
            continue
        name = argv[1]
        if has_spaces(name):
            problems += "'%s:%d: username '%s' contains invalid characters. " % (
                shown,
                linenum,
                name.decode("utf-8", "replace"),
            )
            continue
        if name in users:
            problems += "WARNING: Duplicate user '%s' found on line %d. " % (
                name.decode("utf-8", "replace"),
                linenum,
            )
            continue
        user = users[name] = acl.new_user(name)
        try:
            ops = merge_selectors(argv[2:])
        except RedisError:
            problems += "%s:%d: Unmatched parenthesis in selector definition." % (shown, linenum)
            continue
        syntax = False
        for op in ops:
            op = op.strip(b"\t\r\n")
            try:
                user.apply(op, acl)
            except RuleError as e:
                if str(e) == UNKNOWN_NAME:
                    problems += "%s:%d: Error in applying operation '%s': %s. " % (
                        shown,
                        linenum,
                        op.decode("utf-8", "replace"),
                        e,
                    )
                elif not syntax:
                    problems += "%s:%d: %s. " % (shown, linenum, e)
                    syntax = True
        user.settle()
    if problems:
        return problems + (
            "WARNING: ACL errors detected, no change to the previously "
            "active ACL rules was performed"
        ), []
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
