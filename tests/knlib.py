"""Shared helpers for the end-to-end tests: TAP output, a daemon under
test with its log collected, and /proc readers.  Python 3 standard
library only."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

BUILDDIR = os.environ.get("KN_BUILDDIR",
                          os.path.dirname(os.path.dirname(
                              os.path.abspath(__file__))))
DAEMON = os.path.join(BUILDDIR, "src", "kopeio-networkd")
CTL = os.path.join(BUILDDIR, "src", "kopeio-networkctl")
SRCDIR = os.environ.get("KN_SRCDIR",
                        os.path.dirname(os.path.dirname(
                            os.path.abspath(__file__))))

# Capability numbers from linux/capability.h.
CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP = 5, 6, 7, 8
CAP_NET_ADMIN, CAP_SYS_CHROOT = 12, 18


def parent_caps():
    """The capabilities the daemon's parent keeps, caps_parent[] of
    src/sandbox.c, as names without CAP_ in their order there: what a
    pod or a service must grant it, no more."""
    with open(os.path.join(SRCDIR, "src", "sandbox.c")) as f:
        m = re.search(r"\bcaps_parent\[\]\s*=\s*\{([^}]*)\}", f.read())
    if m is None:
        raise RuntimeError("no caps_parent[] in src/sandbox.c")
    return re.findall(r"\bCAP_([A-Z_]+)\b", m.group(1))


def split_flags(args):
    """[(flag, value or None)] of a command line whose values either
    follow an equals sign or are the next word."""
    out = []
    for a in args:
        if a.startswith("-"):
            name, eq, value = a.partition("=")
            out.append([name, value if eq else None])
        elif out and out[-1][1] is None:
            out[-1][1] = a
        else:
            out.append([None, a])
    return [tuple(x) for x in out]


def daemon_options():
    """Every -x and --long option of kopeio-networkd --help."""
    from test_manpage import help_options
    r = subprocess.run([DAEMON, "--help"], capture_output=True, text=True,
                       timeout=60)
    return help_options(r.stdout) if r.returncode == 0 else []


def check_flags(tap, used, known):
    """Every flag of a deployment file ({flag: [where]}) is an option the
    daemon knows (known: daemon_options())."""
    for name, where in sorted(used.items()):
        tap.ok(name in known, "kopeio-networkd knows %s (%s)" %
               (name, ", ".join(where)), "not in --help: %s" %
               " ".join(known))


def host_args(args, dirs, subst=()):
    """A deployment's command line as this host can run it: each path
    under a key of dirs moved to the directory it maps to, the
    (old, new) pairs of subst replaced."""
    argv = []
    for name, value in split_flags(args):
        if value is not None:
            for old, new in subst:
                value = value.replace(old, new)
            for path, d in dirs.items():
                if value == path or value.startswith(path + "/"):
                    value = d + value[len(path):]
        if name is not None and name.startswith("--") and value is not None:
            argv.append("%s=%s" % (name, value))
        else:
            argv += [x for x in (name, value) if x is not None]
    return argv


def check_config(tap, what, argv, want):
    """kopeio-networkd -nv accepts argv and prints each line of want in
    the configuration it read."""
    r = subprocess.run([DAEMON, "-nv"] + own_ids(argv), capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = r.stdout.splitlines()
    return tap.ok(r.returncode == 0 and "configuration OK" in lines and
                  all(w in lines for w in want),
                  "%s: kopeio-networkd -n accepts the arguments and reads "
                  "%s" % (what, ", ".join(want)), r.stdout + r.stderr)


def write_kubeconfig(path, server):
    """A kubeconfig at path, as a unit or a user would install it: a
    token and a CA the daemon reads only when server answers."""
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: Config\n"
                "clusters:\n- name: c\n  cluster:\n"
                "    server: %s\n"
                "    certificate-authority-data: bm90IHJlYWQ=\n"
                "users:\n- name: u\n  user:\n    token: t\n"
                "contexts:\n- name: x\n  context:\n"
                "    cluster: c\n    user: u\n"
                "current-context: x\n" % server)


def capmask(*caps):
    m = 0
    for c in caps:
        m |= 1 << c
    return m


class Tap:
    """Minimal TAP producer; exit status 1 when anything failed."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        print(("ok %d - %s" if cond else "not ok %d - %s") % (self.n, desc))
        if not cond:
            self.failed += 1
            if diag:
                for line in str(diag).splitlines()[-40:]:
                    print("# " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, "got %r, want %r" % (got, want))

    def skip(self, desc, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, desc, why))
        sys.stdout.flush()

    def skip_all(self, why):
        print("1..0 # SKIP " + why)
        sys.exit(0)

    def done(self):
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


def need_root(tap):
    if os.geteuid() != 0:
        tap.skip_all("needs root (network namespaces, privilege drop)")


def apiserver_missing(*tools):
    """Why the daemon cannot run here against the test API server (not
    root, no tests/apiserver, no openssl, one of the named commands
    missing), or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, privilege drop)"
    try:
        import pki
        import nodegen  # noqa: F401
    except ImportError as e:
        return "tests/apiserver missing: %s" % e
    if not pki.have_openssl():
        return "openssl not installed"
    for tool in tools:
        if shutil.which(tool) is None:
            return "%s not installed" % tool
    return None


def need_apiserver(tap, *tools):
    """Skips the whole test unless it runs as root with the test API
    server, openssl and the named commands; returns nodegen."""
    why = apiserver_missing(*tools)
    if why is not None:
        tap.skip_all(why)
    import nodegen
    return nodegen


def private_dir():
    """A root-owned 0700 directory whose every component is root-owned
    and not writable by others, as the daemon demands of its chroot."""
    base = "/run" if os.path.isdir("/run") else "/var/tmp"
    return tempfile.mkdtemp(prefix="kn-test-", dir=base)


class Netns:
    """A throw-away network namespace, so nothing a test runs can touch
    the host's own routes."""

    made = 0

    def __init__(self):
        Netns.made += 1
        self.name = "kn-%d-%d" % (os.getpid(), Netns.made)
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv):
        return subprocess.run(["ip", "netns", "exec", self.name] + list(argv),
                              check=True, capture_output=True, text=True).stdout

    def state(self):
        """Every kernel object the daemon may ever own, as text."""
        return "\n".join([
            self.run("ip", "-d", "link", "show"),
            self.run("ip", "route", "show", "table", "all"),
            self.run("ip", "-6", "route", "show", "table", "all"),
            self.run("ip", "neigh", "show"),
            self.run("bridge", "fdb", "show"),
            self.run("ip", "xfrm", "state"),
            self.run("ip", "xfrm", "policy"),
        ])

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], check=False)


class Lines:
    """A process whose standard output and error are collected line by
    line, for wait_for()."""

    def __init__(self, argv, stdin=subprocess.DEVNULL, env=None):
        self.lines = []
        self.times = []     # time.time() when each line was read
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdin=stdin, env=env,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     errors="replace")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.times.append(time.time())
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def log(self, start=0):
        with self.cond:
            return "\n".join(self.lines[start:])

    def wait_for(self, pattern, timeout=20, start=0):
        """Index of the first log line from line `start` on that matches
        pattern, its match; (None, None) after timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None
                                 and not self.reader.is_alive()):
                    return None, None
                self.cond.wait(min(left, 0.2))

    def mark(self):
        with self.cond:
            return len(self.lines)

    def lines_between(self, t0, t1):
        """The lines read from time t0 to t1 (time.time())."""
        with self.cond:
            return [x for x, t in zip(self.lines, self.times)
                    if t0 <= t <= t1]

    def wait(self, timeout=15):
        """The exit status once the process ended and its output is read
        to the end (log() then holds its last line); None on timeout."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.reader.join(5)
        return rc


def uid_base():
    """A --uid-base of its own for each daemon a test starts: many run
    side by side (a cluster's nodes, other tests), and a daemon refuses
    ids another process uses.  Four ids per daemon from 1900000000,
    by the test's pid and a count, below the default 2000000000: 380
    daemons a test before a base comes round again (a test that keeps
    one daemon while it starts others must not meet its ids)."""
    uid_base.count = getattr(uid_base, "count", -1) + 1
    return 1900000000 + ((os.getpid() % 65536) * 380 +
                         uid_base.count % 380) * 4


def own_ids(args):
    """args with a --uid-base of its own (uid_base()) in front, unless
    they choose the ids themselves (-u, --user, --uid-base): -n and
    --self-test refuse ids that a daemon running beside them uses."""
    if "-u" in args or "--user" in args or any(
            a.startswith("--uid-base") for a in args):
        return list(args)
    return ["--uid-base", str(uid_base())] + list(args)


class Daemon(Lines):
    """kopeio-networkd under test, its standard error collected."""

    def __init__(self, args, netns=None, chroot=None, api=None, wrap=()):
        """api: extra arguments that say how to reach an API server;
        by default a port nothing listens on, so the watcher only
        retries.  netns: where it runs; by default a namespace of its
        own, so no test ever programs the host's network.  wrap: a
        command that runs the daemon and execs it in the end (setpriv,
        a shell that joins a cgroup), so pid() stays the daemon's."""
        self.own_ns = None
        if netns is None:
            netns = self.own_ns = Netns()
        self.tmp = private_dir()
        self.chroot = chroot or os.path.join(self.tmp, "empty")
        if api is None:
            for name, text in (("token", "test-token\n"),
                               ("ca.crt", "never read: no server answers\n")):
                with open(os.path.join(self.tmp, name), "w") as f:
                    f.write(text)
            api = ["--apiserver", "https://127.0.0.1:9",
                   "--token-file", os.path.join(self.tmp, "token"),
                   "--ca-file", os.path.join(self.tmp, "ca.crt"),
                   "--node-name", "node-a"]
        # Its own control socket: many daemons run side by side.
        self.socket = os.path.join(self.tmp, "ctl.sock")
        own = own_ids(args)
        self.uid_base = int(own[1]) if len(own) > len(args) else None
        args = own
        argv = [DAEMON, "-d", "--chroot", self.chroot, "-s",
                self.socket] + list(api) + list(args)
        argv = ["ip", "netns", "exec", netns.name] + list(wrap) + argv
        super().__init__(argv)

    def wait_ready(self, roles, timeout=20, start=0):
        """{role: pid} once every role has said it is ready."""
        pids = {}
        for role in roles:
            i, m = self.wait_for(r"^parent: %s ready \(pid (\d+)\)$" %
                                 re.escape(role), timeout, start)
            if m is None:
                return None
            pids[role] = int(m.group(1))
        return pids

    def ctl(self, *args):
        """kopeio-networkctl on this daemon's socket: (status, out, err)."""
        r = subprocess.run([CTL, "-s", self.socket] + list(args),
                           capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout, r.stderr

    def pid(self):
        """The parent's pid (behind `ip netns exec`, which execs)."""
        return self.proc.pid

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(15) is None:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.own_ns is not None:
            self.own_ns.close()
            self.own_ns = None
        return self.proc.returncode


def proc_status(pid):
    """The fields of /proc/PID/status that describe confinement."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, val = line.partition(":")
            val = val.split()
            if key in ("Uid", "Gid"):
                out[key] = [int(v) for v in val]
            elif key.startswith("Cap"):
                out[key] = int(val[0], 16)
            elif key in ("NoNewPrivs", "Seccomp", "PPid"):
                out[key] = int(val[0])
    return out


def children_of(pid):
    """{role: pid} of the daemon's children, from /proc."""
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if proc_status(int(d)).get("PPid") != pid:
                continue
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if len(argv) >= 3 and argv[1] == b"--role":
            found[argv[2].decode()] = int(d)
    return found


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split(")")[-1].split()[0] != "Z"


sys.path.insert(0, os.path.join(SRCDIR, "tests", "apiserver"))


class ApiServer:
    """The test API server (tests/apiserver) on loopback, with a fresh
    CA, a server certificate and a bearer token in its own directory."""

    def __init__(self, bookmark_interval=1.0, netns=None, host="127.0.0.1",
                 client_ca=False, extra=()):
        """netns, host: serve the API on host inside that namespace (a
        test cluster's underlay), by default on loopback in a namespace
        of its own, where daemon() starts daemons; the control port
        stays on the host's loopback.  client_ca: client certificates
        signed by the test CA authenticate, as with kube-apiserver's
        --client-ca-file.  extra: more of the server's options."""
        self.own_ns = None
        self.daemons = []
        if netns is None:
            self.own_ns = Netns()
            netns = self.own_ns.name
        self.netns = netns
        import json
        import pki
        self.json = json
        self.dir = private_dir()
        self.pki = pki.make_pki(self.dir, ips=[host] if host != "127.0.0.1" else [])
        self.token_file = os.path.join(self.dir, "token")
        self.set_token("token-one")
        ready = os.path.join(self.dir, "ready.json")
        self.log = open(os.path.join(self.dir, "apiserver.log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(SRCDIR, "tests", "apiserver",
                                          "apiserver.py"),
             "--cert", self.pki.server_cert, "--key", self.pki.server_key,
             "--token-file", self.token_file, "--port", "0",
             "--control-port", "0", "--ready-file", ready,
             "--bookmark-interval", str(bookmark_interval),
             "--host", host, "--netns", netns] +
            (["--client-ca", self.pki.ca] if client_ca else []) +
            list(extra), stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        # Generous: Python and its TLS start slowly in a VM under TCG
        # on a busy machine (over 30 s seen).
        deadline = time.monotonic() + 180
        while not os.path.exists(ready) or os.path.getsize(ready) == 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(
                    "the test API server did not start (%s)" % (
                        "exit status %d" % self.proc.returncode
                        if self.proc.returncode is not None else
                        "not ready after 180 s"))
            time.sleep(0.05)
        time.sleep(0.05)
        with open(ready) as f:
            ports = json.load(f)
        self.port = ports["port"]
        self.control_port = ports["control_port"]
        self.url = "https://%s:%d" % (host, self.port)

    def set_token(self, token):
        """Rotate the token as Kubernetes does: a new file renamed in."""
        tmp = self.token_file + ".new"
        with open(tmp, "w") as f:
            f.write(token + "\n")
        os.rename(tmp, self.token_file)

    def daemon_args(self, node="node-a"):
        """How the daemon reaches this server: its own copy of the
        token file, so a test can rotate the two separately."""
        self.daemon_token = os.path.join(self.dir, "daemon-token")
        # Renamed in whole: a daemon started before may be reading it.
        tmp = self.daemon_token + ".%d" % threading.get_ident()
        with open(self.token_file) as src, open(tmp, "w") as f:
            f.write(src.read())
        os.rename(tmp, self.daemon_token)
        return ["--apiserver", self.url, "--token-file", self.daemon_token,
                "--ca-file", self.pki.ca, "--node-name", node]

    def daemon(self, args, node="node-a", api=None, wrap=()):
        """The daemon in this server's own namespace; api: other
        arguments than daemon_args() to reach it."""
        d = Daemon(args, netns=self.own_ns,
                   api=api if api is not None else self.daemon_args(node),
                   wrap=wrap)
        self.daemons.append(d)
        return d

    def control(self, method, path, body=None):
        import http.client
        # Generous: making 5,000 nodes of 20 KB took over 60 s on a
        # busy machine.
        c = http.client.HTTPConnection("127.0.0.1", self.control_port,
                                       timeout=300)
        data = None if body is None else self.json.dumps(body)
        c.request(method, path, body=data,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        text = r.read()
        c.close()
        if r.status >= 300:
            raise RuntimeError("control %s %s: %d %s" % (method, path,
                                                         r.status, text))
        return self.json.loads(text) if text else None

    def requests(self):
        return self.control("GET", "/requests")["requests"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        """A test section's end: every daemon started here is stopped
        (again: stop() is idempotent), then the server."""
        for d in self.daemons:
            d.stop()
        self.close()

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.own_ns is not None:
            self.own_ns.close()


def owned(node, proto=107):
    """The objects a daemon owns on node (anything with run(), such as a
    Netns): routes of its protocol, and the permanent neighbours and FDB
    entries on vxlan1, as sorted lines."""
    lines = node.run("ip", "route", "show", "proto", str(proto)).splitlines()
    lines += node.run("ip", "-6", "route", "show", "proto",
                      str(proto)).splitlines()
    if "vxlan1" in node.run("ip", "-o", "link", "show"):
        lines += node.run("ip", "neigh", "show", "dev", "vxlan1", "nud",
                          "permanent").splitlines()
        lines += ["fdb " + x for x in node.run(
            "bridge", "fdb", "show", "dev", "vxlan1").splitlines()]
    return sorted(x.strip() for x in lines if x.strip())


def vxlan_mac(pod_cidr):
    """The MAC of the node that owns an IPv4 pod CIDR on vxlan1: 00:53
    and the network address, as the original agent makes it."""
    net = pod_cidr.split("/")[0]
    return "00:53:" + ":".join("%02x" % int(b) for b in net.split("."))


def expected_owned(mode, peers, dev="eth0"):
    """What owned() shows for peers, (IPv4 pod CIDR, node address)
    pairs, reached over dev in layer2 mode (ip route shows no protocol
    when it filters by one)."""
    out = []
    for cidr, addr in peers:
        net = cidr.split("/")[0]
        if mode == "layer2":
            out.append("%s via %s dev %s" % (cidr, addr, dev))
            continue
        mac = vxlan_mac(cidr)
        out.append("fdb %s dst %s self permanent" % (mac, addr))
        if mode == "vxlan-legacy":
            continue    # the neighbours are the arp-helper's
        out.append("%s via %s dev vxlan1 onlink" % (cidr, net))
        out.append("%s lladdr %s PERMANENT" % (net, mac))
    return sorted(out)


def http_status(ns, url):
    """The status of a GET of url from inside namespace ns, as the
    kubelet probes from the node's network; 0 when nothing answers."""
    r = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c",
         "import sys, urllib.request as u\n"
         "try:\n print(u.urlopen(sys.argv[1], timeout=5).status)\n"
         "except Exception as e:\n print(getattr(e, 'code', 0))", url],
        capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    return int(r.stdout.strip() or 0)


def metric(ns, port, sample):
    """The value of sample (a name and its labels, without the
    kopeio_networking_ prefix) in the metrics a daemon in namespace ns
    serves on 127.0.0.1:port; 0 when absent."""
    r = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "-m", "10",
                        "http://127.0.0.1:%d/metrics" % port],
                       capture_output=True, text=True, timeout=30)
    m = re.search(r'^kopeio_networking_%s (\d+)$' % re.escape(sample),
                  r.stdout, re.M)
    return int(m.group(1)) if m else 0


def wait_until(fn, timeout=20, interval=0.2):
    """fn() until it is true or the time is up; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)
