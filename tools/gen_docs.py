"""Regenerate the generated parts of the documentation from the code.

Usage: python tools/gen_docs.py [--check]

- docs/commands.md: every command and subcommand of the command table, with its
  arity, flags, ACL categories and summary.
- docs/configuration.md: the part between the GENERATED markers, the list of the
  parameters diskredis acts on and of those it accepts without effect.

With --check, nothing is written; the exit code is 1 when a file is out of date
(the test suite runs this).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from diskredis import commands  # noqa: E402,F401  (registers every command)
from diskredis.commands.registry import all_commands  # noqa: E402
from diskredis.config import PARAMS, format_value  # noqa: E402

BEGIN = "<!-- GENERATED: parameters (tools/gen_docs.py) -->"
END = "<!-- END GENERATED -->"


def commands_md() -> str:
    rows = sorted(all_commands(), key=lambda c: c.name)
    out = [
        "# Commands",
        "",
        "Generated from the command table by `tools/gen_docs.py`; do not edit by hand.",
        "Every command listed is complete: all its options, Redis 7.0's replies and errors",
        "(those of the first Redis that had it, for a command `since` a later one) in RESP2",
        "and RESP3. A command not listed answers `-ERR unknown command`.",
        "",
        "| command | arity | flags | ACL categories | since | summary |",
        "|---|---|---|---|---|---|",
    ]
    for c in rows:
        name = c.name.replace("|", " ").upper()
        flags = " ".join(sorted(c.flags))
        acl = " ".join("@" + a for a in c.categories)
        out.append(
            "| `%s` | %d | %s | %s | %s | %s |"
            % (name, c.arity, flags, acl, c.since, c.summary.replace("|", "\\|"))
        )
    return "\n".join(out) + "\n"


def params_md() -> str:
    acted = sorted((p for p in PARAMS.values() if p.effect), key=lambda p: p.name)
    refused = sorted((p for p in PARAMS.values() if p.refused), key=lambda p: p.name)
    idle = sorted(
        (p for p in PARAMS.values() if not p.effect and not p.refused), key=lambda p: p.name
    )
    out = [
        BEGIN,
        "",
        "### Parameters diskredis acts on",
        "",
        "| parameter | default | settable at run time |",
        "|---|---|---|",
    ]
    for p in acted:
        default = p.default if p.name == "dir" else format_value(p, p.default)  # not abspath
        out.append("| `%s` | `%s` | %s |" % (p.name, default or '""', "yes" if p.mutable else "no"))
    out += [
        "",
        "### Refused unless left at their default",
        "",
        "Setting these would change what the server promises (a cluster node, an",
        "allocator diskredis does not have); diskredis cannot keep that promise yet,",
        "so it refuses any other value, at start-up and in CONFIG SET.",
        "",
    ]
    out.append(
        ", ".join("`%s`" % p.name + (" (`%s`)" % p.alias if p.alias else "") for p in refused)
    )
    out += [
        "",
        "### Accepted without effect",
        "",
        "Redis 7.0 knows these; diskredis accepts, validates and echoes them (CONFIG GET,",
        "CONFIG SET, CONFIG REWRITE, the file, the flags) so that client libraries,",
        "deployment tools and test suites that set them keep working, but they change",
        "nothing here: encoding thresholds, RDB/AOF, replication's transfer tuning",
        "(docs/replication.md says how diskredis transfers), cluster, TLS, modules,",
        "defragmentation and eviction tuning have no counterpart in diskredis.",
        "",
    ]
    out.append(", ".join("`%s`" % p.name + (" (`%s`)" % p.alias if p.alias else "") for p in idle))
    out += ["", END]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale files, write nothing")
    args = parser.parse_args(argv)
    stale = []
    cmd_path = ROOT / "docs" / "commands.md"
    if not cmd_path.exists() or cmd_path.read_text() != commands_md():
        stale.append(cmd_path)
        if not args.check:
            cmd_path.write_text(commands_md())
    conf_path = ROOT / "docs" / "configuration.md"
    text = conf_path.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = head + params_md() + tail
    if new != text:
        stale.append(conf_path)
        if not args.check:
            conf_path.write_text(new)
    for path in stale:
        print("%s: %s" % ("stale" if args.check else "written", path.relative_to(ROOT)))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
