#!/usr/bin/env python3
"""The quick start's demo: a test API server with three nodes over
real TLS, and the confined daemon watching them for a few seconds:
its list, the intents the executor accepts, the node condition it
sets.  Run from a build directory (KN_BUILDDIR) as root."""

import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("KN_SRCDIR", os.path.dirname(here))
sys.path.insert(0, os.path.join(os.path.dirname(here), "tests"))
import knlib  # noqa: E402
import nodegen  # noqa: E402

api = knlib.ApiServer()
d = None
try:
    for i in range(3):
        api.control("POST", "/nodes", nodegen.make_node(i))
    local = nodegen.node_name(0)
    print("demo: test API server at %s with 3 nodes; this node is %s" %
          (api.url, local))
    d = knlib.Daemon(["--provider", "vxlan"], api=api.daemon_args(local))
    i, m = d.wait_for(r"NetworkUnavailable=False", timeout=30)
    time.sleep(0.5)
finally:
    rc = d.stop() if d is not None else 1
    api.close()
print(d.log() if d is not None else "")
sys.exit(0 if m is not None and rc == 0 else 1)
