#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Holds raw connections to the agent that never send a byte.

    idle_clients.py SOCKET COUNT WAIT_SECONDS

Opens COUNT connections, and after a second prints "held N refused M"
(refused: the agent answered or closed it). Then watches the held ones for
up to WAIT_SECONDS and prints "closed K after S s" when the agent has
closed all of them, or "closed K of N" when the time ran out.
"""
import select
import socket
import sys
import time

path, count, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
time.sleep(1)


def answered(s):
    return bool(select.select([s], [], [], 0)[0])


held = [s for s in socks if not answered(s)]
print(f"held {len(held)} refused {count - len(held)}", flush=True)
start = time.monotonic()
while time.monotonic() - start < wait:
    closed = sum(answered(s) for s in held)
    if closed == len(held):
        print(f"closed {closed} after {time.monotonic() - start:.1f} s", flush=True)
        sys.exit(0)
    time.sleep(0.2)
print(f"closed {sum(answered(s) for s in held)} of {len(held)}", flush=True)
