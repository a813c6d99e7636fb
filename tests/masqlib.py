"""Egress masquerade checks against a tests/netcluster.py cluster, shared
by test_masquerade.py and the VM tests of the gre and ipsec modes.

A peer-address service (PeerService) listens in a namespace and tells
each TCP client the source address it saw; pods connect to it on the
outside host (which must see the node's address) and in a pod on
another node (which must see the pod's own)."""

import subprocess
import sys
import time

PORT = 7777

# Listens on IPv4 and IPv6; answers each connection with its peer's
# address (an IPv4-mapped one unmapped) and closes it.
_SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(16)
print("listening", flush=True)
while True:
    c, a = s.accept()
    peer = a[0][7:] if a[0].startswith("::ffff:") else a[0]
    try:
        c.sendall((peer + "\n").encode())
    except OSError:
        pass
    c.close()
"""

_CLIENT = r"""
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    s.settimeout(3)
    print(s.recv(100).decode().strip())
except OSError as e:
    print("error: %s" % e)
"""


class PeerService:
    """The peer-address service in namespace ns, until close()."""

    def __init__(self, ns, port=PORT):
        self.port = port
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", _SERVER,
             str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        self.proc.stdout.readline()

    def close(self):
        self.proc.kill()
        self.proc.wait()


def peer_seen(ns, addr, port=PORT):
    """The source address the service at addr saw for a connection from
    namespace ns, or "error: ..." when none was made."""
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c",
                        _CLIENT, addr, str(port)], capture_output=True,
                       text=True, timeout=30)
    return r.stdout.strip() or "error: " + r.stderr.strip()


def ping(ns, dst, timeout=2):
    return subprocess.run(["ip", "netns", "exec", ns, "ping", "-n", "-q",
                           "-c", "1", "-W", str(timeout), dst],
                          capture_output=True).returncode == 0


def wait_until(fn, timeout=20, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def outside_reached(c, family=4):
    """(pod, node, seen) for every pod's TCP connection to the outside
    host: seen is the source address the outside host saw."""
    dst = c.outside.addr if family == 4 else c.outside.addr6
    return [(p, n, peer_seen(p.ns, dst)) for n in c.nodes for p in n.pods]


def masquerade_checks(tap, c, mode, dual_stack=False, timeout=30):
    """Every pod pings the outside host and connects to it, which sees
    the pod's node's address; a pod on another node sees the pod's own
    address.  tap: a knlib.Tap; c: a netcluster.Cluster whose daemons
    run with masquerade on and have programmed their routes."""
    families = [4, 6] if dual_stack else [4]
    svc = PeerService(c.outside.ns)
    try:
        for f in families:
            dst = c.outside.addr if f == 4 else c.outside.addr6
            tag = "%s%s" % (mode, " IPv6" if f == 6 else "")
            bad = []
            for n in c.nodes:
                for p in n.pods:
                    if not wait_until(lambda: ping(p.ns, dst), timeout, 0.5):
                        bad.append(p.addr)
            tap.ok(not bad, "%s: every pod pings the outside host %s"
                   % (tag, dst), bad)
            seen = outside_reached(c, f)
            want = [(p.addr, n.addr if f == 4 else n.addr6)
                    for p, n, _ in seen]
            got = [(p.addr, s) for p, _, s in seen]
            tap.eq(got, want, "%s: the outside host sees each pod's "
                   "connection come from its node's address" % tag)
    finally:
        svc.close()
    pod_to_pod_checks(tap, c, mode, families)


def pod_to_pod_checks(tap, c, mode, families=(4,)):
    """A pod on each other node connects to a pod of the first node,
    which sees the connecting pod's own address."""
    target = c.nodes[0].pods[0]
    svc = PeerService(target.ns)
    try:
        for f in families:
            dst = target.addr if f == 4 else target.addr6
            got, want = [], []
            for n in c.nodes[1:]:
                for p in n.pods:
                    got.append(peer_seen(p.ns, dst))
                    want.append(p.addr if f == 4 else p.addr6)
            tap.eq(got, want, "%s%s: pod to pod across nodes keeps the "
                   "source pod's address" % (mode, " IPv6" if f == 6
                                              else ""))
    finally:
        svc.close()
