"""A cluster of network namespaces for end-to-end tests of the modes.

One underlay namespace holds a bridge (the nodes' shared network,
172.20.0.0/16 and fd00:200::/64, as tests/apiserver/nodegen.py numbers
them) and the test API server on 172.20.0.1.  Each node is a namespace
on that bridge with the real daemon, fully confined, and a local bridge
cbr0 in its pod CIDR holding pod namespaces.  Nothing touches the
host's own network: everything lives in namespaces that close() deletes.

An outside host (Cluster.outside) sits on the bridge too, at 172.20.250.1
(and fd00:200::fa:1 in dual-stack), outside the cluster range with no
route to any pod CIDR: pods reach it only through the masquerade.

With cni=True the pods are made as a container runtime makes them:
each node's daemon writes its CNI configuration (--cni-config) and the
real plugins (bridge, host-local, portmap) attach each pod namespace
from that file (tests/cnirt.py), in the node's namespace; close() runs
their DEL first.
"""

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "apiserver"))
import cnirt  # noqa: E402
import knlib  # noqa: E402
import nodegen  # noqa: E402

API_HOST = "172.20.0.1"
API_HOST6 = "fd00:200::1"
# The outside host: on the underlay, outside the cluster range, with no
# route to any pod CIDR (a host on the internet, as far as pods know).
OUTSIDE = "172.20.250.1"
OUTSIDE6 = "fd00:200::fa:1"


def sh(*argv, check=True):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr.strip()))
    return r


class Pod:
    def __init__(self, ns, addr, addr6=None):
        self.ns = ns
        self.addr = addr
        self.addr6 = addr6
        self.net = None     # the cnirt.Network that attached it
        self.result = None  # and the result of its ADD

    def ping(self, dst, count=1, timeout=2):
        """True when dst answers (one echo, or count)."""
        return sh("ip", "netns", "exec", self.ns, "ping", "-n", "-q",
                  "-c", str(count), "-W", str(timeout), dst,
                  check=False).returncode == 0

    def ping_df(self, dst, size):
        """One echo of size bytes of payload with DF set, for a path's
        MTU: (answered, ping's output)."""
        r = sh("ip", "netns", "exec", self.ns, "ping", "-n", "-q", "-c", "1",
               "-W", "3", "-M", "do", "-s", str(size), dst, check=False)
        return r.returncode == 0, r.stdout + r.stderr


class Node:
    def __init__(self, cluster, index, pods, dual_stack):
        self.cluster = cluster
        self.index = index
        self.name = nodegen.node_name(index)
        self.ns = "%s-n%d" % (cluster.prefix, index)
        self.addr = nodegen.internal_ip(index)
        self.addr6 = nodegen.internal_ip6(index) if dual_stack else None
        self.pod_cidr = nodegen.pod_cidr(index, mask=cluster.pod_cidr_mask)
        self.pod_cidr6 = nodegen.pod_cidr6(index) if dual_stack else None
        self.daemon = None
        self.pods = []
        self.npods = pods
        self.tmp = None
        if cluster.cni:
            # Root's and writable by no one else, as the daemon demands.
            self.tmp = knlib.private_dir()
            os.chmod(self.tmp, 0o755)
            self.cni_dir = os.path.join(self.tmp, "net.d")
            os.mkdir(self.cni_dir, 0o755)
            self.cni_file = os.path.join(self.cni_dir, "10-kopeio.conflist")
            self.cni_state = os.path.join(self.tmp, "cni-state")
        ul = cluster.ul
        sh("ip", "netns", "add", self.ns)
        cluster.namespaces.append(self.ns)
        self.run("ip", "link", "set", "lo", "up")
        port = "n%d" % index
        sh("ip", "-n", ul, "link", "add", port, "type", "veth", "peer",
           "name", "eth0", "netns", self.ns)
        sh("ip", "-n", ul, "link", "set", port, "master", "ul", "up")
        self.run("ip", "addr", "add", self.addr + "/16", "dev", "eth0")
        if dual_stack:
            self.run("ip", "addr", "add", self.addr6 + "/64", "dev", "eth0",
                     "nodad")
        self.run("ip", "link", "set", "eth0", "up")
        self.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        if cluster.cni:
            return      # the bridge plugin makes cni0, attach() the pods
        self.run("ip", "link", "add", "cbr0", "type", "bridge")
        net = ipaddress.ip_network(self.pod_cidr)
        self.run("ip", "addr", "add", "%s/%d" % (net[1], net.prefixlen),
                 "dev", "cbr0")
        if dual_stack:
            net6 = ipaddress.ip_network(self.pod_cidr6)
            self.run("ip", "addr", "add", "%s/%d" % (net6[1], net6.prefixlen),
                     "dev", "cbr0", "nodad")
        self.run("ip", "link", "set", "cbr0", "up")
        for j in range(pods):
            self.add_pod(j, dual_stack)

    def run(self, *argv, check=True):
        return sh("ip", "netns", "exec", self.ns, *argv, check=check).stdout

    def add_pod(self, j, dual_stack):
        ns = "%s-n%dp%d" % (self.cluster.prefix, self.index, j)
        sh("ip", "netns", "add", ns)
        self.cluster.namespaces.append(ns)
        host = "p%d" % j
        sh("ip", "-n", self.ns, "link", "add", host, "type", "veth", "peer",
           "name", "eth0", "netns", ns)
        sh("ip", "-n", self.ns, "link", "set", host, "master", "cbr0", "up")
        net = ipaddress.ip_network(self.pod_cidr)
        addr = str(net[2 + j])
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "addr", "add", "%s/%d" % (addr, net.prefixlen),
           "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", str(net[1]))
        addr6 = None
        if dual_stack:
            net6 = ipaddress.ip_network(self.pod_cidr6)
            addr6 = str(net6[2 + j])
            sh("ip", "-n", ns, "addr", "add", "%s/%d" % (addr6,
               net6.prefixlen), "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "-6", "route", "add", "default", "via",
               str(net6[1]))
        self.pods.append(Pod(ns, addr, addr6))

    def cni_conf(self, cidr=None, timeout=30):
        """The daemon's CNI configuration once it has written one that
        parses (and names cidr), or None."""
        def read():
            try:
                conf = cnirt.load(self.cni_file)
            except (OSError, ValueError):
                return None
            if cidr is not None and '"%s"' % cidr not in json.dumps(conf):
                return None
            return conf
        return wait_until(read, timeout, 0.1)

    def attach(self, timeout=180):
        """Waits for the daemon's CNI file and attaches npods pod
        namespaces with it through the real plugins; the pods.  The
        wait is generous: a daemon's first generation in a VM under
        TCG on a busy machine took over 30 s."""
        conf = self.cni_conf(timeout=timeout)
        if conf is None:
            raise RuntimeError("%s: no CNI configuration in %s after %d s"
                               % (self.name, self.cni_file, timeout))
        net = cnirt.Network(conf, wrap=cnirt.node_wrap(self.ns,
                                                        self.cni_state))
        for j in range(self.npods):
            ns = "%s-n%dp%d" % (self.cluster.prefix, self.index, j)
            if ns not in self.cluster.namespaces:
                sh("ip", "netns", "add", ns)
                self.cluster.namespaces.append(ns)
                sh("ip", "-n", ns, "link", "set", "lo", "up")
            res = net.add(ns, "/run/netns/" + ns)
            a4 = cnirt.addresses(res, 4)
            a6 = cnirt.addresses(res, 6)
            pod = Pod(ns, a4[0].split("/")[0] if a4 else None,
                      a6[0].split("/")[0] if a6 else None)
            pod.net = net
            pod.result = res
            self.pods.append(pod)
        return self.pods

    def detach(self):
        """CNI DEL of every pod attached (the namespaces stay); the
        errors, as text."""
        errors = []
        for p in self.pods:
            if p.net is None:
                continue
            try:
                p.net.delete(p.ns, "/run/netns/" + p.ns)
            except (cnirt.CniError, OSError) as e:
                errors.append("%s: %s" % (p.ns, e))
        self.pods = [p for p in self.pods if p.net is None]
        return errors

    def node_object(self, **kw):
        return nodegen.make_node(self.index, target_bytes=3000,
                                 dual_stack=self.pod_cidr6 is not None,
                                 pod_cidr_mask=self.cluster.pod_cidr_mask,
                                 **kw)

    def start(self, args, wrap=()):
        if self.cluster.cni and "--cni-config" not in args:
            args = list(args) + ["--cni-config", self.cni_file]
        self.daemon = knlib.Daemon(args, netns=_Named(self.ns),
                                   api=self.cluster.api.daemon_args(self.name),
                                   wrap=wrap)
        return self.daemon

    def start_image(self, image, ds, files=None, pod=None):
        """The daemon as it ships: the container of image with the
        settings of the DaemonSet ds (tests/imagelib.py) in this node's
        network, reaching the API server as a pod's service account,
        the host's CNI directory this node's own (needs cni=True).
        pod: an imagelib.Pod to start again (a restart).  The daemon
        has knlib.Daemon's interface."""
        import imagelib
        api = self.cluster.api
        if pod is None:
            pod = imagelib.Pod(ds, self.name, self.ns,
                               host_paths={"/etc/cni/net.d": self.cni_dir},
                               files=files, api=(API_HOST, api.port,
                                                 api.token_file, api.pki.ca))
        self.daemon = imagelib.Container(image, pod)
        return self.daemon

    def stop(self, keep_pod=False):
        """Stops the daemon; its exit status (None if none ran).
        keep_pod: a container's pod stays, to start it again."""
        rc = self.daemon.stop() if self.daemon is not None else None
        pod = getattr(self.daemon, "pod", None)
        if pod is not None and not keep_pod:
            pod.close()
        self.daemon = None
        return rc

    def state(self):
        """Every object a mode may own here, as text."""
        return "\n".join([
            self.run("ip", "-d", "link", "show"),
            self.run("ip", "route", "show", "table", "all"),
            self.run("ip", "-6", "route", "show", "table", "all"),
            self.run("ip", "neigh", "show", "nud", "permanent"),
            self.run("bridge", "fdb", "show"),
        ])


class Outside:
    """A host on the underlay bridge with an address outside the cluster
    range and no route to any pod CIDR: a pod reaches it only when its
    source is translated to its node's address."""

    def __init__(self, cluster, dual_stack):
        self.ns = cluster.prefix + "-out"
        self.addr = OUTSIDE
        self.addr6 = OUTSIDE6 if dual_stack else None
        ul = cluster.ul
        sh("ip", "netns", "add", self.ns)
        cluster.namespaces.append(self.ns)
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        sh("ip", "-n", ul, "link", "add", "out", "type", "veth", "peer",
           "name", "eth0", "netns", self.ns)
        sh("ip", "-n", ul, "link", "set", "out", "master", "ul", "up")
        sh("ip", "-n", self.ns, "addr", "add", self.addr + "/16", "dev",
           "eth0")
        if dual_stack:
            sh("ip", "-n", self.ns, "addr", "add", self.addr6 + "/64", "dev",
               "eth0", "nodad")
        sh("ip", "-n", self.ns, "link", "set", "eth0", "up")

    def run(self, *argv, check=True):
        return sh("ip", "netns", "exec", self.ns, *argv, check=check).stdout


class _Named:
    """What knlib.Daemon needs of a namespace: its name."""

    def __init__(self, name):
        self.name = name


class Cluster:
    """nodes node namespaces with pods each, the test API server on the
    underlay, every Node object posted; no daemon yet (start_all).
    pod_cidr_mask: the size of the nodes' pod CIDRs (/25 fits 5,000
    nodes in the default cluster range).  cni: the pods are attached
    by the CNI plugins from the file each daemon writes, when
    start_all() has started the daemons (see the module's text)."""

    def __init__(self, nodes=3, pods=2, dual_stack=False,
                 pod_cidr_mask=nodegen.POD_CIDR_MASK, cni=False):
        self.prefix = "kc%d" % (os.getpid() % 100000)
        self.pod_cidr_mask = pod_cidr_mask
        self.cni = cni
        self.namespaces = []
        self.nodes = []
        self.api = None
        self.outside = None
        self.ul = self.prefix + "-ul"
        try:
            sh("ip", "netns", "add", self.ul)
            self.namespaces.append(self.ul)
            sh("ip", "-n", self.ul, "link", "set", "lo", "up")
            sh("ip", "-n", self.ul, "link", "add", "ul", "type", "bridge")
            sh("ip", "-n", self.ul, "addr", "add", API_HOST + "/16", "dev",
               "ul")
            sh("ip", "-n", self.ul, "addr", "add", API_HOST6 + "/64", "dev",
               "ul", "nodad")
            sh("ip", "-n", self.ul, "link", "set", "ul", "up")
            for i in range(nodes):
                self.nodes.append(Node(self, i, pods, dual_stack))
            self.outside = Outside(self, dual_stack)
            self.api = knlib.ApiServer(netns=self.ul, host=API_HOST)
            for n in self.nodes:
                self.api.control("POST", "/nodes", n.node_object())
        except BaseException:
            self.close()
            raise

    def add_node(self, index, pods=2):
        """One more node namespace, its Node object posted."""
        n = Node(self, index, pods, False)
        self.nodes.append(n)
        self.api.control("POST", "/nodes", n.node_object())
        return n

    @contextlib.contextmanager
    def scratch_node(self):
        """A node of no pods for the with block, removed after it."""
        node = self.add_node(0, pods=0)
        try:
            yield node
        finally:
            self.remove_node(node)

    def remove_node(self, node):
        """Stops the node's daemon and deletes its namespaces; its Node
        object stays on the API server."""
        node.detach()
        node.stop()
        # The namespace goes in the background: its veth peer now, so
        # the port name is free for the next node.
        sh("ip", "-n", self.ul, "link", "del", "n%d" % node.index,
           check=False)
        prefix = "%s-n%dp" % (self.prefix, node.index)
        for ns in [x for x in self.namespaces if x.startswith(prefix)] + \
                [node.ns]:
            sh("ip", "netns", "del", ns, check=False)
            self.namespaces.remove(ns)
        if node.tmp is not None:
            shutil.rmtree(node.tmp, ignore_errors=True)
        self.nodes.remove(node)

    def renumber(self, node, index):
        """Gives node the index-th pod CIDR: its bridge and pods are
        readdressed and its Node object updated; the new CIDR.  With
        CNI, the pods are detached, the daemon's new file awaited and
        the pods attached again with it."""
        import ipaddress as ip
        old = ip.ip_network(node.pod_cidr)
        node.pod_cidr = nodegen.pod_cidr(index, mask=self.pod_cidr_mask)
        net = ip.ip_network(node.pod_cidr)
        if self.cni:
            self._post_pod_cidr(node)
            assert old != net
            if node.cni_conf(node.pod_cidr) is None:
                raise RuntimeError("%s: no CNI file for %s" %
                                   (node.name, node.pod_cidr))
            bridge = node.pods[0].net.conf["plugins"][0]["bridge"]
            errors = node.detach()
            if errors:
                raise RuntimeError("; ".join(errors))
            # The old gateway address would keep the old CIDR here.
            node.run("ip", "addr", "del", "%s/%d" % (old[1], old.prefixlen),
                     "dev", bridge, check=False)
            node.attach()
            return node.pod_cidr
        node.run("ip", "addr", "flush", "dev", "cbr0")
        node.run("ip", "addr", "add", "%s/%d" % (net[1], net.prefixlen),
                 "dev", "cbr0")
        for j, p in enumerate(node.pods):
            sh("ip", "-n", p.ns, "addr", "flush", "dev", "eth0")
            p.addr = str(net[2 + j])
            sh("ip", "-n", p.ns, "addr", "add", "%s/%d" % (p.addr,
               net.prefixlen), "dev", "eth0")
            sh("ip", "-n", p.ns, "route", "replace", "default", "via",
               str(net[1]))
        self._post_pod_cidr(node)
        assert old != net
        return node.pod_cidr

    def _post_pod_cidr(self, node):
        obj = self.api.control("GET", "/nodes/" + node.name)
        obj["spec"]["podCIDR"] = node.pod_cidr
        obj["spec"]["podCIDRs"] = [node.pod_cidr]
        self.api.control("POST", "/nodes", obj)

    def start_all(self, args, image=None):
        """Starts every node's daemon (with image: the container of
        image with the settings of the DaemonSet args, Node.start_image);
        with CNI, then attaches every node's pods from the file its
        daemon wrote."""
        for n in self.nodes:
            if image is None:
                n.start(args)
            else:
                n.start_image(image, args)
        if self.cni:
            for n in self.nodes:
                if not n.pods:
                    n.attach()

    def wait_all(self, pattern, timeout=30):
        """Every running daemon logs a line matching pattern."""
        ok = True
        for n in self.nodes:
            if n.daemon is not None:
                i, m = n.daemon.wait_for(pattern, timeout=timeout)
                ok = ok and m is not None
        return ok

    def pings(self, family=4, nodes=None):
        """(src, dst, ok) for every pod to every pod on the other nodes."""
        out = []
        nodes = nodes if nodes is not None else self.nodes
        for a in nodes:
            for b in nodes:
                if a is b:
                    continue
                for p in a.pods:
                    for q in b.pods:
                        dst = q.addr if family == 4 else q.addr6
                        out.append((p, q, p.ping(dst)))
        return out

    def converge_pings(self, family=4, nodes=None, timeout=20):
        """Pings until all pass or the time is up; the last results."""
        last = []

        def all_pass():
            last[:] = self.pings(family, nodes)
            return all(ok for _, _, ok in last)
        wait_until(all_pass, timeout, 0.5)
        return last

    def close(self):
        for n in self.nodes:
            n.detach()
            try:
                n.stop()
            except Exception:
                pass
            if n.tmp is not None:
                shutil.rmtree(n.tmp, ignore_errors=True)
        if self.api is not None:
            self.api.close()
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces = []


# Shared with the tests that drive an executor without a cluster.
owned = knlib.owned
wait_until = knlib.wait_until
vxlan_mac = knlib.vxlan_mac


def expected(mode, peers):
    """What owned() shows on a node for its peers (anything with
    pod_cidr and addr)."""
    return knlib.expected_owned(mode, [(p.pod_cidr, p.addr) for p in peers])
