#!/usr/bin/env python3
"""The watcher against a test API server that speaks the real
protocol over real TLS: list, watch, intents to the executor, the node
condition, every fault the issue names, token rotation, pagination of
5,000 nodes and constant memory for large Node objects."""

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
nodegen = knlib.need_apiserver(tap)

LOCAL = nodegen.node_name(0)


def node(i, **kw):
    kw.setdefault("target_bytes", 3000)
    return nodegen.make_node(i, **kw)


def requests_since(api, n, kind=None):
    reqs = api.requests()[n:]
    if kind == "watch":
        return [r for r in reqs if r["query"].get("watch")]
    if kind == "list":
        return [r for r in reqs if r["method"] == "GET" and
                r["path"] == "/api/v1/nodes" and not r["query"].get("watch")]
    return reqs


def q(r, key):
    v = r["query"].get(key)
    return v[0] if isinstance(v, list) else v


def three_nodes(args):
    """A test API server with three nodes and the daemon against it."""
    api = knlib.ApiServer(bookmark_interval=1.0)
    for i in range(3):
        api.control("POST", "/nodes", node(i))
    return api, api.daemon(args, LOCAL)


api, d = three_nodes(["-v", "--provider", "vxlan-legacy"])
try:

    # The first list, the snapshot, the commit and the condition.
    i, m = d.wait_for(r"^watcher: listed (\d+) nodes at resourceVersion "
                      r"(\S+)$")
    tap.ok(m is not None and m.group(1) == "3", "lists the three nodes",
           d.log())
    i, m = d.wait_for(r"^watcher: snapshot (\d+): 3 nodes, 2 intents$")
    tap.ok(m is not None, "a snapshot of two intents (no route to itself)",
           d.log())
    i, m = d.wait_for(r"^executor: generation \d+: 2 intents accepted, "
                      r"0 refused$")
    tap.ok(m is not None, "the executor accepts both", d.log())
    i, m = d.wait_for(r"^arp-helper: generation \d+: 2 intents accepted")
    tap.ok(m is not None, "the arp-helper gets the same table", d.log())
    i, m = d.wait_for(r"^watcher: node %s: NetworkUnavailable=False "
                      r"\(RouteCreated\)$" % re.escape(LOCAL))
    tap.ok(m is not None, "the node condition is patched", d.log())
    got = api.control("GET", "/nodes/" + LOCAL)
    cond = [c for c in got["status"]["conditions"]
            if c["type"] == "NetworkUnavailable"]
    tap.ok(len(cond) == 1 and cond[0]["status"] == "False" and
           cond[0]["reason"] == "RouteCreated" and
           len(got["status"]["conditions"]) == 5,
           "the server holds NetworkUnavailable=False, RouteCreated, the "
           "kubelet's conditions kept", got["status"]["conditions"])

    reqs = api.requests()
    lists = [r for r in reqs if r["path"] == "/api/v1/nodes" and
             not r["query"].get("watch")]
    watches = [r for r in reqs if r["query"].get("watch")]
    patches = [r for r in reqs if r["method"] == "PATCH"]
    tap.ok(lists and q(lists[0], "limit") == "500",
           "the list asks for pages of 500", lists[:1])
    tap.ok(lists and q(lists[0], "resourceVersion") == "0" and
           not q(lists[0], "continue"),
           "the first list asks resourceVersion=0: the watch cache's",
           lists[:1])
    tap.eq(len(lists), 1, "one request gets the whole list")
    tap.ok(watches and q(watches[0], "allowWatchBookmarks") == "true" and
           300 <= int(q(watches[0], "timeoutSeconds")) <= 600,
           "the watch asks for bookmarks and a timeout of 5 to 10 minutes",
           watches[:1])
    tap.ok(patches and patches[0]["path"] == "/api/v1/nodes/%s/status" % LOCAL
           and "strategic-merge-patch" in (patches[0]["content_type"] or ""),
           "a strategic merge patch of nodes/status",
           patches[:1])
    tap.eq(len(patches), 1, "patched once: not again while it is False")

    # Heartbeats cost nothing; a new node, a changed one, a gone one do.
    mark = d.mark()
    for _ in range(5):
        api.control("POST", "/heartbeat/" + nodegen.node_name(1))
    time.sleep(1.5)
    i, m = d.wait_for(r"^executor: generation \d+: ", timeout=0.1,
                      start=mark)
    tap.ok(m is None, "heartbeat-only MODIFIED events send no intent",
           d.log())
    mark = d.mark()
    api.control("POST", "/nodes", node(3))
    i, m = d.wait_for(r"^executor: generation \d+: 1 intents added, "
                      r"0 refused$", start=mark)
    tap.ok(m is not None, "an added node is one add", d.log())
    mark = d.mark()
    api.control("DELETE", "/nodes/" + nodegen.node_name(3))
    i, m = d.wait_for(r"^executor: generation \d+: 1 intents removed, "
                      r"0 refused$", start=mark)
    tap.ok(m is not None, "a deleted node is one remove", d.log())

    # A connection dropped in the middle of an event: resume, no relist.
    n = len(api.requests())
    mark = d.mark()
    api.control("POST", "/faults", [{"match": "watch",
                                     "action": "drop_mid_event"}])
    api.control("POST", "/nodes", node(4))
    i, m = d.wait_for(r"^executor: generation \d+: 1 intents added",
                      start=mark, timeout=30)
    tap.ok(m is not None, "after a drop mid-event the node still arrives",
           d.log())
    tap.eq(requests_since(api, n, "list"), [],
           "a dropped watch resumes without listing again")

    # Malformed JSON: the connection is dropped, resumed, nothing partial.
    n = len(api.requests())
    mark = d.mark()
    api.control("POST", "/faults", [{"match": "watch", "action": "malformed"}])
    api.control("POST", "/heartbeat/" + LOCAL)
    i, m = d.wait_for(r"^watcher: watch: .*(invalid JSON|parse error)",
                      start=mark, timeout=20)
    tap.ok(m is not None, "malformed JSON is logged with where", d.log())
    api.control("POST", "/nodes", node(5))
    i, m = d.wait_for(r"^executor: generation \d+: 1 intents added",
                      start=mark, timeout=30)
    tap.ok(m is not None, "and the watch resumes", d.log())
    tap.eq(requests_since(api, n, "list"), [],
           "malformed input does not force a relist")

    # 410: an ERROR event after compaction means list again.
    n = len(api.requests())
    mark = d.mark()
    api.control("POST", "/compact")
    api.control("POST", "/faults", [{"match": "watch", "action": "error_event",
                                     "code": 410}])
    i, m = d.wait_for(r"^watcher: listed \d+ nodes", start=mark, timeout=30)
    tap.ok(m is not None and requests_since(api, n, "list"),
           "an ERROR 410 event makes it list again", d.log())
    relist = requests_since(api, n, "list")[:1]
    seen = [r for r in requests_since(api, 0, "watch")
            if r["seq"] < n][-1:]
    tap.ok(relist and seen and q(relist[0], "resourceVersion") != "0" and
           int(q(relist[0], "resourceVersion")) >=
           int(q(seen[0], "resourceVersion")) and
           q(relist[0], "limit") is None and relist[0]["code"] == 200,
           "the relist asks for the last version seen, whole, as the "
           "reflector does (not older than the map; the watch cache's)",
           (relist, seen))
    i, m = d.wait_for(r"^watcher: snapshot \d+: 5 nodes, 4 intents$",
                      start=mark)
    tap.ok(m is not None, "and send a full snapshot", d.log())

    # 403 names the missing permission; 429 waits as told; 500 backs off.
    mark = d.mark()
    api.control("POST", "/faults", [
        {"match": "watch", "action": "drop_mid_event"},
        {"match": "watch", "action": "status", "code": 403},
        {"match": "watch", "action": "status", "code": 429,
         "retry_after": 2},
        {"match": "watch", "action": "status", "code": 500}])
    api.control("POST", "/heartbeat/" + LOCAL)
    i, m = d.wait_for(r'^watcher: watch: 403 Forbidden: the service account '
                      r'needs RBAC verb "watch" on resource "nodes"',
                      start=mark, timeout=30)
    tap.ok(m is not None, "403: one line naming the verb and resource",
           d.log())
    i, m = d.wait_for(r"^watcher: watch: HTTP 500", start=mark, timeout=30)
    tap.ok(m is not None, "500 is logged and retried", d.log())
    reqs = [r for r in api.requests() if r["query"].get("watch")]
    after429 = [j for j, r in enumerate(reqs) if r.get("code") == 429]
    tap.ok(after429 and after429[-1] + 1 < len(reqs) and
           reqs[after429[-1] + 1]["time"] - reqs[after429[-1]]["time"] >= 1.9,
           "429 with Retry-After: 2 waits at least 2 s",
           [(r.get("code"), r["time"]) for r in reqs[-5:]])
    api.control("POST", "/nodes", node(6))
    i, m = d.wait_for(r"^executor: generation \d+: 1 intents added",
                      start=mark, timeout=40)
    tap.ok(m is not None, "after the faults the watch serves again",
           d.log())

    # Token rotation: the server moves on, the daemon's file follows.
    mark = d.mark()
    api.set_token("token-two")
    api.control("POST", "/faults", [{"match": "watch",
                                     "action": "drop_mid_event"}])
    api.control("POST", "/heartbeat/" + LOCAL)
    i, m = d.wait_for(r"^watcher: watch: 401 Unauthorized: asking for the "
                      r"token again$", start=mark, timeout=30)
    tap.ok(m is not None, "401: the watcher asks for the token again",
           d.log())
    tmp = api.daemon_token + ".new"
    with open(tmp, "w") as f:
        f.write("token-two\n")
    os.rename(tmp, api.daemon_token)
    i, m = d.wait_for(r"^parent: API token changed; sending it to the "
                      r"watcher$", start=mark, timeout=30)
    tap.ok(m is not None, "the parent sees the rotated token file", d.log())
    api.control("POST", "/nodes", node(7))
    i, m = d.wait_for(r"^executor: generation \d+: 1 intents added",
                      start=mark, timeout=60)
    tap.ok(m is not None, "with the new token the watch serves again",
           d.log())

    # A restarted executor gets the whole map again.
    pids = knlib.children_of(d.pid())
    mark = d.mark()
    os.kill(pids["executor"], signal.SIGKILL)
    i, m = d.wait_for(r"^executor: generation \d+: 6 intents accepted",
                      start=mark, timeout=30)
    tap.ok(m is not None, "a restarted executor receives a full snapshot",
           d.log())
    # A restarted watcher lists afresh.
    mark = d.mark()
    os.kill(pids["watcher"], signal.SIGKILL)
    i, m = d.wait_for(r"^watcher: listed 7 nodes", start=mark, timeout=30)
    tap.ok(m is not None, "a restarted watcher lists again", d.log())

    # The API server restarts on its port.  The watcher opens no socket:
    # while the server is down the parent's connects are refused and the
    # watcher says so; once it is back, the watcher's requests arrive
    # again on connections the parent opened.
    mark = d.mark()
    ready = os.path.join(api.dir, "ready.json")
    argv = list(api.proc.args)
    argv[argv.index("--port") + 1] = str(api.port)
    api.proc.terminate()
    api.proc.wait(30)
    os.unlink(ready)
    i, m = d.wait_for(r"^watcher: no connection to the API server "
                      r"https://\S+: Connection refused$", start=mark,
                      timeout=60)
    tap.ok(m is not None, "API server down: the parent's connect is refused "
           "and the watcher logs it", d.log())
    api.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=api.log, stderr=subprocess.STDOUT)
    knlib.wait_until(lambda: os.path.exists(ready) and
                     os.path.getsize(ready) > 0, timeout=30)
    time.sleep(0.1)
    with open(ready) as f:
        api.control_port = json.load(f)["control_port"]
    tap.ok(knlib.wait_until(lambda: [r for r in api.requests()
                                     if r["kind"] in ("list", "watch")],
                            timeout=90),
           "API server back: the watcher's requests reach it again",
           d.log(mark))
    tap.ok(not re.search(r"(?m)^parent: watcher .* killed", d.log(mark)),
           "no watcher died for it", d.log(mark))
    tap.ok(d.proc.poll() is None, "the daemon is still running")
finally:
    if d is not None:
        rc = d.stop()
    api.close()
tap.eq(rc, 0, "stopped cleanly")

# A node that has no pod CIDR yet: wait, say so once, keep watching.
api = knlib.ApiServer()
d = None
try:
    fresh = node(0)
    del fresh["spec"]["podCIDR"]
    del fresh["spec"]["podCIDRs"]
    api.control("POST", "/nodes", fresh)
    api.control("POST", "/nodes", node(1))
    d = api.daemon([], LOCAL)
    i, m = d.wait_for(r"^watcher: waiting for node %s to get a pod CIDR$" %
                      re.escape(LOCAL))
    tap.ok(m is not None, "no pod CIDR yet: it waits and says so", d.log())
    for _ in range(3):
        api.control("POST", "/heartbeat/" + LOCAL)
    time.sleep(1)
    tap.eq(len(re.findall("waiting for node", d.log())), 1,
           "said once, not per event")
    api.control("POST", "/nodes", node(0))
    i, m = d.wait_for(r"^watcher: node %s: NetworkUnavailable=False" %
                      re.escape(LOCAL), timeout=30)
    tap.ok(m is not None, "once the CIDR is there the routes go out and the "
           "condition is set", d.log())
finally:
    if d is not None:
        d.stop()
    api.close()

# A stalled watch (headers, then nothing, not even a bookmark) is
# dropped after its timeout plus the margin and resumed from the last
# version seen, without a relist.  --watch-timeout 2 makes that seconds.
api, d = three_nodes(["-v", "--watch-timeout", "2"])
try:
    i, m = d.wait_for(r"^watcher: generation \d+ committed")
    tap.ok(m is not None, "stall: the daemon commits", d.log())
    i, m = d.wait_for(r"^watcher: watching nodes from resourceVersion \S+ "
                      r"for ([234]) s$")
    tap.ok(m is not None, "--watch-timeout 2: a watch asks for 2 to 4 s",
           d.log())
    mark = d.mark()
    n = len(api.requests())
    api.control("POST", "/faults", [{"match": "watch", "action": "stall",
                                     "seconds": 120}])
    i, m = d.wait_for(r"^watcher: watch: silent for too long; resuming$",
                      start=mark, timeout=30)
    tap.ok(m is not None, "stall: the silent watch is dropped", d.log())
    silent = i if i is not None else len(d.lines)
    api.control("POST", "/nodes", node(3))
    i, m = d.wait_for(r"^executor: generation \d+: 1 intents added",
                      start=mark, timeout=30)
    tap.ok(m is not None, "stall: a node added afterwards arrives", d.log())
    # The watch that stalled is the last one started before the drop.
    started = [(j, x) for j, x in enumerate(d.lines) if re.match(
        r"^watcher: watching nodes from resourceVersion \S+ for", x)]
    before = [x for j, x in started if j < silent]
    after = [x for j, x in started if j > silent]
    # It may have seen an event (its own status patch) before stalling.
    tap.ok(before and after and
           int(after[0].split()[5]) >= int(before[-1].split()[5]),
           "stall: the next watch resumes from the last version seen, not "
           "from scratch", (before[-1:], after[:1]))
    tap.eq(requests_since(api, n, "list"), [], "stall: no relist")
finally:
    if d is not None:
        d.stop()
    api.close()

# An inline kubeconfig token longer than the token file's 8192 bytes
# would fit no message to the watcher, whose requests would go out
# unauthenticated: -n refuses it, and so does the daemon at start.
api = knlib.ApiServer()
d = None
try:
    import pki
    kc = os.path.join(api.dir, "kubeconfig-long-token")
    pki.write_kubeconfig(kc, api.url, api.pki.ca, token="t" * (16 * 1024 + 1))
    argv = ["--kubeconfig", kc, "--node-name", LOCAL]
    r = subprocess.run([knlib.DAEMON, "-n"] + knlib.own_ids(argv),
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    tap.eq(r.returncode, 1, "long inline token: -n exits 1")
    tap.ok("token larger than 8192 bytes" in r.stdout + r.stderr,
           "long inline token: -n says why", r.stdout + r.stderr)
    d = api.daemon(["-v"], api=argv)
    rc = d.wait(60)
    tap.eq(rc, 1, "long inline token: the daemon exits 1 at start")
    tap.ok("token larger than 8192 bytes" in d.log(),
           "long inline token: and says why", d.log())
    tap.eq(requests_since(api, 0), [], "long inline token: no request "
           "went out unauthenticated")
finally:
    if d is not None and d.proc.poll() is None:
        d.stop()
    api.close()


def watcher_hwm(d):
    """The watcher child's peak resident memory, in KiB."""
    w = knlib.children_of(d.pid())["watcher"]
    with open("/proc/%d/status" % w) as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def readyz(api):
    """(HTTP status, body) of /readyz of the daemon in the API server's
    namespace."""
    r = subprocess.run(["ip", "netns", "exec", api.own_ns.name, "curl", "-s",
                        "-m", "10", "-w", "\\n%{http_code}",
                        "http://127.0.0.1:%d/readyz" % METRICS_PORT],
                       capture_output=True, text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body.strip()


def metric(api, sample):
    """The value of sample (a name and its labels, without the
    kopeio_networking_ prefix) in the metrics of the daemon in the API
    server's namespace; 0 when absent."""
    return knlib.metric(api.own_ns.name, METRICS_PORT, sample)


def api_errors_none(api):
    return metric(api, 'api_errors_total{code="none"}')


METRICS_PORT = 9923


def small_quarantine():
    """The environment for a daemon whose memory is measured: a
    sanitizer's allocator holds what was freed, up to 256 MiB, and
    200 MB through libcurl and TLS buffers fills that; a small
    quarantine leaves what the watcher really holds."""
    env = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (env + ":" if env else "") + \
        "quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
    return env


# A list page that trickles whitespace (a space every 0.25 s, faster
# than the 1 B/s low-speed limit) is abandoned when the page has taken
# --watch-timeout in all, logged, counted as an API error with no
# response, and listed again after the backoff.
api = knlib.ApiServer(bookmark_interval=1.0)
d = None
try:
    for i in range(3):
        api.control("POST", "/nodes", node(i))
    api.control("POST", "/faults", [{"match": "list", "action": "trickle",
                                     "seconds": 300}])
    d = api.daemon(["-v", "--watch-timeout", "2", "--metrics-address",
                    "127.0.0.1:%d" % METRICS_PORT], LOCAL)
    i, m = d.wait_for(r"^watcher: list: page abandoned: (.*); listing "
                      r"again$", timeout=60)
    tap.ok(m is not None, "trickle: the list page is abandoned", d.log())
    tap.ok(m is not None and "timed out after" in m.group(1),
           "trickle: after its total time bound, not the low-speed one",
           m and m.group(1))
    # The server sees it at its next space.
    tap.ok(knlib.wait_until(lambda: [
        r["end"] for r in requests_since(api, 0, "list")[:1]
        if r["fault"] == "trickle"] == ["client_gone"], 10),
           "trickle: the watcher closed the trickling connection",
           requests_since(api, 0, "list")[:1])
    i, m = d.wait_for(r"^watcher: listed 3 nodes at resourceVersion \S+$",
                      start=i or 0)
    tap.ok(m is not None, "trickle: listed again, then in full", d.log())
    reqs = requests_since(api, 0, "list")
    # Seen by the server, the first request starts after the
    # watcher's connection and TLS handshake did: hence 1.5, not 2.
    tap.ok(len(reqs) >= 2 and reqs[1]["time"] - reqs[0]["time"] >= 1.5 and
           not reqs[1]["query"].get("continue"),
           "trickle: a new list, after the page bound (2 s), not at once",
           [(r["time"], r["fault"]) for r in reqs[:2]])
    i, m = d.wait_for(r"^watcher: generation \d+ committed", start=i or 0)
    tap.ok(m is not None, "trickle: the daemon commits afterwards", d.log())
    tap.ok(knlib.wait_until(lambda: api_errors_none(api) >= 1, 20),
           'trickle: counted in api_errors_total{code="none"}')
finally:
    if d is not None:
        d.stop()
    api.close()


def huge_value(what, fault, verdict, skipped):
    """A 200 MB string in the watch event that adds a node, streamed by
    the server in 1 MiB chunks (fault: the rest of the huge_value
    fault).  The watcher's peak memory grows by less than 64 MiB (a
    token is cut at 2 MiB; yajl's buffer and a sanitizer's quarantine
    may double that more than once), the log has a line matching
    verdict, the node arrives (at once, or when the server sends the
    event again, whole) and a later node commits too.  skipped: the
    string is skipped, and counted."""
    asan = small_quarantine()
    api, d = three_nodes(["-v", "--metrics-address",
                          "127.0.0.1:%d" % METRICS_PORT])
    os.environ["ASAN_OPTIONS"] = asan
    try:
        i, m = d.wait_for(r"^watcher: generation \d+ committed")
        tap.ok(m is not None, "%s: the daemon commits" % what, d.log())
        before = watcher_hwm(d)
        mark = d.mark()
        # Node 3's event: the local node's own condition patch may
        # come back as an event at any time.
        api.control("POST", "/faults", [dict(
            {"match": "watch", "action": "huge_value",
             "bytes": 200000000, "name": nodegen.node_name(3)}, **fault)])
        api.control("POST", "/nodes", node(3))
        i, m = d.wait_for(verdict, start=mark, timeout=120)
        tap.ok(m is not None, "%s: logged" % what, d.log()[-2000:])
        if skipped:
            tap.ok(knlib.wait_until(lambda: metric(
                api, "watch_strings_skipped_total") == 1, 20),
                "%s: counted in watch_strings_skipped_total" % what)
        reqs = [r for r in requests_since(api, 0, "watch")
                if r["fault"] == "huge_value"]
        tap.ok(reqs, "%s: the server sent it" % what, reqs)
        after = watcher_hwm(d)
        print("# %s: watcher peak RSS %d KiB before, %d after" %
              (what, before, after))
        tap.ok(after - before < 64 * 1024, "%s: the watcher's peak memory "
               "grew by under 64 MiB" % what, (before, after))
        for n in (3, 4):
            i, m = d.wait_for(r"^executor: generation \d+: 1 intents added",
                              start=mark, timeout=60)
            tap.ok(m is not None, "%s: node %d commits" % (what, n),
                   d.log()[-2000:])
            mark = d.mark()
            if n == 3:
                api.control("POST", "/nodes", node(4))
    finally:
        d.stop()
        api.close()


# In an annotation, the string is skipped: the node is used, and the
# log names it.
huge_value("huge annotation", {},
           r"^watcher: node %s: 1 string longer than 2097152 bytes "
           r"skipped$" % re.escape(nodegen.node_name(3)), True)
# In a field the agent uses, it cannot be: the event is refused with
# a log line naming where, and the watch resumes.
huge_value("huge podCIDR", {"path": ["spec", "podCIDR"]},
           r"^watcher: watch: event\[\d+\]\.object\.spec\.podCIDR: a "
           r"string longer than 2097152 bytes \(at byte \d+\); dropping "
           r"the connection$", False)

# --max-nodes: a node past it is ignored, logged and counted, in the
# list and in the watch alike.
api = knlib.ApiServer()
d = None
try:
    for i in range(3):
        api.control("POST", "/nodes", node(i))
    d = api.daemon(["--max-nodes", "2", "--metrics-address",
                    "127.0.0.1:%d" % METRICS_PORT], LOCAL)
    i, m = d.wait_for(r"^watcher: node (\S+) ignored: more than 2 nodes "
                      r"\(--max-nodes\)$", timeout=60)
    tap.ok(m is not None, "--max-nodes: the list's third node is ignored, "
           "with a line", d.log())
    tap.ok(knlib.wait_until(lambda: metric(api, "nodes_ignored_total") >= 1,
                            20), "--max-nodes: counted in nodes_ignored_total")
    # A relist would count its third node again.
    before = metric(api, "nodes_ignored_total")
    mark = d.mark()
    api.control("POST", "/nodes", node(3))
    i, m = d.wait_for(r"^watcher: node %s ignored: more than 2 nodes "
                      r"\(--max-nodes\)$" % re.escape(nodegen.node_name(3)),
                      start=mark, timeout=60)
    tap.ok(m is not None, "--max-nodes: a node added later is ignored too",
           d.log(mark))
    tap.ok(knlib.wait_until(lambda: metric(api, "nodes_ignored_total") >
                            before, 20), "--max-nodes: and counted")
    # Loud: not ready, in show status and in /readyz, with the bound.
    tap.eq(metric(api, "max_nodes"), 2, "--max-nodes: the bound in max_nodes")
    tap.ok(knlib.wait_until(lambda: metric(api, "ready") == 0, 20),
           "--max-nodes: ready is 0 while nodes are ignored")
    code, body = readyz(api)
    tap.ok(code == 503 and re.match(r"more than 2 nodes \(--max-nodes\): "
                                    r"\d+ ignored$", body),
           "--max-nodes: /readyz answers 503 and says why", (code, body))
    rc, out, err = d.ctl("show", "status")
    tap.ok(rc == 0 and re.search(r"^NODES IGNORED: more than 2 nodes "
                                 r"\(--max-nodes\), \d+ ignored: their pods "
                                 r"get no routes$", out, re.M),
           "--max-nodes: show status says so", out + err)
finally:
    if d is not None:
        d.stop()
    api.close()

# Routes while the first list still streams: a node added while the
# agent was down gets its route before the list has ended (the list
# trickles for 20 s, the server's log says when it ended); the route
# of a node deleted meanwhile goes only once the list is complete.
def route_of(api, i):
    cidr = node(i)["spec"]["podCIDR"]
    return [x for x in knlib.owned(api.own_ns) if x.startswith(cidr + " ")]


def trickled(api):
    return [r for r in requests_since(api, 0, "list")
            if r["fault"] == "trickle"]


api = knlib.ApiServer(bookmark_interval=1.0)
d = None
try:
    for i in range(4):
        api.control("POST", "/nodes", node(i))
    d = api.daemon(["-v", "--provider", "vxlan"], LOCAL)
    i, m = d.wait_for(r"^watcher: generation \d+ committed", timeout=60)
    tap.ok(m is not None and route_of(api, 3) and not route_of(api, 4),
           "streaming: the first run routes node 3", knlib.owned(api.own_ns))
    d.stop()
    api.control("DELETE", "/nodes/" + nodegen.node_name(3))
    api.control("POST", "/nodes", node(4))
    api.control("POST", "/faults", [{"match": "list", "action": "trickle",
                                     "seconds": 20}])
    n = len(api.requests())
    d = api.daemon(["-v", "--provider", "vxlan"], LOCAL)
    seen = {}

    def new_route():
        if route_of(api, 4):
            seen["list"] = trickled(api)
            seen["stale"] = route_of(api, 3)
            return True
        return False
    tap.ok(knlib.wait_until(new_route, 60),
           "streaming: the new node's route is installed", d.log())
    tap.ok(seen.get("list") and seen["list"][0]["end"] is None,
           "streaming: while the list still streams (the server has not "
           "finished it)", seen.get("list"))
    tap.ok(seen.get("stale"), "streaming: the deleted node's route stays "
           "while the list streams", knlib.owned(api.own_ns))
    i, m = d.wait_for(r"^watcher: listed 4 nodes at resourceVersion \S+$",
                      timeout=60)
    tap.ok(m is not None, "streaming: the list completes", d.log())

    def stale_gone():
        if route_of(api, 3):
            return False
        seen["end"] = trickled(api)
        return True
    tap.ok(knlib.wait_until(stale_gone, 30) and
           seen["end"][0]["end"] == "complete",
           "streaming: the deleted node's route goes after the list "
           "completed", (seen.get("end"), knlib.owned(api.own_ns)))
    tap.ok(not re.search(r"(?m)refused intent| [1-9]\d* refused", d.log()),
           "streaming: nothing refused", d.log())
    lists = requests_since(api, n, "list")
    tap.eq(len(lists), 1, "streaming: one list request")

    # A relist streams nothing: nodes 1 and 2 swap pod CIDRs while the
    # watch stalls, the history is compacted, the watch's resume gets
    # 410 and the relist's snapshot alone moves both, no intent
    # refused as overlapping the other's old one.
    mark = d.mark()
    api.control("POST", "/faults", [{"match": "watch", "action": "stall",
                                     "seconds": 3}])
    tap.ok(knlib.wait_until(lambda: [
        r for r in requests_since(api, n, "watch")
        if r["fault"] == "stall"], 30), "relist: the watch stalls")
    a1, a2 = node(1), node(2)
    for k in ("podCIDR", "podCIDRs"):
        a1["spec"][k], a2["spec"][k] = a2["spec"][k], a1["spec"][k]
    api.control("POST", "/nodes", a1)
    api.control("POST", "/nodes", a2)
    api.control("POST", "/compact")
    i, m = d.wait_for(r"^watcher: snapshot \d+: 4 nodes, 3 intents$",
                      start=mark, timeout=60)
    tap.ok(m is not None and len(requests_since(api, n, "list")) == 2,
           "relist: after the 410 a new list and snapshot", d.log(mark))
    i, m = d.wait_for(r"^executor: generation \d+: 3 intents accepted, "
                      r"0 refused$", start=mark, timeout=30)
    tap.ok(m is not None and not re.search(
        r"(?m)refused intent|intents added", d.log(mark)),
           "relist: no streamed adds, nothing refused", d.log(mark))
    cidr1 = a1["spec"]["podCIDR"]
    tap.ok(knlib.wait_until(lambda: [
        x for x in knlib.owned(api.own_ns) if x.startswith(cidr1 + " ")],
        30), "relist: the moved pod CIDR is routed",
           knlib.owned(api.own_ns))
finally:
    if d is not None:
        d.stop()
    api.close()

# The watch cache off (kube-apiserver --watch-cache=false): the same
# first list comes in pages.  A continue token that expires between
# two pages: the whole list again at once, without a limit (the
# reflector's pager).  A relist at a version the server says is gone:
# the latest, from etcd, in pages.
api = knlib.ApiServer(bookmark_interval=1.0)
d = None
try:
    api.control("POST", "/settings", {"watch_cache": False})
    api.control("POST", "/generate", {"count": 1200, "target_bytes": 1000,
                                      "pod_cidr_mask": 25})
    api.control("POST", "/faults", [{"match": "list", "action": "trickle",
                                     "seconds": 2}])
    d = api.daemon(["-v"], LOCAL)
    tap.ok(knlib.wait_until(lambda: requests_since(api, 0, "list"), 60),
           "no watch cache: the list starts")
    api.control("POST", "/compact")
    i, m = d.wait_for(r"^watcher: listed (\d+) nodes", timeout=60)
    tap.ok(m is not None and m.group(1) == "1200",
           "no watch cache: all 1,200 listed", d.log())
    lists = requests_since(api, 0, "list")
    tap.ok(len(lists) == 3 and q(lists[0], "resourceVersion") == "0" and
           q(lists[0], "limit") == "500" and lists[0]["code"] == 200,
           "no watch cache: the first page asks rv=0, limit=500",
           lists[:1])
    tap.ok(len(lists) == 3 and q(lists[1], "continue") and
           q(lists[1], "resourceVersion") is None and
           lists[1]["code"] == 410,
           "a continue page names no version; its token expired: 410",
           lists[1:2])
    tap.ok(len(lists) == 3 and q(lists[2], "resourceVersion") == "0" and
           q(lists[2], "limit") is None and not q(lists[2], "continue"),
           "after the expired token: the whole list at once, no limit",
           lists[2:])
    n = len(api.requests())
    mark = d.mark()
    api.control("POST", "/faults", [
        {"match": "watch", "action": "error_event", "code": 410},
        {"match": "list", "action": "status", "code": 410}])
    i, m = d.wait_for(r"^watcher: list: resourceVersion (\S+) unavailable: "
                      r"listing the latest from etcd$", start=mark, timeout=30)
    tap.ok(m is not None and m.group(1) not in ("0", '""'),
           "a relist at a version gone: said", d.log(mark))
    i, m = d.wait_for(r"^watcher: listed 1200 nodes", start=mark, timeout=60)
    lists = requests_since(api, n, "list")
    tap.ok(m is not None and len(lists) == 4 and lists[0]["code"] == 410 and
           q(lists[0], "resourceVersion") not in (None, "0") and
           q(lists[0], "limit") == "500",
           "the relist after the watch's 410: at the last version seen, in "
           "pages (the first list came in pages: no watch cache)", lists[:1])
    tap.ok(m is not None and len(lists) == 4 and
           q(lists[1], "resourceVersion") is None and
           q(lists[1], "limit") == "500" and
           all(q(r, "continue") for r in lists[2:]),
           "then the latest from etcd (no version), in pages of 500",
           lists[1:])
finally:
    if d is not None:
        d.stop()
    api.close()

# 5,000 nodes: from the watch cache in one request; with the cache
# off, ten pages; memory independent of object size.
hwm = {}
for size, cache in ((2000, True), (20000, False)):
    api = knlib.ApiServer()
    d = None
    try:
        api.control("POST", "/settings", {"watch_cache": cache})
        # /25s: 5,000 of them fit the default 100.96.0.0/12.
        api.control("POST", "/generate", {"count": 5000,
                                          "target_bytes": size,
                                          "pod_cidr_mask": 25})
        d = api.daemon([], LOCAL)
        i, m = d.wait_for(r"^watcher: listed (\d+) nodes", timeout=180)
        tap.ok(m is not None and m.group(1) == "5000",
               "%d-byte nodes: all 5,000 listed" % size, d.log())
        pages = [r for r in api.requests() if r["path"] == "/api/v1/nodes"
                 and not r["query"].get("watch")]
        if cache:
            tap.ok(len(pages) == 1 and q(pages[0], "resourceVersion") == "0",
                   "%d-byte nodes: one request from the watch cache" % size,
                   len(pages))
        else:
            tap.ok(len(pages) == 10 and all(q(r, "continue")
                                            for r in pages[1:]),
                   "%d-byte nodes, no watch cache: ten pages joined by "
                   "continue tokens" % size, len(pages))
        i, m = d.wait_for(r"^watcher: snapshot \d+: 5000 nodes, 4999 "
                          r"intents$")
        tap.ok(m is not None, "%d-byte nodes: one snapshot of 4,999 "
               "intents" % size, d.log())
        w = knlib.children_of(d.pid())["watcher"]
        with open("/proc/%d/status" % w) as f:
            hwm[size] = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
        print("# watcher peak RSS with %d-byte nodes: %d KiB" %
              (size, hwm[size]))
    finally:
        if d is not None:
            d.stop()
        api.close()
# A sanitizer build's allocator keeps what it freed (quarantine, size
# classes), so the memory bound is checked in the plain build, which
# make distcheck runs.
if os.environ.get("KN_SANITIZERS") == "yes":
    tap.ok(True, "# SKIP memory is measured in the build without "
           "sanitizers")
else:
    tap.ok(len(hwm) == 2 and hwm[20000] - hwm[2000] < 4096,
           "10 times larger Node objects grow the watcher by under 4 MiB",
           hwm)
tap.done()
