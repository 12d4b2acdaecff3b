"""Access control lists, as Redis 7.0's acl.c: the package map.

Room: what the rest of diskredis uses of the ACLs. Imports: this package. `rules` is the
model (users, selectors, the permission check, the log), `checks` what running a
command asks of it (denials, authentication), `files` the users on disk (config `user`
lines, the ACL file), `commands` the ACL command (importing this package registers it).
"""

from diskredis.commands.acl import commands  # noqa: F401 - registers the ACL command
from diskredis.commands.acl.checks import (
    acl_of,
    authenticate,
    denial_text,
    exec_denial_text,
    log_denial,
    script_denial_text,
    set_user,
    unrestricted_read,
    user_of,
)
from diskredis.commands.acl.files import AclLoadError, start_acl, users_lines
from diskredis.commands.acl.rules import OK, Acl, User, key_positions

__all__ = [
    "OK",
    "Acl",
    "AclLoadError",
    "User",
    "acl_of",
    "authenticate",
    "denial_text",
    "exec_denial_text",
    "key_positions",
    "log_denial",
    "script_denial_text",
    "set_user",
    "start_acl",
    "unrestricted_read",
    "user_of",
    "users_lines",
]
