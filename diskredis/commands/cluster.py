"""Redis Cluster commands in a standalone server: CLUSTER and its subcommands, READONLY,
READWRITE, ASKING.

Room: Redis's "cluster" group as a server started without cluster-enabled answers it.
diskredis is always standalone, so every one of these commands exists -- clients and
tools look them up with COMMAND INFO/DOCS and expect Redis 7.0's metadata -- and every
call is refused with Redis 7.0's own error for a server without cluster support (even
CLUSTER HELP: clusterCommand refuses before it looks at the subcommand). Arity and
unknown subcommands are checked first by dispatch, as processCommand does. Imports:
`registry`, `context`, `errors`.
"""

from __future__ import annotations

from typing import NoReturn

from diskredis import errors
from diskredis.commands.context import Ctx
from diskredis.commands.registry import arg, block, command, container, oneof, token
from diskredis.errors import RedisError

_CL = "cluster"
_ADMIN = "admin stale no_async_loading"  # what changes the cluster's configuration
_READ = "stale"  # what only reports on it
_NODE_ID = (arg("node-id"),)
_SLOTS = (arg("slot", "integer", "multiple"),)
_RANGES = (
    block("range", arg("start-slot", "integer"), arg("end-slot", "integer"), flags=("multiple",)),
)
_RANGE_COMPLEXITY = (
    "O(N) where N is the total number of the slots between the start slot and end slot arguments."
)


def _refused(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """Every command of this module -> Redis 7.0's error for a server without cluster
    support."""
    raise RedisError(errors.CLUSTER_DISABLED)


container(
    "cluster",
    group=_CL,
    since="3.0.0",
    complexity="Depends on subcommand.",
    summary="Holds the subcommands that inspect and manage a Redis Cluster.",
)


# -- Slots ----------------------------------------------------------------------------
command(
    "cluster|addslots",
    -3,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(N) where N is the total number of hash slot arguments",
    summary="Makes this node the owner of the given hash slots.",
    args=_SLOTS,
)(_refused)

command(
    "cluster|addslotsrange",
    -4,
    _ADMIN,
    group=_CL,
    since="7.0.0",
    complexity=_RANGE_COMPLEXITY,
    summary="Makes this node the owner of every hash slot in the given ranges.",
    args=_RANGES,
)(_refused)

command(
    "cluster|delslots",
    -3,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(N) where N is the total number of hash slot arguments",
    summary="Makes this node forget that it serves the given hash slots.",
    args=_SLOTS,
)(_refused)

command(
    "cluster|delslotsrange",
    -4,
    _ADMIN,
    group=_CL,
    since="7.0.0",
    complexity=_RANGE_COMPLEXITY,
    summary="Makes this node forget every hash slot in the given ranges.",
    args=_RANGES,
)(_refused)

command(
    "cluster|flushslots",
    2,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Clears this node's whole table of served hash slots.",
)(_refused)

command(
    "cluster|setslot",
    -4,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Changes the state of one hash slot on this node: importing, migrating, "
    "owned by a node, or stable.",
    args=(
        arg("slot", "integer"),
        oneof(
            "subcommand",
            arg("importing", token="IMPORTING"),
            arg("migrating", token="MIGRATING"),
            arg("node", token="NODE"),
            token("STABLE"),
        ),
    ),
)(_refused)

command(
    "cluster|countkeysinslot",
    3,
    _READ,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Counts the keys this node holds in one hash slot.",
    args=(arg("slot", "integer"),),
)(_refused)

command(
    "cluster|getkeysinslot",
    4,
    _READ,
    group=_CL,
    since="3.0.0",
    complexity="O(log(N)) where N is the number of requested keys",
    summary="Lists up to count of the key names this node holds in one hash slot.",
    tips="nondeterministic_output",
    args=(arg("slot", "integer"), arg("count", "integer")),
)(_refused)

command(
    "cluster|keyslot",
    3,
    _READ,
    group=_CL,
    since="3.0.0",
    complexity="O(N) where N is the number of bytes in the key",
    summary="Computes which hash slot a key name maps to.",
    args=(arg("key"),),
)(_refused)

# -- The nodes and their topology -----------------------------------------------------
command(
    "cluster|meet",
    -4,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Introduces another node to this one, making both part of one cluster.",
    history=(("4.0.0", "The cluster bus port can be given as an optional third argument."),),
    args=(
        arg("ip"),
        arg("port", "integer"),
        arg("cluster-bus-port", "integer", "optional", since="4.0.0"),
    ),
)(_refused)

command(
    "cluster|forget",
    3,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Drops a node from this node's table of known nodes.",
    args=_NODE_ID,
)(_refused)

command(
    "cluster|replicate",
    3,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Turns this node into a replica of the given master node.",
    args=_NODE_ID,
)(_refused)

command(
    "cluster|failover",
    -2,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Asks this replica to take over from its master, with or without the "
    "master's agreement.",
    args=(oneof("options", token("FORCE"), token("TAKEOVER"), flags=("optional",)),),
)(_refused)

command(
    "cluster|reset",
    -2,
    "admin noscript stale",
    group=_CL,
    since="3.0.0",
    complexity="O(N) where N is the number of known nodes. The command may execute a "
    "FLUSHALL as a side effect.",
    summary="Puts this node back in a cluster of its own, forgetting the others "
    "(HARD also renews its ID and epochs).",
    args=(oneof("reset-type", token("HARD"), token("SOFT"), flags=("optional",)),),
)(_refused)

command(
    "cluster|saveconfig",
    2,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Writes this node's cluster configuration to its nodes.conf file now.",
)(_refused)

command(
    "cluster|set-config-epoch",
    3,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Gives a fresh node its configuration epoch.",
    args=(arg("config-epoch", "integer"),),
)(_refused)

command(
    "cluster|bumpepoch",
    2,
    _ADMIN,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Raises this node's configuration epoch above every other one it knows.",
    tips="nondeterministic_output",
)(_refused)

command(
    "cluster|count-failure-reports",
    3,
    "admin stale",
    group=_CL,
    since="3.0.0",
    complexity="O(N) where N is the number of failure reports",
    summary="Counts the other nodes that currently report the given node as failing.",
    tips="nondeterministic_output",
    args=_NODE_ID,
)(_refused)

# -- Reports ----------------------------------------------------------------------------
command(
    "cluster|info",
    2,
    _READ,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Reports the cluster's state and counters as this node sees them.",
    tips="nondeterministic_output",
)(_refused)

command(
    "cluster|myid",
    2,
    _READ,
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Returns this node's own ID.",
)(_refused)

command(
    "cluster|nodes",
    2,
    _READ,
    group=_CL,
    since="3.0.0",
    complexity="O(N) where N is the total number of Cluster nodes",
    summary="Describes every node this node knows, one line each (its nodes.conf format).",
    tips="nondeterministic_output",
)(_refused)

command(
    "cluster|links",
    2,
    _READ,
    group=_CL,
    since="7.0.0",
    complexity="O(N) where N is the total number of Cluster nodes",
    summary="Describes this node's open connections on the cluster bus.",
    tips="nondeterministic_output",
)(_refused)

command(
    "cluster|shards",
    2,
    _READ,
    group=_CL,
    since="7.0.0",
    complexity="O(N) where N is the total number of cluster nodes",
    summary="Describes each shard of the cluster: its slot ranges and its nodes.",
    tips="nondeterministic_output",
)(_refused)

command(
    "cluster|slots",
    2,
    _READ,
    group=_CL,
    since="3.0.0",
    complexity="O(N) where N is the total number of Cluster nodes",
    summary="Lists each range of hash slots with the nodes serving it.",
    tips="nondeterministic_output",
    doc_flags="deprecated",
    deprecated_since="7.0.0",
    replaced_by="`CLUSTER SHARDS`",
    history=(
        ("4.0.0", "Each node of the reply carries its ID."),
        ("7.0.0", "Each node of the reply carries a map of further networking details."),
    ),
)(_refused)

command(
    "cluster|replicas",
    3,
    "admin stale",
    group=_CL,
    since="5.0.0",
    complexity="O(1)",
    summary="Describes the replicas of the given master node, as CLUSTER NODES does.",
    tips="nondeterministic_output",
    args=_NODE_ID,
)(_refused)

command(
    "cluster|slaves",
    3,
    "admin stale",
    group=_CL,
    since="3.0.0",
    complexity="O(1)",
    summary="Describes the replicas of the given master node (the old name of CLUSTER REPLICAS).",
    tips="nondeterministic_output",
    doc_flags="deprecated",
    deprecated_since="5.0.0",
    replaced_by="`CLUSTER REPLICAS`",
    args=_NODE_ID,
)(_refused)

# Not `help_command`: Redis 7.0 refuses CLUSTER HELP too when cluster support is off.
command(
    "cluster|help",
    2,
    "loading stale",
    group=_CL,
    since="5.0.0",
    complexity="O(1)",
    summary="Lists the CLUSTER subcommands, a line or two on each.",
)(_refused)

# -- Connection state for cluster clients -----------------------------------------------
command(
    "readonly",
    1,
    "fast loading stale",
    group=_CL,
    acl="connection",
    since="3.0.0",
    complexity="O(1)",
    summary="Lets this connection read keys from a replica node of the cluster.",
)(_refused)

command(
    "readwrite",
    1,
    "fast loading stale",
    group=_CL,
    acl="connection",
    since="3.0.0",
    complexity="O(1)",
    summary="Undoes READONLY: this connection's reads go to the masters again.",
)(_refused)

command(
    "asking",
    1,
    "fast",
    group=_CL,
    acl="connection",
    since="3.0.0",
    complexity="O(1)",
    summary="Lets the next command reach a hash slot this node is importing, after an "
    "ASK redirection.",
)(_refused)
