#!/usr/bin/env python3
"""What crosses an interface, counted by protocol: proof that a tunnel
carries traffic and that nothing leaks past it.  An AF_PACKET socket,
no tcpdump.

    with wire.Capture("br0", netns="ul") as cap:
        ... ping ...
    cap.counts["esp"], cap.counts["icmp"]

Capture on the underlay's bridge, in promiscuous mode: it sees every
frame between the nodes once.  A node's own veth also shows what its
kernel decapsulated (the inner ICMP of an ESP packet comes back
through the same device), which would hide a leak.

    tests/wire.py [--netns NS] IFACE SECONDS    prints the counts

Python 3 standard library only."""

import ctypes
import os
import select
import socket
import struct
import sys
import threading

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
CLONE_NEWNET = 0x40000000
# IP protocol numbers, UDP ports.
PROTOS = {50: "esp", 47: "gre", 4: "ipip", 41: "ipip", 1: "icmp",
          58: "icmp6"}
PORTS = {4500: "udp4500", 4789: "vxlan"}
KINDS = ("esp", "udp4500", "gre", "ipip", "vxlan", "icmp", "icmp6", "arp",
         "other")


def netns_call(netns, fn):
    """fn() in network namespace netns (a name under /run/netns, or None
    for this one), in a thread of its own so the caller stays where it
    is; sockets it makes belong to netns for good."""
    if netns is None:
        return fn()
    out = {}

    def body():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open("/run/netns/" + netns, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, "setns %s: %s" % (netns,
                                                       os.strerror(e)))
            finally:
                os.close(fd)
            out["value"] = fn()
        except Exception as e:
            out["error"] = e

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def classify(frame):
    """The kind of an Ethernet frame, one of KINDS."""
    if len(frame) < 14:
        return "other"
    etype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if etype == 0x0806:
        return "arp"
    if etype == 0x0800 and len(ip) >= 20:
        proto, l4 = ip[9], ip[(ip[0] & 0xf) * 4:]
    elif etype == 0x86dd and len(ip) >= 40:
        proto, l4 = ip[6], ip[40:]
    else:
        return "other"
    if proto == 17 and len(l4) >= 4:
        sport, dport = struct.unpack("!HH", l4[:4])
        return PORTS.get(dport, PORTS.get(sport, "other"))
    return PROTOS.get(proto, "other")


class Capture:
    """Counts the frames on an interface by kind while the block runs."""

    def __init__(self, ifname, netns=None):
        self.ifname = ifname
        self.counts = dict.fromkeys(KINDS, 0)
        self.sock = netns_call(netns, self._open)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _open(self):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(ETH_P_ALL))
        s.bind((self.ifname, 0))
        idx = socket.if_nametoindex(self.ifname)
        s.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP,
                     struct.pack("iHH8s", idx, PACKET_MR_PROMISC, 0, b""))
        s.setblocking(False)
        return s

    def _loop(self):
        while True:
            # One more pass after the stop: what is queued counts.
            stopping = self.stop.is_set()
            select.select([self.sock], [], [], 0.1)
            try:
                while True:
                    frame = self.sock.recv(128)
                    self.counts[classify(frame)] += 1
            except BlockingIOError:
                pass
            if stopping:
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.sock.close()
        return False


def count(ifname, seconds, netns=None):
    """{kind: frames} seen on ifname during seconds."""
    import time
    with Capture(ifname, netns) as cap:
        time.sleep(seconds)
    return cap.counts


def main():
    import argparse
    ap = argparse.ArgumentParser(description="Count the frames on an "
                                 "interface by protocol.")
    ap.add_argument("--netns", help="a network namespace's name")
    ap.add_argument("ifname")
    ap.add_argument("seconds", type=float)
    a = ap.parse_args()
    counts = count(a.ifname, a.seconds, a.netns)
    print(" ".join("%s=%d" % (k, counts[k]) for k in KINDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
