#!/usr/bin/env python3
"""The ways the daemon finds and authenticates to the API server, end
to end against the test API server over real TLS: a kubeconfig with a
client certificate (embedded or by path), a client certificate from a
CA the server does not trust, a CA that did not sign the server,
insecure-skip-tls-verify, and the in-cluster service account
(KUBERNETES_SERVICE_HOST/PORT and the mounted token and CA), including
a token rotated in the mounted directory."""

import os
import re
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
nodegen = knlib.need_apiserver(tap)
import pki  # noqa: E402

LOCAL = nodegen.node_name(0)
COMMITTED = r"^watcher: node \S+: NetworkUnavailable=False \(RouteCreated\)$"
# Once the condition is False, a later daemon has nothing to patch.
GENERATION = r"^watcher: generation \d+ committed"
SA = "/var/run/secrets/kubernetes.io/serviceaccount"


def server():
    api = knlib.ApiServer(client_ca=True)
    for i in range(3):
        api.control("POST", "/nodes", nodegen.make_node(i, target_bytes=2000))
    return api


def kubeconfig(api, path, cert, key, files):
    pki.write_kubeconfig(path, api.url, api.pki.ca, client_cert=cert,
                         client_key=key, files=files)
    return ["--kubeconfig", path, "--node-name", LOCAL]


# A client certificate, embedded and by path: every request of the daemon
# is authenticated by it, none carries a token.
for files in (False, True):
    how = "files" if files else "data"
    api = server()
    d = None
    try:
        d = api.daemon(["-v"], api=kubeconfig(
            api, os.path.join(api.dir, "kubeconfig"), api.pki.client_cert,
            api.pki.client_key, files))
        i, m = d.wait_for(COMMITTED, timeout=30)
        tap.ok(m is not None, "client certificate (%s): lists, commits and "
               "patches the node condition" % how, d.log())
        tap.ok(re.search(r"(?m)^watcher: API server https://127\.0\.0\.1:\d+",
                         d.log()), "client certificate (%s): from the "
               "kubeconfig" % how, d.log())
        reqs = api.requests()
        tap.ok(reqs and all(r["client_cert"] == "kopeio-networkd" and
                            r["authorization"] is None for r in reqs),
               "client certificate (%s): %d requests, every one by the "
               "certificate and none with a token" % (how, len(reqs)),
               [(r["client_cert"], r["authorization"]) for r in reqs])
        tap.ok(any(r["method"] == "PATCH" for r in reqs),
               "client certificate (%s): the status patch too" % how)
    finally:
        if d is not None:
            d.stop()
        api.close()

# A certificate from a CA the server does not trust: refused in the TLS
# handshake as kube-apiserver does; the watcher logs it, backs off and
# retries; nothing crashes and nothing is listed.
api = server()
d = None
try:
    other = knlib.private_dir()
    foreign = pki.make_pki(other, client_cn="intruder")
    d = api.daemon(["-v"], api=kubeconfig(
        api, os.path.join(api.dir, "kubeconfig"), foreign.client_cert,
        foreign.client_key, False))
    i, m = d.wait_for(r"^watcher: list https://", timeout=30)
    i2, m2 = d.wait_for(r"^watcher: list https://", timeout=30,
                        start=(i or 0) + 1)
    tap.ok(m is not None and m2 is not None, "foreign certificate: the "
           "failure is logged and retried", d.log())
    pids = knlib.children_of(d.pid())
    tap.ok(sorted(pids) == ["executor", "watcher"] and
           all(knlib.alive(p) for p in pids.values()) and
           not re.search(r"(?m)restart|fatal", d.log()),
           "foreign certificate: no process died", (pids, d.log()))
    tap.ok(not re.search(r"(?m)^watcher: listed", d.log()) and
           not [r for r in api.requests() if r["code"] == 200],
           "foreign certificate: nothing is served", d.log())
finally:
    if d is not None:
        d.stop()
    api.close()


# TLS verification: a CA that did not sign the server's certificate
# fails every connection; insecure-skip-tls-verify in the kubeconfig
# turns verification off, with a warning at every connection.
api = server()
d = None
try:
    other = knlib.private_dir()
    stranger = pki.make_pki(other)
    kc = os.path.join(api.dir, "kubeconfig")
    pki.write_kubeconfig(kc, api.url, stranger.ca, token="token-one")
    d = api.daemon(["-v"], api=["--kubeconfig", kc, "--node-name", LOCAL])
    i, m = d.wait_for(r"^watcher: list https://.*(certificate|SSL)",
                      timeout=30)
    tap.ok(m is not None and not re.search(r"(?m)^watcher: listed",
                                           d.log()),
           "a CA that did not sign the server: the connection is refused",
           d.log())
    d.stop()
    d.stop()
    # A host name is resolved by the parent before any child starts: the
    # watcher, in its empty chroot, could not resolve it.
    pki.write_kubeconfig(kc, api.url.replace("127.0.0.1", "localhost"),
                         api.pki.ca, token="token-one")
    d = api.daemon(["-v"], api=["--kubeconfig", kc, "--node-name", LOCAL])
    i, m = d.wait_for(COMMITTED, timeout=30)
    tap.ok(m is not None and re.search(r"(?m)^watcher: API server "
                                       r"https://localhost:", d.log()),
           "a host name in the server URL: resolved before the drop, the "
           "certificate checked against the name", d.log())
    d.stop()
    pki.write_kubeconfig(kc, api.url, None, token="token-one", insecure=True)
    d = api.daemon(["-v"], api=["--kubeconfig", kc, "--node-name", LOCAL])
    i, m = d.wait_for(GENERATION, timeout=30)
    tap.ok(m is not None, "insecure-skip-tls-verify: it works", d.log())
    warns = re.findall(r"(?m)^watcher: .*insecure-skip-tls-verify", d.log())
    tap.ok(len(warns) >= 2, "insecure-skip-tls-verify: a warning at every "
           "connection (%d)" % len(warns), d.log())
finally:
    if d is not None:
        d.stop()
    api.close()


class InCluster(knlib.Lines):
    """The daemon as in a pod: KUBERNETES_SERVICE_HOST/PORT and the
    service account's token and CA under /var/run/secrets, which a
    tmpfs over /run provides in the daemon's own mount namespace (ip
    netns exec gives it one), so the host's /run is never written."""

    def __init__(self, api):
        self.tmp = knlib.private_dir()
        self.own_ns = None
        with open(api.token_file) as f:
            token = f.read()
        with open(api.pki.ca) as f:
            ca = f.read()
        script = "\n".join([
            "set -e",
            "mount -t tmpfs -o mode=0755 kn-test /run",
            "mkdir -p %s /run/empty" % SA,
            "printf %%s %s > %s/token" % (shlex.quote(token), SA),
            "printf %%s %s > %s/ca.crt" % (shlex.quote(ca), SA),
            "exec %s -d -v --chroot /run/empty --uid-base %d" %
            (shlex.quote(knlib.DAEMON), knlib.uid_base()),
        ])
        env = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1",
                   KUBERNETES_SERVICE_PORT=str(api.port), NODE_NAME=LOCAL)
        super().__init__(["ip", "netns", "exec", api.netns, "sh", "-c",
                          script], env=env)

    def pid(self):
        return self.proc.pid

    def sa_dir(self):
        """The mounted directory, as the host reaches it (/var/run is a
        symbolic link to /run, which would resolve on the host)."""
        return "/proc/%d/root/run%s" % (self.proc.pid, SA[len("/var/run"):])

    def stop(self):
        knlib.Daemon.stop(self)


api = server()
d = None
try:
    d = InCluster(api)
    i, m = d.wait_for(COMMITTED, timeout=30)
    tap.ok(m is not None, "in-cluster: lists, commits and patches the node "
           "condition", d.log())
    tap.ok(re.search(r"(?m)^parent: .*in-cluster service account", d.log())
           or re.search(r"(?m)^watcher: API server https://127\.0\.0\.1:%d;"
                        % api.port, d.log()),
           "in-cluster: from KUBERNETES_SERVICE_HOST and _PORT", d.log())
    reqs = api.requests()
    tap.ok(reqs and all(r["token"] == "token-one" for r in reqs),
           "in-cluster: every request carries the mounted token",
           [r["token"] for r in reqs])
    # The kubelet rotates the token: a new file renamed in.
    mark = d.mark()
    api.set_token("token-two")
    tmp = os.path.join(d.sa_dir(), "..token.new")
    with open(tmp, "w") as f:
        f.write("token-two\n")
    os.rename(tmp, os.path.join(d.sa_dir(), "token"))
    i, m = d.wait_for(r"^parent: API token changed; sending it to the "
                      r"watcher$", start=mark, timeout=30)
    tap.ok(m is not None, "in-cluster: a rotated token file is read again",
           d.log())
    # The open watch was authenticated when it began; the next request
    # (after this drop) must carry the new token.
    n = len(api.requests())
    api.control("POST", "/faults", [{"match": "watch",
                                     "action": "drop_mid_event"}])
    api.control("POST", "/nodes", nodegen.make_node(3, target_bytes=2000))
    i, m = d.wait_for(r"^executor: generation \d+: 1 intents added",
                      start=mark, timeout=60)
    tap.ok(m is not None, "in-cluster: later events still arrive", d.log())
    later = [r["token"] for r in api.requests()[n:]]
    tap.ok(later and all(t == "token-two" for t in later),
           "in-cluster: requests after the rotation carry the new token",
           later)
finally:
    if d is not None:
        d.stop()
    api.close()
with open("/proc/self/mounts") as f:
    tap.ok("kn-test" not in f.read(), "in-cluster: nothing stays mounted on "
           "the host")
tap.done()
