#!/usr/bin/env python3
"""The executor's safety envelope, against a real, confined executor.

tests/exec_driver plays the parent and the watcher for one executor in
a fresh network namespace and sends what a compromised watcher could:
a default route, prefixes outside the cluster range or of the other
family, lengths out of bounds, host bits, node addresses that are
loopback, multicast, link-local, unspecified, broadcast, IPv4-mapped or
inside the cluster range, unknown flags and families, stray bytes, more
intents than --max-nodes allows, snapshots whose count disagrees, this
node's own pod CIDR outside the range, and malformed messages.  Then
intents inside or around this node's own pod CIDR (where its bridge
has the connected route) or an accepted peer's, this node's pod CIDR
moving onto an accepted intent, and messages about this node that are
malformed or carry an address without a pod CIDR.  Each
is refused with the line the manual documents, and the routes of every
table, the neighbours, the FDB, the links and the xfrm states and
policies are byte-identical before and after.  In layer2, vxlan and
ipsec mode over IPv4, and layer2 and ipsec over IPv6 (the ipsec mode's
policies; its states too where the kernel has ESP); and the gre mode
on a kernel without GRE, IPv4 and IPv6: one line, nothing half set
up."""

import difflib
import ipaddress
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_root(tap)
for tool in ("ip", "bridge"):
    if shutil.which(tool) is None:
        tap.skip_all("%s not installed" % tool)

DRIVER = os.path.join(knlib.BUILDDIR, "tests", "exec_driver")
DONE = r"^(done gen=\d+ applied=\d+ refused=\d+ failed=\d+|" \
    r"channel closed|timeout .*)$"

OUTSIDE = "pod prefix outside the cluster range"
LENGTH = "pod prefix length outside the cluster range"
HOSTBITS = "pod prefix has host bits set"
INSIDE = "node address inside the cluster range"
FLAGS = "unknown flags"
REQID = "reqid 1802371073"     # the ipsec mode's, as ip xfrm shows it
# What the ipsec mode takes off the underlay's MTU for the CNI file.
IPSEC_OVERHEAD = {4: 73, 6: 93}


class Executor(knlib.Lines):
    """One executor behind tests/exec_driver, inside ns."""

    def __init__(self, ns, args):
        self.tmp = knlib.private_dir()
        super().__init__(["ip", "netns", "exec", ns.name, DRIVER,
                          knlib.DAEMON, "--chroot",
                          os.path.join(self.tmp, "empty")] +
                         knlib.own_ids(args),
                         stdin=subprocess.PIPE)

    def send(self, *commands):
        """The script lines; the log mark before them."""
        mark = self.mark()
        self.proc.stdin.write("".join(c + "\n" for c in commands))
        self.proc.stdin.flush()
        return mark

    def do(self, *commands):
        """The commands, then a wait: (the line that ended the wait or
        None, the lines from the commands on)."""
        mark = self.send(*commands + ("wait",))
        i, m = self.wait_for(DONE, start=mark)
        return (m.group(0) if m else None), self.log(mark)

    def pid(self):
        """The executor's: the driver's child (ip netns exec execs)."""
        return knlib.children_of(self.proc.pid).get("executor")

    def stop(self):
        """End of the script: the driver stops the executor.  Its log,
        and whether the driver and the executor both exited 0 (a
        sanitizer's report makes either fail)."""
        self.proc.stdin.close()
        if self.wait(20) is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        shutil.rmtree(self.tmp, ignore_errors=True)
        out = self.log()
        return out, self.proc.returncode == 0 and out.endswith(
            "executor exited with status 0")


def packed(family, plen, prefix, node, flags=0, pad=0, stray=None):
    """A struct msg_intent as hex.  stray: "prefix" or "node", a byte
    set after that IPv4 address."""
    p = bytearray(ipaddress.ip_address(prefix).packed.ljust(16, b"\0"))
    n = bytearray(ipaddress.ip_address(node).packed.ljust(16, b"\0"))
    if stray == "prefix":
        p[4] = 1
    elif stray == "node":
        n[15] = 1
    return struct.pack("=BBBB16s16s16s", family, plen, flags, pad, bytes(p),
                       bytes(n), bytes(16)).hex()


def refusal(what, why):
    """The executor's line for a refused intent; what None: any name."""
    return re.compile("^executor: refused intent %s: %s$" % (
        ".*" if what is None else re.escape(what), re.escape(why)))


class Config:
    """A mode, a cluster range, this node and its valid peers, and the
    hostile intents for that family."""

    def __init__(self, mode, family):
        self.mode = mode
        self.family = family
        if family == 4:
            self.cluster = "100.96.0.0/12"
            self.addr = "172.20.0.10"
            self.underlay = "172.20.0.10/16"
            self.local = "100.96.0.0/24"
            self.peers = [("100.96.1.0/24", "172.20.0.11"),
                          ("100.96.2.0/24", "172.20.0.12")]
            self.extra = ("100.96.3.0/24", "172.20.0.13")
        else:
            self.cluster = "fd00:100::/48"
            self.addr = "fd00:200::10"
            self.underlay = "fd00:200::10/64"
            self.local = "fd00:100::/64"
            self.peers = [("fd00:100:0:1::/64", "fd00:200::11"),
                          ("fd00:100:0:2::/64", "fd00:200::12")]
            self.extra = ("fd00:100:0:3::/64", "fd00:200::13")
        p1, n1 = self.peers[0]
        net1, plen = p1.split("/")
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        # (prefix, node, reason), sent as text.
        if family == 4:
            self.hostile = [
                ("0.0.0.0/0", n1, LENGTH),
                ("10.1.0.0/24", n1, OUTSIDE),
                ("100.112.0.0/24", n1, OUTSIDE),
                ("fd00:100:0:1::/64", "fd00:200::11", OUTSIDE),
                # A peer's network address: in vxlan mode its
                # neighbour and FDB entry have the same keys.
                ("100.96.1.0/8", n1, LENGTH),
                ("100.96.1.0/33", n1, LENGTH),
                ("100.96.1.1/24", n1, HOSTBITS),
                (p1, "127.0.0.1", "node address is loopback"),
                (p1, "224.0.0.1", "node address is multicast"),
                (p1, "169.254.1.1", "node address is link-local"),
                (p1, "0.0.0.0", "node address in 0.0.0.0/8"),
                (p1, "255.255.255.255",
                 "node address is reserved or broadcast"),
                (p1, "100.96.2.1", INSIDE),
            ]
        else:
            self.hostile = [
                ("::/0", n1, LENGTH),
                ("2001:db8::/64", n1, OUTSIDE),
                ("100.96.1.0/24", "172.20.0.11", OUTSIDE),
                ("fd00:100:0:1::/40", n1, LENGTH),
                ("fd00:100:0:1::/129", n1, LENGTH),
                ("fd00:100:0:1::1/64", n1, HOSTBITS),
                (p1, "::1", "node address is unspecified or loopback"),
                (p1, "::", "node address is unspecified or loopback"),
                (p1, "fe80::1", "node address is link-local"),
                (p1, "ff02::1", "node address is multicast"),
                (p1, "::ffff:10.0.0.1", "node address is IPv4-mapped"),
                (p1, "fd00:100:0:2::1", INSIDE),
            ]
        # (hex, reason): what text cannot say.  An unknown family with
        # a peer's prefix bytes: in vxlan mode the same FDB key.
        plen = int(plen)
        self.raw = [
            (packed(af, plen, net1, n1, flags=1), FLAGS),
            (packed(af, plen, net1, n1, pad=1), FLAGS),
            (packed(7, plen, net1, n1), "unknown address family"),
        ]
        if family == 4:
            self.raw += [
                (packed(af, plen, net1, n1, stray="prefix"),
                 "IPv4 pod prefix with trailing bytes"),
                (packed(af, plen, net1, n1, stray="node"),
                 "IPv4 node address with trailing bytes"),
            ]
        # This node's own pod CIDR, which vxlan1 is addressed in.
        if family == 4:
            self.bad_local = [
                ("8.8.8.0/24", self.addr, OUTSIDE),
                ("100.96.0.0/8", self.addr, LENGTH),
                (self.local, "127.0.0.1", "node address is loopback"),
            ]
        else:
            self.bad_local = [
                ("2001:db8::/64", self.addr, OUTSIDE),
                (self.local, "fe80::1", "node address is link-local"),
            ]

    def args(self):
        # ipsec: the null cipher, which needs no key from the parent
        # (exec_driver sends none); the envelope is the same.
        extra = ["--ipsec-encryption", "none", "--ipsec-encapsulation",
                 "esp"] if self.mode == "ipsec" else []
        return ["--provider", self.mode, "--pod-cidr", self.cluster,
                "--max-nodes", "1", "-v"] + extra

    def tag(self):
        return "%s IPv%d" % (self.mode, self.family)


def pairs(intents):
    return " ".join("%s %s" % (p, n) for p, n in intents)


def esp_states():
    """Whether this kernel makes ESP states (the host's may make xfrm
    policies only)."""
    ns = knlib.Netns()
    try:
        ns.run("ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst",
               "192.0.2.2", "proto", "esp", "spi", "0x100", "mode",
               "tunnel", "enc", "ecb(cipher_null)", "")
        return True
    except subprocess.CalledProcessError:
        return False
    finally:
        ns.close()


# Without ESP every state the ipsec mode asks for fails, as many times
# as it is asked for: the failures are not counted then.
ESP = esp_states()


def counts(done, applied, refused, c=None):
    failed = r"\d+" if c is not None and c.mode == "ipsec" and not ESP \
        else "0"
    return done is not None and re.match(
        r"done gen=\d+ applied=%d refused=%d failed=%s$" % (
            applied, refused, failed), done) is not None


def xfrm_owned(ns):
    """The ipsec mode's states and policies (our reqid), as text."""
    out = []
    for what in ("state", "policy"):
        text = ns.run("ip", "xfrm", what).strip()
        out += [b for b in re.split(r"\n(?=src )", text) if REQID in b]
    return out


def logged(log, patterns):
    """The patterns no line of log matches."""
    lines = log.splitlines()
    return [p.pattern for p in patterns
            if not any(p.search(x) for x in lines)]


def underlay(ns, c):
    """eth0, a veth whose peer stays here too: an on-link network for
    the peers' addresses.  No duplicate address detection, so no
    link-local address or its route turns up in the middle of a
    comparison."""
    for conf in ("all", "default"):
        ns.run("sysctl", "-qw", "net.ipv6.conf.%s.accept_dad=0" % conf)
    ns.run("ip", "link", "add", "eth0", "type", "veth", "peer", "name",
           "eth1")
    ns.run("ip", "addr", "add", c.underlay, "dev", "eth0", "nodad")
    ns.run("ip", "link", "set", "eth1", "up")
    ns.run("ip", "link", "set", "eth0", "up")


def programmed(ns, c):
    """The peers' routes (and vxlan objects, or ipsec policies and
    states) are there, and only them."""
    if c.mode == "ipsec":
        have = xfrm_owned(ns)
        pols = [b for b in have if "\tdir " in b]
        return len(pols) == 9 * len(c.peers) and all(
            sum(p in b for b in pols) == 6 for p, _ in c.peers) and \
            len(have) - len(pols) == (2 * len(c.peers) if ESP else 0)
    have = knlib.owned(ns)
    if c.family == 4:
        return have == knlib.expected_owned(c.mode, c.peers)
    return len(have) == len(c.peers) and all(
        any(x.startswith("%s via %s dev eth0 " % p) for x in have)
        for p in c.peers)


def run(c):
    tag = c.tag()
    ns = knlib.Netns()
    ex = None
    try:
        underlay(ns, c)
        ex = Executor(ns, c.args())
        i, m = ex.wait_for(r"^ready$")
        if not tap.ok(m is not None, "%s: the executor is confined and "
                      "ready" % tag, ex.log()):
            return
        pid = ex.pid()

        # A valid snapshot first: the executor does program.
        done, log = ex.do("local %s %s" % (c.local, c.addr), "begin 1",
                          "add " + pairs(c.peers), "end 1 2")
        tap.ok(counts(done, 2, 0, c), "%s: a valid snapshot of two peers "
               "is applied" % tag, done)
        tap.ok(knlib.wait_until(lambda: programmed(ns, c), 5),
               "%s: the peers' objects are in the kernel" % tag,
               xfrm_owned(ns) if c.mode == "ipsec" else knlib.owned(ns))
        # What the parent's CNI file is made of: only what passed.
        mtu = 1500 - (0 if c.mode == "layer2" else
                      IPSEC_OVERHEAD[c.family] if c.mode == "ipsec" else
                      50 if c.family == 4 else 70)
        reports = re.findall(r"(?m)^node-net .*$", log)
        tap.eq(reports, ["node-net %s mtu %d" % (c.local, mtu)],
               "%s: the executor reports the accepted pod CIDR and MTU "
               "to the parent, once" % tag)
        knlib.wait_until(lambda: not ns.run("ip", "addr", "show",
                                            "tentative"), 5)
        before = ns.state()

        def same(desc):
            after = ns.state()
            tap.ok(after == before, "%s: %s: the kernel state is "
                   "byte-identical" % (tag, desc), "\n".join(
                       difflib.unified_diff(before.splitlines(),
                                            after.splitlines(), "before",
                                            "after", lineterm="")))

        def refused(commands, applied, nrefused, patterns, desc):
            done, log = ex.do(*commands)
            missing = logged(log, patterns)
            tap.ok(counts(done, applied, nrefused, c) and not missing,
                   "%s: %s" % (tag, desc), log + "\nmissing: %r" % missing)
            same(desc)

        # Each hostile intent alone, as an addition.
        for prefix, node, why in c.hostile:
            what = "%s via %s" % (prefix, node)
            refused(["add %s %s" % (prefix, node)], 0, 1,
                    [refusal(what, why)],
                    "add %s is refused: %s" % (what, why))
        for hexa, why in c.raw:
            refused(["raw MSG_INTENT_ADD " + hexa], 0, 1,
                    [refusal(None, why)],
                    "an intent with %s is refused" % why)

        # All of them in a snapshot with the valid peers, and as removals.
        texts = ["%s %s" % (p, n) for p, n, _ in c.hostile]
        raws = "".join(h for h, _ in c.raw)
        every = [refusal("%s via %s" % (p, n), w) for p, n, w in c.hostile]
        every += [refusal(None, w) for _, w in c.raw]
        nhostile = len(c.hostile) + len(c.raw)
        refused(["begin 2", "add %s %s" % (pairs(c.peers), " ".join(texts)),
                 "raw MSG_INTENT_ADD " + raws,
                 "end 2 %d" % (2 + nhostile)], 2, nhostile, every,
                "a snapshot of the peers and every hostile intent: only "
                "the peers are kept")
        refused(["del " + " ".join(texts)], 0, len(c.hostile),
                every[:len(c.hostile)],
                "removals of the hostile intents are refused")
        refused(["raw MSG_INTENT_DEL " + raws], 0, len(c.raw),
                every[len(c.hostile):],
                "removals of the malformed intents are refused")

        # --max-nodes 1: two intents at most.
        extra = "%s via %s" % c.extra
        full = "more than 2 intents (--max-nodes)"
        refused(["add %s %s" % c.extra], 0, 1, [refusal(extra, full)],
                "a third intent is refused: %s" % full)
        refused(["begin 3", "add %s %s %s" % (pairs(c.peers), *c.extra),
                 "end 3 3"], 2, 1, [refusal(extra, full)],
                "a snapshot of three intents keeps two")

        # Snapshots that do not add up: the kept table stays.
        p1 = "%s %s" % c.peers[0]
        refused(["begin 4", "add " + p1, "end 4 2"], 0, 2,
                [re.compile(r"^executor: snapshot 4 refused: 2 intents "
                            r"announced, 1 received$")],
                "a snapshot whose END counts more than it sent is refused")
        refused(["begin 5", "add " + p1, "end 6 1"], 0, 1,
                [re.compile(r"^executor: snapshot 6 refused: ")],
                "a snapshot whose END names another generation is refused")
        refused(["end 7 0"], 0, 0,
                [re.compile(r"^executor: snapshot 7 refused: ")],
                "an END without a BEGIN is refused")

        # This node's own pod CIDR and address, which vxlan1 carries.
        for cidr, addr, why in c.bad_local:
            what = "%s via %s" % (cidr, addr)
            refused(["local %s %s" % (cidr, addr), "add " + p1], 1, 0,
                    [re.compile("^executor: refused local pod CIDR %s: %s$"
                                % (re.escape(what), re.escape(why)))],
                    "this node as %s is refused: %s" % (what, why))

        tap.eq(re.findall(r"(?m)^node-net .*$", ex.log()), reports,
               "%s: a refused local pod CIDR is never reported to the "
               "parent" % tag)

        # Malformed messages: a protocol error closes the channel; the
        # executor stays, with its state, for the next watcher.
        hdr = struct.Struct("=IIII")
        me = ex.proc.pid
        malformed = [
            ("raw MSG_INTENT_ADD " + "00" * 37, "an ADD of 37 bytes",
             "wrong payload length for the type (type 15, 53 bytes)"),
            ("raw MSG_INTENT_ADD", "an empty ADD",
             "wrong payload length for the type (type 15, 16 bytes)"),
            ("raw MSG_SNAP_END " + "00" * 8, "a truncated SNAP_END",
             "wrong payload length for the type (type 17, 24 bytes)"),
            ("raw 99", "an unknown type",
             "unknown message type (type 99, 16 bytes)"),
            ("raw MSG_GEN_DONE " + "00" * 24, "a GEN_DONE from the watcher",
             "message type not allowed from this sender (type 18, 40 "
             "bytes)"),
            ("record 0f000000", "a record shorter than a header",
             "truncated message (shorter than the header) (type 0, 4 "
             "bytes)"),
            ("record " + hdr.pack(14, 40, 8, me).hex(),
             "a header longer than its record",
             "header length does not match the message (type 14, 16 "
             "bytes)"),
            ("record " + hdr.pack(14, 32, 8, me + 1).hex() + "00" * 16,
             "another sender pid",
             "sender pid does not match the handshake (type 14, 32 "
             "bytes)"),
        ]
        for command, desc, why in malformed:
            done, log = ex.do(command)
            missing = logged(log, [
                re.compile("^executor: protocol error on the watcher "
                           "channel: %s; message dropped$" % re.escape(why)),
                re.compile("^executor: closing the watcher channel$")])
            tap.ok(done == "channel closed" and not missing,
                   "%s: %s is a protocol error: the channel is closed" %
                   (tag, desc), log + "\nmissing: %r" % missing)
            same(desc)
            mark = ex.send("reconnect")
            i, m = ex.wait_for(r"^ready$", start=mark)
            done, log = ex.do("add " + p1)
            tap.ok(m is not None and knlib.alive(pid) and
                   counts(done, 1, 0, c), "%s: after %s the executor runs on "
                   "and serves a new channel" % (tag, desc), ex.log(mark))

        out, clean = ex.stop()
        tap.ok(clean, "%s: the executor lived through it all and stops "
               "cleanly" % tag, out)
        same("after the executor stopped")

        # A new executor adopts the objects; a first snapshot that does
        # not add up must not count as one: nothing is removed.
        ex = Executor(ns, c.args())
        i, m = ex.wait_for(r"^executor: adopted (\d+) (kernel objects|"
                           r"xfrm states and policies)")
        tap.ok(m is not None and int(m.group(1)) == len(
            xfrm_owned(ns) if c.mode == "ipsec" else knlib.owned(ns)),
               "%s: a new executor adopts what the last one left" % tag,
               ex.log())
        ex.wait_for(r"^ready$")
        refused(["local %s %s" % (c.local, c.addr), "begin 1", "add " + p1,
                 "end 1 2"], 0, 2,
                [re.compile(r"^executor: snapshot 1 refused: 2 intents "
                            r"announced, 1 received$")],
                "a new executor's first snapshot that does not add up "
                "removes nothing")
        out, clean = ex.stop()
        tap.ok(clean, "%s: the second executor stops cleanly too" % tag,
               out)
        ex = None
    finally:
        if ex is not None:
            ex.stop()
        ns.close()


def documented():
    """The reasons the manual lists for "refused intent", and those
    src/envelope.c can give."""
    with open(os.path.join(knlib.SRCDIR, "man", "kopeio-networkd.8")) as f:
        page = f.read()
    man = []
    # The reasons of an intent, and those of a malformed local node.
    for head in (".It Li refused intent ", ".It Li refused local node\\&: "):
        item = page.split(head, 1)[1].split("\n.It ", 1)[0]
        man += [re.sub(r" Ar (\S+) No ", r" \1 ", x) for x in
                re.findall(r"(?m)^\.Dq (.*?)(?: ,| \.)?$", item)]
    with open(os.path.join(knlib.SRCDIR, "src", "envelope.c")) as f:
        src = re.findall(r'return "([^"]+)";', f.read())
    return man, src


def gre_without_kernel(family):
    """The gre mode on a kernel without GRE (this host's, often; the
    VM's has it, see tests/test_gre.py): every tunnel fails, with one
    line that names what is missing, not one per peer and re-sync, and
    nothing is half set up: no route without its tunnel.  IPv6: an
    intent whose ip6gre tunnel's name could be another's is skipped
    with a line of its own."""
    c = Config("gre", family)
    kind, module, probe = (("gre", "ip_gre", "192.0.2.1") if family == 4
                           else ("ip6gre", "ip6_gre", "2001:db8::1"))
    what = "gre: IPv%d: a kernel without %s" % (family, module)
    ns = knlib.Netns()
    ex = None
    try:
        try:
            ns.run("ip", "link", "add", "probe", "type", kind, "remote",
                   probe)
            tap.skip(what + " is reported once", "this kernel has it")
            return
        except subprocess.CalledProcessError:
            pass
        underlay(ns, c)
        ex = Executor(ns, c.args())
        ex.wait_for(r"^ready$")
        # The second snapshot, in IPv6, swaps a peer for a /81 in the
        # /48: 33 bits of index, one more than a tunnel name holds (and
        # outside the other peer's /64, which it may not overlap).
        second = c.peers if family == 4 else [
            c.peers[0], ("fd00:100:0:3:8000::/81", "fd00:200::14")]
        done, log = ex.do("local %s %s" % (c.local, c.addr), "begin 1",
                          "add " + pairs(c.peers), "end 1 2")
        done2, log2 = ex.do("begin 2", "add " + pairs(second), "end 2 2")
        pat = re.compile(r"^executor: gre mode: the kernel has no GRE "
                         r"support \(%s\): no tunnel can be made" % module)
        lines = [x for x in (log + log2).splitlines() if pat.search(x)]
        tap.ok(done is not None and done.endswith("failed=2") and
               done2 is not None and done2.endswith(
                   "failed=%d" % (2 if family == 4 else 1)) and
               len(lines) == 1, what + " is reported once, for two peers "
               "and two snapshots", log + log2)
        if family == 6:
            tap.ok(re.search(r"(?m)^executor: gre mode: pod CIDR "
                             r"fd00:100:0:3:8000::/81: its index within "
                             r"--pod-cidr needs more than the 32 bits a "
                             r"tunnel name holds; peer skipped$", log2),
                   "gre: IPv6: a /81 in a /48 is skipped with a log line, "
                   "nothing asked of the kernel for it", log2)
        tap.eq(knlib.owned(ns), [], "gre: IPv%d: and no route is installed "
               "without its tunnel" % family)
        # The module may be loading for another namespace: tried again
        # after 1 s, 2 s, 4 s..., still with that one line.
        time.sleep(3.5)
        ex.do("begin 3", "add " + pairs(c.peers), "end 3 2")  # relays
        log = ex.log()
        tap.ok(len(re.findall(r"(?m)^executor: full re-sync$", log)) >= 1
               and len([x for x in log.splitlines() if pat.search(x)]) == 1,
               "gre: IPv%d: tried again within seconds, without another "
               "line" % family, log)
    finally:
        if ex is not None:
            ex.stop()
        ns.close()


def gre_backoff():
    """The gre mode on a kernel without GRE: the retries back off by
    the tries, not by the refused batches in between.  Eight snapshots
    refused within about a second (a cluster's nodes coming one by one)
    leave the tries 1 s, then 2 s, then 4 s apart, not 256 s (the
    back-off's bound, --sync-period, is an hour here)."""
    c = Config("gre", 4)
    ns = knlib.Netns()
    ex = None
    try:
        try:
            ns.run("ip", "link", "add", "probe", "type", "gre", "remote",
                   "192.0.2.1")
            tap.skip("gre: IPv4: refused batches between two tries leave "
                     "the back-off alone", "this kernel has ip_gre")
            return
        except subprocess.CalledProcessError:
            pass
        underlay(ns, c)
        ex = Executor(ns, c.args() + ["--sync-period", "1h"])
        ex.wait_for(r"^ready$")
        ex.do("local %s %s" % (c.local, c.addr), "begin 1",
              "add " + pairs(c.peers), "end 1 2")
        for gen in range(2, 9):
            ex.do("begin %d" % gen, "add " + pairs(c.peers),
                  "end %d 2" % gen)
        tries, deadline = 0, time.monotonic() + 60
        while tries < 3 and time.monotonic() < deadline:
            # The driver relays the executor's lines while it waits
            # (10 s, for no generation).
            ex.wait_for(DONE, start=ex.send("wait"), timeout=30)
            tries = len(re.findall(r"(?m)^executor: full re-sync$",
                                   ex.log()))
        said = re.findall(r"(?m)^executor: gre mode: the kernel has no GRE "
                          r"support \(ip_gre\)", ex.log())
        tap.ok(tries >= 3 and len(said) == 1, "gre: IPv4: eight refused "
               "snapshots leave the back-off alone: three tries come within "
               "a minute (1, 3 and 7 s after the first), with one line",
               ex.log())
    finally:
        if ex is not None:
            ex.stop()
        ns.close()


def ipsec_without_kernel():
    """The ipsec mode on a kernel without ESP (this host's; the VM's has
    it, see tests/test_ipsec.py): one line that names what is missing,
    not one per peer and snapshot.  The policies still go in, so pod
    traffic to the peers is dropped for want of a state, never sent in
    the clear."""
    c = Config("ipsec", 4)
    if ESP:
        tap.skip("ipsec: a kernel without ESP is reported once",
                 "this kernel makes ESP states")
        return
    ns = knlib.Netns()
    ex = None
    try:
        underlay(ns, c)
        ex = Executor(ns, c.args())
        ex.wait_for(r"^ready$")
        done, log = ex.do("local %s %s" % (c.local, c.addr), "begin 1",
                          "add " + pairs(c.peers), "end 1 2")
        done2, log2 = ex.do("begin 2", "add " + pairs(c.peers), "end 2 2")
        pat = re.compile(r"^executor: ipsec: the kernel cannot make ESP "
                         r"states \(.*\): it lacks ESP \(esp4, esp6\), "
                         r"the ecb\(cipher_null\) algorithm or ESP-in-UDP; "
                         r"no pod traffic is carried$")
        lines = [x for x in (log + log2).splitlines() if pat.search(x)]
        tap.ok(done is not None and re.search(r" failed=[1-9]\d*$", done)
               and len(lines) == 1, "ipsec: a kernel without ESP is "
               "reported once, for two peers and two snapshots", log + log2)
        tap.ok(programmed(ns, c), "ipsec: without ESP the policies are "
               "there and no state: pod traffic is dropped, not sent in "
               "the clear", "\n".join(xfrm_owned(ns)))
    finally:
        if ex is not None:
            ex.stop()
        ns.close()


OWN = "pod prefix overlaps this node's pod CIDR"


def local_raw(cidrs=(), addr4=None, addr6=None, has4=None, has6=None,
              pad=0):
    """A struct msg_local as hex: cidrs, up to two (family, "P/LEN")
    written as given; has4 and has6 default to whether the address is
    given."""
    fam, plen, net = [0, 0], [0, 0], [bytes(16), bytes(16)]
    for i, (af, cidr) in enumerate(cidrs):
        p, n = cidr.split("/")
        fam[i], plen[i] = af, int(n)
        net[i] = ipaddress.ip_address(p).packed.ljust(16, b"\0")
    a4 = ipaddress.ip_address(addr4).packed if addr4 else bytes(4)
    a6 = ipaddress.ip_address(addr6).packed if addr6 else bytes(16)
    return struct.pack("=2B2B16s16sBBH4s16s16s", fam[0], fam[1], plen[0],
                       plen[1], net[0], net[1],
                       int(addr4 is not None) if has4 is None else has4,
                       int(addr6 is not None) if has6 is None else has6,
                       pad, a4, a6, bytes(16)).hex()


class OwnPods:
    """For one Config: intents inside this node's own pod CIDR (where
    cni0 has its connected route), intents overlapping an accepted one,
    and messages about this node that say too much or too little."""

    def __init__(self, c):
        self.c = c
        v4 = c.family == 4
        af = socket.AF_INET if v4 else socket.AF_INET6
        p1, n1 = c.peers[0]
        p2, n2 = c.peers[1]
        self.stranger = "172.20.0.66" if v4 else "fd00:200::66"
        if v4:
            self.inside_local = ["100.96.0.5/32", "100.96.0.0/25",
                                 "100.96.0.128/25", "100.96.0.0/24",
                                 "100.96.0.0/16"]
            self.overlapping = [("100.96.1.0/25", (p1, n1)),
                                ("100.96.1.255/32", (p1, n1)),
                                ("100.96.2.0/23", (p2, n2))]
            self.bridge = "100.96.0.1/24"
            bad_addr = [("127.0.0.1", "node address is loopback"),
                        ("100.96.5.5", INSIDE),
                        ("224.0.0.9", "node address is multicast")]
        else:
            self.inside_local = ["fd00:100::5/128", "fd00:100::/65",
                                 "fd00:100::/64", "fd00:100::/56"]
            self.overlapping = [("fd00:100:0:1::/80", (p1, n1)),
                                ("fd00:100:0:2::/63", (p2, n2))]
            self.bridge = "fd00:100::1/64"
            bad_addr = [("::1", "node address is unspecified or loopback"),
                        ("fd00:100:0:9::1", INSIDE),
                        ("fe80::1", "node address is link-local")]
        key = "addr4" if v4 else "addr6"
        # (hex, line, what): this node without a pod CIDR, or malformed.
        self.bad_local = [(local_raw(**{key: a}),
                           "refused local node address %s: %s" % (a, why),
                           "%s without a pod CIDR" % a)
                          for a, why in bad_addr]
        local = (af, c.local)
        own = {key: c.addr}
        self.bad_local += [
            (local_raw([local], **own, **{"has4" if v4 else "has6": 2}),
             "refused local node: unknown flags", "a flag of 2"),
            (local_raw([local], pad=1, **own),
             "refused local node: unknown flags", "padding set"),
            (local_raw([local], addr4="127.0.0.1", has4=0,
                       **({} if v4 else own)),
             "refused local node: node address without its flag",
             "IPv4 address bytes without has4"),
            (local_raw([local], addr6="::1", has6=0,
                       **(own if v4 else {})),
             "refused local node: node address without its flag",
             "IPv6 address bytes without has6"),
            (local_raw([(9, c.local)], **own),
             "refused local node: unknown address family", "family 9"),
            (local_raw([local, local], **own),
             "refused local node: two pod CIDRs of one family",
             "two pod CIDRs of one family"),
            (local_raw([local, (0, c.local)], **own),
             "refused local node: pod CIDR without a family",
             "pod CIDR bytes of family 0"),
        ]

    def args(self):
        a = self.c.args()
        a[a.index("--max-nodes") + 1] = "4"
        return a

    def state_without(self, ns, keep):
        """Only keep's objects are programmed."""
        c = Config(self.c.mode, self.c.family)
        c.peers = keep
        return programmed(ns, c)

    def run(self):
        c = self.c
        tag = "own pods: " + c.tag()
        ns = knlib.Netns()
        ex = None
        try:
            underlay(ns, c)
            # Where the CNI bridge has this node's pods (a veth: a
            # bridge's timers would differ between two states).
            ns.run("ip", "link", "add", "cni0", "type", "veth", "peer",
                   "name", "pod0")
            ns.run("ip", "addr", "add", self.bridge, "dev", "cni0",
                   "nodad")
            ns.run("ip", "link", "set", "pod0", "up")
            ns.run("ip", "link", "set", "cni0", "up")
            ex = Executor(ns, self.args())
            ex.wait_for(r"^ready$")
            p1, n1 = c.peers[0]
            p2, n2 = c.peers[1]
            done, log = ex.do("local %s %s" % (c.local, c.addr), "begin 1",
                              "add " + pairs(c.peers), "end 1 2")
            tap.ok(counts(done, 2, 0, c) and knlib.wait_until(
                lambda: programmed(ns, c), 5), "%s: two peers are "
                "programmed" % tag, log)
            knlib.wait_until(lambda: not ns.run("ip", "addr", "show",
                                                "tentative"), 5)
            before = ns.state()

            def refused(commands, applied, nrefused, lines, desc):
                done, log = ex.do(*commands)
                missing = [x for x in lines if x not in log.splitlines()]
                after = ns.state()
                tap.ok(counts(done, applied, nrefused, c) and not missing
                       and after == before, "%s: %s" % (tag, desc),
                       log + "\nmissing: %r\n" % missing + "\n".join(
                           difflib.unified_diff(
                               before.splitlines(), after.splitlines(),
                               "before", "after", lineterm="")))

            s = self.stranger
            for p in self.inside_local:
                refused(["add %s %s" % (p, s)], 0, 1,
                        ["executor: refused intent %s via %s: %s" %
                         (p, s, OWN)], "%s inside or around this node's "
                        "pod CIDR %s is refused, nothing installed" %
                        (p, c.local))
            for p, (q, n) in self.overlapping:
                refused(["add %s %s" % (p, s)], 0, 1,
                        ["executor: refused intent %s via %s: pod prefix "
                         "overlaps the accepted %s via %s" % (p, s, q, n)],
                        "%s overlapping the accepted %s is refused" %
                        (p, q))
            p, (q, n) = self.overlapping[0]
            inl = self.inside_local[0]
            refused(["begin 2", "add %s %s %s %s %s" % (
                pairs(c.peers), p, s, inl, s), "end 2 4"], 2, 2,
                ["executor: refused intent %s via %s: pod prefix overlaps "
                 "the accepted %s via %s" % (p, s, q, n),
                 "executor: refused intent %s via %s: %s" % (inl, s, OWN)],
                "a snapshot with both keeps the peers only")
            # A removal of a prefix that is not the accepted one must not
            # take the objects it shares with it (vxlan: the neighbour
            # and FDB entry of the network address).
            refused(["del %s %s" % (p, n)], 1, 0, [],
                    "removing %s, which was never accepted, leaves %s's "
                    "objects" % (p, q))
            for hexa, line, what in self.bad_local:
                refused(["raw MSG_LOCAL " + hexa, "add " + pairs(c.peers)],
                        2, 0, ["executor: " + line], "this node with %s is "
                        "refused and changes nothing" % what)

            # This node's pod CIDR moves onto an accepted peer's: that
            # intent is withdrawn and its objects go.
            done, log = ex.do("local %s %s" % (p1, c.addr),
                              "add %s %s" % (p2, n2))
            line = "executor: withdrew intent %s via %s: %s" % (p1, n1, OWN)
            tap.ok(counts(done, 1, 0, c) and line in log.splitlines() and
                   knlib.wait_until(lambda: self.state_without(
                       ns, [(p2, n2)]), 5), "%s: a new local pod CIDR %s "
                   "withdraws the accepted intent for it and removes its "
                   "objects" % (tag, p1), log)
            done, log = ex.do("add %s %s" % (p1, n1))
            tap.ok(counts(done, 0, 1, c) and
                   "executor: refused intent %s via %s: %s" % (p1, n1, OWN)
                   in log.splitlines(), "%s: and it is refused while this "
                   "node has it" % tag, log)
            done, log = ex.do("local %s %s" % (c.local, c.addr),
                              "add %s %s" % (p1, n1))
            tap.ok(counts(done, 1, 0, c) and knlib.wait_until(
                lambda: programmed(ns, c), 5), "%s: accepted again once "
                "this node has its own pod CIDR back" % tag, log)
            out, clean = ex.stop()
            ex = None
            tap.ok(clean, "%s: the executor stops cleanly" % tag, out)
        finally:
            if ex is not None:
                ex.stop()
            ns.close()


CONFIGS = (Config("layer2", 4), Config("vxlan", 4), Config("layer2", 6),
           Config("ipsec", 4), Config("ipsec", 6))
man, src = documented()
tested = {w for c in CONFIGS for w in
          [x[2] for x in c.hostile + c.bad_local] + [x[1] for x in c.raw]}
tested.add("more than n intents (--max-nodes)")
OWN_PODS = [OwnPods(c) for c in (
    Config("layer2", 4), Config("vxlan", 4), Config("vxlan-legacy", 4),
    Config("layer2", 6), Config("ipsec", 4))]
tested |= {OWN, "pod prefix overlaps the accepted Ar prefix Ns Li / Ns Ar "
           "length Li via Ar address"}
tested |= {line.split(": ", 1)[1] for o in OWN_PODS
           for _, line, _ in o.bad_local}
tap.eq(sorted(set(man)), sorted(tested), "the manual lists exactly the "
       "reasons for a refused intent that this test provokes")
tap.ok(src and set(src) <= set(man), "every reason src/envelope.c gives "
       "is in the manual", sorted(set(src) - set(man)))
for config in CONFIGS:
    run(config)
gre_without_kernel(4)
gre_without_kernel(6)
gre_backoff()
ipsec_without_kernel()
for own in OWN_PODS:
    own.run()
tap.done()
