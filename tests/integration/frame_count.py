#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Counts what clients ask the agent, for the tests.

frame_count.py LISTEN AGENT LOG: serves LISTEN (a UNIX socket, mode 0600)
and relays every connection to the agent's socket AGENT, both ways,
unchanged. Each frame a client sends appends its type byte to LOG as one
line ("01" HELLO, "03" GET_IDENTITY, "04" SIGN, ...), before it is
relayed. A test points TESSERA_SOCKET at LISTEN and counts lines: a
provider that reaches the agent at all shows up, whatever it asked.
"""
import os
import socket
import socketserver
import struct
import sys
import threading

LISTEN, AGENT, LOG = sys.argv[1:4]
log_lock = threading.Lock()


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def relay_replies(agent, client):
    try:
        while chunk := agent.recv(65536):
            client.sendall(chunk)
    except OSError:
        pass
    finally:
        client.shutdown(socket.SHUT_WR)


class Relay(socketserver.BaseRequestHandler):
    def handle(self):
        agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        agent.connect(AGENT)
        replies = threading.Thread(
            target=relay_replies, args=(agent, self.request), daemon=True
        )
        replies.start()
        try:
            while (header := read_exactly(self.request, 4)) is not None:
                (length,) = struct.unpack(">I", header)
                body = read_exactly(self.request, length) if length else b""
                if body is None:
                    break
                with log_lock, open(LOG, "a") as log:
                    log.write("%02x\n" % (body[0] if body else 0))
                agent.sendall(header + body)
        except OSError:
            pass
        finally:
            agent.shutdown(socket.SHUT_WR)
            replies.join()
            agent.close()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


old_umask = os.umask(0o177)
server = Server(LISTEN, Relay)
os.umask(old_umask)
print("listening", flush=True)
server.serve_forever()
