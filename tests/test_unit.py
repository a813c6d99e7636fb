#!/usr/bin/env python3
"""contrib/kopeio-networkd.service run by a real systemd: in the VM of
tests/vmrun (Debian's kernel, cgroup2), systemd 252 as PID 1 of a PID
namespace of its own starts the unit exactly as shipped (only the
daemon and ctl copied to /usr/sbin and the files it names written), so
every sandboxing line of it applies.

With --self-test in KOPEIO_NETWORKD_ARGS (/etc/default/kopeio-networkd,
the unit's own way to add flags), the daemon confines each role under
the sandbox and exits 0.  Without it, the daemon runs: the parent has
no new privileges and exactly its bounding set, the file system is
read-only but for what the unit allows, each child is confined, the
control socket answers, and systemctl stop ends it cleanly with
nothing left behind.  No API server answers: the watcher retries."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlib  # noqa: E402

# systemd's own start under TCG takes minutes on a busy machine.
vmlib.reexec(__file__, timeout=900)

import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_root(tap)
SYSTEMD = "/lib/systemd/systemd"
for tool in (SYSTEMD, "systemctl", "journalctl", "unshare", "nsenter"):
    if shutil.which(tool) is None:
        tap.skip_all("%s not installed" % tool)

UNIT = os.path.join(knlib.SRCDIR, "contrib", "kopeio-networkd.service")
NAME = "kopeio-networkd.service"
SOCKET = "/run/kopeio-networking/kopeio-networkd.sock"
ROLES = ("watcher", "executor", "arp-helper", "metrics")
CHILD_CAPS = ("CapInh", "CapAmb")


def install():
    """The unit, unchanged, as its comment says to install it; this is
    the VM's throw-away overlay, not the host."""
    for prog in (knlib.DAEMON, knlib.CTL):
        shutil.copy(prog, "/usr/sbin")
    shutil.copy(UNIT, "/etc/systemd/system")
    # Debian's tmpfiles.d empties /tmp at boot ("D /tmp"): in this
    # overlay that would hide a source tree under /tmp from the test
    # itself, halfway through.
    for unit in ("systemd-tmpfiles-setup.service",
                 "systemd-tmpfiles-clean.timer",
                 "systemd-tmpfiles-clean.service"):
        path = os.path.join("/etc/systemd/system", unit)
        if not os.path.lexists(path):
            os.symlink("/dev/null", path)
    for d in ("/etc/cni/net.d", "/etc/kopeio-networking", "/etc/default"):
        os.makedirs(d, exist_ok=True)
    knlib.write_kubeconfig("/etc/kopeio-networking/kubeconfig",
                           "https://127.0.0.1:9")


def set_args(args):
    with open("/etc/default/kopeio-networkd", "w") as f:
        f.write("KOPEIO_NETWORKD_ARGS=%s\n" % args)


class Manager:
    """systemd as PID 1 of its own PID namespace, told it runs in a
    container (so it leaves the VM's kernel and devices alone), and
    systemctl / journalctl run in its namespaces."""

    def __init__(self, log):
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", SYSTEMD,
             "--unit=basic.target", "--show-status=no",
             "--log-target=kmsg"],
            env={"container": "other", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.pid = knlib.wait_until(self._child, 30)
        self.cursor = ""

    def _child(self):
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    if knlib.proc_status(int(d)).get("PPid") == self.proc.pid:
                        return int(d)
                except (FileNotFoundError, ProcessLookupError):
                    pass
        return None

    def run(self, *argv):
        r = subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p", "-r",
                            "-w"] + list(argv), capture_output=True,
                           text=True, timeout=300, stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout.strip(), r.stderr.strip()

    def show(self, *props):
        _, out, _ = self.run("systemctl", "show", NAME,
                             *["-p" + p for p in props])
        return dict(line.partition("=")[::2] for line in out.splitlines())

    def start(self):
        """systemctl start, the journal's end noted first: journal()
        shows this start's lines only."""
        out = self.run("journalctl", "-n", "0", "--show-cursor")[1]
        self.cursor = out.rpartition("-- cursor: ")[2].strip()
        return self.run("systemctl", "start", NAME)[0]

    def journal(self):
        """What the unit logged since the last start()."""
        return self.run("journalctl", "-u", NAME, "--after-cursor=" +
                        self.cursor, "-o", "cat", "--no-pager")[1]

    def close(self):
        if self.pid is not None:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass
        self.proc.wait(30)


def outer_pid(inner):
    """The pid, as this namespace sees it, of the manager's pid inner."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/status" % d) as f:
                m = re.search(r"^NSpid:\s+(.*)$", f.read(), re.M)
        except (FileNotFoundError, ProcessLookupError):
            continue
        if m and len(m.group(1).split()) == 2 and \
                m.group(1).split()[1] == str(inner):
            return int(d)
    return None


def stopped(mgr):
    """The unit's state once it has stopped (or is waiting to restart)."""
    s = mgr.show("ActiveState", "SubState", "Result", "ExecMainStatus",
                 "NRestarts")
    return s if s.get("SubState") in ("dead", "failed",
                                       "auto-restart") else None


def check_self_test(mgr):
    set_args("--self-test")
    tap.eq(mgr.start(), 0, "systemctl start %s (--self-test)" % NAME)
    s = knlib.wait_until(lambda: stopped(mgr), 300, 1) or {}
    tap.eq((s.get("Result"), s.get("ExecMainStatus"), s.get("NRestarts")),
           ("success", "0", "0"), "--self-test under the unit's sandbox "
           "exits 0 and is not restarted")
    log = knlib.wait_until(lambda: (lambda j: j if "killed by SIGSYS: ok"
                                    in j else None)(mgr.journal()), 60, 1)
    log = log or mgr.journal()
    for role in ROLES:
        tap.ok(re.search(r"^%s +\d+ +(\d+) +\1 .* ok$" % re.escape(role), log,
                         re.M), "--self-test under the unit: %s has its own "
               "uid and gid and passes every check" % role, log)
    tap.ok("killed by SIGSYS: ok" in log, "--self-test under the unit: a "
           "confined child calling ptrace(2) dies of SIGSYS", log)


def check_run(mgr):
    set_args("--node-name=node-a")
    tap.eq(mgr.start(), 0, "systemctl start %s" % NAME)
    ready = knlib.wait_until(lambda: (lambda j: j if all(
        re.search(r"^parent: %s ready \(pid \d+\)$" % r, j, re.M)
        for r in ("watcher", "executor", "metrics")) else None)(
        mgr.journal()), 180, 1)
    tap.ok(ready, "the daemon starts under the unit: watcher, executor "
           "and metrics ready", mgr.journal())
    s = mgr.show("ActiveState", "MainPID")
    main = outer_pid(int(s.get("MainPID", "0") or 0))
    tap.ok(s.get("ActiveState") == "active" and main is not None,
           "the unit is active with its main process", s)
    if main is None:
        return None
    st = knlib.proc_status(main)
    caps = knlib.capmask(*(getattr(knlib, "CAP_" + c)
                           for c in knlib.parent_caps()))
    tap.eq((st["NoNewPrivs"], st["CapBnd"], st["CapAmb"]), (1, caps, 0),
           "the parent: no new privileges, the unit's bounding set, no "
           "ambient capabilities")
    with open("/proc/%d/mountinfo" % main) as f:
        mounts = {l.split()[4]: l.split()[5].split(",")
                  for l in f if len(l.split()) > 5}
    tap.ok("ro" in mounts.get("/", []) and
           "rw" in mounts.get("/etc/cni/net.d", []) and
           "rw" in mounts.get("/run/kopeio-networking", []),
           "the parent sees / read-only, /etc/cni/net.d and "
           "/run/kopeio-networking writable (ProtectSystem=strict, "
           "ReadWritePaths=, RuntimeDirectory=)",
           {k: mounts.get(k) for k in ("/", "/etc/cni/net.d",
                                       "/run/kopeio-networking")})
    kids = knlib.children_of(main)
    tap.ok({"watcher", "executor", "metrics"} <= set(kids),
           "the parent's children are its roles", kids)
    for role, pid in sorted(kids.items()):
        st = knlib.proc_status(pid)
        tap.ok(len(set(st["Uid"])) == 1 and st["Uid"][0] != 0 and
               len(set(st["Gid"])) == 1 and st["Gid"][0] != 0 and
               st["NoNewPrivs"] == 1 and st["Seccomp"] == 2 and
               all(st[c] == 0 for c in CHILD_CAPS),
               "%s under the unit: a uid and gid of its own, not root; no "
               "new privileges; a seccomp filter; no inheritable or "
               "ambient capability" % role, st)
    r = subprocess.run([knlib.CTL, "-s", SOCKET, "show", "status"],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    tap.ok(r.returncode == 0 and "vxlan" in r.stdout, "kopeio-networkctl "
           "show status answers on the unit's control socket",
           r.stdout + r.stderr)
    return [main] + list(kids.values())


def check_stop(mgr, pids):
    rc, out, err = mgr.run("systemctl", "stop", NAME)
    tap.eq(rc, 0, "systemctl stop %s" % NAME)
    s = mgr.show("ActiveState", "Result", "NRestarts")
    tap.eq((s.get("ActiveState"), s.get("Result"), s.get("NRestarts")),
           ("inactive", "success", "0"), "after systemctl stop: inactive, "
           "success, never restarted")
    tap.eq([p for p in pids if knlib.alive(p)], [],
           "after systemctl stop: the parent and every child are gone")
    log = mgr.journal()
    tap.ok(not re.search(r"Sanitizer|runtime error|FAILED", log),
           "the journal shows no failure", log)


def main():
    install()
    log = open("/run/kn-systemd.log", "w+")
    mgr = Manager(log)
    try:
        up = knlib.wait_until(lambda: mgr.run(
            "systemctl", "is-system-running")[1] in ("running", "degraded"),
            600, 1)
        if not tap.ok(up, "systemd runs as PID 1 of its namespace and "
                      "reaches basic.target", mgr.run(
                          "systemctl", "--failed", "--no-pager")[1]):
            log.seek(0)
            print("# " + log.read().replace("\n", "\n# "))
            return
        check_self_test(mgr)
        pids = check_run(mgr)
        if pids is not None:
            check_stop(mgr, pids)
    finally:
        mgr.close()
        log.close()


main()
tap.done()
