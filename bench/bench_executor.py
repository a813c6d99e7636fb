#!/usr/bin/env python3
"""How fast the executor installs 5,000 peers from empty, next to
iproute2 loading the same objects from batch files.  Prints numbers
and ratios, never a verdict.

For each mode (layer2, vxlan) and run: a fresh node namespace on the
underlay of tests/netcluster.py (172.20.0.0/16 on-link, the test API
server on 172.20.0.1 serving 5,000 generated nodes, node 0 the local
one), the real, confined daemon started in it, the executor's time and
request count from its "kernel reconciled" line, and every route,
neighbour and FDB entry checked in the namespace.  Then another fresh
namespace with the same addressing (and vxlan1 made by hand) loads the
same objects with `bridge -batch` (FDB) and `ip -batch` (neighbours,
routes), timed by the wall clock of those processes (ours is the
executor's own measure, from the end of the snapshot to the last ack;
start->commit is from starting the daemon to the watcher's "committed"
line, listing 5,000 nodes over TLS included).  The requests carry
the same flags as the executor's: routes are added, neighbours and FDB
entries replaced.  Needs root.

	KN_BUILDDIR=... KN_SRCDIR=... bench/bench_executor.py [runs]
"""

import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRCDIR = os.environ.get("KN_SRCDIR",
                        os.path.dirname(os.path.dirname(
                            os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
import knlib  # noqa: E402
from benchlib import cells  # noqa: E402

NODES = 5000
POD_CIDR_MASK = 25      # 5,000 pod CIDRs fit 100.96.0.0/12 only as /25s
NODE_BYTES = 2000
PROTOCOL = 107
RECONCILED = (r"^executor: generation \d+: kernel reconciled with (\d+) "
              r"requests in (\d+) ms$")
COMMITTED = r"^watcher: generation \d+ committed"

Peer = collections.namedtuple("Peer", "pod_cidr addr")


def batches(mode, peers, netcluster):
    """[(tool, lines)] that make the objects the executor makes."""
    if mode == "layer2":
        return [("ip", ["route add %s via %s proto %d" % (p.pod_cidr, p.addr,
                                                          PROTOCOL)
                        for p in peers])]
    fdb, ip = [], []
    for p in peers:
        net, mac = p.pod_cidr.split("/")[0], netcluster.vxlan_mac(p.pod_cidr)
        fdb.append("fdb replace %s dev vxlan1 dst %s self permanent" %
                   (mac, p.addr))
        ip.append("neigh replace %s lladdr %s dev vxlan1 nud permanent" %
                  (net, mac))
        ip.append("route add %s via %s dev vxlan1 onlink proto %d" %
                  (p.pod_cidr, net, PROTOCOL))
    return [("bridge", fdb), ("ip", ip)]


def make_vxlan1(node, netcluster):
    """vxlan1 as the executor makes it: VNI 1, port 4789, the node's
    address, learning off, MTU 1450, the MAC rule, the /32 address."""
    net = node.pod_cidr.split("/")[0]
    node.run("ip", "link", "add", "vxlan1", "address",
             netcluster.vxlan_mac(node.pod_cidr), "mtu", "1450", "type",
             "vxlan", "id", "1", "dstport", "4789", "local", node.addr,
             "dev", "eth0", "nolearning")
    node.run("ip", "link", "set", "vxlan1", "up")
    node.run("ip", "addr", "add", net + "/32", "dev", "vxlan1")


def check(node, mode, want, netcluster, what):
    got = netcluster.owned(node, PROTOCOL)
    if got != want:
        extra = sorted(set(got) - set(want))[:5]
        missing = sorted(set(want) - set(got))[:5]
        raise RuntimeError("%s, %s: %d objects instead of %d; missing %s, "
                           "extra %s" % (what, mode, len(got), len(want),
                                         missing, extra))


def run_daemon(c, mode, want, netcluster):
    """(executor ms, requests, start to committed ms) of one run."""
    with c.scratch_node() as node:
        t0 = time.monotonic()
        d = node.start(["--provider", mode, "--max-nodes", str(NODES)])
        i, m = d.wait_for(RECONCILED, timeout=300)
        j, done = d.wait_for(COMMITTED, timeout=60)
        t1 = time.monotonic()
        if m is None or done is None:
            raise RuntimeError("%s: the daemon did not reconcile and "
                               "commit:\n%s" % (mode, d.log()[-3000:]))
        check(node, mode, want, netcluster, "daemon")
        return int(m.group(2)), int(m.group(1)), (t1 - t0) * 1000


def run_iproute(c, mode, want, files, netcluster):
    """Wall clock ms of bridge -batch and ip -batch in a fresh node."""
    with c.scratch_node() as node:
        if mode == "vxlan":
            make_vxlan1(node, netcluster)
        t0 = time.monotonic()
        for tool, path in files:
            netcluster.sh(tool, "-n", node.ns, "-batch", path)
        ms = (time.monotonic() - t0) * 1000
        check(node, mode, want, netcluster, "ip -batch")
        return ms


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    why = knlib.apiserver_missing("ip", "bridge")
    if why is not None:
        print("bench_executor: skipped: %s" % why)
        return 0
    import netcluster

    # SIGTERM unwinds like ^C, so the namespaces always go.
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    tmp = tempfile.mkdtemp(prefix="kn-bench-")
    c = None
    rows = []
    try:
        c = netcluster.Cluster(nodes=0, pods=0, pod_cidr_mask=POD_CIDR_MASK)
        t = time.monotonic()
        c.api.control("POST", "/generate", {
            "count": NODES, "target_bytes": NODE_BYTES,
            "pod_cidr_mask": POD_CIDR_MASK})
        print("bench_executor: %d nodes of %d bytes generated in %.1f s; "
              "%d runs per mode" % (NODES, NODE_BYTES, time.monotonic() - t,
                                    runs))
        if os.environ.get("KN_SANITIZERS"):
            print("bench_executor: the daemon is built with sanitizers: "
                  "its times are not representative")
        sys.stdout.flush()
        peers = [Peer(netcluster.nodegen.pod_cidr(i, mask=POD_CIDR_MASK),
                      netcluster.nodegen.internal_ip(i))
                 for i in range(1, NODES)]
        for mode in ("layer2", "vxlan"):
            want = netcluster.expected(mode, peers)
            files = []
            for k, (tool, lines) in enumerate(batches(mode, peers,
                                                      netcluster)):
                path = os.path.join(tmp, "%s-%d.%s" % (mode, k, tool))
                with open(path, "w") as f:
                    f.write("\n".join(lines) + "\n")
                files.append((tool, path))
            ours, reqs, start, ipb = [], [], [], []
            for r in range(runs):
                ms, n, st = run_daemon(c, mode, want, netcluster)
                ours.append(ms)
                reqs.append(n)
                start.append(st)
                ipb.append(run_iproute(c, mode, want, files, netcluster))
            rows.append((mode, len(want)) + cells(reqs, ours, ipb, start))
    finally:
        if c is not None:
            c.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("executor install from empty, %d peers; ms as min / median; "
          "ratio of medians" % (NODES - 1))
    fmt = "%-7s %8s %9s %13s %13s %7s %17s"
    print(fmt % ("mode", "objects", "requests", "ours ms", "ip -batch ms",
                 "ratio", "start->commit ms"))
    for row in rows:
        print(fmt % row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
