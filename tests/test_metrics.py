#!/usr/bin/env python3
"""/healthz, /readyz and /metrics scraped for real over TCP from the
confined metrics process of daemons in a namespace cluster: each
counter the issue names moves when its event happens, the readiness
and liveness answers follow the daemon, and the HTTP server runs in
its own unprivileged process, never in the executor."""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
knlib.need_apiserver(tap, "curl", "ss", "nft")
import netcluster  # noqa: E402

COMMITTED = r"^watcher: generation \d+ committed"
wait_until = netcluster.wait_until
PORT = 9922


def get(ns, path, method="GET", host="127.0.0.1"):
    """(code, content type, body) of one request from inside ns."""
    r = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "-m", "10",
                        "-X", method, "-o", "-", "-w",
                        "\n%{http_code} %{content_type}",
                        "http://%s:%d%s" % (host, PORT, path)],
                       capture_output=True, text=True, timeout=30)
    body, _, tail = r.stdout.rpartition("\n")
    code, _, ctype = tail.partition(" ")
    return int(code or 0), ctype, body


def scrape(ns, host="127.0.0.1"):
    """{name{labels}: value} of every sample, checked line by line
    against the text format."""
    code, ctype, body = get(ns, "/metrics", host=host)
    if code != 200:
        return None
    out = {}
    for line in body.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) kopeio_networking_\w+ ", line), \
                line
            continue
        m = re.match(r"^(kopeio_networking_\w+(?:\{[^}]*\})?) "
                     r"([0-9.e+-]+)$", line)
        assert m, "not a sample line: %r" % line
        out[m.group(1)] = float(m.group(2))
    return out


# argv: port, connections, seconds.  Each connection sends a byte of
# a request that never ends every 0.2 s; a closed one is opened again.
# Prints "up" once all are open, then how many were opened again.
SLOWLORIS = r"""
import socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 100000
def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    return [s, 0]
socks = [conn() for _ in range(n)]
print("up", flush=True)
again = 0
end = time.monotonic() + secs
while time.monotonic() < end:
    for c in socks:
        try:
            c[0].send(req[c[1]:c[1] + 1])
            c[1] += 1
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            c[0].close()
            try:
                c[:] = conn()
                again += 1
            except OSError:
                pass
    time.sleep(0.2)
print(again, flush=True)
"""


def metric(ns, key, host="127.0.0.1"):
    s = scrape(ns, host)
    return None if s is None else s.get("kopeio_networking_" + key)


c = netcluster.Cluster(nodes=3, pods=1)
try:
    n0, n1 = c.nodes[0], c.nodes[1]
    n0.start(["--provider", "vxlan", "--metrics-address",
              "127.0.0.1:%d" % PORT])
    n1.start(["--provider", "vxlan", "--metrics-address", "[::1]:%d" % PORT])
    c.nodes[2].start(["--provider", "vxlan"])
    tap.ok(c.wait_all(COMMITTED), "every daemon commits its generation")

    tap.ok(wait_until(lambda: get(n0.ns, "/readyz")[0] == 200, 15),
           "/readyz: 200 once the generation is in the kernel",
           get(n0.ns, "/readyz"))
    code, ctype, body = get(n0.ns, "/healthz")
    tap.ok(code == 200 and body == "ok\n" and ctype.startswith("text/plain"),
           "/healthz: 200 ok", (code, ctype, body))
    code, ctype, body = get(n0.ns, "/metrics")
    tap.ok(code == 200 and ctype == "text/plain; version=0.0.4; "
           "charset=utf-8", "/metrics: the Prometheus text format", ctype)
    code, _, body = get(n0.ns, "/nope")
    tap.ok(code == 404, "an unknown path: 404", body)
    code, _, body = get(n0.ns, "/metrics", method="POST")
    tap.ok(code == 405, "POST: 405", body)
    code, _, body = get(n1.ns, "/healthz", host="[::1]")
    tap.ok(code == 200, "an IPv6 metrics address serves", body)

    m = wait_until(lambda: (lambda s: s if s and s.get(
        "kopeio_networking_peers") == 2 else None)(scrape(n0.ns)), 15)
    tap.ok(m, "peers 2 (the counters arrive within a second or so)",
           scrape(n0.ns))
    m = m or {}
    want = {
        'info{version="%s",provider="vxlan"}' % "0.1.0": 1,
        "ready": 1,
        "nodes": 3,
        "peers": 2,
        "intents": 2,
        "kernel_objects": 6,
        'netlink_requests_total{object="route",op="create"}': 2,
        'netlink_requests_total{object="fdb",op="delete"}': 0,
        'process_up{process="watcher"}': 1,
        'process_up{process="executor"}': 1,
        'process_up{process="metrics"}': 1,
        'child_restarts_total{process="executor"}': 0,
        "cni_config_written": 0,
        "generation_failed_objects": 0,
        "adopted_routes_total": 0,
    }
    for k, v in want.items():
        tap.eq(m.get("kopeio_networking_" + k), v, "metrics: %s is %s" % (k, v))
    objs = {k.split('object="')[1].split('"')[0] for k in m
            if k.startswith("kopeio_networking_netlink_requests_total{")}
    tap.eq(sorted(objs), sorted(["route", "neighbour", "fdb", "tunnel",
                                 "xfrm_state", "xfrm_policy"]),
           "metrics: netlink requests by every object a mode programs")
    tap.ok(m.get("kopeio_networking_node_lists_total", 0) >= 1,
           "metrics: the first list is counted")
    tap.ok(m.get("kopeio_networking_generation", 0) >= 1 and
           abs(m.get("kopeio_networking_last_sync_timestamp_seconds", 0) -
               time.time()) < 120, "metrics: the generation and its time")
    buckets = [(k, v) for k, v in m.items()
               if k.startswith("kopeio_networking_reconcile_duration_seconds"
                               "_bucket")]
    count = m.get("kopeio_networking_reconcile_duration_seconds_count")
    tap.ok(len(buckets) == 12 and
           all(buckets[i][1] <= buckets[i + 1][1]
               for i in range(len(buckets) - 1)) and
           buckets[-1][0].endswith('{le="+Inf"}') and
           buckets[-1][1] == count and count >= 1 and
           m.get("kopeio_networking_reconcile_duration_seconds_sum") > 0,
           "metrics: the reconcile histogram is cumulative and counted",
           buckets)

    # A route removed by hand: repaired and counted.
    before = m.get("kopeio_networking_drift_repairs_total")
    n0.run("ip", "route", "del", n1.pod_cidr)
    tap.ok(wait_until(lambda: (metric(n0.ns, "drift_repairs_total") or 0) >
                      before, 15), "metrics: a drift repair is counted",
           metric(n0.ns, "drift_repairs_total"))

    # table inet kopeio deleted by hand: put back and counted.
    tap.eq(m.get("kopeio_networking_masquerade_rules"), 1,
           "metrics: the masquerade rule is counted")
    before = m.get("kopeio_networking_masquerade_repairs_total")
    n0.run("nft", "delete", "table", "inet", "kopeio")
    tap.ok(wait_until(lambda: (metric(n0.ns, "masquerade_repairs_total")
                               or 0) > before, 15),
           "metrics: a masquerade repair is counted",
           metric(n0.ns, "masquerade_repairs_total"))

    # A changed Node object: a MODIFIED watch event.
    key = 'watch_events_total{type="MODIFIED"}'
    before = metric(n0.ns, key)
    c.api.control("POST", "/heartbeat/" + n1.name)
    tap.ok(wait_until(lambda: (metric(n0.ns, key) or 0) > before, 15),
           "metrics: a MODIFIED watch event is counted")

    # An API error by its code.
    c.api.control("POST", "/faults", [{"match": "watch", "action": "status",
                                      "code": 500}])
    mark = n0.daemon.mark()
    n0.daemon.ctl("resync")
    tap.ok(wait_until(lambda: (metric(n0.ns, 'api_errors_total{code="500"}')
                               or 0) >= 1, 20),
           "metrics: an HTTP 500 from the API server is counted by code",
           n0.daemon.log(mark))
    c.api.control("DELETE", "/faults")

    # A killed executor: restarted and counted; its counters restart.
    os.kill(knlib.children_of(n0.daemon.pid())["executor"], signal.SIGKILL)
    tap.ok(wait_until(lambda: metric(
        n0.ns, 'child_restarts_total{process="executor"}') == 1 and
        metric(n0.ns, 'process_up{process="executor"}') == 1, 20),
        "metrics: the executor's restart is counted and it is up again",
        scrape(n0.ns))

    # The server is the metrics process: unprivileged and confined;
    # the executor holds no TCP socket at all.
    kids = knlib.children_of(n0.daemon.pid())
    st = knlib.proc_status(kids["metrics"])
    tap.ok(st["Uid"] == [n0.daemon.uid_base + 3] * 4 and st["CapEff"] == 0
           and st["CapBnd"] == 0 and st["NoNewPrivs"] == 1 and
           st["Seccomp"] == 2, "the metrics process: a uid of its own, no "
           "capability, no_new_privs, seccomp", st)
    ss = n0.run("ss", "-Htlnp", "sport", "=", ":%d" % PORT)
    tap.ok("pid=%d," % kids["metrics"] in ss and
           "pid=%d," % kids["executor"] not in ss and
           "pid=%d," % kids["watcher"] not in ss,
           "the listening socket is the metrics process's, not the "
           "executor's or the watcher's", ss)

    # A killed metrics process comes back on the same port.
    os.kill(kids["metrics"], signal.SIGKILL)
    tap.ok(wait_until(lambda: get(n0.ns, "/healthz")[0] == 200 and
                      metric(n0.ns, 'child_restarts_total{process='
                             '"metrics"}') == 1, 20),
           "a killed metrics process serves again on the same port")

    # Liveness: a parent that stops answering fails /healthz in 30 s.
    n0.daemon.signal(signal.SIGSTOP)
    try:
        tap.ok(wait_until(lambda: get(n0.ns, "/healthz")[0] == 503, 45, 1),
               "/healthz: 503 once the parent is silent for 30 s",
               get(n0.ns, "/healthz"))
        tap.ok("no status from the parent for" in get(n0.ns, "/healthz")[2],
               "/healthz says why")
    finally:
        n0.daemon.signal(signal.SIGCONT)
    tap.ok(wait_until(lambda: get(n0.ns, "/healthz")[0] == 200, 15),
           "/healthz: 200 again when the parent is back")
finally:
    c.close()

# Not ready while the API server cannot be reached; live all the same.
d = knlib.Daemon(["--metrics-address", "127.0.0.1:%d" % PORT])
try:
    ns = d.own_ns.name
    tap.ok(wait_until(lambda: get(ns, "/healthz")[0] == 200, 20),
           "no API server: /healthz 200", d.log())
    code, _, body = get(ns, "/readyz")
    tap.ok(code == 503 and body == "no generation in the kernel yet\n",
           "no API server: /readyz 503 and why", (code, body))
    tap.ok(wait_until(lambda: (metric(ns, 'api_errors_total{code="none"}')
                               or 0) >= 1, 20),
           "no API server: failed connections are counted as code none")
    tap.eq(metric(ns, "ready"), 0, "no API server: ready is 0")

    # Slowloris from the probe's own address: 64 connections trickle
    # header bytes (and come back when cut) while /healthz is probed.
    # Each probe must answer; the cut connections are counted, logged.
    mark = d.mark()
    loris = subprocess.Popen(
        ["ip", "netns", "exec", ns, "python3", "-c", SLOWLORIS,
         str(PORT), "64", "20"], stdout=subprocess.PIPE, text=True)
    try:
        tap.eq(loris.stdout.readline().strip(), "up",
               "slowloris: 64 connections open and trickling")
        probes = []
        end = time.monotonic() + 12
        while time.monotonic() < end:
            t = time.monotonic()
            code = get(ns, "/healthz")[0]
            probes.append((code, round(time.monotonic() - t, 2)))
            time.sleep(0.3)
        tap.ok(len(probes) >= 5 and all(p[0] == 200 for p in probes),
               "slowloris: every /healthz probe answers 200 (curl -m 10)",
               probes)
        recon = int(loris.communicate(timeout=60)[0].split()[-1])
    finally:
        if loris.poll() is None:
            loris.kill()
            loris.wait()
    tap.ok(recon >= 64, "slowloris: its connections were cut and came "
           "back", recon)
    cut = metric(ns, 'http_connections_cut_total{reason="slow"}') or 0
    tap.ok(cut >= 64, "slowloris: the cut connections are counted", cut)
    tap.ok(d.wait_for(r"^metrics: HTTP server: cut \d+ connections "
                      r"\(\d+ slow, \d+ to make room\) since the last "
                      r"report; the last from 127\.0\.0\.1$", 15, mark)[1],
           "slowloris: the cuts are logged", d.log(mark))
finally:
    d.stop()

# The port is taken: a clear error at start.
blocker = knlib.Netns()
try:
    holder = subprocess.Popen(["ip", "netns", "exec", blocker.name,
                               "python3", "-c",
                               "import socket,time; s=socket.socket(); "
                               "s.bind(('127.0.0.1', %d)); s.listen(); "
                               "print('up', flush=True); time.sleep(60)"
                               % PORT], stdout=subprocess.PIPE, text=True)
    holder.stdout.readline()
    d = knlib.Daemon(["--metrics-address", "127.0.0.1:%d" % PORT],
                     netns=blocker)
    rc = d.wait(20)
    tap.ok(rc == 1 and ("--metrics-address 127.0.0.1:%d: Address already "
                        "in use" % PORT) in d.log(),
           "a port in use: status 1 and a message that names it", d.log())
    d.stop()
    holder.kill()
    holder.wait()
finally:
    blocker.close()
tap.done()
