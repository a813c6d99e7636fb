#!/usr/bin/env python3
"""--cni-config end to end: the real daemon on every node of a cluster of
network namespaces writes its CNI configuration, and Debian's real
plugins (bridge, host-local, portmap) attach the pods from that file
the way a container runtime would (tests/cnirt.py).  The file names
the node's pod CIDRs and the mode's MTU; the pods ping across nodes
over IPv4 and, dual-stack, IPv6; a host port reaches a pod on another
node through portmap; a restarted daemon leaves the unchanged file
alone; a renumbered node gets a new file; a directory others may write
or one that is missing is refused with a log line, and the write is
retried; CNI DEL removes what ADD made.  kopeio-networkd -n checks the
file's directory as the daemon would before writing: a missing one is
a note, one others may write or a symbolic link at the path fails the
check."""

import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_apiserver(tap, "ping", "bridge", "unshare", "iptables")
import cnirt  # noqa: E402
import netcluster  # noqa: E402

if cnirt.missing("bridge", "host-local", "portmap"):
    tap.skip_all(cnirt.missing("bridge", "host-local", "portmap"))

COMMITTED = r"^watcher: generation \d+ committed"
CRASH = re.compile(r"(?m)^(watcher|executor|parent): .*(fatal|killed|"
                   r"restarting)")
wait_until = netcluster.wait_until


def failed_pings(res, family=4):
    return ["%s -> %s" % ((p.addr, q.addr) if family == 4 else
                          (p.addr6, q.addr6)) for p, q, ok in res if not ok]


def link_mtu(node, dev):
    return json.loads(node.run("ip", "-j", "link", "show", dev))[0]["mtu"]


def wrote(node, cidrs, mtu, start=0):
    """The parent's line for the file, from log line start on."""
    i, m = node.daemon.wait_for(
        r"^parent: wrote CNI configuration %s for %s \(mtu %d\)$" %
        (re.escape(node.cni_file), re.escape(cidrs), mtu), start=start)
    return m is not None


def check_file(mode, node, cidrs, mtu):
    """The file the daemon wrote, field by field."""
    what = "%s: %s" % (mode, node.name)
    st = os.lstat(node.cni_file)
    tap.ok(stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644
           and st.st_uid == 0, "%s: the file is a regular file of root's, "
           "mode 0644" % what, oct(st.st_mode))
    tap.ok(wrote(node, ",".join(cidrs), mtu), "%s: the parent logs that it "
           "wrote it for %s (mtu %d)" % (what, ",".join(cidrs), mtu),
           node.daemon.log())
    conf = node.cni_conf()
    bridge, portmap = conf["plugins"]
    tap.ok(conf["cniVersion"] == "1.0.0" and conf["name"] == "kopeio" and
           bridge["type"] == "bridge" and portmap["type"] == "portmap",
           "%s: cniVersion 1.0.0, network kopeio, bridge then portmap" %
           what, conf)
    tap.ok(bridge["bridge"] == "cni0" and bridge["isGateway"] is True and
           bridge["isDefaultGateway"] is False and
           bridge["ipMasq"] is False and bridge["hairpinMode"] is True,
           "%s: bridge cni0, gateway, no masquerading, hairpin" % what,
           bridge)
    tap.eq(bridge["mtu"], mtu, "%s: the mode's MTU %d" % (what, mtu))
    ipam = bridge["ipam"]
    tap.eq((ipam["type"], [[r["subnet"] for r in rs]
                           for rs in ipam["ranges"]]),
           ("host-local", [[c] for c in cidrs]),
           "%s: host-local, a range per pod CIDR" % what)
    tap.eq([r["dst"] for r in ipam["routes"]],
           [("::/0" if ":" in c else "0.0.0.0/0") for c in cidrs],
           "%s: a default route per family" % what)
    tap.eq(portmap.get("capabilities"), {"portMappings": True},
           "%s: portmap takes port mappings" % what)
    net = cnirt.Network(conf)
    vers = [net.version(p["type"])["supportedVersions"]
            for p in conf["plugins"]]
    tap.ok(all("1.0.0" in v for v in vers), "%s: Debian's bridge and "
           "portmap support cniVersion 1.0.0" % what, vers)


def check_pods(mode, node, mtu, dual=False):
    """Each pod has an address of the node's pod CIDR from host-local,
    the file's MTU and a default route through cni0's gateway."""
    what = "%s: %s" % (mode, node.name)
    cidr = ipaddress.ip_network(node.pod_cidr)
    tap.ok(node.pods and all(ipaddress.ip_address(p.addr) in cidr and
                             p.addr != str(cidr[1]) for p in node.pods) and
           len({p.addr for p in node.pods}) == len(node.pods),
           "%s: host-local gave each pod its own address of %s" %
           (what, node.pod_cidr), [p.addr for p in node.pods])
    if dual:
        cidr6 = ipaddress.ip_network(node.pod_cidr6)
        tap.ok(all(p.addr6 and ipaddress.ip_address(p.addr6) in cidr6
                   for p in node.pods), "%s: and an address of %s" %
               (what, node.pod_cidr6), [p.addr6 for p in node.pods])
    p = node.pods[0]
    eth0 = json.loads(netcluster.sh("ip", "-n", p.ns, "-j", "link", "show",
                                    "eth0").stdout)[0]
    tap.eq(eth0["mtu"], mtu, "%s: the pod's eth0 has MTU %d" % (what, mtu))
    route = netcluster.sh("ip", "-n", p.ns, "route", "show",
                          "default").stdout
    tap.ok("via %s dev eth0" % cidr[1] in route, "%s: the pod's default "
           "route is via the bridge's %s" % (what, cidr[1]), route)
    addrs = node.run("ip", "-o", "addr", "show", "dev", "cni0")
    tap.ok(" %s/%d " % (cidr[1], cidr.prefixlen) in addrs,
           "%s: cni0 holds the gateway %s" % (what, cidr[1]), addrs)


def hostport(mode, c):
    """A pod attached with a host port mapping answers on its node's
    address from a pod on the other node: portmap's DNAT, for real."""
    n0, n1 = c.nodes[:2]
    ns = "%s-hp" % c.prefix
    netcluster.sh("ip", "netns", "add", ns)
    c.namespaces.append(ns)
    pm = {"portMappings": [{"hostPort": 8080, "containerPort": 80,
                            "protocol": "tcp"}]}
    net = n1.pods[0].net
    res = net.add(ns, "/run/netns/" + ns, cap_args=pm)
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c",
         "import socket\n"
         "s = socket.socket(); s.bind(('0.0.0.0', 80)); s.listen(1)\n"
         "s.settimeout(30)\n"
         "c, _ = s.accept(); c.sendall(b'hello from the pod\\n'); c.close()"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def connect():
            r = subprocess.run(
                ["ip", "netns", "exec", n0.pods[0].ns, sys.executable, "-c",
                 "import socket\n"
                 "s = socket.create_connection(('%s', 8080), timeout=2)\n"
                 "print(s.recv(100).decode(), end='')" % n1.addr],
                capture_output=True, text=True)
            return r.stdout
        got = wait_until(connect, 15, 0.3)
        tap.eq(got, "hello from the pod\n", "%s: a host port of %s "
               "reaches the pod behind it (%s) from a pod on %s" %
               (mode, n1.name, cnirt.addresses(res, 4)[0], n0.name))
        rules = n1.run("iptables-save", "-t", "nat")
        tap.ok("CNI-HOSTPORT-DNAT" in rules and "--dport 8080" in rules,
               "%s: portmap's DNAT rule is in %s's nat table" %
               (mode, n1.name), rules)
    finally:
        server.kill()
        server.wait()
    net.delete(ns, "/run/netns/" + ns, cap_args=pm)
    rules = n1.run("iptables-save", "-t", "nat")
    tap.ok("--dport 8080" not in rules, "%s: CNI DEL removes the mapping" %
           mode, rules)


def restart(mode, node, args):
    """A restarted daemon finds the file unchanged and leaves it."""
    before = os.stat(node.cni_file)
    time.sleep(0.05)    # a rewrite would show in the modification time
    tap.eq(node.stop(), 0, "%s: the daemon that wrote it stops with status "
           "0" % mode)
    node.start(args)
    i, m = node.daemon.wait_for(
        r"^parent: CNI configuration %s is up to date for %s \(mtu \d+\)$" %
        (re.escape(node.cni_file), re.escape(node.pod_cidr)))
    tap.ok(m is not None, "%s: the restarted daemon finds its file up to "
           "date" % mode, node.daemon.log())
    after = os.stat(node.cni_file)
    tap.ok((after.st_ino, after.st_mtime_ns, after.st_ctime_ns) ==
           (before.st_ino, before.st_mtime_ns, before.st_ctime_ns),
           "%s: and does not write it: same inode, modification and "
           "change time" % mode)
    tap.ok(not re.search(r"^parent: wrote CNI", node.daemon.log(), re.M),
           "%s: no 'wrote' line after the restart" % mode,
           node.daemon.log())


def renumber(mode, c, node):
    """A new pod CIDR: a new file, pods attached again from it."""
    before = os.stat(node.cni_file)
    mark = node.daemon.mark()
    new = c.renumber(node, 9)
    tap.ok(wrote(node, new, link_mtu(node, "vxlan1"), start=mark),
           "%s: the renumbered node's daemon writes a new file for %s" %
           (mode, new), node.daemon.log(mark))
    conf = node.cni_conf()
    tap.eq(conf["plugins"][0]["ipam"]["ranges"], [[{"subnet": new}]],
           "%s: the new file names only the new pod CIDR" % mode)
    tap.ok(os.stat(node.cni_file).st_ino != before.st_ino,
           "%s: replaced by a rename (a new inode)" % mode)
    tap.ok(not os.path.exists(os.path.join(node.cni_dir,
                                           ".10-kopeio.conflist.tmp")),
           "%s: no temporary file left" % mode, os.listdir(node.cni_dir))
    check_pods(mode + " renumbered", node, link_mtu(node, "vxlan1"))
    res = c.converge_pings()
    tap.ok(res and not failed_pings(res), "%s: pods ping across with the "
           "new pod CIDR" % mode, failed_pings(res))


METRICS_PORT = 9923


def readyz(node):
    """The status /readyz of the node's metrics process answers."""
    r = subprocess.run(
        ["ip", "netns", "exec", node.ns, sys.executable, "-c",
         "import urllib.request, urllib.error\n"
         "try:\n"
         "    r = urllib.request.urlopen('http://127.0.0.1:%d/readyz',"
         " timeout=5)\n"
         "    print(r.status)\n"
         "except urllib.error.HTTPError as e:\n"
         "    print(e.code)\n" % METRICS_PORT],
        capture_output=True, text=True, timeout=30)
    return r.stdout.strip()


def bad_dirs(mode, node, args):
    """A group-writable directory: refused with a log line, no file,
    not ready; written by the retry once the directory is fixed, and
    ready; a missing one: refused too."""
    d = os.path.join(node.tmp, "gw.d")
    os.mkdir(d)
    os.chmod(d, 0o775)
    path = os.path.join(d, "10-kopeio.conflist")
    node.stop()
    node.start(list(args) + ["--cni-config", path, "--metrics-address",
                             "127.0.0.1:%d" % METRICS_PORT])
    pat = (r"^parent: CNI configuration %s not written: directory %s is "
           r"writable by group or others \(mode 0775\); trying again every "
           r"10 s$" % (re.escape(path), re.escape(d)))
    i, m = node.daemon.wait_for(pat)
    tap.ok(m is not None, "%s: a group-writable directory is refused with "
           "a log line" % mode, node.daemon.log())
    tap.eq(os.listdir(d), [], "%s: and nothing is written there" % mode)
    node.daemon.wait_for(COMMITTED)
    time.sleep(1)   # the metrics process hears of the commit at once
    tap.eq(readyz(node), "503", "%s: committed, but without its CNI file "
           "the node is not ready (/readyz)" % mode)
    os.chmod(d, 0o755)
    i, m = node.daemon.wait_for(r"^parent: wrote CNI configuration %s " %
                                re.escape(path), timeout=15, start=i or 0)
    tap.ok(m is not None and os.path.isfile(path), "%s: fixed, the "
           "directory gets the file at the next try (every 10 s)" % mode,
           node.daemon.log())
    tap.ok(wait_until(lambda: readyz(node) == "200", 15), "%s: and the "
           "node is ready" % mode, readyz(node))
    tap.eq(len(re.findall(pat, node.daemon.log(), re.M)), 1, "%s: the "
           "refusal was logged once" % mode)

    missing = os.path.join(node.tmp, "missing.d", "10-kopeio.conflist")
    node.stop()
    node.start(list(args) + ["--cni-config", missing])
    i, m = node.daemon.wait_for(
        r"^parent: CNI configuration %s not written: directory %s does not "
        r"exist; trying again every 10 s$" % (re.escape(missing),
                                              re.escape(os.path.dirname(
                                                  missing))))
    tap.ok(m is not None and not os.path.exists(os.path.dirname(missing)),
           "%s: a missing directory is refused with a log line and not "
           "made" % mode, node.daemon.log())
    i, m = node.daemon.wait_for(COMMITTED)
    tap.ok(m is not None and node.daemon.proc.poll() is None,
           "%s: the daemon runs on and commits all the same" % mode,
           node.daemon.log())


def delete(mode, node):
    """CNI DEL of every pod: no veth left on cni0, no lease left, the
    pods without eth0."""
    pods = list(node.pods)
    errors = node.detach()
    tap.eq(errors, [], "%s: CNI DEL of every pod of %s succeeds" %
           (mode, node.name))
    tap.eq(node.run("ip", "-o", "link", "show", "master", "cni0").strip(),
           "", "%s: no pod interface is left on cni0" % mode)
    leases = os.path.join(node.cni_state, "networks", "kopeio")
    left = [f for f in os.listdir(leases)
            if not f.startswith("last_reserved_ip") and f != "lock"]
    tap.eq(left, [], "%s: host-local holds no lease any more" % mode)
    tap.ok(all(netcluster.sh("ip", "-n", p.ns, "link", "show", "eth0",
                             check=False).returncode != 0 for p in pods),
           "%s: the pods have no eth0 any more" % mode)


FAKE_PLUGIN = """#!%s
import json, os, sys
conf = json.load(sys.stdin)
env = {k: v for k, v in os.environ.items() if k.startswith("CNI_")}
with open(os.environ["KN_FAKE_LOG"], "a") as f:
    print(json.dumps({"env": env, "conf": conf}), file=f)
if conf.get("fail"):
    print(json.dumps({"cniVersion": conf["cniVersion"], "code": 7,
                      "msg": "told to fail", "details": conf["type"]}))
    sys.exit(1)
if os.environ["CNI_COMMAND"] == "ADD":
    res = conf.get("prevResult") or {"cniVersion": conf["cniVersion"],
                                     "ips": []}
    res["ips"].append({"address": conf["addr"]})
    print(json.dumps(res))
"""


def runtime_protocol():
    """tests/cnirt.py against two fake plugins that record what they
    get: the list's name and version put in, prevResult passed on,
    runtimeConfig only for a declared capability, the CNI_ variables,
    DEL in reverse with the ADD's result, a failure raised with the
    plugin's error."""
    d = knlib.private_dir()
    log = os.path.join(d, "log")
    os.environ["KN_FAKE_LOG"] = log
    try:
        for name in ("one", "two"):
            with open(os.path.join(d, name), "w") as f:
                f.write(FAKE_PLUGIN % sys.executable)
            os.chmod(os.path.join(d, name), 0o755)
        conf = {"cniVersion": "1.0.0", "name": "fake", "plugins": [
            {"type": "one", "addr": "10.0.0.2/24"},
            {"type": "two", "addr": "fd00::2/64",
             "capabilities": {"portMappings": True}}]}
        net = cnirt.Network(conf, cni_path=d)
        pm = {"portMappings": [{"hostPort": 1}], "bandwidth": {}}
        res = net.add("ctr1", "/run/netns/none", "eth7", cap_args=pm)
        tap.eq(cnirt.addresses(res), ["10.0.0.2/24", "fd00::2/64"],
               "cnirt: ADD returns the last plugin's result, built on the "
               "first's")
        net.delete("ctr1", "/run/netns/none", "eth7", cap_args=pm)
        with open(log) as f:
            calls = [json.loads(x) for x in f]
        tap.eq([(c["env"]["CNI_COMMAND"], c["conf"]["type"]) for c in calls],
               [("ADD", "one"), ("ADD", "two"), ("DEL", "two"),
                ("DEL", "one")], "cnirt: ADD in order, DEL in reverse")
        tap.ok(all(c["conf"]["name"] == "fake" and
                   c["conf"]["cniVersion"] == "1.0.0" for c in calls),
               "cnirt: every plugin gets the list's name and cniVersion")
        tap.ok(all(c["env"] == {"CNI_COMMAND": c["env"]["CNI_COMMAND"],
                                "CNI_CONTAINERID": "ctr1",
                                "CNI_NETNS": "/run/netns/none",
                                "CNI_IFNAME": "eth7", "CNI_PATH": d}
                   for c in calls), "cnirt: the CNI_ variables",
               [c["env"] for c in calls])
        tap.ok("prevResult" not in calls[0]["conf"] and
               cnirt.addresses(calls[1]["conf"]["prevResult"]) ==
               ["10.0.0.2/24"], "cnirt: ADD passes the first plugin's "
               "result to the second as prevResult")
        tap.ok(all(cnirt.addresses(c["conf"].get("prevResult")) ==
                   ["10.0.0.2/24", "fd00::2/64"] for c in calls[2:]),
               "cnirt: DEL gives every plugin the ADD's result")
        tap.ok("runtimeConfig" not in calls[0]["conf"] and
               calls[1]["conf"]["runtimeConfig"] ==
               {"portMappings": [{"hostPort": 1}]},
               "cnirt: runtimeConfig only for the declared capability")
        conf["plugins"][1]["fail"] = True
        try:
            net.add("ctr2", "/run/netns/none")
            e = None
        except cnirt.CniError as x:
            e = x
        tap.ok(e is not None and (e.plugin, e.command, e.status, e.code,
                                  e.msg, e.details) ==
               ("two", "ADD", 1, 7, "told to fail", "two"),
               "cnirt: a failing plugin raises its error", repr(e))
    finally:
        del os.environ["KN_FAKE_LOG"]
        subprocess.run(["rm", "-rf", d])


def run_mode(mode):
    c = netcluster.Cluster(nodes=2, pods=2, cni=True)
    try:
        n0, n1 = c.nodes
        if mode == "layer2":
            # Not the default: the file must follow the underlay.
            n0.run("ip", "link", "set", "eth0", "mtu", "1400")
        args = ["-v", "--provider", mode, "--sync-period", "1h"]
        c.start_all(args)
        tap.ok(c.wait_all(COMMITTED), "%s: every watcher commits" % mode)
        for n in c.nodes:
            mtu = link_mtu(n, "eth0" if mode == "layer2" else "vxlan1")
            check_file(mode, n, [n.pod_cidr], mtu)
            check_pods(mode, n, mtu)
        tap.eq([link_mtu(n, "eth0" if mode == "layer2" else "vxlan1")
                for n in c.nodes],
               [1400, 1500] if mode == "layer2" else [1450, 1450],
               "%s: the MTUs compared are %s" % (mode, "the underlay's" if
                                                 mode == "layer2" else
                                                 "vxlan1's"))
        res = c.converge_pings()
        tap.ok(res and not failed_pings(res), "%s: pods attached by the "
               "CNI plugins ping every pod on the other node (%d pairs)" %
               (mode, len(res)), failed_pings(res))
        # The largest packet the file's MTU allows crosses unfragmented:
        # a pod MTU above the mode's would lose it.
        size = n0.cni_conf()["plugins"][0]["mtu"] - 28
        r = netcluster.sh("ip", "netns", "exec", n0.pods[0].ns, "ping",
                          "-n", "-q", "-c", "1", "-W", "2", "-M", "do",
                          "-s", str(size), n1.pods[0].addr, check=False)
        tap.ok(r.returncode == 0, "%s: a %d-byte ping with DF set crosses "
               "to the other node at the file's MTU" % (mode, size + 28),
               r.stdout + r.stderr)
        if mode == "vxlan":
            hostport(mode, c)
            restart(mode, n0, args)
            renumber(mode, c, n1)
        else:
            bad_dirs(mode, n0, args)
        delete(mode, n1)
        logs = "\n".join(n.daemon.log() for n in c.nodes)
        tap.ok(not CRASH.search(logs), "%s: no daemon logged a crash" % mode,
               logs)
    finally:
        c.close()


def run_dual(mode):
    c = netcluster.Cluster(nodes=2, pods=1, dual_stack=True, cni=True)
    try:
        c.start_all(["-v", "--provider", mode, "--pod-cidr",
                     "100.96.0.0/12,fd00:100::/48"])
        tap.ok(c.wait_all(COMMITTED), "%s dual-stack: committed" % mode)
        for n in c.nodes:
            mtus = (link_mtu(n, "vxlan1"), link_mtu(n, "vxlan1v6"))
            tap.eq(mtus, (1450, 1430), "%s dual-stack: %s: vxlan1 and "
                   "vxlan1v6 MTUs" % (mode, n.name))
            check_file(mode + " dual-stack", n, [n.pod_cidr, n.pod_cidr6],
                       min(mtus))
            check_pods(mode + " dual-stack", n, min(mtus), dual=True)
        for fam in (4, 6):
            res = c.converge_pings(family=fam)
            tap.ok(res and not failed_pings(res, fam), "%s dual-stack: pods "
                   "ping across over IPv%d" % (mode, fam),
                   failed_pings(res, fam))
    finally:
        c.close()
        left = subprocess.run(["ip", "netns", "list"], capture_output=True,
                              text=True).stdout
        tap.ok(c.prefix + "-" not in left, "%s dual-stack: no namespace "
               "left" % mode, left)


if not os.path.isdir("/var/lib/cni"):
    os.makedirs("/var/lib/cni")
def check_n():
    """kopeio-networkd -n on --cni-config: (status, stdout, stderr)."""
    tmp = knlib.private_dir()
    d = os.path.join(tmp, "net.d")
    path = os.path.join(d, "10-kopeio.conflist")
    token = os.path.join(tmp, "token")
    with open(token, "w") as f:
        f.write("token\n")

    def run():
        r = subprocess.run(
            [knlib.DAEMON, "-n", "--apiserver", "https://127.0.0.1:6443",
             "--token-file", token, "--ca-file", token, "--node-name",
             "node-0", "--chroot", os.path.join(tmp, "empty"),
             "--cni-config", path] + knlib.own_ids([]),
            capture_output=True, text=True,
            timeout=60, stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout, r.stderr
    try:
        rc, out, err = run()
        tap.ok(rc == 0 and "--cni-config: directory %s does not exist yet; "
               "the daemon writes the file once it does\n" % d in out and
               "configuration OK\n" in out, "-n: a missing CNI directory "
               "is a note, not an error", (rc, out, err))
        os.mkdir(d, 0o775)
        os.chmod(d, 0o775)
        rc, out, err = run()
        tap.ok(rc == 1 and err == "kopeio-networkd: --cni-config: directory "
               "%s is writable by group or others (mode 0775)\n" % d,
               "-n: a group-writable CNI directory fails the check, saying "
               "so", (rc, out, err))
        os.chmod(d, 0o755)
        os.symlink("/etc/passwd", path)
        rc, out, err = run()
        tap.ok(rc == 1 and err == "kopeio-networkd: --cni-config: %s is a "
               "symbolic link; not followed\n" % path, "-n: a symbolic "
               "link at the path fails the check", (rc, out, err))
        os.unlink(path)
        rc, out, err = run()
        tap.ok(rc == 0 and "configuration OK\n" in out and
               os.listdir(d) == [], "-n: a good directory passes, and "
               "nothing is written there", (rc, out, err, os.listdir(d)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


check_n()
before = sorted(os.listdir("/var/lib/cni"))
runtime_protocol()
run_mode("layer2")
run_mode("vxlan")
run_dual("vxlan")
tap.eq(sorted(os.listdir("/var/lib/cni")), before, "the host's own "
       "/var/lib/cni was not touched: each node kept its leases")
tap.done()
