#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The agent's layers (docs/architecture.md): no file includes a header of
a layer above its own. Every file of agent/ must be placed here, so that a
new module is placed on purpose. Usage: layers.py AGENT_DIR"""
import os
import re
import sys

# Bottom up; a module is its .c and .h.
LAYERS = [
    ("foundation", "agent config events files state tasks naming schedule "
                   "credentials journal record exports recovery testpoint ratelog "
                   "session peer assuan pinentry uses"),
    ("PKCS#11 and tokens", "p11 modules tokens objects"),
    ("registry and identities", "identity registry"),
    ("signer", "digests signer builtin prompt policy"),
    ("lifecycle", "keys chaincheck publish enrolment claims recover renew "
                  "renewals "
                  "steps transitions enroll/certify enroll/enroll "
                  "enroll/exec enroll/local enroll/acme enroll/acme_msg "
                  "enroll/scep enroll/scep_msg enroll/http"),
    ("control", "control"),
    ("front ends", "server dbus watch suspend main"),
]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main(agent_dir):
    layer_of = {}
    for level, (_, modules) in enumerate(LAYERS):
        for module in modules.split():
            layer_of[module] = level
    problems = []
    for root, _, files in os.walk(agent_dir):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            module = os.path.relpath(path, agent_dir)[:-2]
            if module not in layer_of:
                problems.append(f"{path}: not placed in a layer (tests/layers.py)")
                continue
            level = layer_of[module]
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for included in INCLUDE.findall(text):
                target = os.path.normpath(os.path.join(root, included))
                rel = os.path.relpath(target, agent_dir)
                if rel.startswith("..") or not os.path.exists(target):
                    continue  # common/, provider/, generated D-Bus code
                used = rel[:-2]
                if used not in layer_of:
                    problems.append(f"{path}: includes {included}, "
                                    "which is in no layer")
                elif layer_of[used] > level:
                    problems.append(
                        f"{path} ({LAYERS[level][0]}) includes {included} "
                        f"({LAYERS[layer_of[used]][0]}), a layer above it")
    for p in problems:
        print(p)
    print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
