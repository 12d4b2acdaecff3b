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
_RANGES = (block("range", arg("start-slot", "integer"), arg("end-slot", "integer"),
                 flags=("multiple",)),)
_RANGE_COMPLEXITY = ("O(N) where N is the total number of the slots between the start slot "
                     "and end slot arguments.")


def _disabled() -> NoReturn:
    raise RedisError(errors.CLUSTER_DISABLED)


container("cluster", group=_CL, since="3.0.0", complexity="Depends on subcommand.",
          summary="Holds the subcommands that inspect and manage a Redis Cluster.")


# -- Slots ----------------------------------------------------------------------------
@command("cluster|addslots", -3, _ADMIN, group=_CL, since="3.0.0",
         complexity="O(N) where N is the total number of hash slot arguments",
         summary="Makes this node the owner of the given hash slots.", args=_SLOTS)
def cluster_addslots(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER ADDSLOTS slot [slot ...] -> error: no cluster support."""
    _disabled()


@command("cluster|addslotsrange", -4, _ADMIN, group=_CL, since="7.0.0",
         complexity=_RANGE_COMPLEXITY,
         summary="Makes this node the owner of every hash slot in the given ranges.",
         args=_RANGES)
def cluster_addslotsrange(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER ADDSLOTSRANGE start-slot end-slot [start-slot end-slot ...] -> error: no
    cluster support."""
    _disabled()


@command("cluster|delslots", -3, _ADMIN, group=_CL, since="3.0.0",
         complexity="O(N) where N is the total number of hash slot arguments",
         summary="Makes this node forget that it serves the given hash slots.", args=_SLOTS)
def cluster_delslots(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER DELSLOTS slot [slot ...] -> error: no cluster support."""
    _disabled()


@command("cluster|delslotsrange", -4, _ADMIN, group=_CL, since="7.0.0",
         complexity=_RANGE_COMPLEXITY,
         summary="Makes this node forget every hash slot in the given ranges.",
         args=_RANGES)
def cluster_delslotsrange(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER DELSLOTSRANGE start-slot end-slot [start-slot end-slot ...] -> error: no
    cluster support."""
    _disabled()


@command("cluster|flushslots", 2, _ADMIN, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Clears this node's whole table of served hash slots.")
def cluster_flushslots(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER FLUSHSLOTS -> error: no cluster support."""
    _disabled()


@command("cluster|setslot", -4, _ADMIN, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Changes the state of one hash slot on this node: importing, migrating, "
                 "owned by a node, or stable.",
         args=(arg("slot", "integer"),
               oneof("subcommand", arg("importing", token="IMPORTING"),
                     arg("migrating", token="MIGRATING"), arg("node", token="NODE"),
                     token("STABLE"))))
def cluster_setslot(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER SETSLOT slot IMPORTING node-id|MIGRATING node-id|NODE node-id|STABLE ->
    error: no cluster support."""
    _disabled()


@command("cluster|countkeysinslot", 3, _READ, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Counts the keys this node holds in one hash slot.",
         args=(arg("slot", "integer"),))
def cluster_countkeysinslot(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER COUNTKEYSINSLOT slot -> error: no cluster support."""
    _disabled()


@command("cluster|getkeysinslot", 4, _READ, group=_CL, since="3.0.0",
         complexity="O(log(N)) where N is the number of requested keys",
         summary="Lists up to count of the key names this node holds in one hash slot.",
         tips="nondeterministic_output",
         args=(arg("slot", "integer"), arg("count", "integer")))
def cluster_getkeysinslot(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER GETKEYSINSLOT slot count -> error: no cluster support."""
    _disabled()


@command("cluster|keyslot", 3, _READ, group=_CL, since="3.0.0",
         complexity="O(N) where N is the number of bytes in the key",
         summary="Computes which hash slot a key name maps to.", args=(arg("key"),))
def cluster_keyslot(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER KEYSLOT key -> error: no cluster support."""
    _disabled()


# -- The nodes and their topology -----------------------------------------------------
@command("cluster|meet", -4, _ADMIN, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Introduces another node to this one, making both part of one cluster.",
         history=(("4.0.0", "The cluster bus port can be given as an optional third "
                   "argument."),),
         args=(arg("ip"), arg("port", "integer"),
               arg("cluster-bus-port", "integer", "optional", since="4.0.0")))
def cluster_meet(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER MEET ip port [cluster-bus-port] -> error: no cluster support."""
    _disabled()


@command("cluster|forget", 3, _ADMIN, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Drops a node from this node's table of known nodes.", args=_NODE_ID)
def cluster_forget(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER FORGET node-id -> error: no cluster support."""
    _disabled()


@command("cluster|replicate", 3, _ADMIN, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Turns this node into a replica of the given master node.", args=_NODE_ID)
def cluster_replicate(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER REPLICATE node-id -> error: no cluster support."""
    _disabled()


@command("cluster|failover", -2, _ADMIN, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Asks this replica to take over from its master, with or without the "
                 "master's agreement.",
         args=(oneof("options", token("FORCE"), token("TAKEOVER"), flags=("optional",)),))
def cluster_failover(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER FAILOVER [FORCE|TAKEOVER] -> error: no cluster support."""
    _disabled()


@command("cluster|reset", -2, "admin noscript stale", group=_CL, since="3.0.0",
         complexity="O(N) where N is the number of known nodes. The command may execute a "
                    "FLUSHALL as a side effect.",
         summary="Puts this node back in a cluster of its own, forgetting the others "
                 "(HARD also renews its ID and epochs).",
         args=(oneof("reset-type", token("HARD"), token("SOFT"), flags=("optional",)),))
def cluster_reset(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER RESET [HARD|SOFT] -> error: no cluster support."""
    _disabled()


@command("cluster|saveconfig", 2, _ADMIN, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Writes this node's cluster configuration to its nodes.conf file now.")
def cluster_saveconfig(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER SAVECONFIG -> error: no cluster support."""
    _disabled()


@command("cluster|set-config-epoch", 3, _ADMIN, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Gives a fresh node its configuration epoch.",
         args=(arg("config-epoch", "integer"),))
def cluster_set_config_epoch(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER SET-CONFIG-EPOCH config-epoch -> error: no cluster support."""
    _disabled()


@command("cluster|bumpepoch", 2, _ADMIN, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Raises this node's configuration epoch above every other one it knows.",
         tips="nondeterministic_output")
def cluster_bumpepoch(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER BUMPEPOCH -> error: no cluster support."""
    _disabled()


@command("cluster|count-failure-reports", 3, "admin stale", group=_CL, since="3.0.0",
         complexity="O(N) where N is the number of failure reports",
         summary="Counts the other nodes that currently report the given node as failing.",
         tips="nondeterministic_output", args=_NODE_ID)
def cluster_count_failure_reports(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER COUNT-FAILURE-REPORTS node-id -> error: no cluster support."""
    _disabled()


# -- Reports ----------------------------------------------------------------------------
@command("cluster|info", 2, _READ, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Reports the cluster's state and counters as this node sees them.",
         tips="nondeterministic_output")
def cluster_info(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER INFO -> error: no cluster support."""
    _disabled()


@command("cluster|myid", 2, _READ, group=_CL, since="3.0.0", complexity="O(1)",
         summary="Returns this node's own ID.")
def cluster_myid(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER MYID -> error: no cluster support."""
    _disabled()


@command("cluster|nodes", 2, _READ, group=_CL, since="3.0.0",
         complexity="O(N) where N is the total number of Cluster nodes",
         summary="Describes every node this node knows, one line each (its nodes.conf "
                 "format).",
         tips="nondeterministic_output")
def cluster_nodes(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER NODES -> error: no cluster support."""
    _disabled()


@command("cluster|links", 2, _READ, group=_CL, since="7.0.0",
         complexity="O(N) where N is the total number of Cluster nodes",
         summary="Describes this node's open connections on the cluster bus.",
         tips="nondeterministic_output")
def cluster_links(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER LINKS -> error: no cluster support."""
    _disabled()


@command("cluster|shards", 2, _READ, group=_CL, since="7.0.0",
         complexity="O(N) where N is the total number of cluster nodes",
         summary="Describes each shard of the cluster: its slot ranges and its nodes.",
         tips="nondeterministic_output")
def cluster_shards(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER SHARDS -> error: no cluster support."""
    _disabled()


@command("cluster|slots", 2, _READ, group=_CL, since="3.0.0",
         complexity="O(N) where N is the total number of Cluster nodes",
         summary="Lists each range of hash slots with the nodes serving it.",
         tips="nondeterministic_output", doc_flags="deprecated", deprecated_since="7.0.0",
         replaced_by="`CLUSTER SHARDS`",
         history=(("4.0.0", "Each node of the reply carries its ID."),
                  ("7.0.0", "Each node of the reply carries a map of further networking "
                   "details.")))
def cluster_slots(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER SLOTS -> error: no cluster support."""
    _disabled()


@command("cluster|replicas", 3, "admin stale", group=_CL, since="5.0.0", complexity="O(1)",
         summary="Describes the replicas of the given master node, as CLUSTER NODES does.",
         tips="nondeterministic_output", args=_NODE_ID)
def cluster_replicas(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER REPLICAS node-id -> error: no cluster support."""
    _disabled()


@command("cluster|slaves", 3, "admin stale", group=_CL, since="3.0.0", complexity="O(1)",
         summary="Describes the replicas of the given master node (the old name of "
                 "CLUSTER REPLICAS).",
         tips="nondeterministic_output", doc_flags="deprecated", deprecated_since="5.0.0",
         replaced_by="`CLUSTER REPLICAS`", args=_NODE_ID)
def cluster_slaves(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER SLAVES node-id -> error: no cluster support."""
    _disabled()


# Not `help_command`: Redis 7.0 refuses CLUSTER HELP too when cluster support is off.
@command("cluster|help", 2, "loading stale", group=_CL, since="5.0.0", complexity="O(1)",
         summary="Lists the CLUSTER subcommands, a line or two on each.")
def cluster_help(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """CLUSTER HELP -> error: no cluster support (Redis 7.0 gives no help then)."""
    _disabled()


# -- Connection state for cluster clients -----------------------------------------------
@command("readonly", 1, "fast loading stale", group=_CL, acl="connection", since="3.0.0",
         complexity="O(1)",
         summary="Lets this connection read keys from a replica node of the cluster.")
def readonly(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """READONLY -> error: no cluster support."""
    _disabled()


@command("readwrite", 1, "fast loading stale", group=_CL, acl="connection", since="3.0.0",
         complexity="O(1)",
         summary="Undoes READONLY: this connection's reads go to the masters again.")
def readwrite(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """READWRITE -> error: no cluster support."""
    _disabled()


@command("asking", 1, "fast", group=_CL, acl="connection", since="3.0.0", complexity="O(1)",
         summary="Lets the next command reach a hash slot this node is importing, after an "
                 "ASK redirection.")
def asking(ctx: Ctx, argv: list[bytes]) -> NoReturn:
    """ASKING -> error: no cluster support."""
    _disabled()
