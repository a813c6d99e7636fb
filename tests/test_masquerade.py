#!/usr/bin/env python3
"""Egress masquerade end to end: node namespaces on a shared underlay,
an outside host on it with no route to any pod CIDR, the real, fully
confined daemon on every node.  Pods reach the outside host through
table inet kopeio (and not without it); pod-to-pod traffic keeps its
source; --no-masquerade prefixes are reached untranslated; a table
changed by hand is put back; another program's tables are never
touched, across repairs, restarts and a killed executor."""

import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_apiserver(tap, "ping", "nft")
import masqlib  # noqa: E402
import netcluster  # noqa: E402

COMMITTED = r"^watcher: generation \d+ committed"
wait_until = netcluster.wait_until
TABLE = r"^executor: masquerade: table inet kopeio "

# Another program's tables, as iptables-nft and a firewall would make
# them: a filter table with a chain and a rule, and a nat table.
FOREIGN = """
table ip filter {
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip saddr 10.99.0.0/16 counter accept
	}
}
table inet fw {
	chain nat_post {
		type nat hook postrouting priority 50; policy accept;
		ip daddr 192.0.2.0/24 masquerade
	}
}
"""


# Makes table inet kopeio owned by this process's netlink socket
# (NFT_TABLE_F_OWNER): only it may change the table, which goes when
# the socket closes.  Built by hand: nft(8) 1.0.6 has no "owner".
HOLDER = r"""
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
s.bind((0, 0))
def msg(type, flags, seq, family, attrs, res=0):
    body = struct.pack("=BBH", family, 0, socket.htons(res)) + attrs
    return struct.pack("=IHHII", 16 + len(body), type, flags, seq, 0) + body
def attr(t, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, t) + data + b"\0" * (-n % 4)
# batch begin (res_id NFNL_SUBSYS_NFTABLES), NEWTABLE inet, batch end
b = msg(0x10, 1, 1, 0, b"", res=10)
b += msg(10 << 8, 1 | 4 | 0x400, 2, 1,
         attr(1, b"kopeio\0") + attr(2, struct.pack(">I", 2)))
b += msg(0x11, 1, 3, 0, b"", res=10)
s.send(b)
err = struct.unpack("=i", s.recv(4096)[16:20])[0]
print("held" if err == 0 else "error %d" % err, flush=True)
sys.stdin.read()
"""


def nft(node, *args, check=True):
    return node.run("nft", *args, check=check)


def foreign(node):
    """nft list of the foreign tables, as text."""
    return nft(node, "list", "table", "ip", "filter") + \
        nft(node, "list", "table", "inet", "fw")


def ours(node):
    return nft(node, "list", "table", "inet", "kopeio", check=False)


def reaches_outside(c, node):
    """Every pod of node pings the outside host."""
    return all(masqlib.ping(p.ns, c.outside.addr) for p in node.pods)


def start(c, mode, extra=()):
    c.start_all(["-v", "--provider", mode, "--sync-period", "1h"] +
                list(extra))
    return c.wait_all(COMMITTED, timeout=60)


def run_mode(mode):
    c = netcluster.Cluster(nodes=2, pods=1)
    try:
        tap.ok(start(c, mode), "%s: every watcher commits" % mode)
        tap.ok(c.wait_all(TABLE + r"created \(1 rule\)$"),
               "%s: each executor creates its table" % mode)
        masqlib.masquerade_checks(tap, c, mode)
    finally:
        c.close()


def run_dual():
    c = netcluster.Cluster(nodes=2, pods=1, dual_stack=True)
    try:
        tap.ok(start(c, "vxlan", ["--pod-cidr",
                                  "100.96.0.0/12,fd00:100::/48"]),
               "vxlan dual-stack: every watcher commits")
        tap.ok(c.wait_all(TABLE + r"created \(2 rules\)$"),
               "vxlan dual-stack: each executor creates its table, a "
               "masquerade rule per family")
        masqlib.masquerade_checks(tap, c, "vxlan dual-stack",
                                  dual_stack=True)
    finally:
        c.close()


def drift(c, n0):
    """A table deleted, a rule deleted, the chain flushed: each put back
    from the monitor, the foreign tables untouched."""
    d = n0.daemon
    before = foreign(n0)
    want = ours(n0)
    handles = re.findall(r"# handle (\d+)", nft(n0, "-a", "list", "chain",
                                                "inet", "kopeio",
                                                "postrouting"))
    cases = [
        ("the table deleted", ["delete", "table", "inet", "kopeio"]),
        ("a rule deleted", ["delete", "rule", "inet", "kopeio",
                            "postrouting", "handle", handles[-1]]),
        ("the chain flushed", ["flush", "chain", "inet", "kopeio",
                               "postrouting"]),
        ("a rule added", ["insert", "rule", "inet", "kopeio", "postrouting",
                          "accept"]),
        ("the table made dormant", ["add", "table", "inet", "kopeio",
                                    "{ flags dormant; }"]),
    ]
    for n, (what, cmd) in enumerate(cases, 1):
        if what == "a rule deleted":
            handles = re.findall(r"# handle (\d+)",
                                 nft(n0, "-a", "list", "chain", "inet",
                                     "kopeio", "postrouting"))
            cmd[-1] = handles[-1]
        mark = d.mark()
        nft(n0, *cmd)
        i, m = d.wait_for(TABLE + r"was changed by someone else; replaced",
                          start=mark)
        tap.ok(m is not None, "drift: %s: put back, and logged" % what,
               d.log(mark))
        tap.ok(wait_until(lambda: ours(n0) == want), "drift: %s: the table "
               "is as before" % what, ours(n0))
        tap.ok(wait_until(lambda: reaches_outside(c, n0)), "drift: %s: the "
               "outside host is reached again" % what)
        tap.ok(wait_until(lambda: "repairs %d\n" % n in
                          d.ctl("show", "status")[1]),
               "drift: %s: show status counts %d repairs" % (what, n),
               d.ctl("show", "status")[1])
    tap.eq(foreign(n0), before, "drift: the foreign tables are untouched")
    st, out, err = d.ctl("show", "masquerade")
    tap.ok(st == 0 and "table inet kopeio: present, as configured" in out
           and "[ masq flags 0x10 ]" in out,
           "show masquerade prints the table and its rules", out + err)


def refusal(c, n0, n1, args):
    """A table the kernel will not let the executor replace (another
    program owns one of that name): said once, tried again with a
    back-off, routes unaffected; programmed once the other goes."""
    n0.stop()
    nft(n0, "delete", "table", "inet", "kopeio")
    holder = subprocess.Popen(["ip", "netns", "exec", n0.ns, sys.executable,
                               "-c", HOLDER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        tap.eq(holder.stdout.readline().strip(), "held",
               "refusal: another program owns a table inet kopeio")
        n0.start(args)
        d = n0.daemon
        i, m = d.wait_for(r"^executor: masquerade: the kernel refused table "
                          r"inet kopeio: Operation not permitted.*\(another "
                          r"program owns a table of that name\); trying "
                          r"again in 1 s, routes are not held up$")
        tap.ok(m is not None, "refusal: the kernel's error is logged, with "
               "what it means", d.log())
        i, m = d.wait_for(r"^executor: masquerade: table inet kopeio still "
                          r"refused; trying again in 4 s$", 30)
        tap.ok(m is not None, "refusal: tried again, waiting longer each "
               "time", d.log())
        tap.eq(len(re.findall(r"kernel refused table", d.log())), 1,
               "refusal: the error is logged once")
        tap.ok(wait_until(lambda: masqlib.ping(n1.pods[0].ns,
                                               n0.pods[0].addr), 30),
               "refusal: routes are programmed all the same")
    finally:
        holder.stdin.close()
        holder.wait()
    i, m = d.wait_for(r"^executor: masquerade: table inet kopeio accepted "
                      r"after the kernel refused it$", 90)
    tap.ok(m is not None, "refusal: once the other program is gone, the "
           "table is made", d.log())
    tap.ok(wait_until(lambda: reaches_outside(c, n0)), "refusal: and the "
           "outside host is reached")


def ownership(mode):
    """Foreign tables byte-identical across start, repairs, restarts and
    a killed executor; a restart sends nothing; an old table is
    replaced; --no-masquerade; --masquerade=false."""
    c = netcluster.Cluster(nodes=2, pods=1)
    try:
        n0, n1 = c.nodes
        for n in c.nodes:
            subprocess.run(["ip", "netns", "exec", n.ns, "nft", "-f", "-"],
                           input=FOREIGN, text=True, check=True)
        before = foreign(n0)
        # A return rule and the masquerade: one rule can go of two.
        args = ["-v", "--provider", mode, "--sync-period", "1h",
                "--no-masquerade", "198.51.100.0/24"]
        c.start_all(args)
        tap.ok(c.wait_all(COMMITTED, timeout=60), "%s: every watcher "
               "commits" % mode)
        tap.ok(c.wait_all(TABLE + r"created \(2 rules\)$"),
               "ownership: the table is created beside the foreign ones")
        tap.eq(foreign(n0), before, "ownership: the foreign tables are "
               "byte-identical after the start")
        tap.ok(wait_until(lambda: reaches_outside(c, n0)),
               "ownership: the outside host is reached")
        drift(c, n0)

        # A killed executor: the parent restarts it, it adopts.
        d = n0.daemon
        mark = d.mark()
        os.kill(knlib.children_of(d.pid())["executor"], signal.SIGKILL)
        i, m = d.wait_for(TABLE + r"adopted \(2 rules\)$", start=mark)
        tap.ok(m is not None, "ownership: a restarted executor adopts the "
               "table", d.log(mark))
        tap.eq(foreign(n0), before, "ownership: the foreign tables are "
               "byte-identical after the executor was killed")

        # A restarted daemon with an unchanged table sends nothing: the
        # monitor is known to listen once it has seen a scratch table.
        want = ours(n0)
        events = "/run/%s-nft-events" % n0.ns
        out = open(events, "w+")
        mon = subprocess.Popen(["ip", "netns", "exec", n0.ns, "nft",
                                "monitor"], stdout=out, text=True)
        try:
            def listening():
                nft(n0, "add", "table", "ip", "knscratch")
                nft(n0, "delete", "table", "ip", "knscratch")
                return "delete table ip knscratch" in open(events).read()
            tap.ok(wait_until(listening, 20, 0.5), "ownership: nft monitor "
                   "listens")
            seen = len(open(events).read())
            n0.stop()
            tap.eq(ours(n0), want, "ownership: a stopped daemon leaves the "
                   "table in place")
            n0.start(args)
            i, m = n0.daemon.wait_for(TABLE + r"adopted \(2 rules\)$")
            tap.ok(m is not None, "ownership: a restarted daemon adopts the "
                   "table", n0.daemon.log())
            n0.daemon.wait_for(COMMITTED)
        finally:
            mon.terminate()
            mon.wait()
        tap.eq(open(events).read()[seen:].strip(), "", "ownership: the "
               "restart changed nothing in nftables (nft monitor saw no "
               "event)")
        out.close()
        os.unlink(events)
        tap.eq(foreign(n0), before, "ownership: the foreign tables are "
               "byte-identical after the restart")

        # An old table with other rules is replaced at start, in one go.
        n0.stop()
        nft(n0, "add", "rule", "inet", "kopeio", "postrouting", "ip",
            "daddr", "203.0.113.0/24", "return")
        n0.start(args)
        i, m = n0.daemon.wait_for(TABLE + r"differed from the flags; "
                                  r"replaced \(2 rules\)$")
        tap.ok(m is not None, "ownership: a table of other rules is "
               "replaced at start", n0.daemon.log())
        tap.eq(ours(n0), want, "ownership: and is as the flags want")
        st, out, err = n0.daemon.ctl("show", "status")
        tap.ok("masquerade: table inet kopeio, rules 2, repairs 0\n" in out,
               "ownership: a replacement at start is no repair", out)

        refusal(c, n0, n1, args)

        # --no-masquerade: the outside host sees the pod's own address
        # (given a route back for this check).
        n0.stop()
        n0.start(["-v", "--provider", mode, "--sync-period", "1h",
                  "--no-masquerade", "172.20.250.0/24,fd00:99::/64"])
        i, m = n0.daemon.wait_for(TABLE + r"differed from the flags; "
                                  r"replaced \(2 rules\)$")
        tap.ok(m is not None, "no-masquerade: a return rule is added",
               n0.daemon.log())
        tap.ok("ip daddr 172.20.250.0/24 return" in ours(n0),
               "no-masquerade: nft shows the rule as nft writes it",
               ours(n0))
        c.outside.run("ip", "route", "add", n0.pod_cidr, "via", n0.addr)
        svc = masqlib.PeerService(c.outside.ns)
        try:
            p = n0.pods[0]
            tap.eq(masqlib.peer_seen(p.ns, c.outside.addr), p.addr,
                   "no-masquerade: the outside host sees the pod's own "
                   "address")
            p = n1.pods[0]
            tap.eq(masqlib.peer_seen(p.ns, c.outside.addr), n1.addr,
                   "no-masquerade: another node's pod still comes from its "
                   "node")
        finally:
            svc.close()
        c.outside.run("ip", "route", "del", n0.pod_cidr)

        # --masquerade=false: the table goes, the outside host is not
        # reached, and nftables is left alone.
        n0.stop()
        n0.start(["-v", "--provider", mode, "--sync-period", "1h",
                  "--masquerade=false"])
        i, m = n0.daemon.wait_for(r"^executor: masquerade: off; table inet "
                                  r"kopeio deleted$")
        tap.ok(m is not None, "masquerade=false: our table is deleted once",
               n0.daemon.log())
        tap.ok(nft(n0, "list", "tables").find("kopeio") == -1,
               "masquerade=false: no table inet kopeio")
        n0.daemon.wait_for(COMMITTED)
        tap.ok(masqlib.ping(n1.pods[0].ns, n0.pods[0].addr),
               "masquerade=false: pods still reach each other")
        tap.ok(not masqlib.ping(n0.pods[0].ns, c.outside.addr),
               "masquerade=false: a pod does not reach the outside host")
        tap.eq(foreign(n0), before, "masquerade=false: the foreign tables "
               "are byte-identical")
        n0.stop()
        n0.start(["-v", "--provider", mode, "--sync-period", "1h",
                  "--masquerade=false"])
        i, m = n0.daemon.wait_for(r"^executor: masquerade: off$")
        tap.ok(m is not None, "masquerade=false: with no table, nothing is "
               "done", n0.daemon.log())
    finally:
        c.close()


run_mode("layer2")
ownership("layer2")
run_mode("vxlan")
run_mode("vxlan-legacy")
run_dual()
tap.done()
