"""The agent as it ships: the image built from contrib/Containerfile,
run by podman with the settings of a DaemonSet of k8s/*.yaml.

    import imagelib
    imagelib.need(tap)                  # skip (fail under CI=true)
    image = imagelib.image()            # built once per context
    ds = imagelib.daemonset("vxlan")    # k8s/vxlan.yaml, parsed
    pod = imagelib.Pod(ds, "node-0", netns="kc1-n0",
                       host_paths={"/etc/cni/net.d": cni_dir})
    c = imagelib.Container(image, pod)  # knlib.Daemon's interface

The base image is a Debian bookworm minbase made by mmdebstrap (no
registry is reachable from a test machine), cached by content under
/var/cache/kopeio-networking/image (or $KN_IMAGE_CACHE) and imported
under the name of the Containerfile's FROM.  Our image is built as
README tells users to, from the top of a clean copy of the source tree
(what contrib/Containerfile.dockerignore leaves, without the build
directories inside the tree), and tagged by a hash of that copy, so
"make check" and "make distcheck" of one tree build it once.

Everything lives in a podman store of its own under the cache, so a
test never replaces an image of the host's own store; the engine's
options that this host needs are passed here, never written into its
configuration files.  The container's settings are derived from the
manifest, and a setting this file does not know fails (ManifestError):
the manifests and this harness cannot drift apart.
Python 3 standard library only."""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

CACHE = os.environ.get("KN_IMAGE_CACHE", "/var/cache/kopeio-networking/image")
STORE = os.path.join(CACHE, "storage")
# The engine's run-time state: a tmpfs, private to the tests' store.
RUNROOT = "/run/kn-test-podman"
CONTAINERFILE = os.path.join("contrib", "Containerfile")
IGNORE = CONTAINERFILE + ".dockerignore"
# What Kubernetes' RuntimeDefault is on a containers-common host.
SECCOMP = "/usr/share/containers/seccomp.json"
YAML2JSON = os.path.join(knlib.BUILDDIR, "tests", "yaml2json")
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
TAG = "localhost/kopeio-networking-test"
# Where the kubelet puts a pod's service-account token and CA.
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# podman's default NOFILE and NPROC limits (1048576) may exceed the
# host's hard limits ("error setting rlimit type 7"); a kubelet's
# runtime passes its own limits on.
ULIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]


class ManifestError(Exception):
    """A setting of the manifest this harness does not know."""


def missing():
    """Why no image can be built and run here, or None."""
    if os.geteuid() != 0:
        return "needs root (podman's store, network namespaces)"
    for tool in ("podman", "mmdebstrap", "ip"):
        if shutil.which(tool) is None:
            return "%s not installed" % tool
    if runtime() is None:
        return "no OCI runtime (runc or crun) installed"
    if not os.path.exists(SECCOMP):
        return "%s missing (golang-github-containers-common)" % SECCOMP
    if not os.access(YAML2JSON, os.X_OK):
        return "%s not built (make check builds it)" % YAML2JSON
    return None


def need(tap):
    """Skips the whole test when missing() says why, except under
    CI=true, where that is a failure: CI must run it."""
    why = missing()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        print("not ok 1 - podman can build and run the image: %s\n1..1" %
              why)
        sys.exit(1)
    tap.skip_all(why)


def runtime():
    """runc when installed: crun 1.8 refuses a hybrid cgroup hierarchy
    (v1 controllers beside a cgroup2 mount), which runc runs on."""
    for r in ("runc", "crun"):
        if shutil.which(r) is not None:
            return r
    return None


def podman_argv(*args):
    """podman on the tests' own store, with the cgroup manager and event
    logger that work without systemd as PID 1."""
    argv = ["podman", "--root", STORE, "--runroot", RUNROOT,
            "--tmpdir", os.path.join(RUNROOT, "libpod"),
            "--storage-driver", "overlay", "--runtime", runtime(),
            "--events-backend", "file"]
    if not os.path.isdir("/run/systemd/system"):
        argv += ["--cgroup-manager", "cgroupfs"]
    return argv + list(args)


def podman(*args, timeout=600, check=True):
    r = subprocess.run(podman_argv(*args), capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise RuntimeError("podman %s: %s" % (" ".join(args),
                                              r.stderr.strip()))
    return r


class _Lock:
    """One test at a time builds in the cache."""

    def __enter__(self):
        os.makedirs(CACHE, exist_ok=True)
        self.f = open(os.path.join(CACHE, "lock"), "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.f.close()


def base_name():
    """The one image contrib/Containerfile builds FROM (its stages
    aside), as the engine names it fully."""
    names = set()
    stages = set()
    with open(os.path.join(knlib.SRCDIR, CONTAINERFILE)) as f:
        for line in f:
            m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?\s*$", line, re.I)
            if m:
                if m.group(1) not in stages:
                    names.add(m.group(1))
                if m.group(2):
                    stages.add(m.group(2))
    if len(names) != 1:
        raise RuntimeError("%s: FROM names %s, not one base image" %
                           (CONTAINERFILE, sorted(names)))
    name = names.pop()
    if "/" not in name:
        name = "docker.io/library/" + name
    return name


def _mmdebstrap(out):
    return ["mmdebstrap", "--variant=minbase", "--quiet", SUITE, out, MIRROR]


def base_key():
    """The cache key of the base: the mmdebstrap command and its inputs
    (its version, the architecture)."""
    ver = subprocess.run(["mmdebstrap", "--version"], capture_output=True,
                         text=True).stdout.strip()
    arch = subprocess.run(["dpkg", "--print-architecture"],
                          capture_output=True, text=True).stdout.strip()
    text = json.dumps([_mmdebstrap("OUT"), ver, arch])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def base_tarball():
    """The cached rootfs tarball, made when missing.  A complete cache
    (its "complete" file written last) is kept; a partial one is never
    used and made again."""
    d = os.path.join(CACHE, "base-" + base_key())
    tar = os.path.join(d, "rootfs.tar")
    if os.path.exists(os.path.join(d, "complete")):
        return tar
    shutil.rmtree(d, ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix="base-", dir=CACHE)
    try:
        out = os.path.join(tmp, "rootfs.tar")
        r = subprocess.run(_mmdebstrap(out), capture_output=True, text=True,
                           timeout=1800, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("mmdebstrap failed: %s" % r.stderr[-2000:])
        with open(os.path.join(tmp, "complete"), "w") as f:
            f.write(" ".join(_mmdebstrap("rootfs.tar")) + "\n")
        os.rename(tmp, d)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tar


def import_base():
    """The base under the Containerfile's FROM name in the tests' store,
    labelled with its cache key; imported again when the key changed."""
    name, key = base_name(), base_key()
    r = podman("image", "inspect", "--format",
               '{{index .Labels "kn.base"}}', name, check=False)
    if r.returncode == 0 and r.stdout.strip() == key:
        return name
    podman("import", "--change", "LABEL kn.base=" + key, base_tarball(),
           name)
    return name


def _ignore_rx():
    """contrib/Containerfile.dockerignore as regular expressions over
    paths from the top of the tree (anchored there, as BuildKit and
    buildah read it; a directory matched takes its contents)."""
    out = []
    with open(os.path.join(knlib.SRCDIR, IGNORE)) as f:
        for line in f:
            p = line.strip()
            if not p or p.startswith("#"):
                continue
            if p.startswith("!"):
                raise RuntimeError("%s: exceptions (%s) are not read here" %
                                   (IGNORE, p))
            rx = ""
            for part in re.split(r"(\*\*/|\*\*|\*|\?)", p.strip("/")):
                rx += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*",
                       "?": "[^/]"}.get(part, re.escape(part))
            out.append(re.compile(rx + "$"))
    return out


def context_files():
    """The relative paths of the clean tree podman build sees: the
    source tree less what the ignore file names and less any build
    directory inside it (make check's, or another configured one: a
    directory with a config.status), whatever its name."""
    top = os.path.realpath(knlib.SRCDIR)
    build = os.path.realpath(knlib.BUILDDIR)
    rxs = _ignore_rx()
    files = []
    for dirpath, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        rel = "" if rel == "." else rel + "/"
        dirnames[:] = sorted(
            d for d in dirnames
            if os.path.realpath(os.path.join(dirpath, d)) != build and
            not os.path.exists(os.path.join(dirpath, d, "config.status"))
            and not any(rx.match(rel + d) for rx in rxs))
        files += [rel + n for n in sorted(filenames)
                  if not any(rx.match(rel + n) for rx in rxs)]
    return files


def make_context(dest):
    """Copies the clean tree into dest; a hash of its content."""
    h = hashlib.sha256()
    for rel in context_files():
        src = os.path.join(knlib.SRCDIR, rel)
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
            h.update(("%s -> %s\n" % (rel, os.readlink(src))).encode())
            continue
        shutil.copyfile(src, dst)
        mode = 0o755 if os.stat(src).st_mode & 0o111 else 0o644
        os.chmod(dst, mode)
        with open(src, "rb") as f:
            data = f.read()
        h.update(("%s %o %d\n" % (rel, mode, len(data))).encode())
        h.update(data)
    return h.hexdigest()


def build_argv(tag):
    """What README tells users, from the top of the tree, with the base
    never pulled and the RUN steps on the host's network (a bridge of
    the engine's would add rules to the host's firewall)."""
    return ["build", "--pull=never", "--network=host", "-f", CONTAINERFILE,
            "-t", tag, "."]


def image():
    """Our image's name, built when this content of the context has no
    image yet; older test images are removed."""
    with _Lock():
        base = import_base()
        ctx = tempfile.mkdtemp(prefix="kn-image-ctx-")
        try:
            digest = hashlib.sha256(
                (make_context(ctx) + base_key() + base).encode()).hexdigest()
            tag = "%s:%s" % (TAG, digest[:16])
            if podman("image", "exists", tag, check=False).returncode == 0:
                return tag
            r = subprocess.run(podman_argv(*build_argv(tag)), cwd=ctx,
                               capture_output=True, text=True, timeout=3600,
                               stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                raise RuntimeError("podman build failed:\n%s" %
                                   (r.stdout + r.stderr)[-4000:])
        finally:
            shutil.rmtree(ctx, ignore_errors=True)
        for old in podman("images", "--format", "{{.Repository}}:{{.Tag}}",
                          TAG).stdout.split():
            if old != tag:
                podman("rmi", old, check=False)
        podman("image", "prune", "-f", check=False)
        return tag


def daemonset(mode):
    """The DaemonSet of k8s/MODE.yaml, read by libyaml (tests/yaml2json)."""
    path = os.path.join(knlib.SRCDIR, "k8s", mode + ".yaml")
    r = subprocess.run([YAML2JSON, path], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise ManifestError("%s: %s" % (path, r.stderr.strip()))
    ds = [d for d in json.loads(r.stdout) if d.get("kind") == "DaemonSet"]
    if len(ds) != 1:
        raise ManifestError("%s: %d DaemonSets" % (path, len(ds)))
    return ds[0]


def modes():
    return sorted(f[:-5] for f in os.listdir(os.path.join(knlib.SRCDIR,
                                                          "k8s"))
                  if f.endswith(".yaml"))


def _known(where, obj, keys):
    """Fails on a key of obj this harness does not handle."""
    if not isinstance(obj, dict):
        raise ManifestError("%s: a mapping expected, got %r" % (where, obj))
    extra = sorted(set(obj) - set(keys))
    if extra:
        raise ManifestError("%s: setting(s) the image harness does not "
                            "know: %s" % (where, ", ".join(extra)))


def _quantity(q, unit):
    """A Kubernetes CPU (unit "cpu": cores) or memory (unit "mem":
    bytes) quantity."""
    m = re.fullmatch(r"(\d+)(m|Ki|Mi|Gi)?", str(q))
    if m is None or (unit == "cpu") != (m.group(2) in (None, "m")):
        raise ManifestError("resources: quantity %r not understood" % q)
    n = int(m.group(1))
    if unit == "cpu":
        return n / 1000 if m.group(2) == "m" else n
    return n * {None: 1, "Ki": 1 << 10, "Mi": 1 << 20,
                "Gi": 1 << 30}[m.group(2)]


class Pod:
    """The DaemonSet's pod as podman run's options on this host.

    node: the node's name ($(NODE_NAME) from spec.nodeName); netns: the
    node's network namespace (hostNetwork); host_paths: {manifest host
    path: directory of this host}, by default one under the pod's own
    temporary directory, so no test writes the host's own; files: {volume name: {file: text}} for a ConfigMap
    or Secret; api: (host, port, token, CA file) of the API server the
    service account reaches (KUBERNETES_SERVICE_HOST and the token as
    the kubelet projects it), or None.
    Attributes: opts (podman run options), command, args, probes
    ([(path, host, port)]), socket (the -s argument), dirs."""

    def __init__(self, ds, node, netns, host_paths=None, files=None,
                 api=None):
        self.tmp = knlib.private_dir()
        os.chmod(self.tmp, 0o755)
        try:
            self._setup(ds, node, netns, host_paths or {}, files or {}, api)
        except BaseException:
            self.close()
            raise

    def _setup(self, ds, node, netns, host_paths, files, api):
        self.opts = list(ULIMITS)
        self.env = {}
        self.probes = []
        _known("DaemonSet", ds, ["apiVersion", "kind", "metadata", "spec"])
        _known("spec", ds["spec"], ["selector", "updateStrategy",
                                    "template"])
        tmpl = ds["spec"]["template"]
        _known("template", tmpl, ["metadata", "spec"])
        spec = tmpl["spec"]
        # Scheduling and the API's view of the pod: nothing a runtime
        # does on one host.
        _known("pod spec", spec, ["serviceAccountName", "priorityClassName",
                                  "hostNetwork", "hostPID", "hostIPC",
                                  "tolerations", "containers", "volumes"])
        if spec.get("hostNetwork") is True:
            self.opts += ["--network", "ns:/run/netns/" + netns]
        else:
            raise ManifestError("hostNetwork %r: only the node's network is "
                                "run here" % spec.get("hostNetwork"))
        for ns in ("hostPID", "hostIPC"):
            if spec.get(ns, False) is not False:
                raise ManifestError("%s %r: the host's namespaces are not "
                                    "shared here" % (ns, spec[ns]))
        if spec.get("serviceAccountName"):
            self._service_account(api)
        if len(spec["containers"]) != 1:
            raise ManifestError("%d containers" % len(spec["containers"]))
        c = spec["containers"][0]
        _known("container", c, ["name", "image", "command", "args", "env",
                                "securityContext", "resources", "ports",
                                "livenessProbe", "readinessProbe",
                                "volumeMounts"])
        self.image = c["image"]
        self.command = list(c["command"])
        self._env(c.get("env", []), node)
        self.args = [re.sub(r"\$\((\w+)\)",
                            lambda m: self.env.get(m.group(0)[2:-1],
                                                   m.group(0)), a)
                     for a in c.get("args", [])]
        self.socket = dict(knlib.split_flags(self.args)).get("-s")
        self._security(c.get("securityContext", {}))
        self._resources(c.get("resources", {}))
        self._probes(c, spec["hostNetwork"])
        self.dirs = self._volumes(spec.get("volumes", []),
                                  c.get("volumeMounts", []), host_paths,
                                  files)
        for k, v in sorted(self.env.items()):
            self.opts += ["-e", "%s=%s" % (k, v)]

    def _env(self, env, node):
        for e in env:
            _known("env", e, ["name", "value", "valueFrom"])
            if "value" in e:
                self.env[e["name"]] = e["value"]
                continue
            _known("valueFrom", e["valueFrom"], ["fieldRef"])
            ref = e["valueFrom"]["fieldRef"]
            _known("fieldRef", ref, ["fieldPath", "apiVersion"])
            if ref["fieldPath"] != "spec.nodeName":
                raise ManifestError("env %s: field %s" % (e["name"],
                                                          ref["fieldPath"]))
            self.env[e["name"]] = node

    def _service_account(self, api):
        """What the kubelet gives a pod of a service account: its token
        and the cluster's CA read-only, and where the API server is."""
        if api is None:
            return
        host, port, token, ca = api
        d = os.path.join(self.tmp, "serviceaccount")
        os.mkdir(d, 0o755)
        shutil.copyfile(token, os.path.join(d, "token"))
        shutil.copyfile(ca, os.path.join(d, "ca.crt"))
        self.opts += ["-v", "%s:%s:ro" % (d, SA_DIR)]
        self.env["KUBERNETES_SERVICE_HOST"] = host
        self.env["KUBERNETES_SERVICE_PORT"] = str(port)

    def _security(self, sc):
        _known("securityContext", sc, [
            "privileged", "runAsUser", "runAsNonRoot", "capabilities",
            "allowPrivilegeEscalation", "readOnlyRootFilesystem",
            "seccompProfile"])
        if sc.get("privileged", False) is not False:
            raise ManifestError("privileged %r" % sc["privileged"])
        if "runAsUser" in sc:
            if sc.get("runAsNonRoot") and sc["runAsUser"] == 0:
                raise ManifestError("runAsNonRoot with runAsUser 0")
            self.opts += ["--user", "%d" % sc["runAsUser"]]
        caps = sc.get("capabilities", {})
        _known("capabilities", caps, ["drop", "add"])
        self.opts += [x for c in caps.get("drop", []) for x in
                      ("--cap-drop", c)]
        self.opts += [x for c in caps.get("add", []) for x in
                      ("--cap-add", c)]
        if sc.get("allowPrivilegeEscalation") is False:
            self.opts += ["--security-opt", "no-new-privileges"]
        if sc.get("readOnlyRootFilesystem") is True:
            # No tmpfs on /run, /tmp, /var/tmp: a kubelet adds none.
            self.opts += ["--read-only", "--read-only-tmpfs=false"]
        prof = sc.get("seccompProfile", {})
        _known("seccompProfile", prof, ["type"])
        if prof.get("type") != "RuntimeDefault":
            raise ManifestError("seccompProfile %r: only RuntimeDefault "
                                "(%s) is run here, never unconfined" %
                                (prof, SECCOMP))
        self.opts += ["--security-opt", "seccomp=" + SECCOMP]

    def _resources(self, res):
        _known("resources", res, ["requests", "limits"])
        for kind, flags in (("requests", ("--cpu-shares",
                                          "--memory-reservation")),
                            ("limits", ("--cpus", "--memory"))):
            r = res.get(kind, {})
            _known("resources." + kind, r, ["cpu", "memory"])
            if "cpu" in r:
                cores = _quantity(r["cpu"], "cpu")
                # The kubelet's shares: 1024 a core.
                self.opts += [flags[0], str(max(2, int(cores * 1024)))
                              if kind == "requests" else str(cores)]
            if "memory" in r:
                self.opts += [flags[1], "%db" % _quantity(r["memory"],
                                                          "mem")]

    def _probes(self, c, host_network):
        for p in c.get("ports", []):
            _known("port", p, ["name", "containerPort", "protocol"])
            if not host_network:
                raise ManifestError("ports without hostNetwork")
        for kind in ("livenessProbe", "readinessProbe"):
            if kind not in c:
                continue
            p = c[kind]
            _known(kind, p, ["httpGet", "periodSeconds",
                             "failureThreshold"])
            g = p["httpGet"]
            _known(kind + ".httpGet", g, ["host", "port", "path"])
            self.probes.append((kind, "http://%s:%d%s" % (
                g.get("host", "127.0.0.1"), g["port"], g["path"])))

    def _volumes(self, volumes, mounts, host_paths, files):
        """Each volume a directory (a tmpfs for a memory emptyDir)
        mounted where the container wants it; {mount path: host
        directory or None for a tmpfs}."""
        vols = {}
        for v in volumes:
            kinds = [k for k in v if k != "name"]
            if len(kinds) != 1:
                raise ManifestError("volume %s: %s" % (v.get("name"), kinds))
            vols[v["name"]] = (kinds[0], v[kinds[0]])
        dirs = {}
        for m in mounts:
            _known("volumeMount", m, ["name", "mountPath", "readOnly"])
            kind, v = vols.pop(m["name"])
            ro = m.get("readOnly", False)
            path = m["mountPath"]
            if kind == "emptyDir":
                _known("emptyDir", v, ["medium", "sizeLimit"])
                if v.get("medium") != "Memory":
                    raise ManifestError("emptyDir on disk: %r" % v)
                size = _quantity(v.get("sizeLimit", "64Mi"), "mem")
                self.opts += ["--mount", "type=tmpfs,destination=%s,"
                              "tmpfs-size=%d%s" % (path, size,
                                                   ",ro" if ro else "")]
                dirs[path] = None
                continue
            if kind == "hostPath":
                _known("hostPath", v, ["path", "type"])
                if v.get("type") not in ("DirectoryOrCreate", "Directory"):
                    raise ManifestError("hostPath type %r" % v.get("type"))
                d = host_paths.get(v["path"]) or os.path.join(
                    self.tmp, "host" + v["path"])
                if v["type"] == "DirectoryOrCreate":
                    # As the kubelet makes it: root's, 0755.
                    os.makedirs(d, 0o755, exist_ok=True)
            elif kind in ("configMap", "secret"):
                _known(kind, v, ["name", "optional"] if kind == "configMap"
                       else ["secretName", "defaultMode", "optional"])
                name = v.get("name") or v.get("secretName")
                given = files.get(name)
                if given is None and not v.get("optional", False):
                    raise ManifestError("%s %s: not optional and no files "
                                        "given" % (kind, name))
                d = os.path.join(self.tmp, "vol-" + m["name"])
                os.mkdir(d, 0o755)
                for fn, text in (given or {}).items():
                    with open(os.path.join(d, fn), "w") as f:
                        f.write(text)
                    os.chmod(os.path.join(d, fn), v.get("defaultMode",
                                                        0o644))
                # The kubelet mounts both read-only, whatever the mount
                # says.
                ro = True
            else:
                raise ManifestError("volume kind %s" % kind)
            self.opts += ["-v", "%s:%s%s" % (d, path, ":ro" if ro else "")]
            dirs[path] = d
        if vols:
            raise ManifestError("volumes not mounted: %s" % sorted(vols))
        return dirs

    def run_argv(self, image, name, extra_args=()):
        """podman run's command line for this pod's container."""
        return podman_argv("run", "--rm", "--pull=never", "--name", name,
                           *self.opts, "--entrypoint", self.command[0],
                           image, *(self.command[1:] + self.args +
                                    list(extra_args)))

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class Container(knlib.Lines):
    """The pod's container running (podman run in the foreground, its
    output collected), with knlib.Daemon's interface: lines, wait_for,
    mark, log, ctl, pid, signal, stop."""

    made = 0

    def __init__(self, image, pod, extra_args=()):
        Container.made += 1
        self.pod = pod
        self.name = "kn-test-%d-%d" % (os.getpid(), Container.made)
        super().__init__(pod.run_argv(image, self.name, extra_args))

    def ctl(self, *args):
        """kopeio-networkctl inside the container: (status, out, err)."""
        r = podman("exec", self.name, "kopeio-networkctl", "-s",
                   self.pod.socket, *args, timeout=60, check=False)
        return r.returncode, r.stdout, r.stderr

    def pid(self):
        """The daemon's pid as the host sees it (the container's 1)."""
        r = podman("inspect", "--format", "{{.State.Pid}}", self.name,
                   check=False)
        return int(r.stdout.strip() or 0)

    def signal(self, sig):
        podman("kill", "--signal", str(int(sig)), self.name, check=False)

    def stop(self):
        """SIGTERM, as the kubelet stops a pod; its exit status."""
        if self.proc.poll() is None:
            podman("stop", "--time", "30", self.name, check=False,
                   timeout=120)
            if self.wait(60) is None:
                podman("kill", self.name, check=False)
                self.proc.wait()
        self.reader.join(5)
        podman("rm", "-f", "--ignore", self.name, check=False)
        return self.proc.returncode
