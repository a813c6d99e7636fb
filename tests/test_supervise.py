#!/usr/bin/env python3
"""Supervision: a killed child is restarted with backoff and its
channels re-wired while the others keep running; too many deaths end
the daemon with status 1; SIGTERM and SIGINT stop it in order; SIGHUP
reloads the configuration file.  The daemon runs in its own network
namespace, whose kernel state must not change."""

import os
import re
import signal
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
tap.done()
