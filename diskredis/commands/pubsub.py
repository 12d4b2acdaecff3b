"""Pub/sub (Redis group "pubsub"): SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.

Room: what the pub/sub commands mean. Imports: `keyspace.space`, `resp.values`, `util`,
`commands` helpers, `config` (glob matching), `errors`. Replies and errors are Redis
7.0's (pubsub.c).

Subscriptions live in the server's `Hub` and on each `Session`. A message goes to each
subscriber through `ServerPort.push`: the lane writes it into the subscriber's reply
stream in the place Redis would (before the replies of commands that ran after it), and
every push of a batch leaves only after the batch's commit, so a message published
inside MULTI/EXEC (or by a write a subscriber hears of) never arrives before the
writes around it are durable. Confirmations of (un)subscriptions are push frames too
(RESP3 ``>``): they are sent even under CLIENT REPLY OFF, as in Redis. A client in
RESP2 with any subscription may only run the commands `dispatch` lets through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diskredis import errors
from diskredis.commands.context import Ctx, Hub, ServerPort, Session
from diskredis.commands.registry import arg, command, container, help_command, keys_at
from diskredis.keyspace.space import NOTIFY_KEYEVENT, NOTIFY_KEYSPACE, Keyspace
from diskredis.resp.values import Push, Pushes
from diskredis.util import glob_match

_PS = "pubsub"

__all__ = ["keyspace_publisher", "publish"]


def _frame(resp: int, items: tuple[bytes, ...]) -> bytes:
    """A push of bulk strings: ``>n`` in RESP3, ``*n`` in RESP2."""
    out = [b"%c%d\r\n" % (62 if resp >= 3 else 42, len(items))]
    for item in items:
        out.append(b"$%d\r\n%s\r\n" % (len(item), item))
    return b"".join(out)


def _deliver(server: ServerPort, subscribers: dict[Session, None], items: tuple[bytes, ...]) -> int:
    frames: dict[int, bytes] = {}
    count = 0
    for session in list(subscribers):
        if session.closed:
            continue  # gone; the lane drops its subscriptions at the next batch
        frame = frames.get(session.resp)
        if frame is None:
            frame = frames[session.resp] = _frame(session.resp, items)
        server.push(session, frame)
        count += 1
    return count


def publish(
    hub: Hub, server: ServerPort, channel: bytes, message: bytes, shard: bool = False
) -> int:
    """Send `message` to the subscribers of `channel` and of the patterns matching it
    (shard channels: no patterns); the number of clients that got it."""
    if shard:
        subscribers = hub.shard_channels.get(channel)
        return _deliver(server, subscribers, (b"smessage", channel, message)) if subscribers else 0
    count = 0
    subscribers = hub.channels.get(channel)
    if subscribers:
        count += _deliver(server, subscribers, (b"message", channel, message))
    for pattern, listeners in list(hub.patterns.items()):
        if glob_match(pattern, channel):
            count += _deliver(server, listeners, (b"pmessage", pattern, channel, message))
    return count


def keyspace_publisher(
    hub: Hub, server: ServerPort, ks: Keyspace
) -> Callable[[bytes, bytes, int], None]:
    """What publishes keyspace notifications (`Keyspace.on_event`): the event on
    ``__keyspace@<db>__:<key>`` (K) and the key on ``__keyevent@<db>__:<event>`` (E)."""

    def publish_event(event: bytes, key: bytes, db: int) -> None:
        flags = ks.notify_flags
        if flags & NOTIFY_KEYSPACE:
            publish(hub, server, b"__keyspace@%d__:%s" % (db, key), event)
        if flags & NOTIFY_KEYEVENT:
            publish(hub, server, b"__keyevent@%d__:%s" % (db, event), key)

    return publish_event


# -- subscribing -------------------------------------------------------------------------


def _subscribe(ctx: Ctx, kind: str, verb: bytes, names: list[bytes]) -> Pushes:
    session = ctx.session
    out = Pushes()
    for name in names:
        ctx.hub.add(kind, session, name)
        count = len(session.shard_channels) if kind == "shard_channels" else session.subscriptions
        out.append(Push([verb, name, count]))
    return out


def _unsubscribe(ctx: Ctx, kind: str, verb: bytes, names: list[bytes]) -> Pushes:
    session = ctx.session
    mine: dict[bytes, None] = getattr(session, kind)

    def count() -> int:
        return len(session.shard_channels) if kind == "shard_channels" else session.subscriptions

    out = Pushes()
    if names:
        for name in names:
            ctx.hub.remove(kind, session, name)
            out.append(Push([verb, name, count()]))
        return out
    for name in list(mine):
        ctx.hub.remove(kind, session, name)
        out.append(Push([verb, name, count()]))
    if not out:  # subscribed to nothing: still one confirmation, with a null name
        out.append(Push([verb, None, count()]))
    return out


@command(
    "subscribe",
    -2,
    "pubsub noscript loading stale",
    group=_PS,
    since="2.0.0",
    complexity="O(N) where N is the number of channels to subscribe to.",
    summary="Listens for messages published to channels.",
    args=(arg("channel", "string", "multiple"),),
)
def subscribe(ctx: Ctx, argv: list[bytes]) -> Pushes:
    """SUBSCRIBE channel [channel ...] -> a (subscribe, channel, count) push each."""
    return _subscribe(ctx, "channels", b"subscribe", argv[1:])


@command(
    "unsubscribe",
    -1,
    "pubsub noscript loading stale",
    group=_PS,
    since="2.0.0",
    complexity="O(N) where N is the number of clients already subscribed to a channel.",
    summary="Stops listening to messages posted to channels.",
    args=(arg("channel", "string", "optional", "multiple"),),
)
def unsubscribe(ctx: Ctx, argv: list[bytes]) -> Pushes:
    """UNSUBSCRIBE [channel ...] -> an (unsubscribe, channel, count) push each (all
    channels when none is named)."""
    return _unsubscribe(ctx, "channels", b"unsubscribe", argv[1:])


@command(
    "psubscribe",
    -2,
    "pubsub noscript loading stale",
    group=_PS,
    since="2.0.0",
    complexity="O(N) where N is the number of patterns the client is already subscribed to.",
    summary="Listens for messages published to channels that match one or more patterns.",
    args=(arg("pattern", "pattern", "multiple"),),
)
def psubscribe(ctx: Ctx, argv: list[bytes]) -> Pushes:
    """PSUBSCRIBE pattern [pattern ...] -> a (psubscribe, pattern, count) push each."""
    return _subscribe(ctx, "patterns", b"psubscribe", argv[1:])


@command(
    "punsubscribe",
    -1,
    "pubsub noscript loading stale",
    group=_PS,
    since="2.0.0",
    complexity="O(N+M) where N is the number of patterns the client is already "
    "subscribed and M is the number of total patterns subscribed in the "
    "system (by any client).",
    summary="Stops listening to messages published to channels that match one or more patterns.",
    args=(arg("pattern", "pattern", "optional", "multiple"),),
)
def punsubscribe(ctx: Ctx, argv: list[bytes]) -> Pushes:
    """PUNSUBSCRIBE [pattern ...] -> a (punsubscribe, pattern, count) push each."""
    return _unsubscribe(ctx, "patterns", b"punsubscribe", argv[1:])


@command(
    "ssubscribe",
    -2,
    "pubsub noscript loading stale",
    group=_PS,
    since="7.0.0",
    complexity="O(N) where N is the number of shard channels to subscribe to.",
    summary="Listens for messages published to shard channels.",
    keys=(keys_at("not_key", 1, -1),),
    args=(arg("shardchannel", "string", "multiple"),),
)
def ssubscribe(ctx: Ctx, argv: list[bytes]) -> Pushes:
    """SSUBSCRIBE shardchannel [shardchannel ...] -> a (ssubscribe, channel, count) push
    each; refused inside MULTI/EXEC (a DENY BLOCKING client, as Redis says)."""
    if ctx.session.in_exec:
        raise errors.err("SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    return _subscribe(ctx, "shard_channels", b"ssubscribe", argv[1:])


@command(
    "sunsubscribe",
    -1,
    "pubsub noscript loading stale",
    group=_PS,
    since="7.0.0",
    complexity="O(N) where N is the number of clients already subscribed to a shard channel.",
    summary="Stops listening to messages posted to shard channels.",
    keys=(keys_at("not_key", 1, -1),),
    args=(arg("shardchannel", "string", "optional", "multiple"),),
)
def sunsubscribe(ctx: Ctx, argv: list[bytes]) -> Pushes:
    """SUNSUBSCRIBE [shardchannel ...] -> an (sunsubscribe, channel, count) push each."""
    return _unsubscribe(ctx, "shard_channels", b"sunsubscribe", argv[1:])


# -- publishing --------------------------------------------------------------------------


@command(
    "publish",
    3,
    "pubsub loading stale fast may_replicate",
    group=_PS,
    since="2.0.0",
    complexity="O(N+M) where N is the number of clients subscribed to the receiving "
    "channel and M is the total number of subscribed patterns (by any "
    "client).",
    summary="Posts a message to a channel.",
    args=(arg("channel"), arg("message")),
)
def publish_(ctx: Ctx, argv: list[bytes]) -> int:
    """PUBLISH channel message -> the number of clients that received it. Replicated
    (replicas' subscribers hear it too), as Redis does outside cluster mode."""
    ctx.ks.repl.force()
    return publish(ctx.hub, ctx.server, argv[1], argv[2])


@command(
    "spublish",
    3,
    "pubsub loading stale fast may_replicate",
    group=_PS,
    since="7.0.0",
    complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.",
    summary="Post a message to a shard channel",
    keys=(keys_at("not_key", 1, 0),),
    args=(arg("shardchannel"), arg("message")),
)
def spublish(ctx: Ctx, argv: list[bytes]) -> int:
    """SPUBLISH shardchannel message -> the number of clients that received it."""
    ctx.ks.repl.force()
    return publish(ctx.hub, ctx.server, argv[1], argv[2], shard=True)


# -- PUBSUB ------------------------------------------------------------------------------
container(
    "pubsub",
    group=_PS,
    since="2.8.0",
    summary="A container for Pub/Sub commands.",
    complexity="Depends on subcommand.",
)

_PS_FLAGS = "pubsub loading stale"


def _names(table: dict[bytes, Any], argv: list[bytes]) -> list[bytes]:
    if len(argv) > 3:
        raise errors.unknown_subcommand_or_arity("pubsub", argv[1])
    pattern = argv[2] if len(argv) == 3 else None
    return [name for name in table if pattern is None or glob_match(pattern, name)]


@command(
    "pubsub|channels",
    -2,
    _PS_FLAGS,
    group=_PS,
    since="2.8.0",
    complexity="O(N) where N is the number of active channels, and assuming constant "
    "time pattern matching (relatively short channels and patterns)",
    summary="Returns the active channels.",
    args=(arg("pattern", "pattern", "optional"),),
)
def pubsub_channels(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """PUBSUB CHANNELS [pattern] -> channels with at least one subscriber."""
    return _names(ctx.hub.channels, argv)


@command(
    "pubsub|shardchannels",
    -2,
    _PS_FLAGS,
    group=_PS,
    since="7.0.0",
    complexity="O(N) where N is the number of active shard channels, and assuming "
    "constant time pattern matching (relatively short shard channels).",
    summary="Returns the active shard channels.",
    args=(arg("pattern", "pattern", "optional"),),
)
def pubsub_shardchannels(ctx: Ctx, argv: list[bytes]) -> list[bytes]:
    """PUBSUB SHARDCHANNELS [pattern] -> shard channels with at least one subscriber."""
    return _names(ctx.hub.shard_channels, argv)


def _numsub(table: dict[bytes, dict[Session, None]], names: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for name in names:
        out += [name, len(table.get(name, ()))]
    return out


@command(
    "pubsub|numsub",
    -2,
    _PS_FLAGS,
    group=_PS,
    since="2.8.0",
    complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels",
    summary="Returns a count of subscribers to channels.",
    args=(arg("channel", "string", "optional", "multiple"),),
)
def pubsub_numsub(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """PUBSUB NUMSUB [channel ...] -> channel, count, ... (patterns not counted)."""
    return _numsub(ctx.hub.channels, argv[2:])


@command(
    "pubsub|shardnumsub",
    -2,
    _PS_FLAGS,
    group=_PS,
    since="7.0.0",
    complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of "
    "requested shard channels",
    summary="Returns the count of subscribers of shard channels.",
    args=(arg("shardchannel", "string", "optional", "multiple"),),
)
def pubsub_shardnumsub(ctx: Ctx, argv: list[bytes]) -> list[Any]:
    """PUBSUB SHARDNUMSUB [shardchannel ...] -> channel, count, ..."""
    return _numsub(ctx.hub.shard_channels, argv[2:])


@command(
    "pubsub|numpat",
    2,
    _PS_FLAGS,
    group=_PS,
    since="2.8.0",
    complexity="O(1)",
    summary="Returns a count of unique pattern subscriptions.",
)
def pubsub_numpat(ctx: Ctx, argv: list[bytes]) -> int:
    """PUBSUB NUMPAT -> the number of distinct patterns subscribed to."""
    return len(ctx.hub.patterns)


help_command(
    "pubsub",
    [
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
    ],
    group=_PS,
    since="6.2.0",
    acl="-pubsub",
)
