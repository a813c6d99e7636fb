#!/usr/bin/env python3
"""The layer2 and vxlan modes end to end: three node namespaces on a
shared underlay, two pod namespaces each, the test API server and the
real, fully confined daemon on every node.  Pods ping across nodes;
nodes come and go; a pod CIDR changes; objects removed or changed by
hand come back; a killed executor and a restarted daemon delete
nothing that is still valid."""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_apiserver(tap, "ping", "bridge")
import netcluster  # noqa: E402

COMMITTED = r"^watcher: generation \d+ committed"
wait_until = netcluster.wait_until
owned = netcluster.owned


def failed_pings(res):
    return ["%s -> %s" % (p.addr, q.addr) for p, q, ok in res if not ok]


def condition(c, node):
    got = c.api.control("GET", "/nodes/" + node.name)
    return [x for x in got["status"].get("conditions", [])
            if x["type"] == "NetworkUnavailable"]


def expected(mode, node, peers):
    """What a node should own for its peers."""
    return knlib.expected_owned(mode, [(p.pod_cidr, p.addr) for p in peers])


def run_mode(mode):
    c = netcluster.Cluster(nodes=3, pods=2)
    try:
        c.start_all(["-v", "--provider", mode, "--sync-period", "1h"])
        tap.ok(c.wait_all(COMMITTED), "%s: every watcher reports its first "
               "generation committed" % mode)
        res = c.converge_pings()
        tap.ok(res and not failed_pings(res), "%s: every pod pings every "
               "pod on the other nodes (%d pairs)" % (mode, len(res)),
               failed_pings(res))
        for n in c.nodes:
            peers = [p for p in c.nodes if p is not n]
            tap.eq(owned(n), expected(mode, n, peers),
                   "%s: %s owns exactly its peers' objects" % (mode, n.name))
        cond = [condition(c, n) for n in c.nodes]
        tap.ok(all(len(x) == 1 and x[0]["status"] == "False" and
                   x[0]["reason"] == "RouteCreated" for x in cond),
               "%s: NetworkUnavailable is False on every node" % mode, cond)
        if mode == "vxlan":
            link = c.nodes[0].run("ip", "-d", "link", "show", "vxlan1")
            tap.ok(re.search(r"mtu 1450 ", link) and
                   "vxlan id 1 " in link and "local 172.20.0.10 " in link and
                   "dstport 4789 " in link and "nolearning" in link and
                   "link/ether 00:53:64:60:00:00" in link,
                   "vxlan: vxlan1 has VNI 1, port 4789, the node's address, "
                   "learning off, the MAC rule and MTU 1450", link)

        # Drift: removed or changed by hand, put back.
        n0, n1, n2 = c.nodes
        want0 = owned(n0)
        n0.run("ip", "route", "del", n1.pod_cidr)
        tap.ok(wait_until(lambda: owned(n0) == want0, 10),
               "%s: a route deleted by hand comes back" % mode, owned(n0))
        n0.run("ip", "route", "replace", n1.pod_cidr, "via", n2.addr,
               "proto", "107")
        tap.ok(wait_until(lambda: owned(n0) == want0, 10),
               "%s: a route changed by hand is put back" % mode, owned(n0))
        n0.run("ip", "route", "add", "100.111.0.0/24", "via", n2.addr)
        tap.ok("100.111.0.0/24" in n0.run("ip", "route"),
               "%s: a route of another protocol is left alone" % mode)
        if mode == "vxlan":
            net1 = n1.pod_cidr.split("/")[0]
            n0.run("ip", "neigh", "del", net1, "dev", "vxlan1")
            tap.ok(wait_until(lambda: owned(n0) == want0, 10),
                   "vxlan: a neighbour deleted by hand comes back", owned(n0))
            mac1 = "00:53:" + ":".join("%02x" % int(b)
                                       for b in net1.split("."))
            n0.run("bridge", "fdb", "del", mac1, "dev", "vxlan1", "dst",
                   n1.addr)
            tap.ok(wait_until(lambda: owned(n0) == want0, 10),
                   "vxlan: an FDB entry deleted by hand comes back",
                   owned(n0))
            n0.run("ip", "link", "set", "vxlan1", "mtu", "1300")
            tap.ok(wait_until(lambda: "mtu 1450 " in n0.run(
                "ip", "link", "show", "vxlan1"), 10),
                "vxlan: a changed device MTU is put back")
            n0.run("ip", "link", "del", "vxlan1")
            tap.ok(wait_until(lambda: owned(n0) == want0, 10),
                   "vxlan: a deleted vxlan1 is created and filled again",
                   owned(n0))

        # A killed executor, then a restarted daemon: nothing valid is
        # deleted, not even for a moment.
        mon = subprocess.Popen(["ip", "netns", "exec", n0.ns, "ip",
                                "monitor", "route", "neigh", "link"],
                               stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        d = n0.daemon
        mark = d.mark()
        os.kill(knlib.children_of(d.pid())["executor"], signal.SIGKILL)
        i, m = d.wait_for(r"^executor: generation \d+: 2 intents accepted",
                          start=mark)
        tap.ok(m is not None, "%s: the restarted executor gets the snapshot "
               "again" % mode, d.log())
        i, m = d.wait_for(r"^executor: adopted (\d+) kernel objects",
                          start=mark)
        tap.ok(m is not None and int(m.group(1)) == len(want0),
               "%s: the new executor adopts the %d objects in place" %
               (mode, len(want0)), d.log())
        n0.stop()
        tap.eq(owned(n0), want0, "%s: a stopped daemon leaves its objects "
               "in place" % mode)
        n0.start(["-v", "--provider", mode, "--sync-period", "1h"])
        i, m = n0.daemon.wait_for(COMMITTED)
        tap.ok(m is not None, "%s: the restarted daemon commits" % mode,
               n0.daemon.log())
        time.sleep(0.5)
        mon.terminate()
        events = mon.communicate(timeout=10)[0]
        deleted = [x for x in events.splitlines() if x.startswith("Deleted")
                   and ("proto 107" in x or "vxlan1" in x)]
        tap.ok(not deleted, "%s: ip monitor saw no owned object deleted "
               "through the restarts" % mode, deleted)
        tap.eq(owned(n0), want0, "%s: the same objects after the restarts" %
               mode)

        # A node deleted: its objects go everywhere, pings to it fail.
        c.api.control("DELETE", "/nodes/" + n2.name)
        n2.stop()
        rest = [n0, n1]
        tap.ok(wait_until(lambda: all(owned(n) == expected(
            mode, n, [p for p in rest if p is not n]) for n in rest), 10),
            "%s: a deleted node's objects are gone on every node" % mode,
            [owned(n) for n in rest])
        tap.ok(not n0.pods[0].ping(n2.pods[0].addr, timeout=1),
               "%s: pods of the deleted node are unreachable" % mode)
        res = c.converge_pings(nodes=rest)
        tap.ok(res and not failed_pings(res), "%s: the other nodes still "
               "reach each other" % mode, failed_pings(res))

        # A node added: pings work.
        n3 = c.add_node(3)
        n3.start(["-v", "--provider", mode])
        rest = [n0, n1, n3]
        res = c.converge_pings(nodes=rest)
        tap.ok(res and not failed_pings(res), "%s: an added node is reached "
               "and reaches the others" % mode, failed_pings(res))

        # A pod CIDR changed: pings work with the new one.
        new = c.renumber(n1, 9)
        tap.ok(wait_until(lambda: all(owned(n) == expected(
            mode, n, [p for p in rest if p is not n]) for n in rest), 15),
            "%s: a changed pod CIDR (%s) replaces the old objects" %
            (mode, new), [owned(n) for n in rest])
        res = c.converge_pings(nodes=rest)
        tap.ok(res and not failed_pings(res), "%s: pods ping across with "
               "the changed pod CIDR" % mode, failed_pings(res))
        for n in rest:
            tap.ok(not re.search(r"(?m)^(watcher|executor|parent): .*"
                                 r"(fatal|killed|restarting)",
                                 n.daemon.log()),
                   "%s: %s logged no crash" % (mode, n.name), n.daemon.log())
    finally:
        c.close()


for mode in ("layer2", "vxlan"):
    run_mode(mode)
tap.done()
