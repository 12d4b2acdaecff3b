"""Error texts in Redis 7.0's exact wording: Redis's shared replies, and every text that
more than one module gives, once.

Room: leaf facts. Imports: the standard library only. A text that only one command
gives lives beside that command's handler, as in Redis's own source (a text that a
second module comes to need moves here: tests/test_docs.py fails on a text written in
two modules).

A `RedisError` carries the whole error line without the leading ``-`` and
without CRLF: its first word is the error code (``ERR``, ``WRONGTYPE``,
``NOAUTH``...). Handlers raise; they never return errors.
"""

from __future__ import annotations


class RedisError(Exception):
    """An error reply. `text` is the line after ``-`` (code included)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        super().__init__(text)
        # A reply line may not carry CR or LF: Redis maps them to spaces.
        self.text = text.replace("\r", " ").replace("\n", " ")

    @property
    def code(self) -> str:
        return self.text.split(" ", 1)[0]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RedisError) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


class CountedError(RedisError):
    """An error reply already counted in errorstats: a script's error that came from a
    command it ran (Redis's ignore_error_stats_update)."""

    __slots__ = ()


def err(message: str) -> RedisError:
    """An ``ERR``-coded error: `err("syntax error")`."""
    return RedisError("ERR " + message)


# -- Texts several commands share (the rest live beside their one command) ----------------
COUNT_POSITIVE = "ERR COUNT must be > 0"
NUMKEYS_OVER_ARGS = "ERR Number of keys can't be greater than number of args"
NUMKEYS_NEGATIVE = "ERR Number of keys can't be negative"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"
OUT_OF_RANGE_BETWEEN = "ERR value is out of range, value must between %d and %d"
VALUE_OUT_OF_RANGE = "ERR value is out of range"
INVALID_EXPIRE = "ERR invalid expire time in '%s' command"
INCR_OVERFLOW = "ERR increment or decrement would overflow"
INCR_NAN = "ERR increment would produce NaN or Infinity"
NUMKEYS_POSITIVE = "ERR numkeys should be greater than 0"
NOT_POSITIVE = "ERR value is out of range, must be positive"


# -- Shared replies (server.c createSharedObjects) ---------------------------------
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NO_SUCH_KEY = "ERR no such key"
OUT_OF_RANGE = "ERR index out of range"
NOAUTH = "NOAUTH Authentication required."
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = (
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
)
NOTBUSY = "NOTBUSY No scripts in execution right now."
# Every cluster command of a server started without cluster-enabled (cluster.c).
CLUSTER_DISABLED = "ERR This instance has cluster support disabled"
UNKILLABLE = (
    "UNKILLABLE Sorry the script already executed write commands against the "
    "dataset. You can either wait the script termination or kill the server in a "
    "hard way using the SHUTDOWN NOSAVE command."
)
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
INVALID_DB = "ERR DB index is out of range"
SYNC_PENDING_OUTPUT = "ERR SYNC and PSYNC are invalid with pending output"
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."


def misconf(reason: str) -> RedisError:
    """A write refused while the data folder can't be written (Redis's MISCONF code,
    which it answers when it can't persist)."""
    return RedisError(
        "MISCONF diskredis can't write to its data folder (%s). Commands "
        "that may modify the data set are refused until it can; reads go on, "
        "and writes resume by themselves once its disk has room again." % reason
    )


TIMEOUT_NEGATIVE = "ERR timeout is negative"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NOT_INTEGER = "ERR timeout is not an integer or out of range"
MAXCLIENTS = "ERR max number of clients reached"
AUTH_NOPASS = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
NOPROTO = "NOPROTO unsupported protocol version"
NOT_ALLOWED_IN_MULTI = "ERR Command not allowed inside a transaction"
NO_SHUTDOWN_IN_PROGRESS = "ERR No shutdown in progress."
SHUTDOWN_FAILED = "ERR Errors trying to SHUTDOWN. Check logs."
# Sent to a client from another host when protected mode is on and no password is set
# (networking.c clientAcceptHandler); the connection is closed after it.
PROTECTED_MODE = (
    "DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to Redis you "
    "may adopt one of the following solutions: 1) Just disable protected mode sending the "
    "command 'CONFIG SET protected-mode no' from the loopback interface by connecting to "
    "Redis from the same host the server is running, however MAKE SURE Redis is not "
    "publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change "
    "permanent. 2) Alternatively you can just disable the protected mode by editing the "
    "Redis configuration file, and setting the protected mode option to 'no', and then "
    "restarting the server. 3) If you started the server manually just for testing, "
    "restart it with the '--protected-mode no' option. 4) Setup a an authentication "
    "password for the default user. NOTE: You only need to do one of the above things in "
    "order for the server to start accepting connections from the outside."
)

# -- DUMP / RESTORE (cluster.c) -------------------------------------------------------
BUSYKEY = "BUSYKEY Target key name already exists."
RESTORE_BAD_TTL = "ERR Invalid TTL value, must be >= 0"
RESTORE_BAD_IDLETIME = "ERR Invalid IDLETIME value, must be >= 0"
RESTORE_BAD_FREQ = "ERR Invalid FREQ value, must be >= 0 and <= 255"
DUMP_PAYLOAD_WRONG = "ERR DUMP payload version or checksum are wrong"
BAD_DATA_FORMAT = "ERR Bad data format"
MIGRATE_KEYS_NOT_EMPTY = (
    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
)
MIGRATE_CONNECT = "IOERR error or timeout connecting to the client"
MIGRATE_IO = "IOERR error or timeout %s to target instance"  # "writing" or "reading"
MIGRATE_TARGET = "ERR Target instance replied with error: %s"

# -- Protocol errors (networking.c); each closes the connection after the reply ----
PROTO_TOO_BIG_INLINE = "ERR Protocol error: too big inline request"
PROTO_UNBALANCED_QUOTES = "ERR Protocol error: unbalanced quotes in request"
PROTO_TOO_BIG_MBULK_COUNT = "ERR Protocol error: too big mbulk count string"
PROTO_INVALID_MBULK = "ERR Protocol error: invalid multibulk length"
PROTO_UNAUTH_MBULK = "ERR Protocol error: unauthenticated multibulk length"
PROTO_TOO_BIG_BULK_COUNT = "ERR Protocol error: too big bulk count string"
PROTO_INVALID_BULK = "ERR Protocol error: invalid bulk length"
PROTO_UNAUTH_BULK = "ERR Protocol error: unauthenticated bulk length"


def proto_expected_dollar(got: int) -> str:
    return "ERR Protocol error: expected '$', got '%s'" % chr(got)


def _c_str(arg: bytes, limit: int) -> str:
    """`%.{limit}s` of a C string: stops at NUL, then at `limit` bytes. Decoded as
    Latin-1, one character per byte, so the reply carries the client's bytes back."""
    nul = arg.find(b"\0")
    if nul >= 0:
        arg = arg[:nul]
    return arg[:limit].decode("latin-1")


def c_text(arg: bytes) -> str:
    """An argument as `%s` prints it into an error line (up to a NUL byte)."""
    return _c_str(arg, 1 << 30)


def unknown_command(argv: list[bytes]) -> RedisError:
    """Redis: each argument quoted, until the argument list reaches 128 bytes."""
    args = ""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += "'%s' " % _c_str(arg, 128 - len(args))
    return RedisError(
        "ERR unknown command '%s', with args beginning with: %s" % (_c_str(argv[0], 128), args)
    )


def unknown_subcommand(container: bytes, sub: bytes) -> RedisError:
    name = _c_str(container, 1 << 30).upper()
    return RedisError("ERR unknown subcommand '%s'. Try %s HELP." % (_c_str(sub, 128), name))


def wrong_arity(fullname: str) -> RedisError:
    return RedisError("ERR wrong number of arguments for '%s' command" % fullname)


def unknown_subcommand_or_arity(container: str, sub: bytes) -> RedisError:
    """The text `addReplySubcommandSyntaxError` sends for a container's unknown subcommand."""
    return RedisError(
        "ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
        % (_c_str(sub, 128), container.upper())
    )


# -- HyperLogLog (hyperloglog.c) ------------------------------------------------------
NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
INVALID_HLL = "INVALIDOBJ Corrupted HLL object detected"


def unknown_pfdebug(sub: bytes) -> RedisError:
    return err("Unknown PFDEBUG subcommand '%s'" % _c_str(sub, 1 << 30))


# A replica (processCommand's refusals)
READONLY_REPLICA = "READONLY You can't write against a read only replica."
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."


# diskredis's own: a command that failed inside the server, a read the engine refused
def internal_error(e: BaseException) -> RedisError:
    """A bug in a handler or a job: the client is told, the server goes on."""
    return RedisError("ERR internal error in diskredis: %s" % type(e).__name__)


def storage_error(e: BaseException) -> RedisError:
    return RedisError("ERR storage error: %s" % e)
