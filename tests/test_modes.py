#!/usr/bin/env python3
"""The layer2, vxlan and vxlan-legacy modes end to end: three node namespaces on a
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
expected = netcluster.expected
vxlan_mac = netcluster.vxlan_mac


def failed_pings(res):
    return ["%s -> %s" % (p.addr, q.addr) for p, q, ok in res if not ok]


def condition(c, node):
    got = c.api.control("GET", "/nodes/" + node.name)
    return [x for x in got["status"].get("conditions", [])
            if x["type"] == "NetworkUnavailable"]


def layer2_peers(c, n0, n1):
    """A peer off the underlay is skipped with one log line; a changed
    node address replaces the route in place."""
    far = netcluster.nodegen.make_node(7, target_bytes=3000,
                                       internal_ips=["10.9.9.9"])
    c.api.control("POST", "/nodes", far)
    pat = (r"^executor: installing route 100\.96\.7\.0/24 via 10\.9\.9\.9 "
           r".*not on a directly connected network; peer skipped")
    i, m = n0.daemon.wait_for(pat)
    tap.ok(m is not None, "layer2: a peer that is not on-link is reported "
           "and skipped", n0.daemon.log())
    obj = c.api.control("GET", "/nodes/" + n1.name)
    addrs = obj["status"]["addresses"]
    for a in addrs:
        if a["type"] == "InternalIP":
            a["address"] = "172.20.0.50"
    c.api.control("POST", "/nodes", obj)
    tap.ok(wait_until(lambda: "%s via 172.20.0.50 dev eth0" % n1.pod_cidr in
                      owned(n0)),
           "layer2: a changed node address replaces the route in place",
           owned(n0))
    for a in addrs:
        if a["type"] == "InternalIP":
            a["address"] = n1.addr
    c.api.control("POST", "/nodes", obj)
    c.api.control("DELETE", "/nodes/" + far["metadata"]["name"])
    tap.ok(wait_until(lambda: "%s via %s dev eth0" % (n1.pod_cidr, n1.addr)
                      in owned(n0)), "layer2: and back", owned(n0))
    tap.eq(len(re.findall(pat, n0.daemon.log(), re.M)), 1,
           "layer2: the unreachable peer was logged once")


def overrun(n):
    """The executor stopped while the kernel reports 30,000 route changes
    overflows its monitor socket: when it runs again it reads the whole
    state, and what it owns is still right."""
    want = owned(n)
    d = n.daemon
    mark = d.mark()
    ex = knlib.children_of(d.pid())["executor"]
    n.run("ip", "link", "add", "flood0", "type", "veth", "peer", "flood1")
    n.run("ip", "link", "set", "flood0", "up")
    n.run("ip", "link", "set", "flood1", "up")
    batch = "".join("route add 10.%d.%d.0/24 dev flood0\n" % (i // 256,
                                                             i % 256)
                    for i in range(30000))
    os.kill(ex, signal.SIGSTOP)
    try:
        subprocess.run(["ip", "netns", "exec", n.ns, "ip", "-batch", "-"],
                       input=batch, text=True, check=True)
    finally:
        os.kill(ex, signal.SIGCONT)
    i, m = d.wait_for(r"^executor: netlink monitor overrun: events lost, "
                      r"reading the whole state again$", start=mark)
    i, m2 = d.wait_for(r"^executor: full re-sync$", start=(i or mark) + 1)
    tap.ok(m is not None and m2 is not None, "layer2: an overrun monitor is "
           "noticed and the state read again", d.log())
    n.run("ip", "link", "del", "flood0")
    tap.eq(owned(n), want, "layer2: what it owns is unchanged after the "
           "overrun")


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
            tap.eq(owned(n), expected(mode, peers),
                   "%s: %s owns exactly its peers' objects" % (mode, n.name))
        # The watcher patches the condition after its first commit, and
        # says so once the server has taken it: the pings can pass first.
        tap.ok(c.wait_all(r"^watcher: node \S+: NetworkUnavailable=False "
                          r"\(RouteCreated\)$"),
               "%s: every watcher reports its node's condition set" % mode)
        cond = [condition(c, n) for n in c.nodes]
        tap.ok(all(len(x) == 1 and x[0]["status"] == "False" and
                   x[0]["reason"] == "RouteCreated" for x in cond),
               "%s: NetworkUnavailable is False on every node" % mode, cond)
        n0, n1, n2 = c.nodes
        if mode != "layer2":
            link = n0.run("ip", "-d", "link", "show", "vxlan1")
            tap.ok(re.search(r"mtu 1450 ", link) and
                   "vxlan id 1 " in link and "local 172.20.0.10 " in link and
                   "dstport 4789 " in link and "nolearning" in link and
                   "link/ether 00:53:64:60:00:00" in link,
                   "%s: vxlan1 has VNI 1, port 4789, the node's address, "
                   "learning off, the MAC rule and MTU 1450" % mode, link)
            addr = n0.run("ip", "-o", "addr", "show", "dev", "vxlan1")
            want = "100.96.0.0/12" if mode == "vxlan-legacy" else \
                "100.96.0.0/32"
            tap.ok(" inet %s " % want in addr, "%s: vxlan1 is addressed %s"
                   % (mode, want), addr)
        if mode == "vxlan-legacy":
            neigh = n0.run("ip", "neigh", "show", "dev", "vxlan1")
            want = ["%s lladdr %s" % (q.addr, vxlan_mac(n.pod_cidr)) for n in (n1, n2)
                    for q in n.pods]
            tap.ok(all(w in neigh for w in want), "vxlan-legacy: the "
                   "arp-helper answered every pod address with its node's "
                   "MAC", neigh)

        if mode == "layer2":
            layer2_peers(c, n0, n1)
            overrun(n0)

        # Drift: removed or changed by hand, put back.
        want0 = owned(n0)
        if mode != "vxlan-legacy":
            n0.run("ip", "route", "del", n1.pod_cidr)
            tap.ok(wait_until(lambda: owned(n0) == want0, 10),
                   "%s: a route deleted by hand comes back" % mode, owned(n0))
            n0.run("ip", "route", "replace", n1.pod_cidr, "via", n2.addr,
                   "proto", "107")
            tap.ok(wait_until(lambda: owned(n0) == want0, 10),
                   "%s: a route changed by hand is put back" % mode,
                   owned(n0))
        n0.run("ip", "route", "add", "100.111.0.0/24", "via", n2.addr)
        tap.ok("100.111.0.0/24" in n0.run("ip", "route"),
               "%s: a route of another protocol is left alone" % mode)
        if mode == "vxlan":
            net1 = n1.pod_cidr.split("/")[0]
            n0.run("ip", "neigh", "del", net1, "dev", "vxlan1")
            tap.ok(wait_until(lambda: owned(n0) == want0, 10),
                   "vxlan: a neighbour deleted by hand comes back", owned(n0))
        if mode != "layer2":
            n0.run("bridge", "fdb", "del", vxlan_mac(n1.pod_cidr), "dev", "vxlan1", "dst",
                   n1.addr)
            tap.ok(wait_until(lambda: owned(n0) == want0, 10),
                   "%s: an FDB entry deleted by hand comes back" % mode,
                   owned(n0))
            n0.run("ip", "link", "set", "vxlan1", "mtu", "1300")
            tap.ok(wait_until(lambda: "mtu 1450 " in n0.run(
                "ip", "link", "show", "vxlan1"), 10),
                "%s: a changed device MTU is put back" % mode)
            n0.run("ip", "link", "del", "vxlan1")
            tap.ok(wait_until(lambda: owned(n0) == want0, 10),
                   "%s: a deleted vxlan1 is created and filled again" % mode,
                   owned(n0))
            res = c.converge_pings()
            tap.ok(res and not failed_pings(res), "%s: pods ping across "
                   "through the new vxlan1" % mode, failed_pings(res))

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
        # While it is down, an object of its protocol appears that no
        # node asks for: extra, so the restarted daemon removes it.
        n0.run("ip", "route", "add", "100.99.0.0/24", "via", n1.addr,
               "proto", "107")
        n0.start(["-v", "--provider", mode, "--sync-period", "1h"])
        i, m = n0.daemon.wait_for(COMMITTED)
        tap.ok(m is not None, "%s: the restarted daemon commits" % mode,
               n0.daemon.log())
        time.sleep(0.5)
        mon.terminate()
        events = mon.communicate(timeout=10)[0]
        deleted = [x for x in events.splitlines() if x.startswith("Deleted")
                   and ("proto 107" in x or "vxlan1" in x)]
        tap.ok(len(deleted) == 1 and "100.99.0.0/24" in deleted[0],
               "%s: ip monitor saw no owned object deleted through the "
               "restarts but the extra one" % mode, deleted)
        tap.eq(owned(n0), want0, "%s: the same objects after the restarts" %
               mode)

        # A node deleted: its objects go everywhere, pings to it fail.
        c.api.control("DELETE", "/nodes/" + n2.name)
        n2.stop()
        rest = [n0, n1]
        tap.ok(wait_until(lambda: all(owned(n) == expected(
            mode, [p for p in rest if p is not n]) for n in rest), 10),
            "%s: a deleted node's objects are gone on every node" % mode,
            [owned(n) for n in rest])
        tap.ok(not n0.pods[0].ping(n2.pods[0].addr, timeout=1),
               "%s: pods of the deleted node are unreachable" % mode)
        if mode == "vxlan-legacy":
            tap.ok(wait_until(lambda: vxlan_mac(n2.pod_cidr) not in n0.run(
                "ip", "neigh", "show", "dev", "vxlan1"), 10),
                "vxlan-legacy: the deleted node's pod neighbours are gone",
                n0.run("ip", "neigh", "show", "dev", "vxlan1"))
        res = c.converge_pings(nodes=rest)
        tap.ok(res and not failed_pings(res), "%s: the other nodes still "
               "reach each other" % mode, failed_pings(res))

        # A heartbeat costs nothing; a node added costs its own requests.
        mark = n0.daemon.mark()
        c.api.control("POST", "/heartbeat/" + n1.name)
        n3 = c.add_node(3)
        i, m = n0.daemon.wait_for(r"^executor: generation \d+: kernel "
                                  r"reconciled with (\d+) requests",
                                  start=mark)
        per_peer = {"layer2": 1, "vxlan": 3, "vxlan-legacy": 1}[mode]
        time.sleep(1)   # room for a second generation, were there one
        tap.ok(m is not None and int(m.group(1)) == per_peer and
               len(re.findall(r"(?m)^executor: generation \d+: kernel "
                              r"reconciled", "\n".join(
                                  n0.daemon.lines[mark:]))) == 1,
               "%s: a heartbeat makes no request, an added node %d" %
               (mode, per_peer), n0.daemon.lines[mark:])
        n3.start(["-v", "--provider", mode])
        rest = [n0, n1, n3]
        res = c.converge_pings(nodes=rest)
        tap.ok(res and not failed_pings(res), "%s: an added node is reached "
               "and reaches the others" % mode, failed_pings(res))

        # A pod CIDR changed: pings work with the new one.
        new = c.renumber(n1, 9)
        tap.ok(wait_until(lambda: all(owned(n) == expected(
            mode, [p for p in rest if p is not n]) for n in rest), 15),
            "%s: a changed pod CIDR (%s) replaces the old objects" %
            (mode, new), [owned(n) for n in rest])
        res = c.converge_pings(nodes=rest)
        tap.ok(res and not failed_pings(res), "%s: pods ping across with "
               "the changed pod CIDR" % mode, failed_pings(res))
        if mode != "layer2":
            net = new.split("/")[0]
            want = [net + ("/12" if mode == "vxlan-legacy" else "/32")]

            def addrs():
                return re.findall(r"inet (\S+)", n1.run(
                    "ip", "-o", "-4", "addr", "show", "dev", "vxlan1"))
            tap.ok(wait_until(lambda: addrs() == want), "%s: vxlan1 of the "
                   "renumbered node has only its new address %s" %
                   (mode, want[0]), addrs())
            tap.ok(vxlan_mac(new) in n1.run("ip", "link", "show", "vxlan1"),
                   "%s: and the MAC of its new pod CIDR" % mode)
        for n in rest:
            tap.ok(not re.search(r"(?m)^(watcher|executor|parent): .*"
                                 r"(fatal|killed|restarting)",
                                 n.daemon.log()),
                   "%s: %s logged no crash" % (mode, n.name), n.daemon.log())
    finally:
        c.close()


def run_dual(mode):
    """Two dual-stack nodes: both families programmed, each pod CIDR
    with the node address of its own family."""
    c = netcluster.Cluster(nodes=2, pods=1, dual_stack=True)
    try:
        c.start_all(["-v", "--provider", mode, "--pod-cidr",
                     "100.96.0.0/12,fd00:100::/48", "--sync-period", "1s"])
        tap.ok(c.wait_all(COMMITTED), "%s dual-stack: committed" % mode)
        d = c.nodes[0].daemon
        i, m = d.wait_for(r"^executor: full re-sync$", start=d.mark())
        i, m2 = d.wait_for(r"^executor: full re-sync$", start=(i or 0) + 1)
        tap.ok(m is not None and m2 is not None, "%s: a full re-sync every "
               "--sync-period" % mode, d.log())
        for fam in (4, 6):
            res = c.converge_pings(family=fam)
            tap.ok(res and not failed_pings(res), "%s dual-stack: pods "
                   "ping across over IPv%d" % (mode, fam),
                   [(p.addr6, q.addr6, ok) for p, q, ok in res])
        n0, n1 = c.nodes
        v6 = n0.run("ip", "-6", "route", "show", "proto", "107")
        if mode == "layer2":
            want = "%s via %s dev eth0" % (n1.pod_cidr6, n1.addr6)
        elif mode == "vxlan-legacy":
            v6 = n0.run("ip", "-6", "neigh", "show", "dev", "vxlan1v6")
            want = "%s lladdr 00:53:00:00:00:01" % n1.pods[0].addr6
        else:
            net = n1.pod_cidr6.split("/")[0]
            want = "%s via %s dev vxlan1v6" % (n1.pod_cidr6, net)
        tap.ok(want in v6, "%s dual-stack: IPv6 has %s" % (mode, want), v6)
        if mode == "vxlan":
            link = n0.run("ip", "-d", "link", "show", "vxlan1v6")
            tap.ok("local %s " % n0.addr6 in link and "vxlan id 1 " in link
                   and "mtu 1430 " in link and
                   "link/ether 00:53:00:00:00:00" in link,
                   "vxlan dual-stack: vxlan1v6 carries IPv6 from the node's "
                   "IPv6 address, MTU 1430, the IPv6 MAC rule", link)
            fdb = n0.run("bridge", "fdb", "show", "dev", "vxlan1v6")
            tap.ok("00:53:00:00:00:01 dst %s " % n1.addr6 in fdb,
                   "vxlan dual-stack: the IPv6 FDB entry points at the "
                   "peer's IPv6 address", fdb)
    finally:
        c.close()


for mode in ("layer2", "vxlan", "vxlan-legacy"):
    run_mode(mode)
for mode in ("layer2", "vxlan", "vxlan-legacy"):
    run_dual(mode)
tap.done()
