#!/usr/bin/env python3
"""What the whole daemon costs a node, and how soon it routes, at 500,
5,000 and 16,000 nodes in the cluster: the figures behind the requests
and limits of k8s/*.yaml.  For each size and mode, one table row each:

- time: the list transfer alone (bench/curl_floor -a: libcurl fetching
  the same list the watcher asked for first, page by page on one
  connection, from the node's namespace), and our first and last route
  as `ip -ts monitor route` sees them in the node's namespace, from the
  daemon's start and from its list request (the test API server's
  request log); the last route against the transfer alone;
- CPU seconds of every process (parent, watcher, executor, metrics, the
  arp helper in vxlan-legacy) for the start, list and install, and of
  the transfer alone;
- memory three ways, per process and for the whole daemon: peak
  resident set (VmHWM), proportional set (PSS from smaps_rollup:
  shared pages split among the processes that map them) and anonymous
  memory, and what the kernel charged the memory cgroup the daemon
  runs in at its peak (the figure a container's limit acts on), with
  the page cache and kernel memory in that charge, against the
  transfer alone's peak resident set.

Then, at 5,000 nodes, a status report of every node and the operator's
questions (kopeio-networkctl's tables, a /metrics scrape).  Prints
numbers, never a verdict.  ipsec and gre are not measured here: their
kernel objects need the VM's kernel (tests/vmrun).

A node namespace on the underlay of tests/netcluster.py, the test API
server serving generated nodes of 12 KB, the real, confined daemon with
its metrics process, as k8s/*.yaml run it.  Needs root.  By default
vxlan at 500, 5,000 and 16,000 nodes; KN_BENCH_FULL=1 (or --full) adds
layer2 and vxlan-legacy; --nodes and --modes choose.

	KN_BUILDDIR=... KN_SRCDIR=... bench/bench_daemon.py \
	    [--full] [--nodes 500,5000] [--modes vxlan,layer2]
"""

import argparse
import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime

# knlib is in tests/ of the tree this file is in (KN_SRCDIR for it).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests"))
import knlib  # noqa: E402

COMMITTED = r"^watcher: generation \d+ committed"
TICK = os.sysconf("SC_CLK_TCK")
NODE_BYTES = 12000
SIZES = (500, 5000, 16000)
MODES = ("vxlan",)
FULL_MODES = ("layer2", "vxlan", "vxlan-legacy")
CLUSTER = ipaddress.ip_network("100.96.0.0/12")
# A route of the bench's own (TEST-NET-2): seen, the monitor listens.
PROBE = "198.51.100.0/24"
TS_ROUTE = re.compile(r"^\[([0-9T:.-]+)\] (Deleted )?(\S+) ")


def pod_cidr_mask(nodes):
    """The longest pod CIDRs that fit nodes in 100.96.0.0/12: 8,192 /25s,
    16,384 /26s."""
    mask = 25
    while nodes > 1 << (mask - CLUSTER.prefixlen):
        mask += 1
    return mask


def memory(pid):
    """{Rss, Pss, VmHWM, RssAnon, Libs} in KiB of one process; Libs:
    the anonymous pages in its mappings of files (the binary and the
    libraries: their relocated data, GOT and .bss), what each process
    pays again for every library the binary links, needed or not."""
    out = {"Libs": 0}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for k, v in re.findall(r"(?m)^(Rss|Pss):\s+(\d+) kB", f.read()):
            out[k] = int(v)
    with open("/proc/%d/status" % pid) as f:
        for k, v in re.findall(r"(?m)^(VmHWM|RssAnon):\s+(\d+) kB",
                               f.read()):
            out[k] = int(v)
    mapped = False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split()
                mapped = len(parts) > 5 and parts[5].startswith("/")
            elif mapped and line.startswith("Anonymous:"):
                out["Libs"] += int(line.split()[1])
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

    def parts(self):
        """What the charge holds now, KiB: the page cache (file) and
        kernel memory at its peak (v1; v2 says kernel memory now), or
        None where the file is missing."""
        out = {"cache": None, "kmem": None}
        try:
            with open(os.path.join(self.path, "memory.stat")) as f:
                st = dict(line.split() for line in f)
            out["cache"] = int(st.get("cache", st.get("file", 0))) // 1024
            if "kernel" in st:
                out["kmem"] = int(st["kernel"]) // 1024
            with open(os.path.join(self.path,
                                   "memory.kmem.max_usage_in_bytes")) as f:
                out["kmem"] = int(f.read()) // 1024
        except (OSError, TypeError, ValueError):
            pass
        return out

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


class RouteMonitor(knlib.Lines):
    """`ip -ts monitor route` in a namespace: when each pod CIDR's route
    first appeared, by the kernel's report, not the daemon's word."""

    def __init__(self, node):
        super().__init__(["ip", "netns", "exec", node.ns, "ip", "-ts",
                          "monitor", "route"])
        # Listening once a route of its own is seen made: made again
        # until it is, as ip may not have subscribed yet.
        deadline = time.monotonic() + 60
        m = None
        while m is None and time.monotonic() < deadline:
            node.run("ip", "route", "add", "unreachable", PROBE)
            i, m = self.wait_for(re.escape(PROBE), timeout=1)
            node.run("ip", "route", "del", "unreachable", PROBE)
        if m is None:
            raise RuntimeError("ip monitor route saw nothing")

    def added(self):
        """Wall-clock time (time.time()) each pod CIDR's route was first
        added, in order."""
        seen = {}
        for line in self.log().splitlines():
            m = TS_ROUTE.match(line)
            if m is None or m.group(2):
                continue
            prefix = m.group(3).split()[-1]
            try:
                if not ipaddress.ip_network(prefix).subnet_of(CLUSTER):
                    continue
            except (TypeError, ValueError):
                continue
            seen.setdefault(prefix, datetime.fromisoformat(
                m.group(1)).timestamp())
        return sorted(seen.values())

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.wait(10)


def list_request(api):
    """(time, query string) of the daemon's first request for the nodes:
    its list, or a watch that streams the list (sendInitialEvents), whose
    query is then None (curl cannot end a watch); None when none came."""
    for r in api.requests():
        q = {k: v[0] if isinstance(v, list) else v
             for k, v in (r.get("query") or {}).items()}
        if r.get("method") == "GET" and r.get("path") == "/api/v1/nodes":
            if q.get("watch") in ("1", "true"):
                return r["time"], None
            return r["time"], "&".join("%s=%s" % kv for kv in q.items())
    return None


def floor(node, api, query):
    """{VmHWM, RssAnon, RssFile, Pages, Bytes, Seconds, CPU} of libcurl
    fetching the list alone (bench/curl_floor -a), from the node's
    namespace; None on failure (said)."""
    with open(api.daemon_token) as f:
        token = f.read().strip()
    r = subprocess.run(
        ["ip", "netns", "exec", node.ns,
         os.path.join(knlib.BUILDDIR, "bench", "curl_floor"), "-a",
         "%s/api/v1/nodes?%s" % (api.url, query or "limit=500"),
         api.pki.ca, token], capture_output=True, text=True)
    out = {k: float(v) for k, v in re.findall(
        r"(?m)^(VmHWM|RssAnon|RssFile|Pages|Bytes|Seconds|CPU):\s+([\d.]+)",
        r.stdout)}
    if r.returncode != 0 or "Seconds" not in out:
        print("bench_daemon: curl_floor failed: %s" % r.stderr.strip())
        return None
    return out


def run(nodes, mode, questions):
    """One size and mode: its row of each table, as a dict."""
    import netcluster
    c = mon = None
    cg = MemoryCgroup()
    mask = pod_cidr_mask(nodes)
    try:
        c = netcluster.Cluster(nodes=0, pods=0, pod_cidr_mask=mask)
        c.api.control("POST", "/generate", {
            "count": nodes, "target_bytes": NODE_BYTES,
            "pod_cidr_mask": mask})
        node = c.add_node(0, pods=0)
        mon = RouteMonitor(node)
        t0 = time.time()
        # As k8s/*.yaml run it: with the metrics process.  The bound
        # just above the cluster: where tables are sized by the bound,
        # not grown, a larger one would measure the bound.
        d = node.start(["--provider", mode, "--max-nodes", str(nodes + 64),
                        "--metrics-address=127.0.0.1:9922"], wrap=cg.wrap())
        i, m = d.wait_for(COMMITTED, timeout=900)
        if m is None:
            print(d.log()[-3000:])
            return None
        procs = processes(d)
        settle(procs)
        # The last route may come after the watcher's commit.
        deadline = time.monotonic() + 120
        while (len(mon.added()) < nodes - 1 and
               time.monotonic() < deadline):
            time.sleep(0.2)
        added = mon.added()
        row = {"nodes": nodes, "mode": mode, "routes": len(added),
               "cpu": {n: cpu_seconds(p) for n, p in procs.items()},
               "mem": {n: memory(p) for n, p in procs.items()},
               "cgroup": cg.usage(), "why": cg.why}
        if row["cgroup"] is not None:
            row.update(cg.parts())
        lr = list_request(c.api)
        row["first"] = [a - t0 for a in added[:1]]
        row["last"] = [a - t0 for a in added[-1:]]
        if lr is not None:
            row["first_l"] = [a - lr[0] for a in added[:1]]
            row["last_l"] = [a - lr[0] for a in added[-1:]]
        row["floor"] = floor(node, c.api, lr[1] if lr else None)
        if questions:
            t1 = time.monotonic()
            before = sum(cpu_seconds(p) for p in procs.values())
            c.api.control("POST", "/heartbeat")
            beat = settle(procs) - before
            print("bench_daemon: %d nodes, %s: a status report of every "
                  "node: %.1f s wall, %.2f s CPU, %.0f us per event" % (
                      nodes, mode, time.monotonic() - t1, beat,
                      beat * 1e6 / nodes))
            asks(d, node)
        return row
    finally:
        if mon is not None:
            mon.close()
        if c is not None:
            c.close()
        cg.close()


def fmt(xs, scale=1.0, f="%.2f"):
    return f % (xs[0] * scale) if xs else "-"


def ratio(a, b):
    return "%.2fx" % (a / b) if a and b else "-"


def report(rows):
    """The three tables of the runs."""
    print("\ntime (s): list transfer alone (libcurl) against our first "
          "and last route, from the daemon's start / from its list "
          "request")
    print("  %6s %-12s %6s %8s %7s %13s %13s %7s" % (
        "nodes", "mode", "MB", "curl", "pages", "first route",
        "last route", "last/curl"))
    for r in rows:
        fl = r["floor"] or {}
        print("  %6d %-12s %6s %8s %7s %6s/%-6s %6s/%-6s %7s" % (
            r["nodes"], r["mode"],
            "%.1f" % (fl["Bytes"] / 1e6) if fl else "-",
            "%.3f" % fl["Seconds"] if fl else "-",
            "%d" % fl["Pages"] if fl else "-",
            fmt(r["first"], f="%.3f"), fmt(r.get("first_l", []), f="%.3f"),
            fmt(r["last"]), fmt(r.get("last_l", [])),
            ratio(r.get("last_l", [0])[0] if r.get("last_l") else 0,
                  fl.get("Seconds"))))
        if r["mode"] == "vxlan-legacy":
            print("  (vxlan-legacy: one route for the cluster's range; the "
                  "peers are forwarding entries, not routes)")
        elif r["routes"] < r["nodes"] - 1:
            print("  (only %d of %d routes seen)" % (r["routes"],
                                                     r["nodes"] - 1))
    names = ("parent", "watcher", "executor", "metrics", "arp-helper")
    print("\nCPU (s) per process for the start, list and install; curl: "
          "the transfer alone")
    print("  %6s %-12s " % ("nodes", "mode") +
          " ".join("%8s" % n for n in names) + " %8s %8s %7s" % (
              "total", "curl", "/curl"))
    for r in rows:
        fl = r["floor"] or {}
        tot = sum(r["cpu"].values())
        print("  %6d %-12s " % (r["nodes"], r["mode"]) +
              " ".join("%8s" % ("%.2f" % r["cpu"][n] if n in r["cpu"]
                                else "-") for n in names) +
              " %8.2f %8s %7s" % (tot, "%.2f" % fl["CPU"] if fl else "-",
                                  ratio(tot, fl.get("CPU"))))
    print("\nmemory (KiB) per process: peak RSS (VmHWM) / PSS / anonymous"
          " (of it in the binary's and libraries' mappings); the daemon:"
          " summed, and its memory cgroup's peak charge (with"
          " the page cache and kernel memory in it); curl: the transfer"
          " alone's peak RSS")
    for r in rows:
        fl = r["floor"] or {}
        print("  %d nodes, %s:" % (r["nodes"], r["mode"]))
        for n in names:
            if n in r["mem"]:
                m = r["mem"][n]
                print("    %-10s %7d / %6d / %6d (%d)" % (
                    n, m["VmHWM"], m["Pss"], m["RssAnon"], m["Libs"]))
        tot = {k: sum(m[k] for m in r["mem"].values())
               for k in ("VmHWM", "Pss", "RssAnon", "Libs")}
        print("    %-10s %7d / %6d / %6d (%d)" % (
            "daemon", tot["VmHWM"], tot["Pss"], tot["RssAnon"],
            tot["Libs"]))
        if r["cgroup"] is None:
            print("    cgroup     not measured (%s)" % r["why"])
        else:
            print("    cgroup     peak %d (now %d; page cache %s, kernel "
                  "%s at its peak)" % (r["cgroup"][1], r["cgroup"][0],
                                       r.get("cache", "-"),
                                       r.get("kmem", "-")))
        if fl:
            print("    curl       %7d peak RSS (anon %d, file %d); daemon's "
                  "PSS %s, cgroup peak %s, watcher's peak RSS %s of it" % (
                      fl["VmHWM"], fl["RssAnon"], fl["RssFile"],
                      ratio(tot["Pss"], fl["VmHWM"]),
                      ratio(r["cgroup"][1] if r["cgroup"] else 0,
                            fl["VmHWM"]),
                      ratio(r["mem"].get("watcher", {}).get("VmHWM", 0),
                            fl["VmHWM"])))


def main():
    why = knlib.apiserver_missing("ip", "bridge")
    if why is not None:
        print("bench_daemon: skipped: %s" % why)
        return 0
    p = argparse.ArgumentParser(description="the whole daemon's cost")
    p.add_argument("--full", action="store_true",
                   default=bool(os.environ.get("KN_BENCH_FULL")),
                   help="every mode the host's kernel runs")
    p.add_argument("--nodes", help="sizes, comma-separated")
    p.add_argument("--modes", help="modes, comma-separated")
    a = p.parse_args()
    sizes = [int(n) for n in a.nodes.split(",")] if a.nodes else SIZES
    modes = a.modes.split(",") if a.modes else (
        FULL_MODES if a.full else MODES)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    if os.environ.get("KN_SANITIZERS"):
        print("bench_daemon: the daemon is built with sanitizers: its "
              "figures are not representative")
    print("bench_daemon: nodes of %d bytes, %s at %s nodes; ipsec and gre "
          "need the VM's kernel: not measured" % (
              NODE_BYTES, ", ".join(modes),
              ", ".join("%d" % n for n in sizes)))
    rows = []
    for nodes in sizes:
        for mode in modes:
            r = run(nodes, mode, questions=nodes == 5000 and
                    mode == modes[0])
            if r is None:
                return 1
            rows.append(r)
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
