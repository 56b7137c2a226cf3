#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""config_keys.py SOURCE_DIR MAN_PAGE: the keys the agent reads from
agent.conf against the keys agent.conf(5) describes. Prints each key one
has and the other lacks, and exits 1 if there is any (or if either side
has none, which means this script no longer finds them).

The agent's keys are read from its source, where agent.conf is read: the
string literals passed as keys to the functions that read it, and the
{"key", min, max} tables of numbers. When the way the agent reads its
configuration changes, this must change with it; it fails rather than
pass on finding nothing.
"""
import pathlib
import re
import sys

# Functions whose literal arguments are agent.conf keys (or group kinds).
READERS = ("agent_config_string", "enroll_profile_string",
           "enroll_profile_number", "policy_number", "read_bounded",
           "absent_or_count", "absent_or_boolean", "g_key_file_has_key",
           "g_key_file_get_boolean", "g_key_file_get_integer_list",
           "g_key_file_get_string_list", "g_key_file_get_string",
           "g_key_file_get_int64", "g_key_file_get_integer")
# Files that read other key files (state records, journals), not agent.conf.
STATE_FILES = {"record.c", "journal.c"}
GROUP_KINDS = {"agent", "token", "identity", "ca"}
KEY = r'"([a-z][a-z0-9]*(?:-[a-z0-9]+)*)"'
CALL = re.compile(r"\b(?:%s)\s*\(([^;{}]*?)\)\s*[;,)&|?:]" % "|".join(READERS),
                  re.S)
# {"key", min, max}: a row of a table of bounded numbers.
TABLE_ROW = re.compile(r"\{\s*" + KEY + r"\s*,\s*-?[\w ()*]+,\s*-?[\w ()*]+\}")


def agent_keys(source):
    keys = set()
    for path in sorted(pathlib.Path(source, "agent").rglob("*.c")):
        if path.name in STATE_FILES:
            continue
        text = path.read_text(encoding="utf-8")
        for call in CALL.finditer(text):
            keys.update(re.findall(KEY, call.group(1)))
        keys.update(TABLE_ROW.findall(text))
    return keys - GROUP_KINDS


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
