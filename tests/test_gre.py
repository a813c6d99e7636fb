#!/usr/bin/env python3
"""The gre mode end to end, in a VM (tests/vmlib.py: the host kernel
may have no GRE): three node namespaces on a shared underlay, two pod
namespaces each, the test API server and the real, fully confined
daemon on every node.  Pods ping across nodes through the tunnels and
the underlay carries GRE; each node owns exactly one tunnel and one
route per peer; every pod reaches the outside host through the
masquerade and pods see each other's own addresses
(tests/masqlib.py); a restart adopts them without a flap; drift is put
back; a changed node address moves the tunnel's remote in place; a
removed node's tunnel and route go; a heartbeat costs nothing and an
added node two requests.  Then 1,100 peers gone while a daemon was
stopped: the restarted daemon removes every one of their tunnels and
routes, over several batches, and runs on.  Then an upgrade from the
original agent's tunnels and routes, pinged every 10 ms throughout
(tests/test_upgrade.py).  Then a dual-stack cluster whose pods come
from the daemons' CNI files: an ip6gre tunnel and a route per IPv6
peer beside the IPv4 ones, pods pinging over both families at the
full MTU of each, drift, a restart and a removed node for both, and
a changed IPv6 node address moving the ip6gre tunnel's remote.  In
between, a kernel that has ip_gre but cannot load ip6_gre: the IPv4
tunnels work, one line per node says what is missing, and the ip6gre
tunnels come once the module can load."""

import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlib  # noqa: E402

vmlib.reexec(__file__, timeout=1800)

import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_apiserver(tap, "ping")
import masqlib  # noqa: E402
import netcluster  # noqa: E402
import nodegen  # noqa: E402
import test_upgrade  # noqa: E402
import wire  # noqa: E402

ARGS = ["-v", "--provider", "gre", "--sync-period", "1h"]
DUAL = ARGS + ["--pod-cidr", "100.96.0.0/12,fd00:100::/48"]
COMMITTED = r"^watcher: generation \d+ committed"
MTU = 1500 - 24
MTU6 = 1500 - 44    # outer IPv6 40, GRE 4; no encapsulation limit option
wait_until = netcluster.wait_until


def tunnel_name(cidr):
    """As the original agent names it: k8s- and the network address's
    bytes in hex; an IPv6 one k8s6- and the 32 bits that end at the
    prefix length."""
    net = ipaddress.ip_network(cidr)
    if net.version == 6:
        return "k8s6-%08x" % ((int(net.network_address) >>
                               (128 - net.prefixlen)) & 0xffffffff)
    return "k8s-" + "-".join("%02x" % b for b in net.network_address.packed)


def gre_links(n):
    """Every gre and ip6gre device of a node: name -> (remote, local,
    ttl, mtu, up, keyed, ifindex, encapsulation limit: "" for gre)."""
    out = {}
    for kind in ("gre", "ip6gre"):
        for x in json.loads(n.run("ip", "-j", "-d", "link", "show", "type",
                                  kind) or "[]"):
            # (ip prints {} for a link it filters out itself.)
            if x.get("linkinfo", {}).get("info_kind") != kind:
                continue
            d = x["linkinfo"].get("info_data", {})
            limit = "" if kind == "gre" else (
                "none" if d.get("ip6_tnl_f_ign_encap_limit") else
                str(d.get("encap_limit")))
            out[x["ifname"]] = (d.get("remote"), d.get("local"),
                                d.get("ttl"), x["mtu"], "UP" in x["flags"],
                                any(k in d for k in ("ikey", "okey")),
                                x["ifindex"], limit)
    return out


def owned(n):
    """The tunnels (k8s-*, k8s6-*) and routes of protocol 107 of a node,
    as sorted lines (no index: it changes when a tunnel is made
    again)."""
    lines = ["tunnel %s remote %s local %s ttl %s mtu %d%s%s%s" % (
        name, r, lo, ttl, mtu, " up" if up else "", " keyed" if k else "",
        " encaplimit " + limit if limit else "")
        for name, (r, lo, ttl, mtu, up, k, _, limit) in gre_links(n).items()
        if name.startswith("k8s")]
    return sorted(lines + knlib.owned(n))


def expected(n, peers, addr=None, addr6=None):
    """What owned() shows on n for its peers (addr, addr6: a peer's
    address of that family instead of its own, by name), both families
    when they have IPv6."""
    out = []
    for p in peers:
        name = tunnel_name(p.pod_cidr)
        remote = (addr or {}).get(p.name, p.addr)
        out.append("tunnel %s remote %s local %s ttl 255 mtu %d up" % (
            name, remote, n.addr, MTU))
        out.append("%s dev %s scope link" % (p.pod_cidr, name))
        if p.pod_cidr6 is None:
            continue
        name = tunnel_name(p.pod_cidr6)
        remote = (addr6 or {}).get(p.name, p.addr6)
        out.append("tunnel %s remote %s local %s ttl 255 mtu %d up "
                   "encaplimit none" % (name, remote, n.addr6, MTU6))
        out.append("%s dev %s metric 1024 pref medium" % (p.pod_cidr6,
                                                          name))
    return sorted(out)


def failed_pings(res):
    return ["%s -> %s" % (p.addr, q.addr) for p, q, ok in res if not ok]


def unsettled(nodes):
    """The nodes whose objects are not their peers' exactly."""
    return [n for n in nodes if owned(n) !=
            expected(n, [p for p in nodes if p is not n])]


def converged(nodes):
    return not unsettled(nodes)


def why(nodes):
    """What the unsettled nodes own and their executors said."""
    out = []
    for n in unsettled(nodes):
        out += ["%s owns %s" % (n.name, owned(n))]
        if n.daemon is not None:
            out += [x for x in n.daemon.lines if x.startswith("executor:")]
    return "\n".join(out[-40:])


def settled(c, nodes, timeout, objects, pings, families=(4,)):
    """nodes own exactly their peers' tunnels and routes, and their pods
    reach each other over each family: 1 + len(families) tests."""
    tap.ok(wait_until(lambda: converged(nodes), timeout), objects,
           why(nodes))
    for fam in families:
        res = c.converge_pings(family=fam, nodes=nodes)
        tap.ok(res and not failed_pings(res), pings + (
            " over IPv%d" % fam if len(families) > 1 else ""),
            failed_pings(res))


def monitor(n):
    """ip monitor of n's links and routes, running."""
    mon = subprocess.Popen(["ip", "netns", "exec", n.ns, "ip", "monitor",
                            "link", "route"], stdout=subprocess.PIPE,
                           text=True)
    time.sleep(0.5)
    return mon


def deletions(mon):
    """Stops mon; the deletions of tunnels and of routes of ours it saw,
    and every event."""
    mon.terminate()
    events = mon.communicate(timeout=10)[0].splitlines()
    return [x for x in events if x.startswith("Deleted") and
            ("k8s" in x or "proto 107" in x)], events


def adopts(d, mark, count, what):
    """The daemon's new executor adopts count objects and its first
    generation makes no request: two tests."""
    i, m = d.wait_for(r"^executor: adopted (\d+) kernel objects", start=mark,
                      timeout=30)
    tap.ok(m is not None and int(m.group(1)) == count, "%s adopts the %d "
           "tunnels and routes in place" % (what, count), d.log())
    i, m = d.wait_for(r"^executor: generation \d+: kernel reconciled with "
                      r"(\d+) requests", start=mark, timeout=30)
    tap.ok(m is not None and int(m.group(1)) == 0, "and its first "
           "generation makes no request", d.log())


def start(c, args, what, owns):
    """Starts every node's daemon: each commits and owns exactly its
    peers' objects: two tests."""
    c.start_all(args)
    # Generous: three confined daemons and their TLS under emulation on
    # a busy machine took over 60 s.
    tap.ok(c.wait_all(COMMITTED, timeout=180), what + "every watcher "
           "reports its first generation committed",
           "\n".join(n.daemon.log() for n in c.nodes
                     if not re.search(COMMITTED, n.daemon.log(),
                                      re.MULTILINE)))
    tap.ok(wait_until(lambda: converged(c.nodes), 30), what + owns,
           why(c.nodes))


# Many peers gone while the daemon was stopped: the restarted daemon
# removes their tunnels and routes in more than one batch (a removal
# is 32-44 bytes: some 1,700 fill a batch), and a batch that removes a
# tunnel forgets its routes.  With 1,100 peers a batch filled while
# the removal of such a route was being queued, which read the freed
# record: the sanitizer build aborted the executor (heap-use-after-
# free).  Made-up nodes whose addresses nobody answers: their tunnels
# are made all the same.  KN_GRE_MANY: another count.
MANY = int(os.environ.get("KN_GRE_MANY", "1100"))
ASAN = "AddressSanitizer"


def many_gone():
    """Seven tests; alone with KN_GRE_CASE=many-gone."""
    c = netcluster.Cluster(nodes=1, pods=0)
    try:
        n0 = c.nodes[0]
        names = c.api.control("POST", "/generate", {
            "count": MANY, "start": 1, "target_bytes": 1000})["names"]
        c.start_all(ARGS)
        tap.ok(c.wait_all(COMMITTED, timeout=180), "many gone: the daemon "
               "commits with %d peers" % MANY, n0.daemon.log())
        tap.ok(wait_until(lambda: len(owned(n0)) == 2 * MANY, 600),
               "many gone: it owns a tunnel and a route per peer",
               "%d owned\n%s" % (len(owned(n0)), n0.daemon.log()))
        n0.stop()
        for name in names:
            c.api.control("DELETE", "/nodes/" + name)
        tap.eq(c.api.control("GET", "/nodes")["names"], [n0.name],
               "many gone: the API server holds this node alone")
        d = n0.start(ARGS)
        i, m = d.wait_for(r"^executor: adopted (\d+) kernel objects",
                          timeout=120)
        tap.ok(m is not None and int(m.group(1)) == 2 * MANY,
               "many gone: the restarted daemon finds the %d tunnels and "
               "routes" % (2 * MANY), d.log())
        tap.ok(wait_until(lambda: not owned(n0), 600), "many gone: every "
               "extra tunnel and route goes", "%d owned\n%s" % (
                   len(owned(n0)), d.log()))
        time.sleep(1)   # room for an abort and a restart, were there one
        tap.ok(d.proc.poll() is None and not re.search(
            r"(?m)^(watcher|executor|parent): .*(fatal|killed|restarting)",
            d.log()), "many gone: the daemon runs on, no child restarted",
            d.log())
        at = [i for i, x in enumerate(d.lines) if ASAN in x]
        tap.ok(not at, "many gone: no AddressSanitizer report",
               "\n".join(d.lines[at[0]:at[0] + 30] if at else []))
    finally:
        c.close()


if os.environ.get("KN_GRE_CASE") == "many-gone":
    many_gone()
    tap.done()


# First, before anything has loaded ip_gre: the module comes while
# the executors ask for it.  The kernel's modprobe is a script that
# fails while a file says so; then its first call for the gre link
# kind starts the load and fails at once (as the real one returns
# while another namespace's load is still under way), and the later
# calls load it and wait until it is live.  So one executor's batch
# has a tunnel refused for want of GRE and the next one made: its own
# retries, and no re-sync asked for, must make the refused one.
NO4 = r"^executor: gre mode: the kernel has no GRE support \(ip_gre\)"
LATE = "/run/kn-gre"    # the kernel runs modprobe in the VM's first
LATE_ROOT = "/root"     # root, where the test's root is /root
LATE_MODPROBE = """#!/bin/sh
d=%s%s
case "$*" in
*rtnl-link-gre*) ;;
*) exec %s "$@" ;;
esac
echo "$*" >>$d/calls
[ -e $d/block ] && exit 1
if mkdir $d/started 2>/dev/null; then
	(sleep 2; %s "$@") </dev/null >/dev/null 2>&1 &
	echo refused while loading >>$d/calls
	exit 1
fi
%s "$@" || exit 1
i=0
while ! grep -q '^ip_gre .* Live ' /proc/modules; do
	i=$((i + 1))
	[ $i -gt 1200 ] && exit 1
	sleep 0.1
done
echo made >>$d/calls
"""
c = netcluster.Cluster(nodes=3, pods=1)
with open("/proc/sys/kernel/modprobe") as f:
    modprobe = f.read().strip()
try:
    os.makedirs(LATE)
    open(os.path.join(LATE, "block"), "w").close()
    with open(os.path.join(LATE, "modprobe"), "w") as f:
        f.write(LATE_MODPROBE % (LATE_ROOT, LATE, modprobe, modprobe,
                                 modprobe))
    os.chmod(os.path.join(LATE, "modprobe"), 0o755)
    with open("/proc/sys/kernel/modprobe", "w") as f:
        f.write(LATE_ROOT + LATE + "/modprobe\n")
    tap.ok("ip_gre " not in open("/proc/modules").read(), "late ip_gre: "
           "the VM has not loaded ip_gre yet")
    c.start_all(ARGS)
    tap.ok(c.wait_all(NO4, timeout=90) and
           not any(gre_links(n) for n in c.nodes), "late ip_gre: with no "
           "module to load every node says so and makes no tunnel",
           [n.daemon.log() for n in c.nodes])
    os.unlink(os.path.join(LATE, "block"))
    # Each node's retries come at most as long after its first try as
    # this wait took, and the one that saw the module arrive tries
    # again at once: a bound that holds on a slow machine.
    ok = wait_until(lambda: converged(c.nodes), 240)
    with open(os.path.join(LATE, "calls")) as f:
        calls = f.read().splitlines()
    tap.ok(ok and "refused while loading" in calls, "late ip_gre: once the "
           "module loads, every node owns its tunnels and routes by its "
           "own retries, one refused in the batch that loaded the module "
           "among them", why(c.nodes) + "\nmodprobe calls: %s" % calls)
    res = c.converge_pings()
    tap.ok(res and not failed_pings(res), "late ip_gre: then every pod "
           "pings every pod on the other nodes", failed_pings(res))
    said = [len([x for x in n.daemon.lines if re.search(NO4, x)])
            for n in c.nodes]
    asked = [x for n in c.nodes for x in n.daemon.lines
             if "re-sync asked for" in x]
    tap.ok(said == [1, 1, 1] and not asked, "late ip_gre: one line per "
           "node, no re-sync asked for", (said, asked))
finally:
    with open("/proc/sys/kernel/modprobe", "w") as f:
        f.write(modprobe + "\n")
    c.close()


c = netcluster.Cluster(nodes=3, pods=2)
try:
    n0, n1, n2 = c.nodes
    start(c, ARGS, "", "every node owns exactly a tunnel and a route per "
          "peer: name k8s-<hex>, remote the peer, local its own address, "
          "TTL 255, MTU %d, up" % MTU)
    with wire.Capture("ul", netns=c.ul) as cap:
        res = c.converge_pings()
    tap.ok(res and not failed_pings(res), "every pod pings every pod on "
           "the other nodes (%d pairs)" % len(res), failed_pings(res))
    tap.ok(cap.counts["gre"] >= 2 * len(res) and cap.counts["icmp"] == 0,
           "the underlay carried the pings as GRE, never bare ICMP",
           cap.counts)
    masqlib.masquerade_checks(tap, c, "gre")
    links = gre_links(n0)
    tap.ok("gre0" not in links or not links["gre0"][4],
           "gre0, the kernel's fallback device, is left alone (down)",
           links)

    # Drift: each change by hand is put back.
    want0 = owned(n0)
    t1 = tunnel_name(n1.pod_cidr)
    n0.run("ip", "route", "del", n1.pod_cidr)
    tap.ok(wait_until(lambda: owned(n0) == want0, 10),
           "a route deleted by hand comes back", owned(n0))
    n0.run("ip", "link", "set", t1, "mtu", "1300")
    tap.ok(wait_until(lambda: owned(n0) == want0, 10),
           "a changed tunnel MTU is put back", owned(n0))
    n0.run("ip", "link", "set", t1, "down")
    tap.ok(wait_until(lambda: owned(n0) == want0, 10),
           "a tunnel set down is set up again", owned(n0))
    n0.run("ip", "link", "set", t1, "type", "gre", "remote", "172.20.0.99",
           "local", n0.addr, "ttl", "255", "key", "7")
    tap.ok(wait_until(lambda: owned(n0) == want0, 10),
           "a tunnel given another remote and a key is put back", owned(n0))
    n0.run("ip", "link", "del", t1)
    tap.ok(wait_until(lambda: owned(n0) == want0, 10),
           "a tunnel deleted by hand comes back with its route", owned(n0))
    n0.run("ip", "route", "add", "100.111.0.0/24", "dev", t1)
    n0.run("ip", "link", "add", "mytun", "type", "gre", "remote",
           "172.20.0.77", "local", n0.addr)
    res = c.converge_pings()
    tap.ok(res and not failed_pings(res), "pods ping across after the "
           "repairs", failed_pings(res))
    tap.ok("100.111.0.0/24" in n0.run("ip", "route") and
           "mytun" in gre_links(n0), "a route of another protocol and a "
           "GRE device not named k8s-* are left alone")

    # A killed executor, then a restarted daemon: nothing valid is
    # deleted, not even for a moment.
    mon = monitor(n0)
    d = n0.daemon
    mark = d.mark()
    os.kill(knlib.children_of(d.pid())["executor"], signal.SIGKILL)
    adopts(d, mark, len(want0), "the new executor")
    n0.stop()
    tap.eq(owned(n0), want0, "a stopped daemon leaves its tunnels and "
           "routes in place")
    # While it is down a tunnel appears that no node asks for: extra,
    # so the restarted daemon removes it (and its route with it).
    n0.run("ip", "link", "add", "k8s-64-63-00-00", "type", "gre", "remote",
           "172.20.0.98", "local", n0.addr, "ttl", "255")
    n0.run("ip", "link", "set", "k8s-64-63-00-00", "up")
    n0.run("ip", "route", "add", "100.99.0.0/24", "dev", "k8s-64-63-00-00",
           "proto", "107")
    n0.start(ARGS)
    i, m = n0.daemon.wait_for(COMMITTED, timeout=30)
    tap.ok(m is not None, "the restarted daemon commits", n0.daemon.log())
    wait_until(lambda: owned(n0) == want0, 10)
    time.sleep(1)
    deleted, events = deletions(mon)
    tap.ok(deleted and all("k8s-64-63-00-00" in x or "100.99.0.0/24" in x
                           for x in deleted),
           "ip monitor saw no tunnel or route deleted through the restarts "
           "but the extra ones", events)
    tap.eq(owned(n0), want0, "the same tunnels and routes after the "
           "restarts")
    tap.ok("mytun" in gre_links(n0), "the daemon's restart left the other "
           "GRE device alone")

    # A changed node address moves the tunnel's remote, in place.
    index = gre_links(n0)[t1][6]
    obj = c.api.control("GET", "/nodes/" + n1.name)
    for a in obj["status"]["addresses"]:
        if a["type"] == "InternalIP":
            a["address"] = "172.20.0.50"
    c.api.control("POST", "/nodes", obj)
    moved = expected(n0, [n1, n2], {n1.name: "172.20.0.50"})
    tap.ok(wait_until(lambda: owned(n0) == moved, 10) and
           gre_links(n0)[t1][6] == index, "a changed node address changes "
           "the tunnel's remote in place", owned(n0))
    for a in obj["status"]["addresses"]:
        if a["type"] == "InternalIP":
            a["address"] = n1.addr
    c.api.control("POST", "/nodes", obj)
    tap.ok(wait_until(lambda: owned(n0) == want0, 10), "and back",
           owned(n0))

    # A deleted node: its tunnel and route go everywhere.
    c.api.control("DELETE", "/nodes/" + n2.name)
    n2.stop()
    settled(c, [n0, n1], 15, "a deleted node's tunnel and route are gone on "
            "every node", "the other nodes still reach each other")

    # A heartbeat costs nothing; a node added costs its tunnel and route.
    mark = n0.daemon.mark()
    c.api.control("POST", "/heartbeat/" + n1.name)
    n3 = c.add_node(3)
    i, m = n0.daemon.wait_for(r"^executor: generation \d+: kernel "
                              r"reconciled with (\d+) requests", start=mark,
                              timeout=30)
    time.sleep(1)   # room for a second generation, were there one
    tap.ok(m is not None and int(m.group(1)) == 2 and
           len(re.findall(r"(?m)^executor: generation \d+: kernel "
                          r"reconciled", "\n".join(
                              n0.daemon.lines[mark:]))) == 1,
           "a heartbeat makes no request, an added node 2",
           n0.daemon.lines[mark:])
    n3.start(ARGS)
    settled(c, [n0, n1, n3], 30, "the added node and the others own a tunnel "
            "and a route per peer", "an added node is reached and reaches "
            "the others")
    for n in (n0, n1, n3):
        tap.ok(not re.search(r"(?m)^(watcher|executor|parent): .*"
                             r"(fatal|killed|restarting)", n.daemon.log()),
               "%s logged no crash" % n.name, n.daemon.log())
finally:
    c.close()


# A kernel with ip_gre but without ip6_gre: autoloading is made to fail
# (ip_gre is in since the IPv4 cluster above).  The IPv4 tunnels work;
# ip6_gre is missing in one line per node, not one more when an IPv4
# tunnel is made later; once the module can load, a re-sync makes the
# ip6gre tunnels.
NO6 = r"^executor: gre mode: the kernel has no GRE support \(ip6_gre\)"
c = netcluster.Cluster(nodes=2, pods=1, dual_stack=True)
with open("/proc/sys/kernel/modprobe") as f:
    modprobe = f.read().strip()
try:
    n0, n1 = c.nodes
    if "ip6_gre " in open("/proc/modules").read():
        netcluster.sh("rmmod", "ip6_gre", check=False)
    with open("/proc/sys/kernel/modprobe", "w") as f:
        f.write("/kn-test/no-modprobe\n")
    loaded = [m for m in ("ip_gre", "ip6_gre")
              if m + " " in open("/proc/modules").read()]
    tap.eq(loaded, ["ip_gre"], "no ip6_gre: the VM has ip_gre and cannot "
           "load ip6_gre")
    c.start_all(DUAL)
    ok = c.wait_all(NO6, timeout=60)
    v4 = sorted(x for x in expected(n0, [n1]) if "k8s6" not in x and
                ":" not in x)
    tap.ok(ok and wait_until(lambda: owned(n0) == v4, 30),
           "no ip6_gre: each node says so and owns its IPv4 tunnel and "
           "route to the other, nothing of IPv6", owned(n0))
    res = c.converge_pings()
    tap.ok(res and not failed_pings(res), "no ip6_gre: pods ping over "
           "IPv4", failed_pings(res))
    # An IPv4-only node: on each node an IPv4 tunnel made while IPv6
    # still fails.
    n2 = c.add_node(2, pods=0)
    t2 = tunnel_name(n2.pod_cidr)
    tap.ok(wait_until(lambda: t2 in gre_links(n0) and t2 in gre_links(n1),
                      30), "no ip6_gre: an added IPv4-only node gets its "
           "tunnel on both", (gre_links(n0), gre_links(n1)))
    # A full re-sync on each asks for the ip6gre tunnel again.
    marks = [n.daemon.mark() for n in (n0, n1)]
    for n in (n0, n1):
        n.daemon.ctl("resync")
    synced = all(n.daemon.wait_for(r"^executor: full re-sync$", start=m)[1]
                 for n, m in zip((n0, n1), marks))

    def lines():
        return [len([x for x in n.daemon.lines if re.search(NO6, x)])
                for n in (n0, n1)]
    wait_until(lambda: lines() != [1, 1], 3)
    tap.ok(synced and lines() == [1, 1], "no ip6_gre: still one line per "
           "node after the IPv4 tunnel and a full re-sync", lines())
    # The retries back off (1 s, doubling); a re-sync tries at once,
    # whatever the back-off has reached on a slow machine.
    with open("/proc/sys/kernel/modprobe", "w") as f:
        f.write(modprobe + "\n")
    for n in (n0, n1):
        n.daemon.ctl("resync")
    tap.ok(wait_until(lambda: owned(n0) == expected(n0, [n1, n2]) and
                      owned(n1) == expected(n1, [n0, n2]), 60),
           "no ip6_gre: once the module can load, a re-sync makes the "
           "ip6gre tunnels and their routes", (owned(n0), owned(n1)))
    res = c.converge_pings(family=6, nodes=[n0, n1], timeout=30)
    tap.ok(res and not failed_pings(res), "no ip6_gre: then pods ping "
           "over IPv6", failed_pings(res))
finally:
    with open("/proc/sys/kernel/modprobe", "w") as f:
        f.write(modprobe + "\n")
    c.close()


many_gone()

# An upgrade from the original agent, whose tunnels have our names.
c = netcluster.Cluster(nodes=3, pods=1)
try:
    test_upgrade.run_upgrade(tap, c, "gre", ARGS, owned,
                             lambda n, peers: expected(n, peers))
finally:
    c.close()

# Dual stack: the pods come from the CNI file each daemon writes.
c = netcluster.Cluster(nodes=3, pods=1, dual_stack=True, cni=True)
try:
    n0, n1, n2 = c.nodes
    start(c, DUAL, "dual-stack: ", "every node owns exactly, per peer, the "
          "gre tunnel and its route and an ip6gre tunnel k8s6-<hex> "
          "between the IPv6 node addresses, hop limit 255, encapsulation "
          "limit none, MTU %d, up, and its IPv6 route" % MTU6)
    marks = [n.daemon.mark() for n in c.nodes]
    time.sleep(2)
    busy = [x for n, m in zip(c.nodes, marks) for x in n.daemon.lines[m:]
            if "repairing" in x]
    tap.ok(not busy, "dual-stack: once settled no executor repairs "
           "anything (the kernel's own ip6gre flags are no drift)", busy)
    for fam in (4, 6):
        with wire.Capture("ul", netns=c.ul) as cap:
            res = c.converge_pings(family=fam)
        tap.ok(res and not failed_pings(res) and
               cap.counts["gre"] >= 2 * len(res),
               "dual-stack: every pod pings every pod on the other nodes "
               "over IPv%d, carried as GRE" % fam,
               (failed_pings(res), cap.counts))
    conf = n0.cni_conf()
    tap.eq(conf["plugins"][0]["mtu"] if conf else None, MTU6,
           "dual-stack: the CNI file's MTU is the smaller of the two, the "
           "ip6gre tunnels' %d" % MTU6)
    # The largest packets the file's MTU allows cross with DF set (ICMP:
    # 28 bytes of headers over IPv4, 48 over IPv6): an encapsulation
    # limit option would make the IPv6 one 8 bytes too big for the
    # underlay.
    p, q = n0.pods[0], n1.pods[0]
    for fam, dst, hdr in ((4, q.addr, 28), (6, q.addr6, 48)):
        ok, out = p.ping_df(dst, MTU6 - hdr)
        tap.ok(ok, "dual-stack: a %d-byte IPv%d ping with DF set crosses"
               % (MTU6, fam), out)
    links = gre_links(n0)
    tap.ok("ip6gre0" not in links or not links["ip6gre0"][4],
           "dual-stack: ip6gre0, the kernel's fallback device, is left "
           "alone (down)", links)

    want0 = owned(n0)
    t6 = tunnel_name(n1.pod_cidr6)
    n0.run("ip", "link", "set", t6, "type", "ip6gre", "encaplimit", "4",
           "hoplimit", "64")
    tap.ok(wait_until(lambda: owned(n0) == want0, 10), "dual-stack: an "
           "ip6gre tunnel given an encapsulation limit and hop limit 64 is "
           "put back", owned(n0))
    n0.run("ip", "link", "del", t6)
    tap.ok(wait_until(lambda: owned(n0) == want0, 10), "dual-stack: an "
           "ip6gre tunnel deleted by hand comes back with its route",
           owned(n0))

    # A changed IPv6 node address moves the ip6gre remote, in place.
    index = gre_links(n0)[t6][6]
    obj = c.api.control("GET", "/nodes/" + n1.name)
    new6 = nodegen.internal_ip6(50)
    for a in obj["status"]["addresses"]:
        if a["type"] == "InternalIP" and a["address"] == n1.addr6:
            a["address"] = new6
    c.api.control("POST", "/nodes", obj)
    moved = expected(n0, [n1, n2], addr6={n1.name: new6})
    tap.ok(wait_until(lambda: owned(n0) == moved, 10) and
           gre_links(n0)[t6][6] == index, "dual-stack: a changed IPv6 node "
           "address changes the ip6gre tunnel's remote in place, the IPv4 "
           "tunnel untouched", owned(n0))
    for a in obj["status"]["addresses"]:
        if a["type"] == "InternalIP" and a["address"] == new6:
            a["address"] = n1.addr6
    c.api.control("POST", "/nodes", obj)
    tap.ok(wait_until(lambda: owned(n0) == want0, 10), "dual-stack: and "
           "back", owned(n0))

    mon = monitor(n0)
    n0.stop()
    tap.eq(owned(n0), want0, "dual-stack: a stopped daemon leaves the "
           "tunnels and routes of both families in place")
    n0.start(DUAL)
    adopts(n0.daemon, 0, len(want0), "dual-stack: the restarted daemon")
    wait_until(lambda: owned(n0) == want0, 10)
    time.sleep(1)
    deleted, events = deletions(mon)
    tap.ok(not deleted, "dual-stack: ip monitor saw no tunnel or route "
           "deleted through the restart", events)
    tap.eq(owned(n0), want0, "dual-stack: the same tunnels and routes "
           "after the restart")

    c.api.control("DELETE", "/nodes/" + n2.name)
    n2.stop()
    settled(c, [n0, n1], 15, "dual-stack: a deleted node's gre and ip6gre "
            "tunnels and routes are gone on every node", "dual-stack: the "
            "other nodes' pods still reach each other", families=(4, 6))
    for n in (n0, n1):
        tap.ok(not re.search(r"(?m)^(watcher|executor|parent): .*"
                             r"(fatal|killed|restarting)", n.daemon.log()),
               "dual-stack: %s logged no crash" % n.name, n.daemon.log())
finally:
    c.close()
tap.done()
