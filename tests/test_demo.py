#!/usr/bin/env python3
"""The README's first command ends in contrib/demo.py: the demo
cluster must come up with its pods attached by the CNI plugins from
the file the daemon wrote, every cross-node ping must be answered, a
pod must reach the outside host from its node's address (the
masquerade), and the demo must remove every namespace it made."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_apiserver(tap, "ping", "bridge", "unshare", "iptables", "nft")
import cnirt  # noqa: E402
if cnirt.missing("bridge", "host-local", "portmap"):
    tap.skip_all(cnirt.missing("bridge", "host-local", "portmap"))

demo = os.path.join(knlib.SRCDIR, "contrib", "demo.py")
for mode, pairs in (("vxlan", 24), ("layer2", 24)):
    r = subprocess.run([sys.executable, demo, "--mode", mode, "--once"],
                       capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    tap.eq(r.returncode, 0, "%s: the demo exits 0" % mode)
    tap.ok("demo: %d of %d answered" % (pairs, pairs) in out,
           "%s: all %d cross-node pings answered" % (mode, pairs), out)
    tap.ok(re.search(r"demo:   ping \S+ -> 172\.20\.250\.1 ok\ndemo:   TCP  "
                     r"\S+ -> 172\.20\.250\.1: it saw the connection come "
                     r"from 172\.20\.0\.10 \(the node \S+\)$", out, re.M) and
           "masquerade fully-random" in out,
           "%s: a pod reaches the outside host through the masquerade, "
           "which the demo shows" % mode, out)
    tap.ok(re.search(r"what the daemon made on \S+ \(%s mode\)" % mode, out),
           "%s: it shows the kernel objects the daemon made" % mode, out)
    tap.ok(re.search(r"the CNI configuration the daemon wrote on \S+, "
                     r"\S+/10-kopeio\.conflist, with which the CNI plugins "
                     r"attached its pods:\ndemo:   \{\n", out) and
           '"type": "host-local"' in out,
           "%s: the pods were attached with the daemon's CNI file" % mode,
           out)
    m = re.search(r"underlay: namespace (\S+)-ul,", out)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True,
                          text=True).stdout
    tap.ok(m is not None and m.group(1) + "-" not in left,
           "%s: no namespace of the demo is left" % mode, left)
tap.done()
