#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Counts the copies of a secret in a process's writable memory.

    pin_in_memory.py PID SECRET

Reads every writable mapping of PID (heap, anonymous memory, thread
stacks, data segments) through /proc/PID/mem, as a debugger would (the
caller may ptrace PID: the same user without Yama's restriction, or
root), and prints "N copies". Freed memory counts: it is still there.
Mappings over 1 GiB are not read: only a sanitizer's shadow memory is
that large (ASan's heap is in mappings of its own, which are read).
"""
import re
import sys

pid, secret = sys.argv[1], sys.argv[2].encode()
copies = 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
        start, end, perms = int(m[1], 16), int(m[2], 16), m[3]
        if ("w" not in perms or line.rstrip().endswith("[vvar]")
                or end - start > 1 << 30):
            continue
        try:
            mem.seek(start)
            copies += mem.read(end - start).count(secret)
        except OSError:
            continue
print(f"{copies} copies")
