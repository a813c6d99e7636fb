#!/usr/bin/env python3
"""What the egress masquerade (table inet kopeio) costs the daemon, with
it on and off.  Prints numbers and ratios, never a verdict.

For each setting and run: a fresh node namespace on the underlay of
tests/netcluster.py, the test API server serving 1,000 generated
nodes, the real, confined daemon started in it in vxlan mode with -v.
Measured: start to the watcher's "committed" line; the executor's own
figure for the table at start ("masquerade: start-up took N us": read
back, compared and, the first time, made in one transaction), first on
an empty kernel and then after a restart, when the table is adopted
as it is; beside it, nft -f loading the same table into a fresh
namespace (a process start included).  Then one node is added: the
route requests of that generation, from the executor's "kernel
reconciled with N requests" line, and the nftables events an `nft
monitor` in the namespace saw meanwhile: a node change costs the
same requests with the table as without it, and no nftables work.
Needs root.

	KN_BUILDDIR=... KN_SRCDIR=... bench/bench_masquerade.py [runs]
"""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

SRCDIR = os.environ.get("KN_SRCDIR",
                        os.path.dirname(os.path.dirname(
                            os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
import knlib  # noqa: E402
from benchlib import distinct, mm  # noqa: E402

NODES = 1000
NODE_BYTES = 2000
STARTUP = r"^executor: masquerade: start-up took (\d+) us$"
COMMITTED = r"^watcher: generation \d+ committed"
RECONCILED = (r"^executor: generation \d+: kernel reconciled with (\d+) "
              r"requests in (\d+) ms$")
TABLE = """table inet kopeio {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 100.96.0.0/12 ip daddr != 100.96.0.0/12 masquerade fully-random
	}
}
"""


def waited(d, pattern, start=0, timeout=120):
    i, m = d.wait_for(pattern, start=start, timeout=timeout)
    if m is None:
        raise RuntimeError("no line %r:\n%s" % (pattern, d.log()[-3000:]))
    return i, m


def node_change(c, node, d, index, netcluster):
    """(route requests, nftables events) of one added node."""
    mon = subprocess.Popen(["ip", "netns", "exec", node.ns, "nft",
                            "monitor"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(1)      # nft monitor has subscribed
        mark = d.mark()
        obj = netcluster.nodegen.make_node(index, target_bytes=NODE_BYTES)
        c.api.control("POST", "/nodes", obj)
        i, m = waited(d, RECONCILED, mark)
        time.sleep(1)
    finally:
        mon.terminate()
        out = mon.communicate()[0]
    c.api.control("DELETE", "/nodes/" + obj["metadata"]["name"])
    return int(m.group(1)), len([x for x in out.splitlines() if x.strip()])


def run(c, args, index, netcluster):
    """(start->commit ms, start-up us created, start-up us adopted,
    requests, nft events) of one run."""
    with c.scratch_node() as node:
        t0 = time.monotonic()
        d = node.start(args)
        waited(d, COMMITTED)
        st = (time.monotonic() - t0) * 1000
        masq = "--masquerade=false" not in args
        created = adopted = None
        if masq:
            created = int(waited(d, STARTUP)[1].group(1))
            node.stop()
            d = node.start(args)
            waited(d, COMMITTED)
            adopted = int(waited(d, STARTUP)[1].group(1))
        reqs, events = node_change(c, node, d, index, netcluster)
        return st, created, adopted, reqs, events


def nft_f(netcluster, path):
    """Wall clock ms of nft -f loading the table into a fresh namespace."""
    ns = "knb-nft-%d" % os.getpid()
    netcluster.sh("ip", "netns", "add", ns)
    try:
        t0 = time.monotonic()
        netcluster.sh("ip", "netns", "exec", ns, "nft", "-f", path)
        return (time.monotonic() - t0) * 1000
    finally:
        netcluster.sh("ip", "netns", "del", ns, check=False)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    why = knlib.apiserver_missing("ip", "nft")
    if why is not None:
        print("bench_masquerade: skipped: %s" % why)
        return 0
    import netcluster

    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    tmp = tempfile.mkdtemp(prefix="kn-bench-")
    path = os.path.join(tmp, "kopeio.nft")
    with open(path, "w") as f:
        f.write(TABLE)
    c = None
    rows = []
    made = []
    try:
        c = netcluster.Cluster(nodes=0, pods=0)
        c.api.control("POST", "/generate", {"count": NODES,
                                            "target_bytes": NODE_BYTES})
        print("bench_masquerade: %d nodes of %d bytes; %d runs per "
              "setting" % (NODES, NODE_BYTES, runs))
        if os.environ.get("KN_SANITIZERS"):
            print("bench_masquerade: the daemon is built with sanitizers: "
                  "its times are not representative")
        sys.stdout.flush()
        base = ["-v", "--provider", "vxlan", "--sync-period", "1h",
                "--max-nodes", str(2 * NODES)]
        nft = [nft_f(netcluster, path) for _ in range(runs)]
        for name, extra in (("on", []), ("off", ["--masquerade=false"])):
            res = [run(c, base + extra, NODES + 1 + r, netcluster)
                   for r in range(runs)]
            st, cr, ad, rq, ev = zip(*res)
            made += [x for x in cr if x is not None]
            rows.append((name, mm(st), mm([x for x in cr if x is not None]),
                         mm([x for x in ad if x is not None]),
                         distinct(rq), distinct(ev)))
    finally:
        if c is not None:
            c.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("masquerade cost in vxlan mode, %d nodes; figures as min / "
          "median" % NODES)
    fmt = "%-10s %17s %17s %17s %15s %11s"
    print(fmt % ("masquerade", "start->commit ms", "table made us",
                 "table adopted us", "node change req", "nft events"))
    for row in rows:
        print(fmt % row)
    print("nft -f of the same table into a fresh namespace: %s ms; the "
          "executor's start-up with the table made: %.3fx that (medians)" %
          (mm(nft), statistics.median(made) / 1000 / statistics.median(nft)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
