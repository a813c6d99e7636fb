#!/usr/bin/env python3
"""No node-count cliff: the confined daemon in layer2 mode against the
test API server holding 16,000 nodes, listed in pages, a route for
every other node, then 100 nodes added one by one, each routed before
the next; and, with a small --max-nodes, one node past the bound is
loud: a log line, a metric, show status and /readyz, until a node
goes and makes room."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
nodegen = knlib.need_apiserver(tap, "curl")

NODES = 16000
ADDED = 100
LOCAL = nodegen.node_name(0)
METRICS_PORT = 9925
# Small nodes: the test is about counts, not bytes.  /26 pod CIDRs:
# 16,384 of them fit the default 100.96.0.0/12.
MASK = 26


def routes(ns):
    """Routes of our protocol (107) in the daemon's namespace."""
    out = ns.run("ip", "route", "show", "proto", "107")
    return sum(1 for x in out.splitlines() if x.strip())


def hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def scrape(ns, path):
    """(HTTP status, body) of one GET of the metrics address."""
    r = subprocess.run(["ip", "netns", "exec", ns.name, "curl", "-s", "-m",
                        "10", "-w", "\\n%{http_code}",
                        "http://127.0.0.1:%d%s" % (METRICS_PORT, path)],
                       capture_output=True, text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def metric(ns, name):
    code, body = scrape(ns, "/metrics")
    m = re.search(r"^kopeio_networking_%s (\d+)$" % name, body, re.M)
    return int(m.group(1)) if m else -1


def underlay(ns):
    """Every node's InternalIP (172.20.0.0/16) directly connected, as
    layer2 mode needs."""
    ns.run("ip", "link", "add", "under0", "type", "veth", "peer", "name",
           "under1")
    ns.run("ip", "addr", "add", "172.20.255.254/16", "dev", "under0")
    ns.run("ip", "link", "set", "under0", "up")
    ns.run("ip", "link", "set", "under1", "up")


start = time.monotonic()
api = knlib.ApiServer()
d = None
try:
    underlay(api.own_ns)
    api.control("POST", "/generate", {"count": NODES, "target_bytes": 1000,
                                      "pod_cidr_mask": MASK})
    # A server without a watch cache pages even the first list, which
    # asks resourceVersion=0: the pages are what this test is about.
    api.control("POST", "/settings", {"watch_cache": False})
    d = api.daemon(["--provider", "layer2"], LOCAL)
    # Generous: a sanitizer build on two busy cores.
    i, m = d.wait_for(r"^watcher: listed (\d+) nodes", timeout=600)
    tap.ok(m is not None and m.group(1) == str(NODES),
           "all %d nodes listed" % NODES, d.log())
    lists = [r for r in api.requests() if r["method"] == "GET" and
             r["path"] == "/api/v1/nodes" and not r["query"].get("watch")]
    conts = [r for r in lists if r["query"].get("continue")]
    tap.ok(len(lists) >= 2 and len(conts) == len(lists) - 1,
           "the list came in %d pages joined by continue tokens" %
           len(lists), [r["query"] for r in lists[:3]])
    tap.ok(knlib.wait_until(lambda: routes(api.own_ns) == NODES - 1, 600,
                            interval=2),
           "a route for each of the other %d nodes" % (NODES - 1),
           routes(api.own_ns))
    kids = knlib.children_of(d.pid())
    mem = {r: hwm(kids[r]) for r in ("watcher", "executor")}
    print("# VmHWM at %d nodes: watcher %d KiB, executor %d KiB" %
          (NODES, mem["watcher"], mem["executor"]))
    missed = []
    for k in range(NODES, NODES + ADDED):
        api.control("POST", "/nodes", nodegen.make_node(
            k, target_bytes=1000, pod_cidr_mask=MASK))
        if not knlib.wait_until(lambda: routes(api.own_ns) == k, 120,
                                interval=0.2):
            missed.append(nodegen.node_name(k))
            break
    tap.ok(not missed, "%d nodes added one by one, each routed before the "
           "next" % ADDED, missed)
    tap.ok(not re.search(r"ignored: more than|refused intent", d.log()),
           "nothing ignored or refused at %d nodes" % (NODES + ADDED))
finally:
    if d is not None:
        d.stop()
    api.close()
print("# %d nodes: %.0f s" % (NODES, time.monotonic() - start))

# One node past a small bound: loud everywhere.
api = knlib.ApiServer()
d = None
try:
    underlay(api.own_ns)
    api.control("POST", "/generate", {"count": 9, "target_bytes": 1000,
                                      "pod_cidr_mask": MASK})
    d = api.daemon(["--provider", "layer2", "--max-nodes", "8",
                    "--metrics-address", "127.0.0.1:%d" % METRICS_PORT],
                   LOCAL)
    i, m = d.wait_for(r"^watcher: node (\S+) ignored: more than 8 nodes "
                      r"\(--max-nodes\)$", timeout=120)
    tap.ok(m is not None, "the ninth node: a log line", d.log())
    tap.ok(knlib.wait_until(lambda: metric(api.own_ns,
                                           "nodes_ignored_total") >= 1, 30),
           "the ninth node: nodes_ignored_total")
    tap.ok(knlib.wait_until(lambda: scrape(api.own_ns, "/readyz")[0] == 503,
                            30), "the ninth node: /readyz answers 503")
    code, body = scrape(api.own_ns, "/readyz")
    tap.ok(re.match(r"more than 8 nodes \(--max-nodes\): \d+ ignored$",
                    body.strip()), "/readyz says why", body)
    tap.eq(scrape(api.own_ns, "/healthz")[0], 200, "/healthz stays 200")
    rc, out, err = d.ctl("show", "status")
    tap.ok(rc == 0 and re.search(r"^NODES IGNORED: more than 8 nodes "
                                 r"\(--max-nodes\), \d+ ignored", out, re.M)
           and re.search(r"^ready: no$", out, re.M),
           "show status: not ready, and why", out + err)
    # A node removed makes room: ready again, and the ignored node's
    # next event (a kubelet's status report) gets it its route.
    ignored = m.group(1) if m else ""
    gone = nodegen.node_name(1 if ignored != nodegen.node_name(1) else 2)
    api.control("DELETE", "/nodes/" + gone)
    tap.ok(knlib.wait_until(lambda: scrape(api.own_ns, "/readyz")[0] == 200,
                            30), "a node removed: /readyz answers 200 again",
           scrape(api.own_ns, "/readyz"))
    api.control("POST", "/heartbeat/" + ignored)
    tap.ok(knlib.wait_until(lambda: routes(api.own_ns) == 7, 60),
           "the ignored node's next event: it is routed",
           api.own_ns.run("ip", "route"))
    rc, out, err = d.ctl("show", "status")
    tap.ok(rc == 0 and "IGNORED" not in out and
           re.search(r"^ready: yes$", out, re.M),
           "show status: ready, nothing ignored", out + err)
finally:
    if d is not None:
        d.stop()
    api.close()
tap.done()
