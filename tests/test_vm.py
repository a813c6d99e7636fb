#!/usr/bin/env python3
"""The VM harness (tests/vmrun, tests/vmlib.py, tests/wire.py) and the
guest kernel the ipsec and gre tests rely on: two namespaces on an
underlay bridge pass pings through an ESP tunnel (AES-GCM), through
ESP-in-UDP only while the receiver holds a UDP_ENCAP socket, and
through GRE, and the underlay shows the tunnel's protocol and never
the inner ICMP."""

import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlib  # noqa: E402

vmlib.reexec(__file__, timeout=300)

import knlib  # noqa: E402
import wire  # noqa: E402

tap = knlib.Tap()
knlib.need_root(tap)
for tool in ("ip", "ping"):
    if subprocess.run(["sh", "-c", "command -v " + tool],
                      capture_output=True).returncode != 0:
        tap.skip_all("%s not installed" % tool)

UDP_ENCAP, UDP_ENCAP_ESPINUDP = 100, 2
AEAD = "aead 'rfc4106(gcm(aes))' 0x%s 128" % ("42" * 20)
P = "knvm%d" % os.getpid()
UL, A, B = P + "-ul", P + "-a", P + "-b"
ADDR = {A: "10.0.0.1", B: "10.0.0.2"}
INNER = {A: "10.1.1.1", B: "10.1.2.1"}
GRE = {A: "10.2.0.1", B: "10.2.0.2"}


def batch(ns, lines):
    """ip commands in one process: each costs a fifth of a second
    under emulation."""
    r = subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(
        lines) + "\n", capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("ip -n %s -batch: %s" % (ns, r.stderr.strip()))


def ping(src, dst, count=2, deadline=10):
    return subprocess.run(["ip", "netns", "exec", A, "ping", "-n", "-q",
                           "-c", str(count), "-i", "0.2", "-w",
                           str(deadline), "-I", src, dst],
                          capture_output=True, text=True)


def esp_states(me, peer, encap=""):
    """The two ESP states of a node: to the peer and from it."""
    spi = {A: 0x100, B: 0x200}
    out = []
    for src, dst in ((me, peer), (peer, me)):
        out.append("xfrm state add src %s dst %s proto esp spi %d reqid 1 "
                   "mode tunnel %s %s" % (ADDR[src], ADDR[dst], spi[src],
                                          AEAD, encap))
    return out


def setup():
    for ns in (UL, A, B):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    batch(UL, ["link set lo up", "link add br0 type bridge",
               "link set br0 up"])
    for me, peer in ((A, B), (B, A)):
        port = "p" + me[-1]
        batch(UL, ["link add %s type veth peer name eth0 netns %s" %
                   (port, me),
                   "link set %s master br0 up" % port])
        pol = "tmpl src %s dst %s proto esp reqid 1 mode tunnel"
        mine, theirs = INNER[me][:-2] + ".0/24", INNER[peer][:-2] + ".0/24"
        batch(me, ["link set lo up", "link set eth0 up",
                   "addr add %s/24 dev eth0" % ADDR[me],
                   "addr add %s/32 dev lo" % INNER[me],
                   "route add %s via %s src %s" % (theirs, ADDR[peer],
                                                   INNER[me]),
                   "xfrm policy add dir out src %s dst %s " % (mine, theirs)
                   + pol % (ADDR[me], ADDR[peer]),
                   "xfrm policy add dir in src %s dst %s " % (theirs, mine)
                   + pol % (ADDR[peer], ADDR[me])] +
              esp_states(me, peer))


def captured(fn):
    """fn() while the underlay bridge is watched; (fn's value, counts)."""
    with wire.Capture("br0", netns=UL) as cap:
        v = fn()
    return v, cap.counts


def encap_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 4500))
    s.setsockopt(socket.IPPROTO_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP)
    return s


def main():
    release = os.uname().release
    tap.ok(release.startswith("6.1."), "the guest runs Debian's 6.1 kernel "
           "(%s)" % release, release)
    setup()

    r, c = captured(lambda: ping(ADDR[A], ADDR[B]))
    tap.ok(r.returncode == 0 and c["icmp"] > 0,
           "a plain ping between the nodes shows as ICMP on the underlay "
           "(wire.py sees what leaks)", "%s%s%s" % (r.stdout, r.stderr, c))

    r, c = captured(lambda: ping(INNER[A], INNER[B]))
    tap.ok(r.returncode == 0, "a ping passes the ESP tunnel (AES-GCM)",
           r.stdout + r.stderr)
    tap.ok(c["esp"] > 0 and c["icmp"] == 0,
           "the underlay shows ESP and never the inner ICMP", c)

    for me, peer in ((A, B), (B, A)):
        batch(me, ["xfrm state flush"] +
              esp_states(me, peer, "encap espinudp 4500 4500 0.0.0.0"))
    r = ping(INNER[A], INNER[B], count=1, deadline=3)
    tap.ok(r.returncode != 0, "ESP-in-UDP is dropped while no UDP_ENCAP "
           "socket listens on port 4500", r.stdout)
    socks = [wire.netns_call(ns, encap_socket) for ns in (A, B)]
    r, c = captured(lambda: ping(INNER[A], INNER[B]))
    tap.ok(r.returncode == 0, "ESP-in-UDP passes with a UDP_ENCAP socket "
           "on each receiver", r.stdout + r.stderr)
    tap.ok(c["udp4500"] > 0 and c["esp"] == 0 and c["icmp"] == 0,
           "the underlay shows UDP 4500, no bare ESP, no inner ICMP", c)
    for s in socks:
        s.close()

    for me, peer in ((A, B), (B, A)):
        batch(me, ["link add gre1 type gre local %s remote %s ttl 255" %
                   (ADDR[me], ADDR[peer]),
                   "addr add %s/30 dev gre1" % GRE[me],
                   "link set gre1 up"])
    r, c = captured(lambda: ping(GRE[A], GRE[B]))
    tap.ok(r.returncode == 0, "a ping passes the GRE tunnel (ttl 255)",
           r.stdout + r.stderr)
    tap.ok(c["gre"] > 0 and c["icmp"] == 0,
           "the underlay shows GRE and never the inner ICMP", c)


try:
    main()
finally:
    for ns in (A, B, UL):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
tap.done()
