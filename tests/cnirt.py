"""A minimal CNI runtime, enough to attach a network namespace with a
network configuration list the way a container runtime does: ADD runs
the list's plugins in order, DEL in reverse.

Each plugin gets its entry of the list with the list's name and
cniVersion put in, the result of the plugin before it as prevResult,
and runtimeConfig for the capabilities it declares that the caller has
arguments for; the CNI_* variables in its environment; its result on
standard output.  A plugin that exits non-zero raises CniError with
the error it printed.  The result of an ADD is kept, as the
specification asks, and given to DEL as prevResult.

The plugins run where wrap says: by default on the host; node_wrap()
runs them in a node's network namespace with a /var/lib/cni of the
node's own, so that host-local's leases (kept under
/var/lib/cni/networks/NAME) are not shared by the nodes of one host.
Python 3 standard library only."""

import copy
import json
import os
import subprocess

CNI_PATH = "/usr/lib/cni"


class CniError(Exception):
    """A plugin failed: its name, exit status and the error it printed
    (code, msg, details, as the specification has them)."""

    def __init__(self, plugin, command, status, error, stderr=""):
        self.plugin = plugin
        self.command = command
        self.status = status
        self.code = error.get("code")
        self.msg = error.get("msg", "")
        self.details = error.get("details", "")
        self.stderr = stderr
        super().__init__("%s %s: exit %s, code %s: %s%s%s" % (
            plugin, command, status, self.code, self.msg,
            ": " if self.details else "", self.details))


def missing(*plugins):
    """Why these plugins cannot run here (not installed), or None."""
    for plugin in plugins:
        if not os.access(os.path.join(CNI_PATH, plugin), os.X_OK):
            return ("%s/%s missing: install containernetworking-plugins" %
                    (CNI_PATH, plugin))
    return None


def node_wrap(netns, state_dir):
    """The command prefix that runs a plugin in the network namespace
    netns, with state_dir mounted on /var/lib/cni in a mount namespace
    of its own (so nothing outside sees the mount)."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    os.makedirs("/var/lib/cni", mode=0o755, exist_ok=True)
    return ["ip", "netns", "exec", netns, "unshare", "--mount",
            "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /var/lib/cni && exec "$@"', state_dir]


def load(path):
    """The network configuration list in the file at path, checked for
    what a runtime needs: a name, a version and plugins with a type."""
    with open(path) as f:
        conf = json.load(f)
    for key in ("cniVersion", "name", "plugins"):
        if key not in conf:
            raise ValueError("%s: no %s" % (path, key))
    if not conf["plugins"] or not all("type" in p for p in conf["plugins"]):
        raise ValueError("%s: a plugin without a type" % path)
    return conf


class Network:
    """One configuration list (a dict, or the path of a file) and the
    attachments made with it."""

    def __init__(self, conf, cni_path=CNI_PATH, wrap=()):
        self.conf = load(conf) if isinstance(conf, str) else conf
        self.cni_path = cni_path
        self.wrap = list(wrap)
        self.results = {}       # (container id, ifname): ADD result

    def _config(self, plugin, prev, cap_args):
        c = copy.deepcopy(plugin)
        c["name"] = self.conf["name"]
        c["cniVersion"] = self.conf["cniVersion"]
        if prev is not None:
            c["prevResult"] = prev
        rc = {k: v for k, v in (cap_args or {}).items()
              if c.get("capabilities", {}).get(k)}
        if rc:
            c["runtimeConfig"] = rc
        return c

    def exec_plugin(self, plugin, command, container_id, netns, ifname,
                    prev=None, cap_args=None):
        """One plugin, one command; its parsed result (None when it
        printed nothing, as DEL does)."""
        kind = plugin["type"]
        binary = os.path.join(self.cni_path, kind)
        if not os.access(binary, os.X_OK):
            raise CniError(kind, command, None, {
                "code": 1, "msg": "plugin %s not found in %s" %
                (kind, self.cni_path)})
        env = dict(os.environ, CNI_COMMAND=command,
                   CNI_CONTAINERID=container_id, CNI_NETNS=netns,
                   CNI_IFNAME=ifname, CNI_PATH=self.cni_path)
        stdin = json.dumps(self._config(plugin, prev, cap_args))
        r = subprocess.run(self.wrap + [binary], input=stdin, env=env,
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            try:
                error = json.loads(r.stdout)
            except ValueError:
                error = {"msg": r.stdout.strip() or r.stderr.strip()}
            raise CniError(kind, command, r.returncode, error, r.stderr)
        return json.loads(r.stdout) if r.stdout.strip() else None

    def add(self, container_id, netns, ifname="eth0", cap_args=None):
        """Attaches netns (a path, as /run/netns/NAME): the result of
        the last plugin."""
        prev = None
        for plugin in self.conf["plugins"]:
            prev = self.exec_plugin(plugin, "ADD", container_id, netns,
                                    ifname, prev, cap_args)
        self.results[(container_id, ifname)] = prev
        return prev

    def delete(self, container_id, netns, ifname="eth0", cap_args=None):
        """Detaches netns, the plugins in reverse order, each given the
        ADD's result; the first error raises after the others ran."""
        prev = self.results.pop((container_id, ifname), None)
        first = None
        for plugin in reversed(self.conf["plugins"]):
            try:
                self.exec_plugin(plugin, "DEL", container_id, netns, ifname,
                                 prev, cap_args)
            except CniError as e:
                first = first or e
        if first is not None:
            raise first

    def version(self, kind):
        """What the plugin says to VERSION: its supported versions."""
        r = subprocess.run([os.path.join(self.cni_path, kind)],
                           input=json.dumps({"cniVersion":
                                             self.conf["cniVersion"]}),
                           env=dict(os.environ, CNI_COMMAND="VERSION"),
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise CniError(kind, "VERSION", r.returncode,
                           {"msg": r.stdout.strip()})
        return json.loads(r.stdout)


def addresses(result, version=None):
    """The addresses a result assigned, as "ADDR/LEN" strings, of IP
    version 4 or 6 or both."""
    out = []
    for ip in (result or {}).get("ips", []):
        a = ip["address"]
        v = 6 if ":" in a else 4
        if version is None or v == version:
            out.append(a)
    return out
