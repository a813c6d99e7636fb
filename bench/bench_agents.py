#!/usr/bin/env python3
"""What many agents cost one API server, with and without gzip: dozens
of real, confined daemons (layer2 mode, each in its own node namespace
of tests/netcluster.py) against one test API server holding 1,000
Nodes of 12 KB, started at once; then the server killed and started
again on the same address, its new watch cache answering 410 to every
watch from before, so that every agent lists again.  For each phase:
the bytes the server sent (its link's transmit counter: TLS, HTTP and
all), the server's CPU time, the agents' CPU time and the time until
every agent is converged (its log says a generation committed after
the phase began: from the start of the agents, or from when the
restarted server serves, which counts the random backoff each agent
took while it was down), with --compression on and off, and their
ratios; and for the relist, the slowest agent's own time from the
410 (Gone) its watch got to its commit.
Prints numbers, never a verdict.

The test API server is Python: its CPU time for JSON and TLS is many
times kube-apiserver's, while zlib's compression runs in C in both,
so compression's share of the server's CPU is larger here than it
would be in Go (Go's compress/gzip at level 1 is slower than zlib's;
the two even out roughly).  Compare the on and off columns of one run,
not the absolute figures with a real server.

--link shapes the server's side of the underlay with netem (rate and
a 1 ms delay) on the bridge it sends from: 1gbit or 100mbit, shared by
every agent as an API server's network interface is; lo leaves it
unshaped (a veth: loopback speed).

	KN_BUILDDIR=... KN_SRCDIR=... bench/bench_agents.py [--agents 30]
	    [--nodes 1000] [--node-bytes 12000] [--link lo|1gbit|100mbit]...
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

# knlib is in tests/ of the tree this file is in (KN_SRCDIR for it).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests"))
import knlib  # noqa: E402

COMMITTED = r"^watcher: generation \d+ committed"
# A 410 answer or ERROR event to the watch (the real watch cache sends
# the event): the list starts at once.
RELIST = r"^watcher: watch: .*listing again$"
TICK = os.sysconf("SC_CLK_TCK")
# The link's rate, and tbf's bucket for it when the kernel has no netem.
POD_CIDR_MASK = 25      # 5,000 pod CIDRs fit 100.96.0.0/12 only as /25s
LINKS = {"lo": None, "1gbit": ("1gbit", "256kb"),
         "100mbit": ("100mbit", "32kb")}


def cpu_seconds(pid):
    """User and system time of one process, in seconds; 0 once gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def agents_cpu(agents):
    """The CPU seconds of every daemon's parent and children."""
    pids = []
    for d in agents:
        pids.append(d.pid())
        pids.extend(knlib.children_of(d.pid()).values())
    return sum(cpu_seconds(p) for p in pids)


def tx_bytes(c):
    """What the server's namespace has sent onto the underlay."""
    out = subprocess.run(["ip", "-n", c.ul, "-j", "-s", "link", "show",
                          "dev", "ul"], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)[0]["stats64"]["tx"]["bytes"]


def shape(c, link):
    """netem on the bridge the server sends from: its link's rate and
    a 1 ms delay, with room for a burst of every agent's window; where
    the kernel has no netem, tbf: the rate alone.  What it did."""
    if link is None:
        return "unshaped"
    tc = ["ip", "netns", "exec", c.ul, "tc", "qdisc", "add", "dev", "ul",
          "root"]
    rate, burst = link
    if subprocess.run(tc + ["netem", "rate", rate, "delay", "1ms", "limit",
                            "100000"], capture_output=True).returncode == 0:
        return "netem rate %s delay 1ms" % rate
    subprocess.run(tc + ["tbf", "rate", rate, "burst", burst, "latency",
                         "100ms"], check=True)
    return "tbf rate %s (no netem in this kernel: no delay)" % rate


def converge(agents, marks, t0, timeout, since=None):
    """(seconds from t0 until every agent logged a commit after its
    mark, the slowest agent's seconds on its own clock); None if one
    did not within timeout.  since: a pattern that starts each agent's
    own clock, if it logs one before the commit; else t0 does."""
    slowest, last = 0.0, t0
    for d, mark in zip(agents, marks):
        left = max(1.0, t0 + timeout - time.time())
        i, m = d.wait_for(COMMITTED, start=mark, timeout=left)
        if m is None:
            print("bench_agents: an agent did not converge:\n" +
                  d.log(mark)[-2000:])
            return None
        j = None
        if since is not None:
            j, _ = d.wait_for(since, start=mark, timeout=0)
        with d.cond:
            begin = d.times[j] if j is not None and j < i else t0
            slowest = max(slowest, d.times[i] - begin)
            last = max(last, d.times[i])
    return last - t0, slowest


def quiet_server(pid, quiet=1.0, timeout=120):
    """Waits until the server has used no CPU for quiet seconds."""
    deadline = time.monotonic() + timeout
    last, still = cpu_seconds(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = cpu_seconds(pid)
        if now != last:
            last, still = now, time.monotonic()
        elif time.monotonic() - still >= quiet:
            return


def restart(c, args):
    """Kills the server and starts it again on the same ports, holding
    the same nodes from a resourceVersion past the old one, compacted
    there; the time it serves from."""
    api = c.api
    rv = int(api.control("GET", "/state")["resourceVersion"])
    api.proc.kill()
    api.proc.wait()
    ready = os.path.join(api.dir, "ready-again.json")
    argv = list(api.proc.args)
    for flag, value in (("--port", api.port),
                        ("--control-port", api.control_port),
                        ("--ready-file", ready)):
        argv[argv.index(flag) + 1] = str(value)
    argv += ["--first-resource-version", str(rv + 10000), "--generate",
             json.dumps({"count": args.nodes, "target_bytes":
                         args.node_bytes, "pod_cidr_mask": POD_CIDR_MASK})]
    api.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=api.log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not os.path.exists(ready) or os.path.getsize(ready) == 0:
        if time.monotonic() > deadline or api.proc.poll() is not None:
            raise RuntimeError("the test API server did not start again")
        time.sleep(0.02)
    return time.time()


def phase(c, agents, start, args, since=None):
    """Runs start(), then measures until every agent converged: (bytes
    sent, server CPU s, agents' CPU s, (seconds, the slowest agent's
    own seconds)); the server's CPU from
    when start() returns, so a restart's own start-up is left out, and
    the time from when it says the server serves, if it does.  An
    agent start() adds is read from its first line."""
    marks = {id(d): d.mark() for d in agents}
    b0, a0 = tx_bytes(c), agents_cpu(agents)
    t0 = time.time()
    t0 = start() or t0
    s0 = cpu_seconds(c.api.proc.pid)
    t = converge(agents, [marks.get(id(d), 0) for d in agents], t0,
                 args.timeout, since)
    if t is None:
        return None
    quiet_server(c.api.proc.pid)
    return (tx_bytes(c) - b0, cpu_seconds(c.api.proc.pid) - s0,
            agents_cpu(agents) - a0, t)


def run(link, compression, args):
    """A cluster, its agents started at once, then the server restarted:
    {phase: figures}."""
    import netcluster
    c = netcluster.Cluster(nodes=args.agents, pods=0,
                           pod_cidr_mask=POD_CIDR_MASK)
    agents = []
    try:
        c.api.control("POST", "/generate", {"count": args.nodes,
                                            "target_bytes": args.node_bytes,
                                            "pod_cidr_mask": POD_CIDR_MASK})
        run.shaped = shape(c, LINKS[link])
        quiet_server(c.api.proc.pid)
        flags = ["--provider", "layer2", "--max-nodes",
                 str(max(5000, args.nodes)),
                 "--compression=%s" % ("true" if compression else "false")]

        def start_all():
            for n in c.nodes:
                agents.append(n.start(flags))
        out = {"start": phase(c, agents, start_all, args)}
        out["relist"] = phase(c, agents, lambda: restart(c, args), args,
                              RELIST)
        return out
    finally:
        c.close()


def ratio(a, b):
    return "%.2fx" % (a / b) if b else "-"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=int, default=30)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--node-bytes", type=int, default=12000)
    p.add_argument("--link", action="append", choices=sorted(LINKS))
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args()
    if args.agents < 1 or args.nodes < args.agents:
        p.error("--agents must be from 1 to --nodes")
    why = knlib.apiserver_missing("ip", "bridge", "tc")
    if why is not None:
        print("bench_agents: skipped: %s" % why)
        return 0
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    if os.environ.get("KN_SANITIZERS"):
        print("bench_agents: the daemon is built with sanitizers: its "
              "figures are not representative")
    print("bench_agents: %d agents (layer2), %d nodes of %d bytes; "
          "gzip on / off" % (args.agents, args.nodes, args.node_bytes))
    print("  %-7s %-6s %11s %11s %6s %8s %8s %6s %8s %8s %6s %7s %7s %6s" % (
        "link", "phase", "MB gzip", "MB plain", "ratio", "srv s gz",
        "srv s pl", "ratio", "agt s gz", "agt s pl", "ratio", "conv gz",
        "conv pl", "ratio"))
    for link in args.link or ["lo"]:
        on, off = run(link, True, args), run(link, False, args)
        print("  %s: %s" % (link, run.shaped))
        for ph in ("start", "relist"):
            a, b = on[ph], off[ph]
            if a is None or b is None:
                print("  %-7s %-6s did not converge" % (link, ph))
                continue
            print("  %-7s %-6s %11.2f %11.2f %6s %8.2f %8.2f %6s %8.2f %8.2f "
                  "%6s %6.2fs %6.2fs %6s" % (
                      link, ph, a[0] / 1e6, b[0] / 1e6, ratio(a[0], b[0]),
                      a[1], b[1], ratio(a[1], b[1]), a[2], b[2],
                      ratio(a[2], b[2]), a[3][0], b[3][0],
                      ratio(a[3][0], b[3][0])))
            if ph == "relist":
                print("  %-7s %-6s the slowest agent from its 410: "
                      "%.2fs gzip, %.2fs plain, %s" % (
                          link, ph, a[3][1], b[3][1],
                          ratio(a[3][1], b[3][1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
