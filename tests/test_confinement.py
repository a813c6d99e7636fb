#!/usr/bin/env python3
"""Each process of a running daemon is confined as DESIGN.md says:
read from the kernel's own view of it (/proc), not from the daemon's
word.  And a forbidden system call kills a confined child."""

import os
import re
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402
from knlib import capmask  # noqa: E402

tap = knlib.Tap()
knlib.need_root(tap)

SLOTS = {"watcher": 0, "executor": 1, "arp-helper": 2, "metrics": 3}
PARENT_CAPS = capmask(knlib.CAP_SYS_CHROOT, knlib.CAP_SETUID,
                      knlib.CAP_SETGID, knlib.CAP_SETPCAP,
                      knlib.CAP_NET_ADMIN, knlib.CAP_KILL)
ROLE_CAPS = {"watcher": 0,
             "executor": capmask(knlib.CAP_NET_ADMIN),
             "arp-helper": capmask(knlib.CAP_NET_ADMIN),
             "metrics": 0}
# Descriptors each child holds: 0-2, control, then its peer channels
# (the metrics process: its listening socket).
ROLE_FDS = {"watcher": {0, 1, 2, 3, 4, 5}, "executor": {0, 1, 2, 3, 4},
            "arp-helper": {0, 1, 2, 3, 4}, "metrics": {0, 1, 2, 3, 4}}
ROLES = ["executor", "arp-helper", "watcher", "metrics"]
# A sanitizer build keeps the daemon's standard error on descriptor 6
# for the sanitizers' reports, and nothing else writes there.
SANITIZERS = os.environ.get("KN_SANITIZERS") == "yes"
SAN_FD = 6
# Resource limits per role (src/sandbox.c): descriptors, and address
# space as MiB plus KiB per node of --max-nodes (65,536 by default); no
# address-space limit in a sanitizer build, which reserves terabytes.
ROLE_LIMITS = {"watcher": (32, 128, 2), "executor": (32, 128, 8),
               "arp-helper": (32, 128, 2), "metrics": (64, 128, 0)}


def limits(pid):
    """{name: (soft, hard)} of /proc/PID/limits."""
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        for line in f.readlines()[1:]:
            m = re.match(r"(.+?)\s{2,}(\S+)\s+(\S+)", line)
            if m:
                out[m.group(1)] = (m.group(2), m.group(3))
    return out


def run(*args):
    return subprocess.run([knlib.DAEMON] + list(args), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


ns = knlib.Netns()
d = knlib.Daemon(["--provider", "vxlan-legacy", "--metrics-address",
                  "127.0.0.1:9922"], netns=ns)
try:
    pids = d.wait_ready(ROLES)
    tap.ok(pids is not None, "all four children report ready", d.log())
    if pids is None:
        tap.done()
    tap.eq(knlib.children_of(d.pid()), pids,
           "the parent's children in /proc are the four roles it reported")

    st = knlib.proc_status(d.pid())
    tap.eq(st["Uid"], [0, 0, 0, 0], "parent keeps uid 0")
    tap.eq(st["CapBnd"], PARENT_CAPS,
           "parent bounding set: chroot, setuid, setgid, setpcap, "
           "net_admin, kill")
    tap.eq(st["CapEff"], PARENT_CAPS, "parent effective set is the same")
    tap.eq(st["NoNewPrivs"], 1, "parent has no_new_privs")

    for role, pid in sorted(pids.items()):
        st = knlib.proc_status(pid)
        own = d.uid_base + SLOTS[role]
        tap.eq(st["Uid"], [own] * 4, "%s: real, effective, saved and fs "
               "uid are its own, --uid-base + %d" % (role, SLOTS[role]))
        tap.eq(st["Gid"], [own] * 4, "%s: all four gids are its own too" %
               role)
        for field in ("CapEff", "CapPrm", "CapBnd"):
            tap.eq(st[field], ROLE_CAPS[role], "%s: %s is %#x" %
                   (role, field, ROLE_CAPS[role]))
        tap.eq(st["CapInh"], 0, "%s: no inheritable capabilities" % role)
        tap.eq(st["CapAmb"], 0, "%s: no ambient capabilities" % role)
        tap.eq(st["NoNewPrivs"], 1, "%s: NoNewPrivs 1" % role)
        tap.eq(st["Seccomp"], 2, "%s: Seccomp 2 (filter)" % role)
        tap.eq(os.readlink("/proc/%d/root" % pid), d.chroot,
               "%s: root directory is the empty chroot" % role)
        fds = {int(f): os.readlink("/proc/%d/fd/%s" % (pid, f))
               for f in os.listdir("/proc/%d/fd" % pid)}
        tap.ok(ROLE_FDS[role] <= set(fds), "%s: holds its channels" % role,
               fds)
        # Beyond them the watcher's HTTPS client may hold sockets, the
        # executor and the arp-helper two netlink sockets each (command
        # and monitor), the metrics process its epoll descriptor and the
        # connections it accepted; no process holds a file or directory
        # of the host.
        lim = limits(pid)
        nofile, base, per_node = ROLE_LIMITS[role]
        tap.eq(lim.get("Max open files"), (str(nofile),) * 2,
               "%s: at most %d descriptors" % (role, nofile))
        tap.eq(lim.get("Max processes"), ("0", "0"),
               "%s: RLIMIT_NPROC 0: no process or thread" % role)
        want = "unlimited" if SANITIZERS else str((base << 20) +
                                                  (per_node << 10) * 65536)
        tap.eq(lim.get("Max address space"), (want, want),
               "%s: address space %s" % (role, want))
        for f in (0, 1, 2):
            tap.eq(fds.get(f), "/dev/null", "%s: descriptor %d is /dev/null"
                   % (role, f))
        stderr = os.readlink("/proc/%d/fd/2" % d.pid())
        tap.eq(sorted(f for f, t in fds.items() if t == stderr),
               [SAN_FD] if SANITIZERS else [],
               "%s: the daemon's standard error is held only on %s" %
               (role, "descriptor %d, for the sanitizers' reports" % SAN_FD
                if SANITIZERS else "no descriptor"))
        # What a compromised child writes to them goes nowhere.
        for f in (1, 2):
            with open("/proc/%d/fd/%d" % (pid, f), "w") as out:
                out.write("parent: forged by the %s on %d\n" % (role, f))
        extra = {f: t for f, t in fds.items() if f not in ROLE_FDS[role] and
                 not (SANITIZERS and f == SAN_FD)}
        # Each netlink socket's bus (Eth: 0 route, 12 netfilter) and
        # groups, by inode.
        with open("/proc/%d/net/netlink" % pid) as f:
            nl_socks = {line.split()[-1]: (int(line.split()[1]),
                                           int(line.split()[3], 16))
                        for line in f.readlines()[1:]}
        netlink = [nl_socks[t[8:-1]] for t in extra.values()
                   if t.startswith("socket:[") and t[8:-1] in nl_socks]
        # The executor: route and nftables, command and monitor each.
        nl_want = {"executor": 4, "arp-helper": 2}.get(role, 0)
        tap.ok(all(t.startswith("socket:") or (role == "metrics" and
                                                t == "anon_inode:[eventpoll]")
                   for t in extra.values()) and
               ((role in ("watcher", "metrics") and not netlink) or
                (nl_want and len(extra) == nl_want and
                 len(netlink) == nl_want) or not extra),
               "%s: holds no other descriptor but its own sockets" % role,
               fds)
        # NETLINK_NETFILTER (12): the executor's nftables command socket
        # and its monitor of NFNLGRP_NFTABLES (group 7), nobody else's.
        nft = sorted(g for bus, g in netlink if bus == 12)
        tap.eq(nft, [0, 1 << 6] if role == "executor" else [],
               "%s: %s" % (role, "holds a NETLINK_NETFILTER command socket "
                           "and an nftables monitor" if role == "executor"
                           else "holds no NETLINK_NETFILTER socket"))
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = [e.split(b"=")[0].decode() for e in f.read().split(b"\0")
                   if e]
        tap.ok(all(e in ("TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                        "LSAN_OPTIONS") for e in env),
               "%s: environment holds nothing but TZ and sanitizer "
               "settings" % role, env)

    cst = os.stat(d.chroot)
    tap.ok(stat.S_ISDIR(cst.st_mode) and cst.st_uid == 0 and
           stat.S_IMODE(cst.st_mode) == 0o755 and not os.listdir(d.chroot),
           "the chroot was created root-owned, 0755 and empty")
finally:
    rc = d.stop()
    ns.close()
tap.eq(rc, 0, "SIGTERM stops the daemon with status 0")
tap.ok("forged by the" not in d.log(),
       "nothing a child wrote to its descriptors 1 and 2 reached the "
       "daemon's output", [l for l in d.log().splitlines() if "forged" in l])

# The default mode runs no ARP helper.
d = knlib.Daemon([])
try:
    pids = d.wait_ready(["executor", "watcher"])
    tap.ok(pids is not None, "vxlan mode: executor and watcher ready",
           d.log())
    tap.ok("arp-helper" not in knlib.children_of(d.pid()),
           "vxlan mode starts no arp-helper")
    tap.ok("metrics" not in knlib.children_of(d.pid()),
           "without --metrics-address no metrics process")
finally:
    d.stop()

# --self-test: its table, then a child making a forbidden call.
tmp = knlib.private_dir()
try:
    r = run("--self-test", "--chroot", os.path.join(tmp, "empty"))
    tap.ok(r.returncode == 0, "--self-test passes", r.stdout + r.stderr)
    tap.ok(re.search(r"^metrics +\d+ +2000000003 +2000000003 .* ok$",
                     r.stdout, re.M),
           "--self-test checks the metrics process too", r.stdout)
    tap.ok(all(re.search(r"^%s +\d+ +%d +%d .* ok$" % (re.escape(role),
                                                     2000000000 + n,
                                                     2000000000 + n),
                         r.stdout, re.M) for role, n in SLOTS.items()),
           "--self-test shows each role's own uid and gid from the "
           "default --uid-base 2000000000", r.stdout)
    tap.ok("killed by SIGSYS: ok" in r.stdout,
           "--self-test: a confined child calling ptrace(2) dies of SIGSYS",
           r.stdout)
    tap.ok("parent: executor (pid" in r.stderr and
           "killed by SIGSYS (a system call its seccomp filter forbids)"
           in r.stderr, "the parent logs the SIGSYS death", r.stderr)
    # With --seccomp=log the call is only logged: the check must notice.
    r = run("--self-test", "--seccomp", "log", "--chroot",
            os.path.join(tmp, "empty"), *knlib.own_ids([]))
    tap.eq(r.returncode, 1, "--self-test --seccomp=log fails: nothing killed")
    tap.ok("was not killed: FAILED (--seccomp=log only logs)" in r.stdout,
           "--seccomp=log: the report says why", r.stdout)

    # Unsafe chroot directories are refused before anything starts.
    bad = os.path.join(tmp, "writable")
    os.mkdir(bad)
    os.chmod(bad, 0o777)
    r = run("--chroot", bad)
    tap.ok(r.returncode == 1 and "bad ownership or modes" in r.stderr,
           "a world-writable chroot is refused", r.stderr)
    full = os.path.join(tmp, "full")
    os.mkdir(full, 0o755)
    open(os.path.join(full, "file"), "w").close()
    r = run("--chroot", full)
    tap.ok(r.returncode == 1 and "not empty" in r.stderr,
           "a non-empty chroot is refused", r.stderr)
    r = run("--user", "root", "--chroot", os.path.join(tmp, "empty"))
    tap.ok(r.returncode == 1 and "is root" in r.stderr,
           "--user root is refused", r.stderr)
    r = run("--role", "executor")
    tap.ok(r.returncode == 1 and "only for the daemon's own children"
           in r.stderr, "--role by hand is refused", r.stderr)
    r = run("--role", "nosuch")
    tap.ok(r.returncode == 1 and "unknown role" in r.stderr,
           "an unknown --role is refused", r.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

# A compromised watcher has no network of its own: its filter kills
# socket and sendto to an address and fails connect, so it reaches
# neither the loopback nor any other address (the cloud metadata
# service, the kubelet, etcd).  watcher_probe confines itself with the watcher's own
# filter and tries; a listener in a namespace of our own says whether
# anything arrived.  With --seccomp=log the same probe does reach it,
# which shows the listener would notice.
PROBE = os.path.join(knlib.BUILDDIR, "tests", "watcher_probe")
REACH = r"""
import json, socket, subprocess, sys
addr, action = sys.argv[1], sys.argv[3]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
kind = socket.SOCK_DGRAM if action == "sendto" else socket.SOCK_STREAM
s = socket.socket(fam, kind)
s.bind((addr, 0))
if kind == socket.SOCK_STREAM:
    s.listen(8)
r = subprocess.run([sys.argv[2], action, addr, str(s.getsockname()[1])] +
                   sys.argv[4:], capture_output=True, text=True, timeout=120)
s.setblocking(False)
try:
    s.accept() if kind == socket.SOCK_STREAM else s.recv(16)
    got = "reached"
except BlockingIOError:
    got = "nothing"
print(json.dumps({"rc": r.returncode, "out": r.stdout, "err": r.stderr,
                  "got": got}))
"""
import json  # noqa: E402
ns = knlib.Netns()
tmp = knlib.private_dir()
try:
    ns.run("ip", "link", "add", "probe0", "type", "veth", "peer", "name",
           "probe1")
    ns.run("ip", "addr", "add", "192.0.2.1/24", "dev", "probe0")
    ns.run("ip", "addr", "add", "2001:db8::1/64", "dev", "probe0", "nodad")
    ns.run("ip", "link", "set", "probe0", "up")
    ns.run("ip", "link", "set", "probe1", "up")

    def reach(action, addr, *opts):
        out = ns.run("python3", "-c", REACH, addr, PROBE, action, "--chroot",
                     os.path.join(tmp, "empty"), *opts)
        return json.loads(out)

    r = reach("sendto", "127.0.0.1", "--seccomp", "log")
    tap.ok(r["got"] == "reached" and "sent" in r["out"],
           "watcher probe, --seccomp=log: a sendto reaches the listener "
           "(the check below can fail)", r)
    for action in ("socket", "connect", "sendto"):
        for addr in ("127.0.0.1", "192.0.2.1", "::1", "2001:db8::1"):
            # connect(2) fails without reaching the kernel (libcurl
            # 7.88 calls it on the socket the parent connected).
            r = reach(action, addr)
            tap.ok(r["got"] == "nothing" and (r["rc"] == -31 or (
                   action == "connect" and r["rc"] == 0 and
                   "refused: connect" in r["out"])),
                   "a confined watcher's %s to %s is killed by SIGSYS or "
                   "fails, and nothing arrives" % (action, addr), r)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
    ns.close()

tap.done()
