#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""config_keys.py SOURCE_DIR MAN_PAGE: the keys the agent reads from
agent.conf against the keys agent.conf(5) describes. Prints each key one
has and the other lacks, and exits 1 if there is any (or if either side
has none, which means this script no longer finds them).

The agent's keys are read from agent/config.c, the one place agent.conf
is read: the first string of each row of its tables of keys
(AGENT_KEY("key", ...), {"key", VALUE_..., ...}). When the way the agent
reads its configuration changes, this must change with it; it fails
rather than pass on finding nothing.
"""
import pathlib
import re
import sys

KEY = r'"([a-z][a-z0-9]*(?:-[a-z0-9]+)*)"'
# A row of one of config.c's key tables: a *_KEY( macro or a brace row
# whose second member is a kind of value.
TABLE_ROW = re.compile(r"(?:\b[A-Z]+_KEY\(\s*|\{\s*)" + KEY +
                       r"\s*,\s*VALUE_|\b[A-Z]+_KEY\(\s*" + KEY)


def agent_keys(source):
    text = pathlib.Path(source, "agent", "config.c").read_text(encoding="utf-8")
    return {a or b for a, b in TABLE_ROW.findall(text)}


def documented_keys(man_page):
    text = pathlib.Path(man_page).read_text(encoding="utf-8")
    return {k.replace("\\-", "-")
            for k in re.findall(r"^\\fB((?:[a-z0-9]|\\-)+)=\\fR", text, re.M)}


def main(source, man_page):
    agent, documented = agent_keys(source), documented_keys(man_page)
    for key in sorted(agent - documented):
        print(f"the agent reads {key}, which agent.conf(5) does not describe")
    for key in sorted(documented - agent):
        print(f"agent.conf(5) describes {key}, which the agent does not read")
    if not agent or not documented:
        print(f"found {len(agent)} keys in the agent, {len(documented)} in "
              "agent.conf(5): this script no longer reads one of them")
        return 1
    if agent != documented:
        return 1
    print(f"{len(agent)} keys, each read by the agent and described")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
