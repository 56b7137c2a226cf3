#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Python's ssl module as a client, for the tests.

https_get.py CA PORT VERSION [CERT KEY]: GET / from 127.0.0.1:PORT over TLS
VERSION (1.2, 1.3, or "any"), trusting CA, presenting CERT and KEY (a key
file or a key-reference file, loaded by load_cert_chain) if given, and
print the page.
"""
import socket
import ssl
import sys

ca, port, version, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
ctx = ssl.create_default_context(cafile=ca)
if version != "any":
    ctx.minimum_version = ctx.maximum_version = {
        "1.2": ssl.TLSVersion.TLSv1_2,
        "1.3": ssl.TLSVersion.TLSv1_3,
    }[version]
if files:
    ctx.load_cert_chain(*files)
with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
        page = b""
        while chunk := tls.recv(65536):
            page += chunk
print(page.decode(errors="replace"))
