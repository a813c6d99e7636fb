#!/usr/bin/env python3
"""The quick start's demo cluster: three nodes, each a network
namespace on a shared underlay bridge, the test API server over real
TLS on the underlay, and the real, fully confined daemon on every
node.  Each daemon writes its node's CNI configuration (--cni-config),
and two pod namespaces per node are attached with it by the real CNI
plugins (bridge, host-local, portmap), as a container runtime would.
Prints the topology, the CNI file and the kernel objects the daemons
made, a ping from every pod to every pod on the other nodes, and a pod
reaching a host outside the cluster through the masquerade, then
waits for Ctrl-C (or exits at once with --once) and removes everything
it created, the pods through CNI DEL first.

usage: contrib/demo.py [--mode layer2|vxlan|vxlan-legacy] [--once]

Run as root from a build directory (KN_BUILDDIR), as contrib/quickstart
does."""

import argparse
import os
import signal
import sys

here = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("KN_SRCDIR", os.path.dirname(here))
sys.path.insert(0, os.path.join(os.path.dirname(here), "tests"))
import masqlib  # noqa: E402
import netcluster  # noqa: E402

MODES = ("layer2", "vxlan", "vxlan-legacy")


def say(*lines):
    for line in lines:
        print("demo: " + line if line else "", flush=True)


def show(c, mode):
    say("underlay: namespace %s, bridge ul, 172.20.0.0/16; test API server "
        "%s" % (c.ul, c.api.url))
    for n in c.nodes:
        say("node %s: namespace %s, eth0 %s, pod CIDR %s, pods %s" %
            (n.name, n.ns, n.addr, n.pod_cidr,
             " ".join("%s (%s)" % (p.addr, p.ns) for p in n.pods)))
    n = c.nodes[0]
    say("", "the CNI configuration the daemon wrote on %s, %s, with which "
        "the CNI plugins attached its pods:" % (n.name, n.cni_file))
    with open(n.cni_file) as f:
        for line in f.read().splitlines():
            say("  " + line)
    say("", "what the daemon made on %s (%s mode):" % (n.name, mode))
    for line in netcluster.owned(n):
        say("  " + line)


def outside(c):
    """A pod pings and connects to the outside host, which has no route
    to any pod: the answer comes back because the node translated the
    pod's address to its own (table inet kopeio).  True when it did."""
    n, p, o = c.nodes[0], c.nodes[0].pods[0], c.outside
    say("", "a pod reaching %s, a host outside the cluster with no route "
        "to the pods, through the masquerade (nft list table inet kopeio "
        "on %s):" % (o.addr, n.name))
    for line in n.run("nft", "list", "table", "inet", "kopeio").splitlines():
        say("  " + line.replace("\t", "  "))
    pinged = masqlib.wait_until(lambda: masqlib.ping(p.ns, o.addr), 20, 0.5)
    svc = masqlib.PeerService(o.ns)
    try:
        seen = masqlib.peer_seen(p.ns, o.addr)
    finally:
        svc.close()
    say("  ping %s -> %s %s" % (p.addr, o.addr, "ok" if pinged else
                                 "FAILED"),
        "  TCP  %s -> %s: it saw the connection come from %s%s" % (
            p.addr, o.addr, seen, " (the node %s)" % n.name
            if seen == n.addr else ""))
    return pinged and seen == n.addr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=MODES, default="vxlan")
    ap.add_argument("--once", action="store_true",
                    help="exit after the pings instead of waiting")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("demo: run as root (network namespaces)")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    say("building the cluster (%s mode)" % args.mode)
    c = netcluster.Cluster(nodes=3, pods=2, cni=True)
    try:
        try:
            c.start_all(["--provider", args.mode])
        except (RuntimeError, netcluster.cnirt.CniError) as e:
            for n in c.nodes:
                if n.daemon is not None:
                    print(n.daemon.log())
            say("the pods could not be attached: %s" % e)
            return 1
        if not c.wait_all(r"^watcher: generation \d+ committed"):
            for n in c.nodes:
                print(n.daemon.log())
            say("a daemon did not commit its routes")
            return 1
        show(c, args.mode)
        res = c.converge_pings()
        say("", "pings from every pod to every pod on the other nodes:")
        for p, q, ok in res:
            say("  %-11s -> %-11s %s" % (p.addr, q.addr,
                                         "ok" if ok else "FAILED"))
        good = sum(ok for _, _, ok in res)
        say("%d of %d answered" % (good, len(res)))
        out = outside(c)
        if not args.once and not stop:
            say("running; Ctrl-C stops the daemons and removes the cluster")
            try:
                while not stop:
                    signal.pause()
            except KeyboardInterrupt:
                pass
        return 0 if good == len(res) and out else 1
    finally:
        c.close()
        say("removed every namespace the demo made")


if __name__ == "__main__":
    sys.exit(main())
