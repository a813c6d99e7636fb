#!/usr/bin/env python3
"""contrib/ against the daemon it deploys.

contrib/kopeio-networkd.service: its capability bounding set is the
daemon parent's list (caps_parent[] in src/sandbox.c, read as
tests/test_k8s.py reads it for the pods), nothing ambient, no new
privileges, the sandbox options stated and none that would cut the
daemon off netlink or the host's network; the daemon accepts its
command line (-n), systemd-analyze verify finds nothing to say, and
systemd-analyze security finds no more exposed than it did when the
sandbox was last measured (tests/test_unit.py runs the unit itself).

contrib/Containerfile: a build stage that installs every -dev package
configure.ac asks for and installs into /usr; a runtime stage that
installs, with no build tools, the Debian package of every shared
library the built daemon links (so a missing one is caught here, not
when the pod starts), makes the empty /var/empty and starts the daemon
as the manifests do."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
CONTRIB = os.path.join(knlib.SRCDIR, "contrib")
UNIT = os.path.join(CONTRIB, "kopeio-networkd.service")
CAPS = knlib.parent_caps()
# Options that would take from the daemon what it needs: netlink and
# the host's network, its devices, root's uid, other processes' /proc.
FORBIDDEN = ("PrivateNetwork", "PrivateDevices", "PrivateUsers",
             "DynamicUser", "User", "ProtectProc", "IPAddressDeny",
             "NetworkNamespacePath")
YES = {"ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
       "ProtectKernelModules": "yes", "ProtectKernelTunables": "yes",
       "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
       "RestrictNamespaces": "yes", "LockPersonality": "yes",
       "MemoryDenyWriteExecute": "yes", "ProtectSystem": "strict",
       "SystemCallArchitectures": "native", "Restart": "on-failure",
       "ExecReload": "/bin/kill -HUP $MAINPID"}


def read_unit(path):
    """{section: {key: [values]}}, with continued lines joined."""
    out, section, pending = {}, None, ""
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not pending and line.lstrip().startswith(("#", ";")):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line, pending = (pending + line).strip(), ""
            if line.startswith("[") and line.endswith("]"):
                section = out.setdefault(line[1:-1], {})
            elif "=" in line:
                key, _, value = line.partition("=")
                section.setdefault(key.strip(), []).append(value.strip())
    return out


def check_unit(known):
    unit = read_unit(UNIT)
    svc = unit.get("Service", {})
    one = {k: v[-1] for k, v in svc.items()}
    tap.eq(sorted(one.get("CapabilityBoundingSet", "").split()),
           sorted("CAP_" + c for c in CAPS),
           "unit: CapabilityBoundingSet is the parent's %s" % " ".join(CAPS))
    tap.eq(svc.get("AmbientCapabilities"), [""],
           "unit: AmbientCapabilities= is there and empty")
    tap.eq({k: one.get(k) for k in YES}, YES, "unit: %s" % ", ".join(
        "%s=%s" % kv for kv in sorted(YES.items())))
    tap.eq(sorted(one.get("RestrictAddressFamilies", "").split()),
           ["AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"],
           "unit: address families unix, netlink, inet and inet6 only")
    tap.eq([k for k in FORBIDDEN if k in svc], [], "unit: none of %s" %
           ", ".join(FORBIDDEN))
    argv = shlex.split(one.get("ExecStart", ""))
    tap.eq(argv[:1], ["/usr/sbin/kopeio-networkd"], "unit: runs "
           "/usr/sbin/kopeio-networkd")
    args = dict(knlib.split_flags(argv[1:]))
    writable = one.get("ReadWritePaths", "").split()
    runtime = ["/run/" + d for d in one.get("RuntimeDirectory", "").split()]
    sock, cni = args.get("-s", ""), args.get("--cni-config", "")
    tap.ok(os.path.dirname(cni) in writable and
           os.path.dirname(sock) in runtime and
           args.get("--chroot") in runtime,
           "unit: what the daemon writes is writable: the CNI directory, "
           "the socket's runtime directory; the chroot is made empty there",
           (writable, runtime, args))
    used = {}
    for name, _ in knlib.split_flags(argv[1:]):
        if name is not None:
            used.setdefault(name, []).append("the unit")
    knlib.check_flags(tap, used, known)
    return argv[1:]


def check_unit_config(args):
    """The unit's command line, its paths on directories of this host,
    against a kubeconfig of the unit's path."""
    tmp = knlib.private_dir()
    try:
        run, etc, cni = [os.path.join(tmp, d) for d in ("run", "etc", "cni")]
        for d in (run, etc, cni):
            os.mkdir(d, 0o755)
        knlib.write_kubeconfig(os.path.join(etc, "kubeconfig"),
                               "https://127.0.0.1:6443")
        argv = knlib.host_args(
            args, {"/run/kopeio-networking": run,
                   "/etc/kopeio-networking": etc, "/etc/cni/net.d": cni},
            [("$KOPEIO_NETWORKD_ARGS", "--node-name=node-0")])
        knlib.check_config(tap, "unit", argv,
                           ["provider vxlan", "node-name node-0",
                            "kubeconfig %s/kubeconfig" % etc])
        # As the unit says: a flag in KOPEIO_NETWORKD_ARGS, last, wins.
        knlib.check_config(tap, "unit with --provider=layer2 in "
                           "KOPEIO_NETWORKD_ARGS", argv +
                           ["--provider=layer2"],
                           ["provider layer2"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_verify():
    """systemd-analyze verify in a root of its own that holds systemd's
    units, the daemon at its path and kill(1)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        tap.skip("systemd-analyze verify accepts the unit",
                 "systemd-analyze not installed")
        return
    root = tempfile.mkdtemp(prefix="kn-unit-")
    try:
        for d in ("usr/sbin", "bin", "etc/systemd/system", "usr/lib/systemd"):
            os.makedirs(os.path.join(root, d))
        shutil.copytree("/usr/lib/systemd/system",
                        os.path.join(root, "usr/lib/systemd/system"),
                        symlinks=True)
        shutil.copy(knlib.DAEMON, os.path.join(root, "usr/sbin"))
        shutil.copy(shutil.which("kill") or "/bin/kill",
                    os.path.join(root, "bin"))
        unit = os.path.join(root, "etc/systemd/system",
                            os.path.basename(UNIT))
        shutil.copy(UNIT, unit)
        r = subprocess.run([tool, "verify", "--man=no", "--generators=no",
                            "--root=" + root, unit], capture_output=True,
                           text=True, timeout=120)
        tap.ok(r.returncode == 0 and r.stdout + r.stderr == "",
               "systemd-analyze verify accepts the unit, without a warning",
               "exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    finally:
        shutil.rmtree(root, ignore_errors=True)


# systemd-analyze security --offline=yes on the unit, systemd 252: its
# overall exposure (0 to 10) when the sandbox was last measured, and
# the json_field of each check still counted against it, with why.  A
# sandboxing line removed exposes one more and fails; one added should
# lower both here.
EXPOSURE = 3.2
EXPOSED = {
    # Root with the parent's capabilities in the host's root, network,
    # netlink and /proc: it makes its children's uids, chroot and
    # filters itself (see the unit's comment and FORBIDDEN above).
    "RootDirectoryOrRootImage", "UserOrDynamicUser", "PrivateUsers",
    "PrivateNetwork", "IPAddressDeny", "ProtectProc", "ProcSubset",
    "CapabilityBoundingSet_CAP_KILL", "CapabilityBoundingSet_CAP_SYS_CHROOT",
    "CapabilityBoundingSet_CAP_SET_UID_GID_PCAP",
    "CapabilityBoundingSet_CAP_NET_ADMIN",
    "RestrictAddressFamilies_AF_NETLINK", "RestrictAddressFamilies_AF_UNIX",
    "RestrictAddressFamilies_AF_INET_INET6",
    # System calls the daemon makes: chroot (@mount), setuid and capset
    # (@privileged), setrlimit (@resources), and the sanitizers' ptrace
    # (@debug).
    "SystemCallFilter_mount", "SystemCallFilter_privileged",
    "SystemCallFilter_resources", "SystemCallFilter_debug",
    # Not yet tried under a running systemd (tests/test_unit.py would
    # have to prove it): a device ACL of its own.
    "PrivateDevices", "DeviceAllow",
}


def check_security():
    """systemd-analyze security --offline=yes: nothing exposed beyond
    EXPOSED, the overall level at most EXPOSURE."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        tap.skip("systemd-analyze security: no more exposed than measured",
                 "systemd-analyze not installed")
        return
    r = subprocess.run([tool, "security", "--offline=yes", "--json=short",
                        UNIT], capture_output=True, text=True, timeout=120)
    try:
        exposed = {i["json_field"] for i in json.loads(r.stdout)
                   if i["set"] is False}
    except ValueError:
        exposed = None
    tap.eq(sorted(exposed - EXPOSED) if exposed is not None else r.stderr,
           [], "systemd-analyze security: nothing exposed beyond the "
           "%d checks the daemon needs or that are not yet tried" %
           len(EXPOSED))
    tap.eq(sorted(EXPOSED - exposed) if exposed is not None else r.stderr,
           [], "systemd-analyze security: each of those still exposed "
           "(when one is closed, remove it from EXPOSED and lower "
           "EXPOSURE)")
    limit = int(round(EXPOSURE * 10))
    r = subprocess.run([tool, "security", "--offline=yes",
                        "--threshold=%d" % limit, UNIT],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
    tap.ok(r.returncode == 0 and m is not None and
           float(m.group(1)) <= EXPOSURE,
           "systemd-analyze security --threshold=%d: overall exposure "
           "%s, at most %.1f" % (limit, m.group(1) if m else "?", EXPOSURE),
           "exit %d\n%s%s" % (r.returncode, r.stdout[-600:], r.stderr))


# In every Debian image, the slim one too: the C library, which every
# package needs, and libgcc-s1, which apt needs (through libstdc++6);
# only a sanitizer build of the daemon links the latter.
BASE_PACKAGES = ("libc6", "libgcc-s1")


def read_stages(path):
    """[(FROM line, [(instruction, arguments)])], continued lines
    joined."""
    stages, pending = [], ""
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not pending and (line.lstrip().startswith("#") or
                                not line.strip()):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line, pending = (pending + line).strip(), ""
            word, _, rest = line.partition(" ")
            if word.upper() == "FROM":
                stages.append((rest.strip(), []))
            elif stages:
                stages[-1][1].append((word.upper(), " ".join(rest.split())))
    return stages


def installed(steps):
    """The packages of every apt-get install of a stage."""
    out = []
    for word, rest in steps:
        if word != "RUN":
            continue
        for cmd in re.split(r"&&|;", rest):
            argv = cmd.split()
            if "apt-get" in argv and "install" in argv:
                out += [a for a in argv[argv.index("install") + 1:]
                        if not a.startswith("-")]
    return out


def package_of(lib):
    """The Debian package that holds a library path, or None; dpkg
    knows a file by the path it shipped it under, /lib or /usr/lib."""
    paths = [lib, os.path.realpath(lib)]
    paths += [p[4:] if p.startswith("/usr/") else "/usr" + p for p in paths]
    for p in paths:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def linked_packages():
    """{soname: Debian package} of the daemon's own DT_NEEDED libraries
    (the packages that hold them pull in theirs)."""
    r = subprocess.run(["readelf", "-d", knlib.DAEMON], capture_output=True,
                       text=True)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]",
                        r.stdout)
    r = subprocess.run(["ldd", knlib.DAEMON], capture_output=True, text=True)
    where = dict(re.findall(r"^\s*(\S+) => (/\S+)", r.stdout, re.M))
    return {n: package_of(where[n]) if n in where else None for n in needed}


def configure_dev_packages():
    """The Debian -dev packages configure.ac names for its libraries."""
    with open(os.path.join(knlib.SRCDIR, "configure.ac")) as f:
        return re.findall(r"^KN_LIB\(\[\w+\], \[[^]]*\], \[([^]]+)\]\)",
                          f.read(), re.M)


def check_containerfile():
    stages = read_stages(os.path.join(CONTRIB, "Containerfile"))
    tap.eq([f for f, _ in stages], ["debian:bookworm-slim AS build",
                                    "debian:bookworm-slim"],
           "Containerfile: a build stage and a runtime stage on "
           "debian:bookworm-slim")
    if len(stages) != 2:
        return
    build, runtime = stages[0][1], stages[1][1]
    dev = configure_dev_packages()
    tap.ok(dev and set(dev) <= set(installed(build)),
           "Containerfile: the build stage installs the -dev package of "
           "every library configure.ac checks for (%s)" % " ".join(dev),
           "missing: %s" % " ".join(sorted(set(dev) - set(installed(build)))))
    runs = " && ".join(r for w, r in build if w == "RUN")
    tap.ok(re.search(r"autoreconf -fi && \./configure --prefix=/usr .*"
                     r"&& make .*&& make install DESTDIR=/out", runs),
           "Containerfile: autoreconf, configure --prefix=/usr, make, make "
           "install into /out", runs)
    pkgs = installed(runtime)
    tap.ok(pkgs and not [p for p in pkgs if p.endswith("-dev") or
                         p in ("gcc", "make", "autoconf", "automake")],
           "Containerfile: no build tools or -dev packages at run time",
           pkgs)
    if shutil.which("dpkg") is None or shutil.which("readelf") is None:
        tap.skip("Containerfile: a package for every linked library",
                 "dpkg or readelf missing")
    else:
        linked = linked_packages()
        missing = {n: p for n, p in linked.items()
                   if p is None or (p not in pkgs and p not in BASE_PACKAGES)}
        tap.ok(linked and not missing, "Containerfile: the runtime stage "
               "installs the package of every library the daemon links "
               "(%s)" % ", ".join("%s %s" % kv for kv in sorted(
                   linked.items())),
               "not installed: %r" % missing)
    runs = " && ".join(r for w, r in runtime if w == "RUN")
    tap.ok("install -d -m 0755 -o root -g root /var/empty" in runs and
           "rm -rf /var/empty &&" in runs,
           "Containerfile: /var/empty made empty, root's, mode 0755", runs)
    copies = [r for w, r in runtime if w == "COPY"]
    entry = [json.loads(r) for w, r in runtime if w == "ENTRYPOINT"]
    tap.ok("--from=build /out/usr/sbin/ /usr/sbin/" in copies and
           entry == [["/usr/sbin/kopeio-networkd"]],
           "Containerfile: the daemon in /usr/sbin is the entry point, as "
           "k8s/*.yaml run it", (copies, entry))


def main():
    known = knlib.daemon_options()
    args = check_unit(known)
    check_unit_config(args)
    check_verify()
    check_security()
    check_containerfile()
    tap.done()


main()
