#!/usr/bin/env python3
"""Supervision: a killed child is restarted with backoff and its
channels re-wired while the others keep running; too many deaths end
the daemon with status 1; SIGTERM and SIGINT stop it in order; SIGHUP
reloads the configuration file.  Each child runs as a uid of its own
(--uid-base), so no other process of the host, nor another child, can
signal it; ids in use refuse the start; a stopped child is found by
the liveness check, killed and restarted; a watcher that eats memory
stops at its limit and is restarted.  The daemon runs in its own
network namespace, whose kernel state must not change."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_root(tap)
ROLES = ["executor", "arp-helper", "watcher"]
PEERS = {"executor": ["watcher"], "arp-helper": ["watcher"],
         "watcher": ["executor", "arp-helper"]}

ns = knlib.Netns()
before = ns.state()
d = knlib.Daemon(["--provider", "vxlan-legacy"], netns=ns)
try:
    pids = d.wait_ready(ROLES)
    tap.ok(pids is not None, "all children ready", d.log())
    if pids is None:
        tap.done()
    for role in ROLES:
        mark = d.mark()
        old = pids[role]
        os.kill(old, signal.SIGKILL)
        i, m = d.wait_for(r"^parent: %s \(pid %d\) killed by SIGKILL$" %
                          (re.escape(role), old), start=mark)
        tap.ok(m is not None, "%s: the parent sees the SIGKILL" % role,
               d.log())
        i, m = d.wait_for(r"^parent: restarting the %s in 100 ms$" %
                          re.escape(role), start=mark)
        tap.ok(m is not None, "%s: restarted after 100 ms" % role, d.log())
        new = d.wait_ready([role], start=mark)
        tap.ok(new is not None and new[role] != old,
               "%s: a new process is ready" % role, d.log())
        if new is None:
            continue
        pids[role] = new[role]
        # Each surviving peer shook hands with the new process on a
        # fresh channel and is serving again, under the same pid.
        for peer in PEERS[role]:
            i, m = d.wait_for(r"^%s: new %s channel from the parent$" %
                              (re.escape(peer), re.escape(role)),
                              start=mark)
            tap.ok(m is not None, "%s: %s got the re-wired channel" %
                   (role, peer), d.log())
            again = d.wait_ready([peer], start=mark)
            tap.ok(again is not None and again[peer] == pids[peer],
                   "%s: %s ready again with the same pid %d" %
                   (role, peer, pids[peer]), d.log())
        others = {r: p for r, p in pids.items() if r != role}
        tap.ok(all(knlib.alive(p) for p in others.values()),
               "%s: the other children kept running" % role)
        tap.eq(knlib.children_of(d.pid()), pids,
               "%s: /proc shows exactly the current children" % role)
    tap.eq(ns.state(), before, "kernel state in the namespace is unchanged")
finally:
    mark = d.mark()
    rc = d.stop()
tap.eq(rc, 0, "SIGTERM: exit status 0")
tap.ok(not any(knlib.alive(p) for p in pids.values()),
       "SIGTERM: every child is gone")
i, m = d.wait_for(r"^parent: stopped$", timeout=1, start=mark)
tap.ok(m is not None, "SIGTERM: the parent logs 'stopped'", d.log())
tap.eq(ns.state(), before, "kernel state left as it was after the stop")

# SIGINT stops in order too.
d = knlib.Daemon([], netns=ns)
pids = d.wait_ready(["executor", "watcher"])
tap.ok(pids is not None, "second daemon ready", d.log())
d.signal(signal.SIGINT)
rc = d.wait(15)
tap.eq(rc, 0, "SIGINT: exit status 0")
tap.ok(pids is not None and not any(knlib.alive(p) for p in pids.values()),
       "SIGINT: every child is gone")
d.stop()

# Killing one role over and over: backoff doubles, then the daemon gives up.
d = knlib.Daemon([], netns=ns)
try:
    pids = d.wait_ready(["executor", "watcher"])
    tap.ok(pids is not None, "third daemon ready", d.log())
    delays = []
    for n in range(6):
        mark = d.mark()
        os.kill(pids["executor"], signal.SIGKILL)
        if n == 5:
            break
        i, m = d.wait_for(r"^parent: restarting the executor in (\d+) ms$",
                          start=mark)
        delays.append(int(m.group(1)) if m else None)
        new = d.wait_ready(["executor"], start=mark)
        if new is None:
            break
        pids["executor"] = new["executor"]
    tap.eq(delays, [100, 200, 400, 800, 1600],
           "restart backoff doubles from 100 ms")
    rc = d.wait(20)
    tap.eq(rc, 1, "the sixth death in 60 s ends the daemon with status 1")
    i, m = d.wait_for(r"^parent: the executor was restarted 5 times in 60 s "
                      r"and died again; giving up$", timeout=1)
    tap.ok(m is not None, "the log says why it gave up", d.log())
    tap.ok(not knlib.alive(pids["watcher"]),
           "giving up stops the other children too")
finally:
    d.stop()

# A watcher with a bug that eats memory (tests/greedy_watcher.c) is
# stopped by its role's RLIMIT_AS before the node feels it: malloc
# fails, the watcher ends with a clear line, the parent restarts it,
# and gives up on the crash loop as for any other.
MEMORY = "memory: a watcher that eats memory"
if os.environ.get("KN_SANITIZERS") == "yes":
    tap.skip(MEMORY + " stops at its limit", "a build with sanitizers "
             "sets no memory limit; make distcheck runs the plain build")
else:
    daemon = knlib.DAEMON
    knlib.DAEMON = os.path.join(knlib.BUILDDIR, "tests", "greedy_watcherd")
    d = knlib.Daemon(["-v"], netns=ns)
    knlib.DAEMON = daemon
    try:
        i, m = d.wait_for(r"^watcher: memory limit (\d+) MiB$",
                          timeout=120)
        limit = int(m.group(1)) if m else 0
        # 128 MiB and 2 KiB per --max-nodes (65,536 by default).
        tap.ok(limit == 128 + 2 * 65536 // 1024,
               MEMORY + ": its limit is 128 MiB and 2 KiB per node", d.log())
        i, m = d.wait_for(r"^watcher: greedy watcher: malloc failed after "
                          r"(\d+) MiB$")
        got = int(m.group(1)) if m else 0
        # Its image and libraries take the rest of the address space.
        tap.ok(limit - 64 < got < limit,
               MEMORY + ": it got most of its limit, never more", (got, limit))
        i, m = d.wait_for(r"^parent: watcher \(pid \d+\) exited with "
                          r"status 1$")
        tap.ok(m is not None, MEMORY + ": the parent logs its exit", d.log())
        i, m = d.wait_for(r"^parent: restarting the watcher in 100 ms$")
        tap.ok(m is not None, MEMORY + ": the parent restarts it", d.log())
        tap.eq(d.wait(60), 1, MEMORY + ": the crash loop ends the daemon "
               "with status 1")
        i, m = d.wait_for(r"^parent: the watcher was restarted 5 times in "
                          r"60 s and died again; giving up$", timeout=1)
        tap.ok(m is not None, MEMORY + ": the log says why it gave up",
               d.log())
    finally:
        d.stop()

# SIGHUP re-reads the configuration file.
tmp = knlib.private_dir()
conf = os.path.join(tmp, "config.yaml")


def write_conf(text):
    with open(conf, "w") as f:
        f.write(text)


write_conf("provider: vxlan\nlogLevel: 1\n")
d = knlib.Daemon(["-f", conf], netns=ns)
try:
    pids = d.wait_ready(["executor", "watcher"])
    tap.ok(pids is not None, "daemon with a configuration file ready",
           d.log())
    mark = d.mark()
    write_conf("provider: vxlan\nlogLevel: 4\n")
    d.signal(signal.SIGHUP)
    i, m = d.wait_for(r"^parent: configuration reloaded from %s$" %
                      re.escape(conf), start=mark)
    tap.ok(m is not None, "SIGHUP: configuration reloaded", d.log())
    for role in ("executor", "watcher"):
        i, m = d.wait_for(r"^%s: log verbosity 3$" % role, start=mark)
        tap.ok(m is not None, "SIGHUP: logLevel 4 reaches the %s" % role,
               d.log())

    mark = d.mark()
    write_conf("provider: gre\nlogLevel: 4\n")
    d.signal(signal.SIGHUP)
    i, m = d.wait_for(r"^parent: reload: provider cannot change while the "
                      r"daemon runs; restart it to apply$", start=mark)
    tap.ok(m is not None, "SIGHUP: a provider change is refused", d.log())

    mark = d.mark()
    write_conf("provider: vxlan\nnoSuchKey: 1\n")
    d.signal(signal.SIGHUP)
    i, m = d.wait_for(r"^parent: reload failed, keeping the running "
                      r"configuration: %s:2: unknown key \"noSuchKey\"$" %
                      re.escape(conf), start=mark)
    tap.ok(m is not None, "SIGHUP: a bad file is refused with its line",
           d.log())
    time.sleep(0.3)
    tap.ok(d.proc.poll() is None and
           all(knlib.alive(p) for p in pids.values()),
           "after the refused reloads everything still runs")
finally:
    rc = d.stop()
    ns.close()
    os.unlink(conf)
    os.rmdir(tmp)
tap.eq(rc, 0, "stopped cleanly")

# Every child a uid and gid of its own: nothing else can signal it.
SLOTS = {"watcher": 0, "executor": 1, "arp-helper": 2, "metrics": 3}
KILL0 = ("import errno, os, sys\n"
         "for pid in sys.argv[1:]:\n"
         "    try:\n"
         "        os.kill(int(pid), 0)\n"
         "        print(pid, 'signalled')\n"
         "    except OSError as e:\n"
         "        print(pid, errno.errorcode[e.errno])\n")


def kill0_as(uid, pids):
    """kill -0 on each pid from a process of uid (and gid): {pid: result}."""
    r = subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                        "--clear-groups", sys.executable, "-c", KILL0] +
                       [str(p) for p in pids], capture_output=True,
                       text=True, timeout=30)
    return dict(line.split() for line in r.stdout.splitlines())


ns = knlib.Netns()
d = knlib.Daemon(["--provider", "vxlan-legacy", "--metrics-address",
                  "127.0.0.1:9922"], netns=ns)
try:
    pids = d.wait_ready(list(SLOTS))
    tap.ok(pids is not None, "uids: all four children ready", d.log())
    if pids is not None:
        base = d.uid_base
        uids = {r: knlib.proc_status(p)["Uid"] for r, p in pids.items()}
        gids = {r: knlib.proc_status(p)["Gid"] for r, p in pids.items()}
        tap.eq(uids, {r: [base + SLOTS[r]] * 4 for r in SLOTS},
               "uids: each child runs as --uid-base + its slot")
        tap.eq(gids, {r: [base + SLOTS[r]] * 4 for r in SLOTS},
               "uids: and its gid is the same number")
        tap.eq(len({u[0] for u in uids.values()}), 4,
               "uids: four distinct uids")
        for uid, who in ((65534, "nobody, the uid all children shared"),
                         (54321, "an unrelated uid")):
            got = kill0_as(uid, pids.values())
            tap.eq(got, {str(p): "EPERM" for p in pids.values()},
                   "uids: a process of %s cannot signal any child" % who)
        for role in SLOTS:
            others = [p for r, p in pids.items() if r != role]
            got = kill0_as(base + SLOTS[role], others)
            tap.eq(got, {str(p): "EPERM" for p in others},
                   "uids: a process with the %s's uid cannot signal the "
                   "other children" % role)
finally:
    d.stop()
    ns.close()


# Ids in use: the daemon and -n refuse them with status 2.
def refused(argv, wrap=()):
    r = subprocess.run(list(wrap) + [knlib.DAEMON] + argv,
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stderr


tmp = knlib.private_dir()
api = ["--apiserver", "https://127.0.0.1:9", "--token-file",
       os.path.join(tmp, "token"), "--ca-file", os.path.join(tmp, "ca"),
       "--node-name", "node-a", "-s", os.path.join(tmp, "ctl.sock"),
       "--chroot", os.path.join(tmp, "empty")]
for name in ("token", "ca"):
    with open(os.path.join(tmp, name), "w") as f:
        f.write("x\n")
base = knlib.uid_base()
squatter = subprocess.Popen(["setpriv", "--reuid=%d" % (base + 2),
                             "--regid=%d" % (base + 2), "--clear-groups",
                             "sleep", "120"])
try:
    time.sleep(0.5)
    want = (r"kopeio-networkd: --uid-base %d: id %d \(base \+ 2\) is in use: "
            r"process %d \(sleep\) runs as uid %d; " %
            (base, base + 2, squatter.pid, base + 2))
    rc, err = refused(["-d", "--uid-base", str(base)] + api)
    tap.ok(rc == 2 and re.search(want, err),
           "clash: a process of the arp-helper's uid: the daemon refuses "
           "to start with status 2 and names it", (rc, err))
    tap.ok(not os.path.exists(os.path.join(tmp, "ctl.sock")),
           "clash: refused before it opened its control socket")
    rc, err = refused(["-n", "--uid-base", str(base)] + api)
    tap.ok(rc == 2 and re.search(want, err),
           "clash: -n reports it, status 2", (rc, err))
    rc, err = refused(["--self-test", "--uid-base", str(base),
                       "--chroot", os.path.join(tmp, "empty")])
    tap.ok(rc == 2 and re.search(want, err),
           "clash: --self-test refuses too, status 2", (rc, err))
finally:
    squatter.kill()
    squatter.wait()
passwd = os.path.join(tmp, "passwd")
shutil.copy("/etc/passwd", passwd)
with open(passwd, "a") as f:
    f.write("kn-clash:x:%d:%d::/nonexistent:/usr/sbin/nologin\n" %
            (base + 1, base + 1))
rc, err = refused(["-n", "--uid-base", str(base)] + api,
                  wrap=["unshare", "-m", "sh", "-c",
                        "mount --bind \"$0\" /etc/passwd && exec \"$@\"",
                        passwd])
tap.ok(rc == 2 and re.search(r"--uid-base %d: id %d \(base \+ 1\) is in use: "
                             r"/etc/passwd has the account kn-clash; " %
                             (base, base + 1), err),
       "clash: an account with the executor's uid in /etc/passwd is "
       "refused, status 2", (rc, err))
rc, err = refused(["-n", "--uid-base", str(base + 4)] + api)
tap.ok(rc == 0, "clash: the next four ids are free: -n passes", err)
shutil.rmtree(tmp, ignore_errors=True)

# A stopped executor and watcher: found by the liveness check, killed,
# restarted, and the node's routes follow the cluster again.
why = knlib.apiserver_missing("ping")
if why:
    tap.skip("liveness: a stopped child is restarted", why)
    tap.done()
import netcluster  # noqa: E402

# 60 s and 2 ms per --max-nodes (5,000 here, to keep the test short; 65,536
# by default: 191 s): 70 s.
LIVENESS = (r"^parent: the %s \(pid %d\) was silent for (\d+) ms: no answer "
            r"to a liveness check in 70 s; killing it$")
c = netcluster.Cluster(nodes=2, pods=1)
try:
    c.start_all(["-v", "--provider", "layer2", "--sync-period", "1h",
                 "--max-nodes", "5000"])
    tap.ok(c.wait_all(r"^watcher: generation \d+ committed"),
           "liveness: both nodes committed their first generation")
    res = c.converge_pings()
    tap.ok(res and all(ok for _, _, ok in res), "liveness: pods ping")
    n0, n1 = c.nodes
    d = n0.daemon
    pids = d.wait_ready(["executor", "watcher"])
    mark = d.mark()
    for role in ("executor", "watcher"):
        os.kill(pids[role], signal.SIGSTOP)
    for role in ("executor", "watcher"):
        # 5 s between checks, 70 s for an answer: well inside 200 s.
        i, m = d.wait_for(LIVENESS % (role, pids[role]), timeout=200,
                          start=mark)
        tap.ok(m is not None and int(m.group(1)) >= 70000,
               "liveness: the stopped %s is found silent and killed" % role,
               d.log(mark))
        i, m = d.wait_for(r"^parent: %s \(pid %d\) killed by SIGKILL$" %
                          (role, pids[role]), start=mark)
        tap.ok(m is not None, "liveness: the %s's death is logged" % role,
               d.log(mark))
    new = d.wait_ready(["executor", "watcher"], timeout=60, start=mark)
    tap.ok(new is not None and all(new[r] != pids[r] for r in new),
           "liveness: a new executor and watcher are ready", d.log(mark))
    rc, out, err = d.ctl("show", "status")
    tap.ok(rc == 0 and re.search(r"^executor +\d+ +running +1 ", out, re.M)
           and re.search(r"^watcher +\d+ +running +1 ", out, re.M),
           "liveness: kopeio-networkctl status counts one restart each",
           out + err)
    # The new pair follows the cluster: a node's new pod CIDR.
    c.renumber(n1, 7)
    res = c.converge_pings(timeout=60)
    tap.ok(res and all(ok for _, _, ok in res),
           "liveness: after the restart the routes follow a renumbered "
           "node", [(p.addr, q.addr, ok) for p, q, ok in res])
    tap.ok(d.proc.poll() is None, "liveness: the daemon kept running")
finally:
    c.close()
tap.done()
