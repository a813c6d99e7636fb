#!/usr/bin/env python3
"""The manifests of k8s/ against their generator, a real YAML parser
and the real daemon.

Each file is what k8s/gen-manifests prints for its mode (so they cannot
drift), parses with libyaml (tests/yaml2json), holds the four objects
with the names of the original agent, grants exactly the RBAC rules the
agent needs, and runs the container as stated: no privilege, the
node's network only, capabilities cut to the daemon parent's list
(caps_parent[] in src/sandbox.c), no privilege escalation, read-only
root, RuntimeDefault seccomp, probes on the metrics address.  The
daemon accepts every argument of every file (-n), and as root: the
daemon confines itself under exactly those capabilities with
no_new_privs set from the start, as in the pod (setpriv), fails
without any one of them, and installs its routes in a test cluster
started with the vxlan file's own arguments."""

import os
import re
import json
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
GEN = os.path.join(knlib.SRCDIR, "k8s", "gen-manifests")
YAML2JSON = os.path.join(knlib.BUILDDIR, "tests", "yaml2json")
CAPS = knlib.parent_caps()
KINDS = ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"]
AGENT, NAMESPACE = "kopeio-networking-agent", "kube-system"
RULES = [{"apiGroups": [""], "resources": ["nodes"],
          "verbs": ["get", "list", "watch"]},
         {"apiGroups": [""], "resources": ["nodes/status"],
          "verbs": ["patch"]}]
# What each file must ask of the daemon, as kopeio-networkd -nv prints
# the resulting configuration.
WANT_CONFIG = {
    "layer2": ["provider layer2"],
    "vxlan": ["provider vxlan"],
    "vxlan-legacy": ["provider vxlan-legacy"],
    "ipsec-plaintext": ["provider ipsec", "ipsec-encryption none",
                        "ipsec-authentication none"],
    "ipsec-encrypted": ["provider ipsec", "ipsec-encryption aes"],
    "gre": ["provider gre"],
}
SECRET = "kopeio-networking-ipsec"
COMMITTED = r"^watcher: generation \d+ committed"


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, **kw)


def version():
    with open(os.path.join(knlib.SRCDIR, "configure.ac")) as f:
        return re.search(r"AC_INIT\(\[[^]]*\], \[([^]]*)\]", f.read()).group(1)


class Pod:
    """The DaemonSet's container as this host can run it: each volume a
    directory of its own under a temporary one (the Secret with a fresh
    IPsec key in it), the arguments rewritten to those directories,
    $(NODE_NAME) filled in."""

    def __init__(self, ds, node):
        spec = ds["spec"]["template"]["spec"]
        self.c = spec["containers"][0]
        self.tmp = knlib.private_dir()
        self.dirs = {}
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for m in self.c.get("volumeMounts", []):
            d = os.path.join(self.tmp, m["name"])
            os.mkdir(d, 0o755)
            self.dirs[m["mountPath"]] = d
            secret = volumes.get(m["name"], {}).get("secret")
            if secret is not None:
                with open(os.path.join(d, "key"), "w") as f:
                    f.write("1 %s\n" % os.urandom(32).hex())
                os.chmod(os.path.join(d, "key"), 0o400)  # defaultMode
        self.args = knlib.host_args(self.c.get("args", []), self.dirs,
                                    [("$(NODE_NAME)", node)])
        self.chroot = os.path.join(self.tmp, "empty")
        os.mkdir(self.chroot, 0o755)     # /var/empty of the image

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def check_rbac(mode, docs):
    sa, role, binding = docs[0], docs[1], docs[2]
    tap.eq((sa["metadata"]["name"], sa["metadata"]["namespace"]),
           (AGENT, NAMESPACE), "%s: the original agent's service account"
           % mode)
    tap.eq(role["rules"], RULES, "%s: ClusterRole: get, list, watch on "
           "nodes and patch on nodes/status, nothing else" % mode)
    tap.eq((binding["roleRef"], binding["subjects"]),
           ({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
             "name": role["metadata"]["name"]},
            [{"kind": "ServiceAccount", "name": AGENT,
              "namespace": NAMESPACE}]),
           "%s: the binding gives that role to that account only" % mode)


def check_pod(mode, ds, text):
    spec = ds["spec"]["template"]["spec"]
    tap.eq((ds["metadata"]["name"], ds["metadata"]["namespace"],
            ds["spec"]["selector"]), (AGENT, NAMESPACE,
                                      {"matchLabels": {"name": AGENT}}),
           "%s: the original agent's DaemonSet name and selector" % mode)
    tap.eq(ds["spec"].get("updateStrategy"),
           {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
           "%s: rolling update, one node at a time" % mode)
    tap.eq((spec.get("serviceAccountName"), spec.get("hostNetwork"),
            spec.get("hostPID", False), spec.get("hostIPC", False),
            spec.get("priorityClassName"), spec.get("tolerations")),
           (AGENT, True, False, False, "system-node-critical",
            [{"operator": "Exists"}]),
           "%s: its account, the host network only (no host PID or IPC), "
           "system-node-critical, every taint tolerated" % mode)
    tap.ok("securityContext" not in spec and "initContainers" not in spec
           and len(spec.get("containers", [])) == 1,
           "%s: one container, nothing set for the pod as a whole" % mode)
    c = spec["containers"][0]
    sc = c.get("securityContext", {})
    tap.eq(sc, {"privileged": False, "runAsUser": 0, "runAsNonRoot": False,
                "capabilities": {"drop": ["ALL"], "add": CAPS},
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "seccompProfile": {"type": "RuntimeDefault"}},
           "%s: not privileged, uid 0, drop ALL and add exactly the "
           "parent's capabilities (%s), no privilege escalation, read-only "
           "root, RuntimeDefault seccomp" % (mode, " ".join(CAPS)))
    tap.eq((c.get("image"), c.get("command")),
           ("kopeio-networking:%s" % version(), ["/usr/sbin/kopeio-networkd"]),
           "%s: the image of this version, the daemon from /usr/sbin" % mode)
    tap.eq(c.get("env"), [{"name": "NODE_NAME", "valueFrom": {
        "fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "%s: NODE_NAME from the downward API (spec.nodeName)" % mode)
    args = knlib.split_flags(c.get("args", []))
    tap.ok(("--node-name", "$(NODE_NAME)") in args and ("-d", None) in args,
           "%s: --node-name=$(NODE_NAME), and -d to log to standard error"
           % mode, args)
    res = c.get("resources", {})
    tap.ok(all(k in res.get(w, {}) for w in ("requests", "limits")
               for k in ("cpu", "memory")) and
           "bench/bench_daemon.py" in text,
           "%s: CPU and memory requests and limits, with the benchmark "
           "behind them" % mode, res)
    metrics = dict(args).get("--metrics-address", "")
    host, _, port = metrics.rpartition(":")
    for probe, path in (("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        tap.eq(c.get(probe, {}).get("httpGet"),
               {"host": "127.0.0.1", "port": int(port or 0), "path": path},
               "%s: %s is GET %s on the loopback metrics address %s" %
               (mode, probe, path, metrics))
    tap.eq(host, "127.0.0.1", "%s: metrics on the node's loopback only"
           % mode)
    check_volumes(mode, spec, c, dict(args))


def check_volumes(mode, spec, c, args):
    """What a read-only root leaves writable is what the daemon writes,
    and the host is seen through the CNI directory only."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    kind = {p: [k for k in volumes.get(m["name"], {}) if k != "name"]
            for p, m in mounts.items()}
    sock = os.path.dirname(args.get("-s", ""))
    cni = os.path.dirname(args.get("--cni-config", ""))
    tap.eq(sorted(v["hostPath"]["path"] for v in volumes.values()
                  if "hostPath" in v), sorted([cni, sock]),
           "%s: the host's CNI directory and the control socket's are its "
           "only host paths" % mode)
    tap.ok(kind.get(sock) == ["hostPath"] and kind.get(cni) == ["hostPath"]
           and not mounts[sock].get("readOnly") and
           not mounts[cni].get("readOnly"),
           "%s: the control socket's directory (%s) and the CNI file's (%s) "
           "are host paths (0755, as the daemon demands: an emptyDir is "
           "world-writable), both writable" % (mode, sock, cni), kind)
    cm = volumes.get(mounts.get("/config", {}).get("name"), {})
    tap.eq((cm.get("configMap"), mounts.get("/config", {}).get("readOnly")),
           ({"name": "kopeio-networking", "optional": True}, True),
           "%s: the original's ConfigMap, optional, read-only at /config"
           % mode)
    secrets = [v["secret"] for v in volumes.values() if "secret" in v]
    key = args.get("--ipsec-key-file")
    if mode != "ipsec-encrypted":
        tap.ok(not secrets and key is None, "%s: reads no Secret" % mode)
        return
    where = os.path.dirname(key or "")
    tap.ok(secrets == [{"secretName": SECRET, "defaultMode": 0o400}] and
           kind.get(where) == ["secret"] and mounts[where].get("readOnly"),
           "%s: --ipsec-key-file in the Secret %s, mounted read-only, "
           "mode 0400" % (mode, SECRET), (key, secrets))


def check_args(mode, ds):
    """-nv reads the whole command line (the volumes on directories of
    this host) as meant."""
    pod = Pod(ds, "node-0")
    try:
        with open(os.path.join(pod.tmp, "token"), "w") as f:
            f.write("token\n")
        with open(os.path.join(pod.tmp, "ca.crt"), "w") as f:
            f.write("never read by -n\n")
        knlib.check_config(
            tap, mode, pod.args +
            ["--apiserver", "https://127.0.0.1:6443",
             "--token-file", os.path.join(pod.tmp, "token"),
             "--ca-file", os.path.join(pod.tmp, "ca.crt"),
             "--chroot", pod.chroot],
            WANT_CONFIG[mode] + ["node-name node-0"])
    finally:
        pod.close()


def check_file(mode):
    path = os.path.join(knlib.SRCDIR, "k8s", mode + ".yaml")
    gen = run([sys.executable, GEN, mode])
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        text = None
        tap.ok(False, "%s: k8s/%s.yaml exists" % (mode, mode), e)
        return
    tap.ok(gen.returncode == 0 and gen.stdout == text,
           "%s: k8s/%s.yaml is what k8s/gen-manifests prints (make "
           "manifests)" % (mode, mode), gen.stderr or "the file differs")
    r = run([YAML2JSON, path])
    tap.ok(r.returncode == 0, "%s: libyaml parses it" % mode, r.stderr)
    if r.returncode != 0:
        return
    docs = json.loads(r.stdout)
    tap.eq([d.get("kind") for d in docs], KINDS, "%s: %s" %
           (mode, ", ".join(KINDS)))
    if [d.get("kind") for d in docs] != KINDS:
        return
    check_rbac(mode, docs)
    check_pod(mode, docs[3], text)
    check_args(mode, docs[3])
    if mode == "ipsec-encrypted":
        tap.ok("openssl rand -hex 32" in text and
               "create secret generic %s --from-file=key" % SECRET in
               " ".join(text.replace("\\\n#", " ").split()),
               "%s: says how to make the key and the Secret" % mode)
    return docs[3]


def self_test(caps, ns, tmp):
    """kopeio-networkd --self-test as a pod runs it: uid 0, no_new_privs
    set, the bounding set (and so what root gets) cut to caps."""
    chroot = os.path.join(tmp, "empty")
    shutil.rmtree(chroot, ignore_errors=True)
    os.mkdir(chroot, 0o755)
    return run(["ip", "netns", "exec", ns.name] + setpriv(caps) +
               [knlib.DAEMON, "--self-test", "--chroot", chroot] +
               knlib.own_ids([]))


def setpriv(caps):
    return ["setpriv", "--bounding-set=-all" +
            "".join(",+" + c.lower() for c in caps),
            "--inh-caps=-all", "--ambient-caps=-all", "--no-new-privs"]


def check_caps():
    ns = knlib.Netns()
    tmp = knlib.private_dir()
    try:
        r = self_test(CAPS, ns, tmp)
        tap.ok(r.returncode == 0 and "self-test: confinement verified" in
               r.stdout, "--self-test passes with only %s and no_new_privs"
               % " ".join(CAPS), r.stdout + r.stderr)
        for drop in CAPS:
            r = self_test([c for c in CAPS if c != drop], ns, tmp)
            tap.ok(r.returncode != 0 and "confinement verified" not in
                   r.stdout, "--self-test fails without %s" % drop,
                   r.stdout + r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        ns.close()


def check_probes(n0, pod, text):
    """The probes answer as the kubelet would see them, and the verify
    command of the file's comment works."""
    for probe in ("livenessProbe", "readinessProbe"):
        g = pod.c[probe]["httpGet"]
        url = "http://%s:%d%s" % (g["host"], g["port"], g["path"])
        tap.ok(knlib.wait_until(
               lambda: knlib.http_status(n0.ns, url) == 200),
               "vxlan.yaml's %s: %s answers 200 in the node's network"
               % (probe, url), knlib.http_status(n0.ns, url))
    m = re.search(r"exec ds/\S+ -- (kopeio-networkctl) \\\n#\s+(-s \S+ "
                  r"show status)", text)
    if m is None:
        tap.ok(False, "vxlan.yaml's comment has the verify command", text)
    else:
        argv = m.group(2).split()
        sock = dict(knlib.split_flags(pod.c["args"])).get("-s")
        here = knlib.host_args(argv[:2], pod.dirs)
        r = run(["ip", "netns", "exec", n0.ns, knlib.CTL] + here + argv[2:])
        tap.ok(argv[1] == sock and r.returncode == 0 and "vxlan" in r.stdout,
               "the comment's \"%s\" shows the daemon's status" %
               " ".join(m.groups()), r.stdout + r.stderr)


def check_cluster(ds, text):
    """The vxlan file's container in a two-node test cluster: its
    arguments, its capabilities, no_new_privs from the start, its
    probes."""
    import netcluster
    c = netcluster.Cluster(nodes=2, pods=0)
    n0, n1 = c.nodes
    pod = Pod(ds, n0.name)
    try:
        d = n0.start(pod.args + ["--chroot", pod.chroot],
                     wrap=setpriv(CAPS))
        n1.start(["--provider", "vxlan"])
        tap.ok(c.wait_all(COMMITTED), "vxlan.yaml's daemon under the "
               "pod's capabilities commits its first generation", d.log())
        want = netcluster.expected("vxlan", [n1])
        tap.ok(knlib.wait_until(lambda: netcluster.owned(n0) == want),
               "vxlan.yaml's daemon installed its peer's FDB entry, "
               "neighbour and route", "\n".join(netcluster.owned(n0)))
        st = knlib.proc_status(d.pid())
        mask = knlib.capmask(*[getattr(knlib, "CAP_" + x) for x in CAPS])
        tap.eq((st["Uid"][0], st["CapBnd"], st["CapEff"], st["NoNewPrivs"]),
               (0, mask, mask, 1), "its parent: uid 0, those capabilities "
               "bounding and effective, no_new_privs")
        ex = knlib.children_of(d.pid()).get("executor")
        st = knlib.proc_status(ex) if ex else {}
        tap.eq((st.get("Uid"), st.get("CapEff")),
               ([d.uid_base + 1] * 4, knlib.capmask(knlib.CAP_NET_ADMIN)),
               "its executor: a uid of its own, NET_ADMIN only")
        check_probes(n0, pod, text)
    finally:
        c.close()
        pod.close()


def main():
    r = run([sys.executable, GEN, "--list"])
    modes = r.stdout.split()
    tap.ok(sorted(modes) == sorted(WANT_CONFIG), "k8s/gen-manifests knows "
           "the six modes", "%r\n%s" % (modes, r.stderr))
    files = sorted(f[:-5] for f in os.listdir(os.path.join(
        knlib.SRCDIR, "k8s")) if f.endswith(".yaml"))
    tap.eq(files, sorted(modes), "k8s/ holds one file per mode and no other")
    tap.ok(run([sys.executable, GEN, "nosuch"]).returncode == 2,
           "gen-manifests refuses an unknown mode")
    known = knlib.daemon_options()
    tap.ok("--provider" in known, "the daemon lists its options", known)
    docs = {m: check_file(m) for m in modes}
    used = {}
    for m, ds in sorted(docs.items()):
        if ds is not None:
            args = ds["spec"]["template"]["spec"]["containers"][0]["args"]
            for name, _ in knlib.split_flags(args):
                used.setdefault(name, []).append(m)
    knlib.check_flags(tap, used, known)

    why = knlib.apiserver_missing("ip", "setpriv")
    if why is not None:
        tap.skip("the daemon under the pod's capabilities", why)
    else:
        check_caps()
        if docs.get("vxlan") is not None:
            with open(os.path.join(knlib.SRCDIR, "k8s", "vxlan.yaml")) as f:
                check_cluster(docs["vxlan"], f.read())
    tap.done()


main()
