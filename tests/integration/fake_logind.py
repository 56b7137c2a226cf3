#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Stands in for systemd-logind on a private system bus: owns
org.freedesktop.login1 and announces sleep (PrepareForSleep(true)), as
logind does before a laptop suspends. No logind runs in a container."""
import sys

from gi.repository import Gio, GLib

bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
reply = bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                      "org.freedesktop.DBus", "RequestName",
                      GLib.Variant("(su)", ("org.freedesktop.login1", 4)),
                      None, Gio.DBusCallFlags.NONE, -1, None)
if reply.unpack()[0] != 1:
    sys.exit("cannot own org.freedesktop.login1")
bus.emit_signal(None, "/org/freedesktop/login1",
                "org.freedesktop.login1.Manager", "PrepareForSleep",
                GLib.Variant("(b)", (True,)))
bus.flush_sync(None)
print("announced sleep")
