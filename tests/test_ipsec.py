#!/usr/bin/env python3
"""The ipsec mode end to end, in a VM whose kernel has ESP (the host's
may make xfrm policies but not states): three node namespaces on an
underlay bridge, the real, confined daemon on each.  With ESP-in-UDP
and AES-GCM, ESP-in-UDP and plain ESP with the null cipher (the
first is what the ipsec-plaintext manifest runs), then plain ESP and
AES-GCM, pods ping across,
the states' counters grow and the underlay shows only the tunnel's
packets; the keys never reach a log; a key rotation loses no packet
of a continuous ping; a restart changes no state or policy; a node
that goes takes its peers' objects on the others with it; a removed
state or policy comes back; foreign xfrm states and policies are never
touched.  A removed state comes back from its old sequence numbers,
so traffic over it passes; a node's reboot (a new boot ID, its kernel
objects gone) puts both directions between it and each peer under new
keys, so its pods ping the others again without a key rotation.  A
dual-stack pair carries both families, each between the node
addresses of its own, every pod reaches the outside host over both
through the masquerade (tests/masqlib.py) while pods see each other's
own addresses, and the largest packet the mode's MTU
allows crosses with DF set; the CNI file has the underlay's MTU less
the ESP-in-UDP overhead."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlib  # noqa: E402

vmlib.reexec(__file__, timeout=900)

import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_apiserver(tap, "ping")
import masqlib  # noqa: E402
import netcluster  # noqa: E402
import wire  # noqa: E402

COMMITTED = r"^watcher: generation \d+ committed"
OVERHEAD = {4: 73, 6: 93}   # what the executor takes off the underlay
REQID = "0x6b6e0001"
SECRET1 = "5a" * 16 + "c3" * 16
SECRET2 = "17" * 32
wait_until = netcluster.wait_until


def xfrm(node, what):
    """Our states or policies on a node (reqid ours), as text blocks."""
    text = node.run("ip", "-s", "xfrm", what)
    blocks = re.split(r"\n(?=src )", text.strip())
    return [b for b in blocks if "(%s)" % REQID in b]


def state_bytes(block):
    m = re.search(r"lifetime current:\s*\n\s*(\d+)\(bytes\)", block)
    return int(m.group(1)) if m else 0


def failed(res):
    return ["%s -> %s" % (p.addr, q.addr) for p, q, ok in res if not ok]


def flood(p, dst, count=200):
    """Enough packets from pod p to dst to carry the sequence numbers
    of the states on the way far past the 32-packet replay window."""
    r = netcluster.sh("ip", "netns", "exec", p.ns, "ping", "-n", "-q",
                      "-c", str(count), "-i", "0.01", "-W", "1", dst,
                      check=False)
    return r.returncode == 0


def replay(block):
    """(oseq, seq) of a state block of ip -s xfrm state."""
    m = re.search(r"anti-replay context:\s+seq (0x[0-9a-f]+), oseq "
                  r"(0x[0-9a-f]+)", block)
    return (int(m.group(2), 16), int(m.group(1), 16)) if m else None


def write_key(path, kid, secret):
    with open(path, "w") as f:
        f.write("%d %s\n" % (kid, secret))
    os.chmod(path, 0o600)


def captured(c, fn):
    with wire.Capture("ul", netns=c.ul) as cap:
        v = fn()
    return v, cap.counts


def start(c, args):
    for n in c.nodes:
        # Pod traffic leaves by the node's default route, as on a real
        # host; the out policies catch it there.
        n.run("ip", "route", "add", "default", "dev", "eth0")
        if n.addr6:
            n.run("ip", "-6", "route", "add", "default", "dev", "eth0")
    c.start_all(args)
    # Generous: the first ESP states load the kernel's modules, and three
    # confined daemons and their TLS run under emulation; on a busy
    # machine that took over 30 s.
    return c.wait_all(COMMITTED, timeout=180)


def uncommitted(c):
    """The logs of the daemons that have not committed a generation."""
    return "\n".join(n.daemon.log() for n in c.nodes
                     if n.daemon is not None and
                     not re.search(COMMITTED, n.daemon.log(), re.MULTILINE))


def carried(c, args, tag, encap):
    """Starts the daemons; every pod pings every pod on the other nodes,
    and the underlay carries only encap's packets (UDP 4500 or ESP),
    never the other kind or bare ICMP."""
    carrier, other = (("udp4500", "esp") if encap == "udp"
                      else ("esp", "udp4500"))
    tap.ok(start(c, args), "%s: every watcher commits its first "
           "generation" % tag, uncommitted(c))
    res, cnt = captured(c, lambda: c.converge_pings(timeout=60))
    tap.ok(res and not failed(res), "%s: every pod pings every pod on the "
           "other nodes (%d pairs)" % (tag, len(res)), failed(res))
    tap.ok(cnt[carrier] > 0 and cnt[other] == 0 and cnt["icmp"] == 0,
           "%s: the underlay shows %s only, never %s or bare ICMP" %
           (tag, carrier, other), cnt)


def run_udp_aes():
    c = netcluster.Cluster(nodes=3, pods=1)
    keydir = knlib.private_dir()
    key = os.path.join(keydir, "key")
    write_key(key, 1, SECRET1)
    args = ["-v", "--provider", "ipsec", "--sync-period", "1h",
            "--ipsec-key-file", key, "--ipsec-rotation-delay", "3s"]
    try:
        n0, n1, n2 = c.nodes
        # Someone else's state and policy, which we must leave alone.
        n0.run("ip", "xfrm", "state", "add", "src", "172.20.0.10", "dst",
               "172.20.0.99", "proto", "esp", "spi", "0x1234", "reqid", "7",
               "mode", "tunnel", "aead", "rfc4106(gcm(aes))", "0x" + "11" * 20,
               "128")
        n0.run("ip", "xfrm", "policy", "add", "src", "10.9.0.0/16", "dst",
               "10.8.0.0/16", "dir", "out", "tmpl", "src", "172.20.0.10",
               "dst", "172.20.0.99", "proto", "esp", "reqid", "7", "mode",
               "tunnel")
        foreign_before = [l for l in n0.run("ip", "xfrm", "state").split(
            "\n") if "0x00001234" in l]
        carried(c, args, "udp/aes", "udp")
        states = xfrm(n0, "state")
        pols = xfrm(n0, "policy")
        tap.eq((len(states), len(pols)), (4, 18), "udp/aes: node 0 has "
               "one state each way and 9 policies per peer")
        tap.ok(states and all(state_bytes(s) > 0 for s in states), "udp/aes: every "
               "state's byte counter grew", states)
        tap.ok(states and all("rfc4106(gcm(aes))" in s and "encap type espinudp "
                   "sport 4500 dport 4500" in s for s in states),
               "udp/aes: states are AES-GCM in ESP-in-UDP on port 4500",
               states)
        spis = sorted(re.search(r"spi (0x[0-9a-f]+)", s).group(1)
                      for s in states)
        tap.eq(spis, ["0x01000000", "0x01000000", "0x01000001",
                      "0x01000002"], "udp/aes: SPIs are the key id and the "
               "sender's pod CIDR index")
        # A->B on node A is A->B on node B: same SPI, same key.
        a_out = [s for s in states if s.startswith("src 172.20.0.10 dst "
                                                   "172.20.0.11")]
        b_in = [s for s in xfrm(n1, "state")
                if s.startswith("src 172.20.0.10 dst 172.20.0.11")]
        ka = re.search(r"aead \S+ (0x[0-9a-f]+)", a_out[0]).group(1) \
            if a_out else None
        kb = re.search(r"aead \S+ (0x[0-9a-f]+)", b_in[0]).group(1) \
            if b_in else "none"
        tap.ok(ka == kb, "udp/aes: the state from node 0 to node 1 has "
               "the same key on both nodes")
        logs = "".join(n.daemon.log() for n in c.nodes)
        keys = re.findall(r"aead \S+ 0x([0-9a-f]+)", "\n".join(states))
        shown = n0.daemon.ctl("show", "routes")
        tap.ok(SECRET1 not in logs.lower() and not any(
            k in logs.lower() or k in str(shown).lower() for k in keys),
            "udp/aes: neither the secret nor a derived key is in a log or "
            "in kopeio-networkctl show routes")

        # Rotation under a continuous ping.
        p, q = n0.pods[0], n1.pods[0]
        ping = subprocess.Popen(["ip", "netns", "exec", p.ns, "ping", "-n",
                                 "-i", "0.2", "-c", "60", q.addr],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        # One file for all, as a Secret; a reload makes every parent
        # read it at once rather than within 10 s.
        write_key(key, 2, SECRET2)
        for n in c.nodes:
            n.daemon.ctl("reload")
        done = c.wait_all(r"ipsec: key rotation to key 2 done", 60)
        out, _ = ping.communicate(timeout=60)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        tap.ok(done, "rotation: every executor rotated to key 2")
        tap.ok(m and m.group(1) == m.group(2),
               "rotation: a continuous ping lost nothing", out[-300:])
        states = xfrm(n0, "state")
        tap.ok(len(states) == 4 and all(
            re.search(r"spi 0x02", s) for s in states),
            "rotation: only key 2's states are left", states)
        res = c.converge_pings(timeout=30)
        tap.ok(res and not failed(res), "rotation: pods ping with key 2",
               failed(res))

        # Restart without a flap.
        mon = subprocess.Popen(["ip", "-n", n0.ns, "xfrm", "monitor"],
                               stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        n0.stop()
        n0.start(args)
        ok = n0.daemon.wait_for(COMMITTED, timeout=120)[1] is not None
        time.sleep(2)
        mon.terminate()
        events, _ = mon.communicate(timeout=10)
        changes = [l for l in events.split("\n")
                   if l.startswith(("Deleted", "src ", "Flushed"))]
        tap.ok(ok and not changes, "restart: the executor adopts its states "
               "and policies and changes none", events[-1500:])

        # Drift: a removed policy comes back.
        n0.run("ip", "xfrm", "policy", "del", "src", "100.96.0.0/24", "dst",
               "100.96.1.0/24", "dir", "out")
        tap.ok(wait_until(lambda: len(xfrm(n0, "policy")) == 18, 10),
               "drift: a removed policy is put back from the monitor")
        # And a removed state, with the key both ends derive: a new
        # state (its counters from 0) under the same SPI, that goes on
        # from the old one's sequence numbers, so the peer's replay
        # window takes what it sends.
        def out01():
            return [s for s in xfrm(n0, "state") if s.startswith(
                "src 172.20.0.10 dst 172.20.0.11")]

        def key_of(blocks):
            return re.findall(r"spi (0x[0-9a-f]+).*?aead \S+ (0x[0-9a-f]+)",
                              "".join(blocks), re.S)
        p, q = n0.pods[0], n1.pods[0]
        flooded = flood(p, q.addr)
        before = out01()
        seq_before = replay(before[0]) if before else None
        n0.run("ip", "xfrm", "state", "del", "src", "172.20.0.10", "dst",
               "172.20.0.11", "proto", "esp", "spi", "0x02000000")
        tap.ok(before and state_bytes(before[0]) > 0 and wait_until(
            lambda: len(out01()) == 1 and state_bytes(out01()[0]) == 0 and
            key_of(out01()) == key_of(before), 10),
            "drift: a removed state is put back from the monitor, with "
            "its SPI and key", (before, out01()))
        after = out01()
        tap.ok(flooded and seq_before and seq_before[0] > 200 and after and
               replay(after[0]) and replay(after[0])[0] >= seq_before[0],
               "drift: it goes on from the removed state's sequence "
               "numbers (%s)" % (seq_before,), (before, after))
        r = netcluster.sh("ip", "netns", "exec", p.ns, "ping", "-n", "-c",
                          "3", "-W", "2", q.addr, check=False)
        tap.ok(r.returncode == 0 and state_bytes(out01()[0]) > 0,
               "drift: pod traffic over the state put back passes",
               r.stdout + r.stderr)

        # A reboot of node 1: its daemon stops, its kernel loses every
        # state and policy, it comes back with a new boot ID in its
        # Node.  What it sends then starts from sequence number 1, far
        # below its peers' replay windows, and its inbound states start
        # with empty windows, so both directions must be under new keys.
        def between(node, a, b):
            return key_of([s for s in xfrm(node, "state") if s.startswith(
                "src %s dst %s\n" % (a.addr, b.addr))])

        def n1_to_n0(node):
            return between(node, n1, n0)
        flooded = flood(n1.pods[0], n0.pods[0].addr)
        in_before = n1_to_n0(n0)
        back_before = between(n0, n0, n1)
        n1.stop()
        n1.run("ip", "xfrm", "state", "flush")
        n1.run("ip", "xfrm", "policy", "flush")
        obj = c.api.control("GET", "/nodes/" + n1.name)
        obj["status"]["nodeInfo"]["bootID"] = str(uuid.uuid4())
        mark = [n.daemon.mark() for n in (n0, n2)]
        c.api.control("POST", "/nodes", obj)
        t0 = time.monotonic()
        n1.start(args)
        started = n1.daemon.wait_for(COMMITTED, timeout=120)[1] is not None
        res = c.converge_pings(timeout=30)
        took = time.monotonic() - t0
        tap.ok(flooded and started and res and not failed(res),
               "reboot: pods ping across again, node 1's pods included "
               "(%.1f s after its start)" % took, failed(res))
        in_after, out_after = n1_to_n0(n0), n1_to_n0(n1)
        tap.ok(len(in_before) == 1 and len(in_after) == 1 and
               in_after[0][0] == in_before[0][0] and
               in_after[0][1] != in_before[0][1] and out_after == in_after,
               "reboot: node 0's state from node 1 has a new key under "
               "the same SPI, the key node 1 sends with",
               (in_before, in_after, out_after))
        back_after = between(n0, n0, n1)
        tap.ok(len(back_before) == 1 and len(back_after) == 1 and
               back_after[0][0] == back_before[0][0] and
               back_after[0][1] != back_before[0][1] and
               back_after == between(n1, n0, n1),
               "reboot: node 0's state to node 1 has a new key too, the "
               "one node 1 receives with: nothing sent under the old key "
               "is taken by node 1's fresh state",
               (back_before, back_after))
        rot = [l for n, m in zip((n0, n2), mark) for l in
               n.daemon.log(m).split("\n") if "key rotation" in l]
        tap.ok(not rot and all(re.search(r"spi 0x02", s)
                               for s in xfrm(n0, "state")),
               "reboot: no key rotation: every state is still key 2's", rot)

        # A node goes: its peers' objects on the others go.
        c.api.control("DELETE", "/nodes/" + n2.name)
        tap.ok(wait_until(lambda: len(xfrm(n0, "state")) == 2 and
                          len(xfrm(n0, "policy")) == 9, 20),
               "node removal: node 0 keeps only node 1's states and "
               "policies")
        foreign_after = [l for l in n0.run("ip", "xfrm", "state").split(
            "\n") if "0x00001234" in l]
        pol = n0.run("ip", "xfrm", "policy", "list", "src", "10.9.0.0/16")
        tap.ok(foreign_before and foreign_after == foreign_before and
               "reqid 7" in pol, "foreign: the state and policy of reqid 7 "
               "are untouched", pol)
    finally:
        c.close()


def run_none(encap):
    """The null cipher: with udp, what the ipsec-plaintext manifest
    runs; with esp, the pods come from the CNI file the daemon writes."""
    c = netcluster.Cluster(nodes=2, pods=1, cni=encap == "esp")
    args = ["-v", "--provider", "ipsec", "--sync-period", "1h",
            "--ipsec-encryption", "none", "--ipsec-authentication", "none",
            "--ipsec-encapsulation", encap]
    tag = encap + "/none"
    try:
        carried(c, args, tag, encap)
        tap.ok(c.wait_all(r"ipsec: --ipsec-encryption none: ESP without "
                          r"encryption", 5),
               "%s: the daemon warns that pod traffic is readable" % tag)
        n0 = c.nodes[0]
        if c.cni:
            ul = json.loads(n0.run("ip", "-j", "link", "show",
                                   "eth0"))[0]["mtu"]
            conf = n0.cni_conf()
            mtu = conf["plugins"][0]["mtu"] if conf else None
            tap.eq(mtu, ul - OVERHEAD[4], "%s: the CNI file's MTU is the "
                   "underlay's %d less %d" % (tag, ul, OVERHEAD[4]))
        states = xfrm(n0, "state")
        want = ("encap type espinudp sport 4500 dport 4500"
                if encap == "udp" else None)
        tap.ok(len(states) == 2 and all(
            "ecb(cipher_null)" in s and
            (want in s if want else "encap" not in s) for s in states),
            "%s: states use the null cipher, %s" % (
                tag, "in ESP-in-UDP on port 4500" if want
                else "no encapsulation"), states)
    finally:
        c.close()


def run_esp_aes():
    c = netcluster.Cluster(nodes=2, pods=1)
    key = os.path.join(knlib.private_dir(), "key")
    write_key(key, 1, SECRET1)
    args = ["-v", "--provider", "ipsec", "--sync-period", "1h",
            "--ipsec-encapsulation", "esp", "--ipsec-key-file", key]
    try:
        carried(c, args, "esp/aes", "esp")
        states = xfrm(c.nodes[0], "state")
        tap.ok(len(states) == 2 and all("rfc4106(gcm(aes))" in s and
                                        "encap" not in s for s in states),
               "esp/aes: states use AES-GCM, no encapsulation", states)
    finally:
        c.close()
        shutil.rmtree(os.path.dirname(key), ignore_errors=True)


def run_dual():
    c = netcluster.Cluster(nodes=2, pods=1, dual_stack=True)
    key = os.path.join(knlib.private_dir(), "key")
    write_key(key, 1, SECRET1)
    args = ["-v", "--provider", "ipsec", "--sync-period", "1h",
            "--pod-cidr", "100.96.0.0/12,fd00:100::/48",
            "--ipsec-key-file", key]
    try:
        n0, n1 = c.nodes
        tap.ok(start(c, args), "dual-stack: every watcher commits its "
               "first generation", uncommitted(c))
        for fam in (4, 6):
            res, cnt = captured(c, lambda: c.converge_pings(family=fam,
                                                            timeout=60))
            # (IPv6's neighbour discovery is ICMPv6 on the underlay.)
            tap.ok(res and not failed(res) and cnt["udp4500"] > 0 and
                   cnt["esp"] == 0 and cnt["icmp"] == 0,
                   "dual-stack: pods ping across over IPv%d in "
                   "ESP-in-UDP" % fam, (failed(res), cnt))
        masqlib.masquerade_checks(tap, c, "ipsec dual-stack",
                                  dual_stack=True)
        states, pols = xfrm(n0, "state"), xfrm(n0, "policy")
        want = sorted("src %s dst %s" % p for p in [
            (n0.addr, n1.addr), (n1.addr, n0.addr),
            (n0.addr6, n1.addr6), (n1.addr6, n0.addr6)])
        tap.eq(sorted(s.split("\n")[0] for s in states), want,
               "dual-stack: one state each way per family, between the "
               "node addresses of that family")
        pol4 = [p for p in pols if n1.pod_cidr in p or n1.addr + "/32" in p]
        pol6 = [p for p in pols if n1.pod_cidr6 in p or n1.addr6 + "/128"
                in p]
        tap.eq((len(pols), len(pol4), len(pol6)), (18, 9, 9),
               "dual-stack: 9 policies per family for the peer")
        # The largest packet the file's MTU would allow crosses with DF
        # set (ICMP: 28 bytes of headers over IPv4, 48 over IPv6).
        p, q = n0.pods[0], n1.pods[0]
        for fam, dst, hdr in ((4, q.addr, 28), (6, q.addr6, 48)):
            size = 1500 - OVERHEAD[fam] - hdr
            ok, out = p.ping_df(dst, size)
            tap.ok(ok, "dual-stack: a %d-byte IPv%d ping with DF set "
                   "crosses at the mode's MTU" % (size + hdr, fam), out)
    finally:
        c.close()


def run_fresh_kernel():
    """First, on the VM's fresh kernel: no xfrm key manager (xfrm_user)
    is loaded yet, and the parent's ESP-in-UDP socket needs one for its
    per-socket policy; the daemons still start and commit."""
    fresh = not os.path.exists("/sys/module/xfrm_user")
    c = netcluster.Cluster(nodes=2, pods=0)
    key = os.path.join(knlib.private_dir(), "key")
    write_key(key, 1, SECRET1)
    try:
        tap.ok(fresh, "fresh kernel: no xfrm_user loaded before the "
               "daemons start")
        tap.ok(start(c, ["-v", "--provider", "ipsec", "--sync-period", "1h",
                         "--ipsec-key-file", key]),
               "fresh kernel: every watcher commits its first generation",
               uncommitted(c))
    finally:
        c.close()


run_fresh_kernel()
run_udp_aes()
run_none("udp")
run_none("esp")
run_esp_aes()
run_dual()
tap.done()
