#!/usr/bin/env python3
"""What the whole daemon costs a node with 5,000 nodes in the cluster,
the figures behind the requests and limits of k8s/*.yaml: memory of
every process (parent, watcher, executor, and the metrics process
when the daemon has one) as resident set, peak
resident set and proportional set (PSS: shared library pages split
among the processes that map them, so the sum is what the pod is
charged), and CPU time, for the first list and install and for one
status report of every node; and, where a memory cgroup can be made,
what the kernel charges the cgroup the daemon runs in (anonymous
memory, the page cache it brings in first, kernel memory): the figure
a container's memory limit acts on.  Prints numbers, never a verdict.

A node namespace on the underlay of tests/netcluster.py, the test API
server serving 5,000 generated nodes of 12 KB, the real, confined
daemon in vxlan mode (three kernel objects per peer), or the mode
given.  Needs root.

	KN_BUILDDIR=... KN_SRCDIR=... bench/bench_daemon.py [mode]
"""

import os
import re
import signal
import sys
import time

# knlib is in tests/ of the tree this file is in (KN_SRCDIR for it).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests"))
import knlib  # noqa: E402

COMMITTED = r"^watcher: generation \d+ committed"
TICK = os.sysconf("SC_CLK_TCK")
NODES, NODE_BYTES = 5000, 12000
POD_CIDR_MASK = 25      # 5,000 pod CIDRs fit 100.96.0.0/12 only as /25s


def memory(pid):
    """{Rss, Pss, VmHWM, RssAnon} in KiB of one process."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for k, v in re.findall(r"(?m)^(Rss|Pss):\s+(\d+) kB", f.read()):
            out[k] = int(v)
    with open("/proc/%d/status" % pid) as f:
        for k, v in re.findall(r"(?m)^(VmHWM|RssAnon):\s+(\d+) kB",
                               f.read()):
            out[k] = int(v)
    return out


class MemoryCgroup:
    """A memory cgroup of its own (v1 or v2) for the daemon, as a pod's
    container has: the kernel's charge for it is what a memory limit
    acts on.  wrap() is the command prefix that puts the daemon in it
    before it starts; why says what failed when none could be made."""

    def __init__(self):
        self.path = self.why = None
        with open("/proc/self/cgroup") as f:
            mine = dict(line.rstrip("\n").split(":", 2)[1:]
                        for line in f)
        tries = []
        if "memory" in mine:
            tries.append(("/sys/fs/cgroup/memory" + mine["memory"],
                          "memory.max_usage_in_bytes",
                          "memory.usage_in_bytes"))
        for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            if "" in mine and os.path.exists(root + "/cgroup.controllers"):
                tries.append((root + mine[""], "memory.peak",
                              "memory.current"))
        for parent, peak, current in tries:
            path = os.path.join(parent, "kn-bench-%d" % os.getpid())
            try:
                os.mkdir(path)
            except OSError as e:
                self.why = "%s: %s" % (path, e.strerror)
                continue
            if os.path.exists(os.path.join(path, current)):
                self.path, self.peak, self.current = path, peak, current
                return
            os.rmdir(path)
            self.why = "%s: no %s" % (path, current)
        self.why = self.why or "no memory cgroup"

    def wrap(self):
        """`ip netns exec` mounts a /sys of the namespace, without the
        cgroup file systems: the path goes through this process's
        root, in the mount namespace they are mounted in."""
        if self.path is None:
            return ()
        return ("sh", "-c", 'echo $$ > "$0" && exec "$@"',
                "/proc/%d/root%s/cgroup.procs" % (os.getpid(), self.path))

    def usage(self):
        """(current, peak) KiB, or None."""
        if self.path is None:
            return None
        out = []
        for name in (self.current, self.peak):
            with open(os.path.join(self.path, name)) as f:
                out.append(int(f.read()) // 1024)
        return tuple(out)

    def close(self):
        if self.path is not None:
            try:
                os.rmdir(self.path)
            except OSError:
                pass


def cpu_seconds(pid):
    """User and system time of one process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def processes(d):
    """{name: pid} of the daemon's parent and children."""
    procs = {"parent": d.pid()}
    procs.update(knlib.children_of(d.pid()))
    return procs


def settle(procs, quiet=1.0, timeout=300):
    """Waits until the processes have used no CPU for `quiet` seconds;
    their total CPU seconds."""
    deadline = time.monotonic() + timeout
    last = sum(cpu_seconds(p) for p in procs.values())
    still = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = sum(cpu_seconds(p) for p in procs.values())
        if now != last:
            last, still = now, time.monotonic()
        elif time.monotonic() - still >= quiet:
            break
    return last


def table(title, procs, cg):
    keys = ("Rss", "VmHWM", "Pss", "RssAnon")
    rows = {name: memory(pid) for name, pid in sorted(procs.items())}
    print(title)
    print("  %-10s %8s %8s %8s %8s" % ("KiB", "RSS", "peak RSS", "PSS",
                                       "anon"))
    for name, m in rows.items():
        print("  %-10s %8d %8d %8d %8d" % ((name,) + tuple(m[k]
                                                           for k in keys)))
    print("  %-10s %8d %8d %8d %8d" % (("total",) + tuple(
        sum(m[k] for m in rows.values()) for k in keys)))
    use = cg.usage()
    if use is None:
        print("  memory cgroup: not measured (%s)" % cg.why)
    else:
        print("  memory cgroup charge: %d KiB now, %d KiB at the peak" % use)


def asks(d, node):
    """What an operator's questions cost at this size: each table of
    kopeio-networkctl and a scrape of /metrics, wall time."""
    print("operator's questions:")
    for what in ("status", "nodes", "routes"):
        t = time.monotonic()
        rc, out, err = d.ctl("show", what)
        print("  kopeio-networkctl show %-7s %5d lines, %4d KiB in %6.1f ms%s"
              % (what, len(out.splitlines()), len(out) // 1024,
                 (time.monotonic() - t) * 1e3, "" if rc == 0 else
                 " (failed: %s)" % err.strip()))
    t = time.monotonic()
    out = node.run("curl", "-s", "http://127.0.0.1:9922/metrics",
                   check=False)
    print("  GET /metrics                  %5d lines, %4d KiB in %6.1f ms" %
          (len(out.splitlines()), len(out) // 1024,
           (time.monotonic() - t) * 1e3))


def main():
    why = knlib.apiserver_missing("ip", "bridge")
    if why is not None:
        print("bench_daemon: skipped: %s" % why)
        return 0
    import netcluster

    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    mode = sys.argv[1] if len(sys.argv) > 1 else "vxlan"
    c = None
    cg = MemoryCgroup()
    try:
        c = netcluster.Cluster(nodes=0, pods=0, pod_cidr_mask=POD_CIDR_MASK)
        c.api.control("POST", "/generate", {
            "count": NODES, "target_bytes": NODE_BYTES,
            "pod_cidr_mask": POD_CIDR_MASK})
        node = c.add_node(0, pods=0)
        if os.environ.get("KN_SANITIZERS"):
            print("bench_daemon: the daemon is built with sanitizers: its "
                  "figures are not representative")
        t0 = time.monotonic()
        # As k8s/*.yaml run it: with the metrics process.
        d = node.start(["--provider", mode, "--max-nodes", str(NODES),
                        "--metrics-address=127.0.0.1:9922"], wrap=cg.wrap())
        i, m = d.wait_for(COMMITTED, timeout=300)
        if m is None:
            print(d.log()[-3000:])
            return 1
        procs = processes(d)
        start_cpu = settle(procs)
        wall = time.monotonic() - t0
        print("bench_daemon: %d nodes of %d bytes, %s mode, %d peers "
              "installed" % (NODES, NODE_BYTES, mode, NODES - 1))
        table("after the first list and install (%.1f s wall, %.2f s CPU "
              "in all processes):" % (wall, start_cpu), procs, cg)
        t1 = time.monotonic()
        c.api.control("POST", "/heartbeat")
        beat_cpu = settle(procs) - start_cpu
        table("after a status report of every node (%.1f s wall, %.2f s "
              "CPU, %.0f us per event):" % (time.monotonic() - t1, beat_cpu,
                                            beat_cpu * 1e6 / NODES), procs, cg)
        asks(d, node)
    finally:
        if c is not None:
            c.close()
        cg.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
