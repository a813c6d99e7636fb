#!/usr/bin/env python3
"""The image built from contrib/Containerfile, run by podman with the
settings of k8s/*.yaml (tests/imagelib.py derives them; one it does not
know fails).

The runtime stage holds what the daemon and ctl need and nothing to
build with: no compiler, no headers, no package lists or caches, every
library the two binaries load (ldd inside).  --self-test passes in the
container with every manifest's settings: its capabilities, no privilege
escalation, a read-only root, the RuntimeDefault seccomp profile, the
node's network.  Then, per mode (layer2, vxlan, vxlan-legacy), a
two-node test cluster runs each node's agent in its container, reaching
the API server as a pod's service account: pods ping across the
nodes, kopeio-networkctl answers in the container (podman exec),
/healthz and /readyz answer on the node's loopback, the CNI file
appears in the host directory; SIGTERM to the container and a new one
adopt the state with no route deleted (ip monitor), and nothing is
logged as a crash."""

import copy
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imagelib  # noqa: E402
import knlib  # noqa: E402

tap = knlib.Tap()
COMMITTED = r"^watcher: generation \d+ committed"
# What a crash, a child's death or a sanitizer looks like in the log.
CRASH = r"killed by|exited with status|Sanitizer|runtime error|fatal"
CANARY = "198.51.100.1"  # TEST-NET-2: routes to it are the test's
IPSEC_KEY = {"kopeio-networking-ipsec": {"key": "1 %s\n" %
                                          os.urandom(32).hex()}}


def sh_in(image, script):
    """script run by the image's /bin/sh, with no network."""
    return imagelib.podman("run", "--rm", "--pull=never", "--network",
                           "none", *imagelib.ULIMITS, "--entrypoint",
                           "/bin/sh", image, "-c", script, check=False)


def check_contents(image):
    size = int(imagelib.podman("image", "inspect", "--format", "{{.Size}}",
                               image).stdout.strip())
    tap.ok(size > 0, "the image: %.0f MB (podman image inspect)" %
           (size / 1e6))
    r = sh_in(image, "for c in cc gcc clang make ld as autoconf pkg-config; "
              "do command -v $c; done; "
              "find /usr/include -name '*.h' ! -path '*/iproute2/*'; "
              "dpkg -l | grep -E '^ii +[^ ]+-dev[: ]' || true")
    tap.ok(r.returncode == 0 and r.stdout.strip() == "",
           "no compiler, linker, build tool, header (but iproute2's BPF "
           "one) or -dev package",
           r.stdout + r.stderr)
    r = sh_in(image, "ls /var/lib/apt/lists | grep -v -e '^lock$' "
              "-e '^partial$'; ls /var/cache/apt/*.bin 2>/dev/null; true")
    tap.ok(r.returncode == 0 and r.stdout.strip() == "",
           "no apt lists or package caches", r.stdout + r.stderr)
    r = sh_in(image, "ldd /usr/sbin/kopeio-networkd "
              "/usr/sbin/kopeio-networkctl")
    tap.ok(r.returncode == 0 and "not found" not in r.stdout and
           "libcurl" in r.stdout, "ldd inside: every library of the "
           "daemon and ctl is there", r.stdout + r.stderr)
    r = sh_in(image, "stat -c '%U %a' /var/empty; ls -A /var/empty; "
              "ls /usr/sbin | grep kopeio; command -v ip")
    tap.eq(r.stdout.split(), ["root", "755", "kopeio-networkctl",
                              "kopeio-networkd", "/usr/sbin/ip"],
           "/var/empty root's and empty, the daemon, ctl and ip")
    r = sh_in(image, "dpkg-query -W -f '${Package} ${Installed-Size}\\n'"
              " | sort -k2 -n | tail -n 8 | tr '\\n' ' '; echo; "
              "dpkg -l | grep -c '^ii'")
    print("# largest packages (KB): %s" % r.stdout.strip().replace(
        "\n", "; packages: "))


def check_harness():
    """The harness refuses a setting it does not know, and any seccomp
    profile but RuntimeDefault."""
    ds = imagelib.daemonset("vxlan")
    for what, edit in (
            ("a container setting (stdin)",
             lambda c, s: c.update(stdin=True)),
            ("a securityContext setting (procMount)",
             lambda c, s: c["securityContext"].update(procMount="Unmasked")),
            ("seccompProfile Unconfined",
             lambda c, s: c["securityContext"].update(
                 seccompProfile={"type": "Unconfined"})),
            ("a pod setting (dnsPolicy)",
             lambda c, s: s.update(dnsPolicy="ClusterFirst")),
            ("a volume kind (nfs)",
             lambda c, s: s["volumes"][0].update(nfs={})),
            ("hostPID", lambda c, s: s.update(hostPID=True))):
        bad = copy.deepcopy(ds)
        spec = bad["spec"]["template"]["spec"]
        edit(spec["containers"][0], spec)
        try:
            imagelib.Pod(bad, "node-0", "none").close()
            err = None
        except imagelib.ManifestError as e:
            err = str(e)
        tap.ok(err is not None, "the harness refuses %s" % what, err)


def check_self_test(image):
    ns = knlib.Netns()
    try:
        for mode in imagelib.modes():
            pod = imagelib.Pod(imagelib.daemonset(mode), "node-0", ns.name,
                               files=IPSEC_KEY)
            try:
                c = imagelib.Container(image, pod, ["--self-test"])
                rc = c.wait(120)
                tap.ok(rc == 0 and "self-test: confinement verified" in
                       c.log(), "%s.yaml's container: --self-test passes"
                       % mode, c.log())
                c.stop()
            finally:
                pod.close()
    finally:
        ns.close()


def listening(mon, node):
    """Makes the route again and waits a second for mon to show it."""
    node.run("ip", "route", "replace", "blackhole", CANARY)
    return mon.wait_for(re.escape(CANARY), 1)[1] is not None


def check_mode(image, mode):
    import netcluster
    ds = imagelib.daemonset(mode)
    c = netcluster.Cluster(nodes=2, pods=1, cni=True)
    mon = None
    try:
        c.start_all(ds, image=image)
        n0, n1 = c.nodes
        tap.ok(c.wait_all(COMMITTED, timeout=120), "%s: the containers "
               "commit their first generation" % mode,
               n0.daemon.log() + "\n" + n1.daemon.log())
        res = c.converge_pings(timeout=60)
        tap.ok(res and all(ok for _, _, ok in res),
               "%s: pods ping across the nodes" % mode,
               [(p.addr, q.addr, ok) for p, q, ok in res])
        rc, out, err = n0.daemon.ctl("show", "status")
        tap.ok(rc == 0 and mode in out, "%s: kopeio-networkctl answers in "
               "the container (podman exec)" % mode, out + err)
        for kind, url in n0.daemon.pod.probes:
            tap.ok(knlib.wait_until(
                lambda: knlib.http_status(n0.ns, url) == 200, 60),
                "%s: the %s %s answers 200 on the node's loopback" %
                (mode, kind, url), knlib.http_status(n0.ns, url))
        tap.ok(all(os.path.exists(n.cni_file) for n in c.nodes),
               "%s: the CNI file is in each node's host directory" % mode)
        want = netcluster.owned(n0)
        mon = knlib.Lines(["ip", "-n", n0.ns, "monitor", "route"])
        # A route of the test's own, seen made, says the monitor is
        # listening; seen deleted at the end, that it sees deletions.
        tap.ok(knlib.wait_until(lambda: listening(mon, n0), 60, 0),
               "%s: ip monitor route listens" % mode, mon.log())
        old = n0.daemon
        rc = n0.stop(keep_pod=True)
        log = old.log()
        tap.eq(rc, 0, "%s: SIGTERM to the container: the agent stops with "
               "status 0" % mode)
        d = n0.start_image(image, ds, pod=old.pod)
        i, m = d.wait_for(COMMITTED, timeout=120)
        tap.ok(m is not None and netcluster.owned(n0) == want,
               "%s: a new container adopts the state" % mode, d.log())
        res = c.converge_pings(timeout=60)
        tap.ok(res and all(ok for _, _, ok in res),
               "%s: pods still ping across the nodes" % mode, res)
        n0.run("ip", "route", "del", "blackhole", CANARY)
        i, m = mon.wait_for("^Deleted.*" + re.escape(CANARY), 30)
        mon.proc.terminate()
        mon.wait()
        deleted = [x for x in mon.lines[:i] if x.startswith("Deleted")]
        tap.ok(m is not None and not deleted, "%s: no route deleted over "
               "the restart (ip monitor)" % mode, "\n".join(deleted) or
               mon.log())
        logs = "\n".join([log] + [n.daemon.log() for n in c.nodes])
        crash = [x for x in logs.splitlines() if re.search(CRASH, x)]
        tap.ok(not crash, "%s: nothing logged as a crash" % mode,
               "\n".join(crash))
    finally:
        if mon is not None and mon.proc.poll() is None:
            mon.proc.terminate()
        c.close()


def main():
    imagelib.need(tap)
    check_harness()
    image = imagelib.image()
    tap.ok(True, "podman build -f contrib/Containerfile from a clean tree: "
           "%s" % image)
    check_contents(image)
    check_self_test(image)
    why = knlib.apiserver_missing("ip", "ping")
    if why is not None:
        tap.skip("the agents' containers in a test cluster", why)
    else:
        for mode in ("layer2", "vxlan", "vxlan-legacy"):
            check_mode(image, mode)
    tap.done()


main()
