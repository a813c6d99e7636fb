#!/usr/bin/env python3
"""An upgrade from the original Go agent without hand work, in layer2
(with --adopt-protocol 3), vxlan and vxlan-legacy: every node namespace
gets the original's objects, made by hand as it makes them (routes of
protocol boot, its device, FDB and neighbour entries), and connection
tracking on as kube-proxy has it (kube_proxy()), and pods ping
across; then the real daemon starts on every node while a pod on each
node pings a pod on each other node every 10 ms.  Not one echo may be
lost, no route for a pod CIDR may be deleted (ip monitor), and
afterwards each node owns exactly the daemon's objects and no route of
the old protocol is left in the range; another's routes (out of the
range, on a foreign device, or of another protocol in layer2) are
byte-identical, even the one a node's intent asks for.

run_upgrade(tap, cluster, mode, args, owned, expected) is the whole
check for one cluster, so tests/test_gre.py can run it for gre in its
VM with its own owned() and expected()."""

import datetime
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

COMMITTED = r"^watcher: generation \d+ committed"
CLUSTER = ipaddress.ip_network("100.96.0.0/12")
FAR = 50            # a node with a route on a foreign device for its CIDR
STALE = "100.96.60.0/24"    # the original's route for a node gone
OUT = "10.77.0.0/24"        # out of the range


def tunnel_name(cidr):
    """gre: the original's (and our) tunnel name for an IPv4 pod CIDR."""
    net = ipaddress.ip_network(cidr)
    return "k8s-" + "-".join("%02x" % b for b in net.network_address.packed)


def original_route(mode, p):
    """The original's route to peer p, as "ip route" arguments after
    add or replace; in vxlan-legacy its route for the whole range."""
    net = p.pod_cidr.split("/")[0]
    if mode == "layer2":
        return [p.pod_cidr, "via", p.addr, "dev", "eth0", "proto", "boot"]
    if mode == "vxlan":
        return [p.pod_cidr, "via", net, "dev", "vxlan1", "onlink", "proto",
                "boot"]
    if mode == "vxlan-legacy":
        return [str(CLUSTER), "dev", "vxlan1", "proto", "boot", "scope",
                "global"]
    return [p.pod_cidr, "dev", tunnel_name(p.pod_cidr), "proto", "boot",
            "scope", "global"]


def original_objects(c, mode):
    """In every node of c, what the original agent makes in mode, as it
    makes it (src/kobj.c says what that is and where it was read): its
    routes have protocol boot (3), metric 0, table main; vxlan1 is VNI 1,
    port 4789, learning off, MTU of the underlay less 100; in
    vxlan-legacy the kernel's connected route for the range is replaced
    by its own, and the arp answers it gave are reachable neighbours.
    Also a route of the original for a node that is gone (STALE)."""
    import netcluster
    for n in c.nodes:
        peers = [p for p in c.nodes if p is not n]
        net = n.pod_cidr.split("/")[0]
        if mode == "layer2":
            for p in peers:
                n.run("ip", "route", "add", *original_route(mode, p))
            n.run("ip", "route", "add", STALE, "via", "172.20.0.97", "dev",
                  "eth0", "proto", "boot")
        elif mode in ("vxlan", "vxlan-legacy"):
            n.run("ip", "link", "add", "vxlan1", "type", "vxlan", "id", "1",
                  "local", n.addr, "dstport", "4789", "nolearning")
            n.run("ip", "link", "set", "vxlan1", "address",
                  netcluster.vxlan_mac(n.pod_cidr), "mtu", "1400")
            plen = CLUSTER.prefixlen if mode == "vxlan-legacy" else 32
            n.run("ip", "addr", "add", "%s/%d" % (net, plen), "dev",
                  "vxlan1")
            n.run("ip", "link", "set", "vxlan1", "up")
            for p in peers:
                pnet = p.pod_cidr.split("/")[0]
                mac = netcluster.vxlan_mac(p.pod_cidr)
                n.run("bridge", "fdb", "replace", mac, "dev", "vxlan1",
                      "dst", p.addr, "self", "permanent")
                if mode == "vxlan":
                    n.run("ip", "neigh", "replace", pnet, "lladdr", mac,
                          "dev", "vxlan1", "nud", "permanent")
                    n.run("ip", "route", "add", *original_route(mode, p))
                    continue
                for q in p.pods:
                    n.run("ip", "neigh", "replace", q.addr, "lladdr", mac,
                          "dev", "vxlan1", "nud", "reachable")
            if mode == "vxlan-legacy":
                n.run("sysctl", "-qw", "net.ipv4.neigh.vxlan1.app_solicit=3")
                n.run("ip", "route", "del", str(CLUSTER), "dev", "vxlan1")
                n.run("ip", "route", "add",
                      *original_route(mode, peers[0]))
                n.run("ip", "route", "add", STALE, "dev", "vxlan1", "proto",
                      "boot", "scope", "global")
            else:
                n.run("ip", "route", "add", STALE, "via", STALE.split("/")[0],
                      "dev", "vxlan1", "onlink", "proto", "boot")
        elif mode == "gre":
            for p in peers:
                t = tunnel_name(p.pod_cidr)
                n.run("ip", "tunnel", "add", t, "mode", "gre", "remote",
                      p.addr, "local", n.addr, "ttl", "255")
                n.run("ip", "link", "set", t, "up")
                n.run("ip", "route", "add", *original_route(mode, p))
            t = tunnel_name(STALE)
            n.run("ip", "tunnel", "add", t, "mode", "gre", "remote",
                  "172.20.0.97", "local", n.addr, "ttl", "255")
            n.run("ip", "link", "set", t, "up")
            n.run("ip", "route", "add", STALE, "dev", t, "proto", "boot",
                  "scope", "global")
        else:
            raise ValueError(mode)


def kube_proxy(c):
    """In every node of c, connection tracking on before the daemons
    start, as kube-proxy has it on every node the original agent ran
    on (its MASQUERADE of marked packets, modelled by a rule that
    matches none): turning tracking on while a flow runs may drop one
    of its packets (the kernel counts it in insert_failed and drop),
    which is the kernel's, not the takeover's, and is said in
    kopeio-networkd(8)."""
    for n in c.nodes:
        n.run("nft", "add table ip kube-proxy-model; "
              "add chain ip kube-proxy-model postrouting "
              "{ type nat hook postrouting priority 100; }; "
              "add rule ip kube-proxy-model postrouting "
              "meta mark and 0x4000 == 0x4000 masquerade")


def foreign_routes(c, mode):
    """Routes that are never ours, in every node: one for FAR's pod CIDR
    on the underlay (of another protocol than the adopted one in
    layer2), which FAR's intent asks for; and one out of the range on
    the device ours use.  Their prefixes."""
    import nodegen
    far = nodegen.pod_cidr(FAR)
    for n in c.nodes:
        n.run("ip", "route", "add", far, "via", "172.20.0.99", "dev", "eth0",
              "proto", "static" if mode == "layer2" else "boot")
        if mode == "layer2":
            n.run("ip", "route", "add", OUT, "via", "172.20.0.98", "dev",
                  "eth0", "proto", "boot")
        elif mode == "gre":
            p = [q for q in c.nodes if q is not n][0]
            n.run("ip", "route", "add", OUT, "dev", tunnel_name(p.pod_cidr),
                  "proto", "boot")
        else:
            n.run("ip", "route", "add", OUT, "dev", "vxlan1", "proto", "boot")
    return [far, OUT]


def route_text(n, prefixes):
    return [n.run("ip", "-d", "route", "show", "table", "all", p)
            for p in prefixes]


def boot_in_range(n, keep):
    """The routes of protocol boot in the cluster range but keep's."""
    out = []
    for x in n.run("ip", "route", "show", "table", "all", "proto",
                   "boot").splitlines():
        dst = x.split()[0]
        if dst in keep or "/" not in dst and not dst[0].isdigit():
            continue
        net = ipaddress.ip_network(dst if "/" in dst else dst + "/32")
        if net.subnet_of(CLUSTER):
            out.append(x)
    return out


class Pinger:
    """A ping every 10 ms from src's first pod to dst's first pod."""

    def __init__(self, src, dst):
        self.what = "%s -> %s" % (src.pods[0].addr, dst.pods[0].addr)
        self.said = []
        self.ns = src.pods[0].ns
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", src.pods[0].ns, "ping", "-D", "-n",
             "-i", "0.01", "-W", "5", dst.pods[0].addr],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self):
        """The echoes not answered before the last answered one (those
        after it were in flight when it stopped), each as (sequence
        number, the time the one answered before it was answered, or
        the first answered if none was), how many were answered, and
        how many packets its socket dropped for a full receive buffer
        (ping reads every ICMP packet of its pod, the echoes other pods
        send it too)."""
        raw = subprocess.run(["ip", "netns", "exec", self.ns, "cat",
                              "/proc/net/raw"], capture_output=True,
                             text=True).stdout
        drops = sum(int(x.split()[-1]) for x in raw.splitlines()[1:])
        self.p.send_signal(signal.SIGINT)
        out = self.p.communicate(timeout=30)[0]
        # What ping said of any echo but an answer (unreachable, a
        # redirect, an error), for a failure's report.
        self.said = [x for x in out.splitlines()
                     if "icmp_seq=" in x and " ttl=" not in x]
        seqs = {int(s): float(t) for t, s in re.findall(
            r"(?m)^\[(\d+\.\d+)\] .*icmp_seq=(\d+) ttl=", out)}
        if not seqs:
            return None, 0, drops
        lost, t = [], min(seqs.values())
        for s in range(1, max(seqs) + 1):
            if s in seqs:
                t = seqs[s]
            else:
                lost.append((s, t))
        return lost, len(seqs), drops


def backlog_drops():
    """The packets this kernel dropped, summed over its CPUs, because a
    CPU's input backlog was full (/proc/net/softnet_stat's second
    column; the kernel's, not a namespace's)."""
    with open("/proc/net/softnet_stat") as f:
        return sum(int(x.split()[1], 16) for x in f)


def dropped(n):
    """What a node's kernel counted as dropped or discarded, as text:
    each device's, and its IP and ICMP counters' that are not zero."""
    out = []
    for d in json.loads(n.run("ip", "-s", "-j", "link", "show")):
        for way in ("rx", "tx"):
            st = d.get("stats64", {}).get(way, {})
            for k in ("dropped", "errors", "missed", "carrier_errors"):
                if st.get(k):
                    out.append("%s %s %s %d" % (d["ifname"], way, k, st[k]))
    lines = n.run("cat", "/proc/net/snmp").splitlines()
    for names, values in zip(lines[0::2], lines[1::2]):
        for k, v in zip(names.split()[1:], values.split()[1:]):
            if v != "0" and ("Discard" in k or "Err" in k or "NoRoute" in k
                             or "Unreach" in k or "Drop" in k):
                out.append("%s%s %s" % (names.split()[0], k, v))
    # Connection tracking's, once the masquerade has turned it on: per
    # CPU, in hex.
    lines = n.run("cat", "/proc/net/stat/nf_conntrack",
                  check=False).splitlines() or [""]
    for i, k in enumerate(lines[0].split()):
        v = sum(int(x.split()[i], 16) for x in lines[1:])
        if v and k in ("invalid", "insert_failed", "drop", "early_drop",
                       "icmp_error", "clashres"):
            out.append("conntrack %s %d" % (k, v))
    return out


def around(c, events, lost):
    """For a failure: the first echoes each pinger lost, and what each
    daemon logged and ip monitor saw within a second of the first."""
    out = ["%s: %d lost, the first %s" % (what, len(lo), lo[:5])
           for what, lo, _, _ in lost if lo]
    first = min((lo[0][1] for _, lo, _, _ in lost if lo), default=None)
    if first is None:
        return out
    for n in c.nodes:
        out += ["%s daemon: %s" % (n.name, x)
                for x in n.daemon.lines_between(first - 1, first + 1)]
        out += ["%s monitor: %s" % (n.name, x)
                for x in events[n.name].splitlines()
                if abs(_stamp(x) - first) <= 1]
    return out


def _stamp(line):
    """The time of an `ip -ts monitor` line, or 0."""
    m = re.match(r"\[(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)", line)
    if m is None:
        return 0
    d = datetime.datetime(*map(int, m.groups()[:6]))
    return time.mktime(d.timetuple()) + float("0." + m.group(7))


def run_upgrade(tap, c, mode, args, owned, expected):
    """The upgrade of cluster c in mode: the original's objects, pings,
    then every node's daemon started with args; see the module's text.
    owned(n): what a node owns, expected(n, peers): what it should
    (peers: nodes, and FAR's node object as one with pod_cidr and addr);
    the lines of either that start with FAR's pod CIDR are left out (its
    route is another's)."""
    import netcluster
    import nodegen
    original_objects(c, mode)
    res = c.converge_pings()
    tap.ok(res and all(ok for _, _, ok in res), "%s: with the original's "
           "objects, every pod pings every pod on the other nodes" % mode,
           [(p.addr, q.addr) for p, q, ok in res if not ok])
    foreign = foreign_routes(c, mode)
    before = {n.name: route_text(n, foreign) for n in c.nodes}
    far = nodegen.make_node(FAR, target_bytes=3000,
                            internal_ips=["172.20.0.99"])
    c.api.control("POST", "/nodes", far)

    class Far:
        pod_cidr = nodegen.pod_cidr(FAR)
        pod_cidr6 = None
        addr = "172.20.0.99"
        name = far["metadata"]["name"]

    def ours(lines):
        return [x for x in lines if not x.startswith(Far.pod_cidr + " ")]

    def want(n):
        return ours(expected(n, [p for p in c.nodes if p is not n] + [Far]))

    pod_cidrs = [n.pod_cidr for n in c.nodes] + [str(CLUSTER)]
    mons = {}
    for n in c.nodes:
        mons[n.name] = subprocess.Popen(
            ["ip", "netns", "exec", n.ns, "ip", "-ts", "monitor",
             "route", "neigh", "link"],
            stdout=subprocess.PIPE, text=True)
    kube_proxy(c)
    backlog = backlog_drops()
    drops = {n.name: dropped(n) for n in c.nodes}
    pingers = [Pinger(a, b) for a in c.nodes for b in c.nodes if a is not b]
    time.sleep(0.5)
    try:
        for n in c.nodes:
            n.start(args)
        # Generous: in the VM under TCG a sanitizer build's first
        # generation took over 60 s with the host's two cores busy.
        tap.ok(c.wait_all(COMMITTED, timeout=180), "%s: every daemon "
               "commits its first generation" % mode)

        def converged():
            return all(ours(owned(n)) == want(n) and
                       not boot_in_range(n, [Far.pod_cidr]) and
                       (mode != "vxlan-legacy" or " proto kernel scope link "
                        in n.run("ip", "route", "show", str(CLUSTER)))
                       for n in c.nodes)
        ok = netcluster.wait_until(converged, 60)
        for n in c.nodes:
            tap.eq(ours(owned(n)), want(n), "%s: %s owns exactly its "
                   "objects" % (mode, n.name))
            tap.eq(boot_in_range(n, [Far.pod_cidr]), [], "%s: %s has no "
                   "route of protocol boot left in the range" %
                   (mode, n.name))
        tap.ok(ok, "%s: converged" % mode)
        if mode == "vxlan-legacy":
            for n in c.nodes:
                r = n.run("ip", "route", "show", "table", "all",
                          str(CLUSTER))
                tap.eq(r.strip(), "%s dev vxlan1 proto kernel scope link "
                       "src %s" % (CLUSTER, n.pod_cidr.split("/")[0]),
                       "vxlan-legacy: %s's route for the range is the "
                       "kernel's connected route again" % n.name)
        # Enough echoes after the end to see it settled.
        time.sleep(1)
        # One more, while it runs: the monitor sees it and adopts it.
        n0, n1 = c.nodes[0], c.nodes[1]
        n0.run("ip", "route", "replace", *original_route(mode, n1))
        tap.ok(netcluster.wait_until(converged, 30), "%s: a route of the "
               "original's made while the daemon runs is adopted too" %
               mode, n0.run("ip", "route", "show", "table", "all"))
        time.sleep(0.5)
    finally:
        lost = [(p.what,) + p.stop() for p in pingers]
        events = {}
        for name, m in mons.items():
            m.terminate()
            events[name] = m.communicate(timeout=10)[0]
    tap.ok(all(lo == [] and got > 50 for _, lo, got, _ in lost),
           "%s: a ping every 10 ms to each other node lost nothing while "
           "the daemons took over (%s echoes answered)" %
           (mode, ", ".join(str(g) for _, _, g, _ in lost)),
           ["dropped by the measurement itself: %d packets for a full "
            "socket receive buffer, %d for a full CPU backlog" %
            (sum(d for _, _, _, d in lost), backlog_drops() - backlog)] +
           around(c, events, lost) +
           ["%s: ping said: %s" % (p.what, x) for p in pingers
            for x in p.said[:5]] +
           ["%s: %s" % (n.name, x) for n in c.nodes
            for x in sorted(set(dropped(n)) - set(drops[n.name]))])
    seen = [x.split("] ", 1)[-1] for name in events
            for x in events[name].splitlines()]
    deleted = [x for x in seen
               if x.startswith("Deleted") and x.split()[1] in pod_cidrs]
    tap.eq(deleted, [], "%s: ip monitor saw no route of a pod CIDR "
           "deleted, not for a moment" % mode)
    # A device setting put back must not flush the neighbours: in
    # vxlan-legacy the next packet to each pod would fail its miss.
    pods = [p.addr for n in c.nodes for p in n.pods]
    flushed = [x for x in seen
               if x.startswith("Deleted") and x.split()[1] in pods]
    tap.eq(flushed, [], "%s: ip monitor saw no neighbour of a pod "
           "deleted" % mode)
    for n in c.nodes:
        tap.eq(route_text(n, foreign), before[n.name], "%s: %s: the routes "
               "that are not ours (for %s) are untouched" %
               (mode, n.name, " and ".join(foreign)))
        tap.eq(n.run("ip", "route", "show", "table", "all", STALE), "",
               "%s: %s: the original's route for a node that is gone "
               "was removed" % (mode, n.name))
        peers = len(c.nodes) - 1
        adopted = sum(int(m) for m in re.findall(
            r"(?m)^executor: adopted (\d+) routes of protocol 3$",
            n.daemon.log()))
        # vxlan-legacy: the one route for the whole range; node 0 one
        # more, made while it ran.
        tap.eq(adopted, (1 if mode == "vxlan-legacy" else peers) +
               (n is c.nodes[0]),
               "%s: %s logged its adopted routes of protocol 3" %
               (mode, n.name))
        tap.ok(not re.search(r"(?m)^(watcher|executor|parent): .*(fatal|"
                             r"killed|restarting)", n.daemon.log()),
               "%s: %s logged no crash" % (mode, n.name), n.daemon.log())


def main():
    tap = knlib.Tap()
    knlib.need_apiserver(tap, "ping", "bridge")
    import netcluster
    base = ["-v", "--sync-period", "1h"]
    for mode, extra in (("layer2", ["--adopt-protocol", "3"]),
                        ("vxlan", []), ("vxlan-legacy", [])):
        c = netcluster.Cluster(nodes=3, pods=1)
        try:
            run_upgrade(tap, c, mode, base + ["--provider", mode] + extra,
                        netcluster.owned,
                        lambda n, peers, mode=mode: netcluster.expected(
                            mode, peers))
        finally:
            c.close()
    tap.done()


if __name__ == "__main__":
    main()
