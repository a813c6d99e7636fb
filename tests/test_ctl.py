#!/usr/bin/env python3
"""kopeio-networkctl against real daemons in a three-node namespace
cluster: show status, nodes and routes as the daemon and the kernel
have them, reload (applied, refused, failed), resync; the control
socket is root's only, one per daemon, and cleaned up; the pid file;
reload re-reads the ipsec key file and refuses a bad one."""

import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_apiserver(tap, "ping", "setpriv", "nft")
import netcluster  # noqa: E402

COMMITTED = r"^watcher: generation \d+ committed"
wait_until = netcluster.wait_until


def ctl(*args):
    r = subprocess.run([knlib.CTL] + list(args), capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


# Without a daemon: a clear error, and usage errors are status 2.
rc, out, err = ctl("-s", "/nonexistent/kn.sock", "show", "status")
tap.ok(rc == 1 and "cannot reach the daemon on /nonexistent/kn.sock" in err
       and "is kopeio-networkd running?" in err,
       "no daemon: status 1 and a message that says so", err)
for argv in (["show"], ["show", "everything"], ["reload", "now"], [],
             ["--bogus", "show", "status"]):
    rc, out, err = ctl(*argv)
    tap.ok(rc == 2 and "usage: kopeio-networkctl" in err,
           "usage error for %r: status 2" % argv, "%d %s" % (rc, err))
rc, out, err = ctl("--help")
tap.ok(rc == 0 and "show routes" in out and "show masquerade" in out,
       "--help on standard output")

c = netcluster.Cluster(nodes=3, pods=1)
try:
    tmp = knlib.private_dir()
    conf = os.path.join(tmp, "config.yaml")
    pidfile = os.path.join(tmp, "kn.pid")
    with open(conf, "w") as f:
        f.write("provider: vxlan\nlogLevel: 1\n")
    n0 = c.nodes[0]
    n0.start(["-f", conf, "--pid-file", pidfile])
    for n in c.nodes[1:]:
        n.start(["--provider", "vxlan"])
    tap.ok(c.wait_all(COMMITTED), "every daemon commits its generation")
    d = n0.daemon

    tap.ok(os.path.exists(pidfile) and
           open(pidfile).read() == "%d\n" % d.pid(),
           "the pid file holds the parent's pid")
    st = os.stat(d.socket)
    tap.ok(oct(st.st_mode & 0o777) == "0o600" and st.st_uid == 0,
           "the control socket is mode 0600, owned by root",
           oct(st.st_mode))

    # show status, once the parent has both children's counters: the
    # watcher's commit can come a second before the executor's report.
    def status_ok():
        rc, out, err = d.ctl("show", "status")
        return (rc == 0 and "peers: 2 of 3 nodes" in out and
                "ready: yes" in out and out)
    out = wait_until(status_ok, 60)
    tap.ok(out, "show status: 2 peers of 3 nodes", d.ctl("show", "status"))
    out = out or ""
    tap.ok("provider vxlan" in out and "ready: yes" in out,
           "show status: the provider, and ready", out)
    tap.ok(re.search(r"last sync: generation \d+ at \d{4}-\d\d-\d\d "
                     r"\d\d:\d\d:\d\d UTC \(\d+s ago\): 2 intents accepted, "
                     r"0 refused, 0 kernel objects failed", out),
           "show status: the last generation and its result", out)
    tap.ok("2 intents, 6 kernel objects" in out,
           "show status: intents and kernel objects (vxlan: 3 a peer)", out)
    for role in ("watcher", "executor"):
        tap.ok(re.search(r"^%s\s+\d+\s+running\s+0\s+\S+$" % role, out,
                         re.M), "show status: the %s runs" % role, out)
    tap.ok(re.search(r"^arp-helper\s+-\s+off", out, re.M) and
           re.search(r"^metrics\s+-\s+off", out, re.M),
           "show status: the processes this mode does not run are off",
           out)

    # show nodes
    rc, out, err = d.ctl("show", "nodes")
    lines = out.splitlines()
    tap.ok(rc == 0 and len(lines) == 4 and lines[0].split()[0] == "NAME",
           "show nodes: a header and three nodes", out + err)
    for n in c.nodes:
        want = r"^%s%s\s+%s\s+%s$" % (re.escape(n.name),
                                       r" \(this\)" if n is n0 else "",
                                       re.escape(n.addr),
                                       re.escape(n.pod_cidr))
        tap.ok(re.search(want, out, re.M),
               "show nodes: %s, its address and pod CIDR" % n.name, out)

    # show routes: in the kernel, then one taken away under the executor
    rc, out, err = d.ctl("show", "routes")
    for n in c.nodes[1:]:
        tap.ok(re.search(r"^%s\s+%s\s+installed \(3/3\)$" %
                         (re.escape(n.pod_cidr), re.escape(n.addr)), out,
                         re.M), "show routes: %s installed" % n.pod_cidr,
               out)
    tap.ok(n0.pod_cidr not in out, "show routes: no route to itself", out)

    # show masquerade: the table as the kernel has it, and in status
    rc, out, err = d.ctl("show", "masquerade")
    tap.ok(rc == 0 and out.startswith("masquerade on: from 100.96.0.0/12\n"
                                      "repairs 0\n"
                                      "table inet kopeio: present, as "
                                      "configured\n"
                                      "chain postrouting: type nat hook "
                                      "postrouting priority 100 policy "
                                      "accept\n"
                                      "rule 1: inet kopeio postrouting"),
           "show masquerade: the flags, the table, its chain", out + err)
    tap.ok("[ payload load 4b @ network header + 12 => reg 1 ]" in out and
           "[ masq flags 0x10 ]" in out and "rule 2:" not in out,
           "show masquerade: the one rule, expression by expression", out)
    tap.ok("\nmasquerade: table inet kopeio, rules 1, repairs 0\n" in
           d.ctl("show", "status")[1], "show status: the masquerade table")
    n0.run("nft", "add", "rule", "inet", "kopeio", "postrouting", "ip",
           "daddr", "192.0.2.0/24", "return")
    tap.ok(wait_until(lambda: "repairs 1\n" in d.ctl("show", "masquerade")[1]
                      and "as configured" in d.ctl("show", "masquerade")[1]),
           "show masquerade: a rule added by hand is taken out, and the "
           "repair counted", d.ctl("show", "masquerade")[1])

    # resync: the watcher lists again, the executor re-reads the kernel
    mark = d.mark()
    seq = len(c.api.requests())
    rc, out, err = d.ctl("resync")
    tap.ok(rc == 0 and "re-sync started" in out, "resync answers", out + err)
    i, m = d.wait_for(r"^watcher: listed 3 nodes", 15, mark)
    tap.ok(m is not None, "resync: the watcher lists the nodes again",
           d.log(mark))
    lists = [r["query"] for r in c.api.requests()[seq:]
             if r["kind"] == "list"]
    tap.ok(lists and lists[0].get("resourceVersion", "0") != "0" and
           "limit" not in lists[0],
           "resync: at the last version seen, whole (the watch cache's, "
           "never older than the map)", lists)
    i, m = d.wait_for(r"^executor: re-sync asked for", 15, mark)
    tap.ok(m is not None, "resync: the executor re-reads the kernel",
           d.log(mark))

    # reload: a run-time setting applies, a fixed one is refused
    with open(conf, "w") as f:
        f.write("provider: vxlan\nlogLevel: 3\nmtu: 1300\n")
    mark = d.mark()
    rc, out, err = d.ctl("reload")
    tap.ok(rc == 0 and out.strip() == "configuration reloaded; not applied "
           "until a restart: mtu", "reload: applied, mtu refused",
           out + err)
    i, m = d.wait_for(r"^parent: reload: mtu cannot change while the "
                      r"daemon runs; restart it to apply$", 10, mark)
    tap.ok(m is not None, "reload: the refusal is logged", d.log(mark))
    i, m = d.wait_for(r"^executor: log verbosity 2$", 10, mark)
    tap.ok(m is not None, "reload: logLevel 3 reaches the children",
           d.log(mark))
    # The masquerade's settings cannot change either.
    with open(conf, "w") as f:
        f.write("provider: vxlan\nmasquerade: false\n"
                "nonMasqueradeCIDRs: [10.0.0.0/8]\n")
    rc, out, err = d.ctl("reload")
    tap.ok(rc == 0 and out.strip() == "configuration reloaded; not applied "
           "until a restart: masquerade, no-masquerade",
           "reload: masquerade and no-masquerade refused", out + err)
    # A broken file: refused with its line, nothing changes.
    with open(conf, "w") as f:
        f.write("provider: vxlan\n\nbogus: 1\n")
    rc, out, err = d.ctl("reload")
    tap.ok(rc == 1 and ("reload failed, keeping the running configuration: "
                        "%s:3: unknown key \"bogus\"" % conf) in err,
           "reload: a bad file is refused, with its line", out + err)
    # SIGHUP does the same as reload.
    with open(conf, "w") as f:
        f.write("provider: vxlan\nlogLevel: 1\n")
    mark = d.mark()
    d.signal(signal.SIGHUP)
    i, m = d.wait_for(r"^parent: configuration reloaded from ", 10, mark)
    tap.ok(m is not None, "SIGHUP reloads the file", d.log(mark))

    # Only root may connect: the socket's mode, then the credentials.
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", knlib.CTL, "-s", d.socket, "show",
                        "status"], capture_output=True, text=True,
                       timeout=30)
    tap.ok(r.returncode == 1 and "Permission denied" in r.stderr and
           "root's only" in r.stderr, "a non-root user is refused",
           r.stderr)

    # One daemon a socket: a second one on the same socket refuses.
    second = knlib.Daemon(["-s", d.socket])
    try:
        rc = second.wait(20)
        tap.ok(rc == 1 and "another daemon is running" in second.log(),
               "a second daemon on the same socket refuses to start",
               second.log())
    finally:
        second.stop()
    rc, out, err = d.ctl("show", "status")
    tap.ok(rc == 0, "the first daemon still answers", err)

    # A removed node leaves show nodes and show routes.
    gone = c.nodes[2]
    c.api.control("DELETE", "/nodes/" + gone.name)
    tap.ok(wait_until(lambda: gone.pod_cidr not in d.ctl("show",
                                                        "routes")[1], 15),
           "show routes: a deleted node's route is gone")
    tap.ok(gone.name not in d.ctl("show", "nodes")[1],
           "show nodes: the deleted node is gone")

    # A killed watcher: show nodes fails clearly, then the restart shows.
    mark = d.mark()
    os.kill(knlib.children_of(d.pid())["watcher"], signal.SIGKILL)
    i, m = d.wait_for(r"^parent: watcher ready", 20, mark)
    tap.ok(m is not None and wait_until(
        lambda: re.search(r"^watcher\s+\d+\s+running\s+1\s",
                          d.ctl("show", "status")[1], re.M), 10),
           "show status: the watcher's restart is counted",
           d.ctl("show", "status")[1])

    # Stopped: the socket and the pid file are removed.
    sock = d.socket
    n0.stop()
    tap.ok(not os.path.exists(sock) and not os.path.exists(pidfile),
           "the socket and the pid file go with the daemon")
    rc, out, err = ctl("-s", sock, "show", "status")
    tap.ok(rc == 1 and "cannot reach the daemon" in err,
           "after the stop: cannot reach the daemon", err)

    # A socket left by a daemon that was killed is taken over.
    n0.start(["-f", conf])
    tap.ok(n0.daemon.wait_for(COMMITTED, 20)[1] is not None,
           "restarted with the same configuration")
    sock = n0.daemon.socket
    n0.daemon.signal(signal.SIGKILL)
    n0.daemon.wait(10)
    tap.ok(os.path.exists(sock), "a killed daemon leaves its socket")
    again = knlib.Daemon(["-s", sock])
    try:
        i, m = again.wait_for(r"^parent: starting", 20)
        rc = wait_until(lambda: ctl("-s", sock, "show", "status")[0] == 0,
                        15)
        tap.ok(m is not None and rc, "a new daemon takes over a stale socket",
               again.log())
    finally:
        again.stop()
finally:
    c.close()

# A compromised watcher's table (tests/hostile_watcher.c): names without
# a NUL, names with terminal escapes.  The parent cuts and cleans them
# and says so; ctl neither crashes (ASan) nor puts a control byte out.
saved = knlib.DAEMON
knlib.DAEMON = os.path.join(knlib.BUILDDIR, "tests", "hostile_watcherd")
try:
    d = knlib.Daemon([])
finally:
    knlib.DAEMON = saved
try:
    tap.ok(wait_until(lambda: d.ctl("show", "status")[0] == 0, 20),
           "hostile watcher: the daemon answers", d.log())
    # The control socket answers before the watcher is up.
    d.wait_ready(["watcher"], timeout=120)
    mark = d.mark()
    rc, out, err = d.ctl("show", "nodes")
    tap.ok(rc == 0 and err == "", "hostile watcher: show nodes succeeds",
           (rc, out, err))
    tap.ok(all(0x20 <= ord(ch) < 0x7f for ch in (out + err).replace(
        "\n", "")), "hostile watcher: no control byte in ctl's output",
        repr(out + err))
    names = [ln.split()[0] for ln in out.splitlines()[1:]]
    tap.eq(names, ["evil?]0;pwned??[2J", "node-good", "y" * 251 + "?[",
                   "z" * 253, "z" * 253], "hostile watcher: every record, cut at its "
           "field and made printable; the good name as sent")
    tap.ok("node-good (this)" in out, "hostile watcher: the good record "
           "whole", out)
    tap.ok(d.wait_for(r"^parent: control socket: the watcher sent 4 node "
                      r"names that are not Kubernetes names; shown with "
                      r"'\?' for what is not printable, the first as "
                      r"\"evil\?\]0;pwned\?\?\[2J\"$", 10, mark)[1],
           "hostile watcher: the parent says so", d.log(mark))
finally:
    d.stop()

# Files the parent handles as root: the control socket and the pid file
# only in directories root alone may write; a pid file that is a link,
# or a temporary file planted as a hard link, is never written through;
# at exit the pid file goes only if it is still the daemon's.
def refused(args, want, what):
    d = knlib.Daemon(args)
    try:
        rc = d.wait(20)
        tap.ok(rc == 1 and d.wait_for(want, 1)[1] is not None,
               "%s: refused, status 1 and a line naming it" % what,
               (rc, d.log()))
    finally:
        d.stop()


fdir = knlib.private_dir()
try:
    opendir = os.path.join(fdir, "open")
    os.mkdir(opendir)
    os.chmod(opendir, 0o1777)
    refused(["-s", os.path.join(opendir, "kn.sock")],
            r"^kopeio-networkd: control socket %s/kn\.sock: bad ownership "
            r"or modes for %s \(must be owned by root and not writable by "
            r"group or others\)$" % (re.escape(opendir), re.escape(opendir)),
            "a control socket in a world-writable directory")
    refused(["--pid-file", os.path.join(opendir, "kn.pid")],
            r"^kopeio-networkd: --pid-file %s/kn\.pid: bad ownership or "
            r"modes for %s " % (re.escape(opendir), re.escape(opendir)),
            "a pid file in a world-writable directory")
    victim = os.path.join(fdir, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    pid = os.path.join(fdir, "kn.pid")
    os.symlink(victim, pid)
    refused(["--pid-file", pid],
            r"^kopeio-networkd: --pid-file %s: a symbolic link \(uid 0, "
            r"mode 0777\): not a pid file of root's to replace$" %
            re.escape(pid), "a symbolic link at the pid file's path")
    tap.ok(os.path.islink(pid) and open(victim).read() == "precious\n",
           "the link and its target are untouched")
    if os.path.lexists(pid):
        os.unlink(pid)
    os.link(victim, pid + ".tmp")
    d = knlib.Daemon(["--pid-file", pid])
    try:
        tap.ok(wait_until(lambda: d.ctl("show", "status")[0] == 0, 20),
               "a stale pid.tmp (a hard link) does not stop the daemon",
               d.log())
        tap.ok(open(victim).read() == "precious\n" and
               open(pid).read() == "%d\n" % d.pid(),
               "the file it was a link to is not truncated or written; the "
               "pid file is", open(victim).read())
        # Another daemon's pid in it now: not ours to remove at exit.
        with open(pid + ".x", "w") as f:
            f.write("1\n")
        os.rename(pid + ".x", pid)
        mark = d.mark()
        d.signal(signal.SIGTERM)
        d.wait(20)
        tap.ok(os.path.exists(pid) and open(pid).read() == "1\n",
               "a pid file replaced since is left at exit")
        tap.ok(d.wait_for(r"^parent: --pid-file %s: no longer the file "
                          r"this daemon wrote; left in place$" %
                          re.escape(pid), 5, mark)[1],
               "and the daemon says so", d.log(mark))
    finally:
        d.stop()

    # -n reports what the daemon would refuse: a key file that is a
    # FIFO (without hanging) or that others can read, a CNI directory
    # under a world-writable one.
    token = os.path.join(fdir, "token")
    with open(token, "w") as f:
        f.write("token\n")

    def check_n(*args):
        r = subprocess.run(
            [knlib.DAEMON, "-n", "--apiserver", "https://127.0.0.1:6443",
             "--token-file", token, "--ca-file", token, "--node-name",
             "node-0", "--chroot", os.path.join(fdir, "empty")] +
            knlib.own_ids(args), capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL)
        return r.returncode, r.stderr
    fifo = os.path.join(fdir, "key.fifo")
    os.mkfifo(fifo, 0o600)
    rc, err = check_n("--provider", "ipsec", "--ipsec-key-file", fifo)
    tap.ok(rc == 1 and err == "kopeio-networkd: --ipsec-key-file %s: not "
           "a regular file\n" % fifo, "-n: a FIFO as the key file is "
           "refused, without hanging", (rc, err))
    key = os.path.join(fdir, "key")
    with open(key, "w") as f:
        f.write("1 %s\n" % ("ab" * 32))
    os.chmod(key, 0o644)
    rc, err = check_n("--provider", "ipsec", "--ipsec-key-file", key)
    tap.ok(rc == 1 and err == "kopeio-networkd: --ipsec-key-file %s: "
           "readable by group or others (mode 0644; a key must be root's "
           "alone: 0600 or 0400)\n" % key, "-n: a key file others can read "
           "is refused", (rc, err))
    os.mkdir(os.path.join(opendir, "net.d"), 0o755)
    rc, err = check_n("--cni-config", os.path.join(opendir, "net.d",
                                                   "10-kopeio.conflist"))
    tap.ok(rc == 1 and err == "kopeio-networkd: --cni-config: directory "
           "%s/net.d: bad ownership or modes for %s (must be owned by root "
           "and not writable by group or others)\n" % (opendir, opendir),
           "-n: a CNI directory under a world-writable one is refused",
           (rc, err))
finally:
    shutil.rmtree(fdir, ignore_errors=True)

# ipsec: reload re-reads --ipsec-key-file.  A bad file, or a new secret
# under the running key id, is refused with a line and the running key
# kept; a new key id is taken.  No secret ever reaches the log.
kdir = knlib.private_dir()
key = os.path.join(kdir, "key")
SECRETS = ("11" * 32, "22" * 32, "33" * 32)


def put_key(text):
    with open(key + ".new", "w") as f:
        f.write(text)
    os.chmod(key + ".new", 0o600)
    os.rename(key + ".new", key)


put_key("1 %s\n" % SECRETS[0])
d = knlib.Daemon(["--provider", "ipsec", "--pod-cidr", "100.96.0.0/12",
                  "--ipsec-key-file", key])
try:
    tap.ok(wait_until(lambda: d.ctl("show", "status")[0] == 0, 20),
           "ipsec: a daemon with key 1 answers", d.log())
    keeping = r"^parent: ipsec: keeping key 1: --ipsec-key-file %s" % \
        re.escape(key)
    for text, why in (("1 %s\n" % SECRETS[0][:32], ": the secret has 128 "
                       "bits; at least 256"),
                      ("x %s\n" % SECRETS[1], ": the file must hold one "
                       "line: a "),
                      ("", ": the file must hold one line: a "),
                      ("1 %s\n" % SECRETS[1], " has a new secret under "
                       "the same key id; a new key needs a new id$")):
        put_key(text)
        mark = d.mark()
        rc, out, err = d.ctl("reload")
        i, m = d.wait_for(keeping + why, 10, mark)
        tap.ok(rc == 0 and m is not None, "ipsec reload: %r is refused and "
               "key 1 kept" % text[:12], d.log(mark) + err)
    put_key("2 %s\n" % SECRETS[2])
    mark = d.mark()
    d.ctl("reload")
    i, m = d.wait_for(r"^parent: ipsec: --ipsec-key-file %s has key 2 now; "
                      r"rotating to it$" % re.escape(key), 10, mark)
    tap.ok(m is not None, "ipsec reload: a new key id is taken",
           d.log(mark))
    log = d.log().lower()
    tap.ok(not any(x in log for x in SECRETS + (SECRETS[0][:32],)),
           "ipsec: no secret, whole or in part, in the log")
finally:
    d.stop()
    shutil.rmtree(kdir, ignore_errors=True)
tap.done()
