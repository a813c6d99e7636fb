#!/usr/bin/env python3
"""Checks the test Kubernetes API server (tests/apiserver/) against the
behaviour of the real kube-apiserver, with real TLS: first with the
real kubectl, which refuses what the real server would never send,
then with plain http.client for what kubectl cannot show -- page
boundaries, expired continue tokens, watch event order, 410 ERROR
events, bookmarks, timeouts -- and every injected fault.  The daemon's
tests rely on this server, so each assertion here is one they lean on.

TAP output.  Needs the openssl CLI (skips without it); kubectl checks
are skipped when kubectl is missing.
"""

import http.client
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib

sys.dont_write_bytecode = True   # keep the source tree clean
SRCDIR = os.environ.get("KN_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "apiserver"))

from knlib import Tap  # noqa: E402
import nodegen  # noqa: E402
import pki  # noqa: E402
from harness import ApiServer, read_events  # noqa: E402

NODES = "/api/v1/nodes"


def skip(tap, desc, why):
    tap.n += 1
    print("ok %d - %s # SKIP %s" % (tap.n, desc, why))


def raises(fn):
    """The exception fn() raises, or None."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is what is checked
        return e
    return None


def names_of(items):
    return [i["metadata"]["name"] for i in items]


def state(srv):
    return srv.ctl("GET", "/state")


def condition(node, ctype):
    return next((c for c in node["status"]["conditions"]
                 if c["type"] == ctype), None)


# ---------------------------------------------------------------------
# kubectl


class Kubectl:
    def __init__(self, srv, work):
        self.srv = srv
        self.cache = os.path.join(work, "kubectl-cache")
        self.good = srv.kubeconfig(os.path.join(work, "kc-token"),
                                   token_file=srv.token_file)

    def argv(self, kubeconfig, *args):
        return ["kubectl", "--kubeconfig", kubeconfig or self.good,
                "--cache-dir", self.cache, "--request-timeout", "20s"] + \
            list(args)

    def run(self, *args, kubeconfig=None):
        return subprocess.run(self.argv(kubeconfig, *args),
                              capture_output=True, text=True, timeout=60)


def test_kubectl(tap, srv, work):
    if shutil.which("kubectl") is None:
        for d in ("kubectl lists nodes", "kubectl watch sees an added node",
                  "kubectl strategic status patch", "kubectl merged condition",
                  "kubectl wrong token", "kubectl client certificate"):
            skip(tap, d, "kubectl not installed")
        return
    k = Kubectl(srv, work)
    want = srv.ctl("GET", "/nodes")["names"]

    r = k.run("get", "nodes", "-o", "json")
    got = names_of(json.loads(r.stdout)["items"]) if r.returncode == 0 else r
    tap.eq(got, want, "kubectl get nodes -o json lists the generated nodes")

    # A watch in the background must print the new node once it is
    # added through the control port.
    proc = subprocess.Popen(k.argv(None, "get", "nodes", "--watch", "-o",
                                   "name"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x.strip())
                                     for x in proc.stdout],
                     daemon=True).start()

    def wait_for(line, seconds=20):
        deadline = time.monotonic() + seconds
        seen = []
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=0.2))
            except queue.Empty:
                continue
            if seen[-1] == line:
                return seen
        return seen
    seen = wait_for("node/" + want[-1])
    extra = nodegen.make_node(90)
    srv.ctl("POST", "/nodes", extra)
    seen += wait_for("node/" + extra["metadata"]["name"])
    proc.kill()
    proc.wait()
    tap.ok("node/" + extra["metadata"]["name"] in seen,
           "kubectl get nodes --watch sees a node added later",
           "lines: %r\nstderr: %s" % (seen, proc.stderr.read()))
    deadline = time.monotonic() + 5
    while state(srv)["watches"] and time.monotonic() < deadline:
        time.sleep(0.1)
    tap.eq(state(srv)["watches"], 0,
           "the server ends an idle watch whose client has gone")
    watches = [e for e in srv.requests() if e["kind"] == "watch"]
    tap.ok(watches and watches[-1]["query"].get("resourceVersion"),
           "kubectl watched from the list's resourceVersion", watches[-1:])

    name = want[0]
    patch = ('{"status":{"conditions":[{"type":"NetworkUnavailable","status":'
             '"False","reason":"RouteCreated","message":"x"}]}}')
    r = k.run("patch", "node", name, "--subresource=status",
              "--type=strategic", "-p", patch)
    tap.ok(r.returncode == 0 and "patched" in r.stdout,
           "kubectl patch --subresource=status --type=strategic works",
           r.stdout + r.stderr)
    r = k.run("get", "node", name, "-o", "json")
    node = json.loads(r.stdout) if r.returncode == 0 else None
    types = [c["type"] for c in node["status"]["conditions"]] if node else r
    nu = condition(node, "NetworkUnavailable") if node else None
    tap.ok(nu is not None and nu["status"] == "False" and
           nu["reason"] == "RouteCreated" and nu["message"] == "x" and
           sorted(types) == ["DiskPressure", "MemoryPressure",
                             "NetworkUnavailable", "PIDPressure", "Ready"],
           "the condition is merged by type, the others kept", types)

    bad = srv.kubeconfig(os.path.join(work, "kc-bad"), token="not-the-token")
    r = k.run("get", "nodes", kubeconfig=bad)
    tap.ok(r.returncode != 0 and "Unauthorized" in r.stderr,
           "kubectl with a wrong token fails with Unauthorized", r.stderr)

    cert = srv.kubeconfig(os.path.join(work, "kc-cert"),
                          client_cert=srv.pki.client_cert,
                          client_key=srv.pki.client_key)
    r = k.run("get", "nodes", "-o", "name", kubeconfig=cert)
    tap.ok(r.returncode == 0 and "node/" + name in r.stdout,
           "kubectl authenticates with a client certificate",
           r.stdout + r.stderr)


# ---------------------------------------------------------------------
# authentication


def test_auth(tap, srv):
    status, _, body = srv.api("GET", NODES, token="wrong")
    tap.eq((status, json.loads(body)), (401, {
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": "Unauthorized",
        "reason": "Unauthorized", "code": 401}),
        "a wrong token gets 401 with the real Status body")
    tap.eq(srv.api("GET", "/version", token="")[0], 401,
           "no token: 401 even for /version (anonymous auth off)")
    srv.set_token("rotated-token")
    tap.eq((srv.api("GET", NODES, token="test-token-1")[0],
            srv.api("GET", NODES, token="rotated-token")[0]), (401, 200),
           "the token file is re-read: the old token fails, the new works")
    srv.set_token("rotated-token", "next-token")
    tap.eq((srv.api("GET", NODES, token="rotated-token")[0],
            srv.api("GET", NODES, token="next-token")[0]), (200, 200),
           "every line of the token file is valid (rotation overlap)")
    srv.set_token("test-token-1")
    conn = srv.connect(cert=True)
    status, _, _ = srv.api("GET", NODES, token="", conn=conn)
    entry = srv.requests()[-1]
    tap.eq((status, entry["client_cert"], entry["authorization"]),
           (200, "kopeio-networkd", None),
           "a client certificate from the CA authenticates without a token")


# ---------------------------------------------------------------------
# single objects and patches


def test_objects(tap, srv):
    name = srv.ctl("GET", "/nodes")["names"][1]
    status, node = srv.get_json(NODES + "/" + name)
    status_list, lst = srv.get_json(NODES)
    tap.ok(status == 200 and node.get("kind") == "Node" and
           node.get("apiVersion") == "v1" and status_list == 200 and
           "kind" not in lst["items"][0],
           "GET one node has kind/apiVersion, list items do not",
           (status, node.get("kind"), lst["items"][0].get("kind")))
    status, body = srv.get_json(NODES + "/no-such-node")
    tap.eq((status, body.get("reason"), body.get("message"),
            body.get("details")),
           (404, "NotFound", 'nodes "no-such-node" not found',
            {"name": "no-such-node", "kind": "nodes"}),
           "a missing node gets a 404 Status")

    def patch(ctype, body, path="/status", **kw):
        status, _, data = srv.api("PATCH", NODES + "/" + name + path, body,
                                  headers={"Content-Type": ctype}, **kw)
        return status, json.loads(data)

    rv = node["metadata"]["resourceVersion"]
    status, merged = patch("application/strategic-merge-patch+json", {
        "status": {"conditions": [{"type": "Ready", "status": "False",
                                   "reason": "KubeletNotReady",
                                   "message": "test"}]}})
    ready = condition(merged, "Ready") if status == 200 else merged
    tap.ok(status == 200 and ready["status"] == "False" and
           ready["lastTransitionTime"] == condition(
               node, "Ready")["lastTransitionTime"] and
           len(merged["status"]["conditions"]) ==
           len(node["status"]["conditions"]) and
           int(merged["metadata"]["resourceVersion"]) > int(rv),
           "strategic merge merges into the Ready condition, keeps its "
           "other fields, bumps resourceVersion", ready)

    status, same = patch("application/strategic-merge-patch+json", {
        "status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    tap.eq((status, same["metadata"]["resourceVersion"]),
           (200, merged["metadata"]["resourceVersion"]),
           "a patch that changes nothing writes nothing (same rv)")

    status, spec = patch("application/merge-patch+json",
                         {"spec": {"podCIDR": "10.0.0.0/24"},
                          "status": {"conditions": [
                              {"type": "Ready", "status": "True"}]}})
    tap.ok(status == 200 and spec["spec"] == node["spec"] and
           spec["status"]["conditions"] == [
               {"type": "Ready", "status": "True"}],
           "merge patch replaces lists; /status keeps the old spec",
           (status, spec.get("spec"), spec.get("status", {}).get(
               "conditions")))

    status, jp = patch("application/json-patch+json", [
        {"op": "add", "path": "/status/conditions/-", "value": {
            "type": "NetworkUnavailable", "status": "False",
            "reason": "RouteCreated", "message": "json patch"}},
        {"op": "replace", "path": "/status/conditions/0/status",
         "value": "Unknown"}])
    tap.ok(status == 200 and [(c["type"], c["status"]) for c in
                              jp["status"]["conditions"]] ==
           [("Ready", "Unknown"), ("NetworkUnavailable", "False")],
           "json patch add and replace", jp.get("status"))
    status, failed = patch("application/json-patch+json", [
        {"op": "test", "path": "/status/conditions/0/status",
         "value": "True"}])
    tap.eq((status, failed.get("reason")), (422, "Invalid"),
           "a failing json patch test op gets 422")

    status, conflict = patch("application/merge-patch+json", {
        "metadata": {"resourceVersion": rv}, "status": {"phase": "x"}})
    tap.eq((status, conflict.get("reason")), (409, "Conflict"),
           "a stale resourceVersion in a patch gets 409 Conflict")
    status, media = patch("application/apply-patch+yaml", {})
    tap.eq((status, media.get("reason")), (415, "UnsupportedMediaType"),
           "an unsupported patch type gets 415")
    status, missing = srv.api("PATCH", NODES + "/absent/status", {},
                              headers={"Content-Type":
                                       "application/merge-patch+json"})[:2]
    tap.eq(status, 404, "patching a missing node gets 404")

    status, labelled = patch("application/strategic-merge-patch+json", {
        "metadata": {"labels": {"test": "yes"}},
        "status": {"capacity": {"pods": "5"}}}, path="")
    tap.ok(status == 200 and labelled["metadata"]["labels"].get("test") ==
           "yes" and labelled["status"] == jp["status"],
           "a patch of the node itself keeps the old status",
           labelled.get("status", {}).get("capacity"))

    entries = srv.requests()
    p = next(e for e in reversed(entries) if e["method"] == "PATCH" and
             e["code"] == 200 and e["path"].endswith("/status"))
    tap.ok(p["content_type"] == "application/json-patch+json" and
           p["authorization"] == "bearer" and '"op"' in p["body"],
           "the request log has content type, auth and PATCH body", p)
    mf = srv.ctl("GET", "/nodes/" + name)["metadata"]["managedFields"]
    mine = next((m for m in mf if m["manager"] == "kn-test-client" and
                 m.get("subresource") == "status"), {})
    conds = mine.get("fieldsV1", {}).get("f:status", {}).get(
        "f:conditions", {})
    tap.ok('k:{"type":"NetworkUnavailable"}' in conds,
           "a patch records its manager (from the User-Agent) and the "
           "fields it set in managedFields", mf)


# ---------------------------------------------------------------------
# watches


def test_watch(tap, srv):
    _, lst = srv.get_json(NODES)
    rv = lst["metadata"]["resourceVersion"]
    resp = srv.open("GET", NODES + "?watch=1&resourceVersion=%s"
                    "&timeoutSeconds=20" % rv, timeout=15)
    extra = nodegen.make_node(91)
    name = extra["metadata"]["name"]
    srv.ctl("POST", "/nodes", extra)
    srv.ctl("POST", "/heartbeat/" + name)
    srv.ctl("DELETE", "/nodes/" + name)
    events = read_events(resp, limit=3)
    resp.close()
    kinds = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    tap.ok(resp.headers.get("Transfer-Encoding") == "chunked" and
           kinds == [("ADDED", name), ("MODIFIED", name), ("DELETED", name)]
           and rvs == sorted(rvs) and rvs[0] > int(rv) and
           rvs[-1] == int(state(srv)["resourceVersion"]),
           "watch from the list's rv: ADDED, MODIFIED, DELETED in order, "
           "chunked, the DELETED carrying the deletion's rv", (kinds, rvs))
    if len(events) == 3:
        a, m = events[0]["object"], events[1]["object"]
        diff = [c["type"] for c, d in zip(a["status"]["conditions"],
                                          m["status"]["conditions"])
                if c != d]
        tap.ok(a["kind"] == "Node" and a["spec"] == m["spec"] and
               a["status"]["addresses"] == m["status"]["addresses"] and
               sorted(diff) == ["DiskPressure", "MemoryPressure",
                                "PIDPressure", "Ready"],
               "a heartbeat changes only the kubelet conditions' times", diff)
    else:
        tap.ok(False, "a heartbeat changes only the kubelet conditions' "
               "times", events)

    status, exact = srv.get_json(NODES + "?resourceVersion=%s"
                                 "&resourceVersionMatch=Exact" % rv)
    tap.eq((status, exact.get("items")), (200, lst["items"]),
           "an Exact list at an older rv rebuilds that snapshot")

    before = int(state(srv)["resourceVersion"])
    resp = srv.open("GET", NODES + "?watch=1&timeoutSeconds=1&"
                    "resourceVersion=%d" % before, timeout=15)
    beat = srv.ctl("POST", "/heartbeat")
    events = read_events(resp)
    tap.ok(beat["count"] == len(lst["items"]) and
           int(beat["resourceVersion"]) == before + beat["count"] and
           [e["type"] for e in events] == ["MODIFIED"] * beat["count"],
           "POST /heartbeat: one MODIFIED per node", (beat, len(events)))

    resp = srv.open("GET", NODES + "?watch=true&timeoutSeconds=2",
                    timeout=15)
    events = read_events(resp, until=lambda e: False)
    names = srv.ctl("GET", "/nodes")["names"]
    tap.eq(sorted((e["type"], e["object"]["metadata"]["name"])
                  for e in events), [("ADDED", n) for n in names],
           "watch without resourceVersion starts with ADDED for every node")

    resp = srv.open("GET", NODES + "?watch=1&fieldSelector=metadata.name%3D"
                    + names[0] + "&timeoutSeconds=1", timeout=15)
    srv.ctl("POST", "/heartbeat/" + names[1])
    srv.ctl("POST", "/heartbeat/" + names[0])
    events = read_events(resp)
    tap.eq([(e["type"], e["object"]["metadata"]["name"]) for e in events],
           [("ADDED", names[0]), ("MODIFIED", names[0])],
           "a fieldSelector on metadata.name filters the watch")

    srv.ctl("POST", "/compact")
    resp = srv.open("GET", NODES + "?watch=1&timeoutSeconds=3"
                    "&resourceVersion=%s" % rv, timeout=15)
    events = read_events(resp)
    obj = events[0]["object"] if events else {}
    tap.ok(resp.status == 200 and len(events) == 1 and
           events[0]["type"] == "ERROR" and obj.get("code") == 410 and
           obj.get("reason") == "Expired" and
           obj.get("message", "").startswith("too old resource version: %s ("
                                             % rv),
           "watch from a compacted rv: 200, one ERROR 410 Expired event, end",
           events)

    cur = state(srv)["resourceVersion"]
    t0 = time.monotonic()
    resp = srv.open("GET", NODES + "?watch=1&allowWatchBookmarks=true"
                    "&timeoutSeconds=3&resourceVersion=" + cur, timeout=15)
    err = raises(lambda: events.__setitem__(slice(None), read_events(resp)))
    elapsed = time.monotonic() - t0
    marks = [e for e in events if e["type"] == "BOOKMARK"]
    tap.ok(err is None and marks and all(
        m["object"]["metadata"]["resourceVersion"] == cur and
        m["object"]["kind"] == "Node" and "name" not in m["object"]["metadata"]
        for m in marks), "bookmarks arrive and carry the current rv",
        (err, events))
    tap.ok(err is None and elapsed >= 2.9,
           "timeoutSeconds ends the stream cleanly, not early",
           (err, elapsed))
    print("# watch with timeoutSeconds=3 ended after %.2f s" % elapsed)

    resp = srv.open("GET", NODES + "?watch=1&timeoutSeconds=2"
                    "&resourceVersion=" + cur, timeout=15)
    tap.eq(read_events(resp), [],
           "no bookmarks unless allowWatchBookmarks=true")

    resp = srv.open("GET", NODES + "?watch=1&sendInitialEvents=true"
                    "&allowWatchBookmarks=true&resourceVersionMatch="
                    "NotOlderThan&timeoutSeconds=1", timeout=15)
    events = read_events(resp)[:len(names) + 1]
    last = events[-1]["object"]["metadata"] if events else {}
    tap.ok([e["type"] for e in events] == ["ADDED"] * len(names) +
           ["BOOKMARK"] and last.get("annotations") ==
           {"k8s.io/initial-events-end": "true"},
           "sendInitialEvents: the nodes, then the initial-events-end "
           "bookmark", [e["type"] for e in events])
    srv.ctl("POST", "/settings", {"watch_list": False})
    status, doc = srv.get_json(NODES + "?watch=1&sendInitialEvents=true"
                               "&allowWatchBookmarks=true&resourceVersionMatch"
                               "=NotOlderThan&timeoutSeconds=1")
    srv.ctl("POST", "/settings", {"watch_list": True})
    tap.ok(status == 422 and doc.get("reason") == "Invalid" and
           "WatchList feature gate" in doc.get("message", ""),
           "without streaming lists: 422 Invalid, as with the WatchList "
           "feature gate off", (status, doc))


# ---------------------------------------------------------------------
# faults


def test_faults(tap, srv):
    names = srv.ctl("GET", "/nodes")["names"]
    for code, reason in ((401, "Unauthorized"), (403, "Forbidden"),
                         (500, "InternalError")):
        srv.fault(match="list", action="status", code=code)
        status, _, body = srv.api("GET", NODES)
        again = srv.api("GET", NODES)[0]
        tap.eq((status, json.loads(body).get("reason"), again),
               (code, reason, 200),
               "one-shot status fault %d on a list, then normal" % code)

    srv.fault(match="watch", action="status", code=429, retry_after=2)
    status, headers, body = srv.api("GET", NODES + "?watch=1")
    doc = json.loads(body)
    tap.eq((status, headers.get("Retry-After"), doc.get("reason"),
            doc.get("details")),
           (429, "2", "TooManyRequests", {"retryAfterSeconds": 2}),
           "429 with a Retry-After header on a watch")

    srv.fault(match="get", action="status", code=500, persistent=True)
    codes = [srv.api("GET", NODES + "/" + names[0])[0] for _ in range(2)]
    srv.ctl("DELETE", "/faults")
    codes.append(srv.api("GET", NODES + "/" + names[0])[0])
    tap.eq(codes, [500, 500, 200],
           "a persistent fault hits every request until cleared")

    # An open watch takes a stream fault; the next event is cut.
    resp = srv.open("GET", NODES + "?watch=1&resourceVersion=" +
                    state(srv)["resourceVersion"], timeout=10)
    srv.fault(match="watch", action="drop_mid_event")
    srv.ctl("POST", "/heartbeat/" + names[0])
    err = raises(lambda: read_events(resp))
    tap.ok(isinstance(err, http.client.IncompleteRead),
           "drop_mid_event: the open watch's next event is cut "
           "(incomplete chunked body)", repr(err))

    srv.fault(match="watch", action="malformed")
    resp = srv.open("GET", NODES + "?watch=1&timeoutSeconds=1&resourceVersion="
                    + state(srv)["resourceVersion"], timeout=10)
    first = resp.readline()
    rest = read_events(resp)
    tap.ok(isinstance(raises(lambda: json.loads(first)), ValueError) and
           rest == [],
           "malformed: a broken event line, then the stream goes on", first)

    # A stall on a new watch: the headers, no byte of the initial
    # events, and after `seconds` a dropped connection.
    srv.fault(match="watch", action="stall", seconds=2,
              new_requests_only=True)
    t0 = time.monotonic()
    resp = srv.open("GET", NODES + "?watch=1", timeout=10)
    status = resp.status
    data = []
    err = raises(lambda: data.append(resp.readline()))
    elapsed = time.monotonic() - t0
    end = srv.requests()[-1]["end"]
    tap.ok(status == 200 and data in ([], [b""]) and elapsed >= 1.9 and
           end == "stall" and (err is None or isinstance(
               err, http.client.IncompleteRead)),
           "stall: headers, then nothing, then the connection drops",
           (status, data, repr(err), elapsed, end))
    print("# stalled watch dropped after %.2f s" % elapsed)

    resp = srv.open("GET", NODES + "?watch=1&timeoutSeconds=10"
                    "&resourceVersion=" + state(srv)["resourceVersion"],
                    timeout=10)
    srv.fault(match="watch", action="error_event", code=500)
    events = read_events(resp)
    obj = events[0]["object"] if events else {}
    tap.ok(len(events) == 1 and events[0]["type"] == "ERROR" and
           obj.get("code") == 500 and obj.get("reason") == "InternalError",
           "error_event 500 on an open watch, then the stream ends", events)

    cur = state(srv)["resourceVersion"]
    resp = srv.open("GET", NODES + "?watch=1&timeoutSeconds=10"
                    "&resourceVersion=" + cur, timeout=10)
    srv.fault(match="watch", action="bookmark_now")
    events = read_events(resp, limit=1)
    resp.close()
    tap.ok(events and events[0]["type"] == "BOOKMARK" and
           events[0]["object"]["metadata"]["resourceVersion"] == cur,
           "bookmark_now: an immediate BOOKMARK at the current rv", events)

    srv.fault(match="list", action="drop_mid_event")
    resp = srv.open("GET", NODES)
    tap.ok(isinstance(raises(resp.read), http.client.IncompleteRead),
           "drop_mid_event on a list: the body is cut short")
    srv.fault(match="list", action="malformed")
    status, _, body = srv.api("GET", NODES)
    tap.ok(status == 200 and isinstance(raises(lambda: json.loads(body)),
                                        ValueError),
           "malformed on a list: 200 with broken JSON")
    status, doc = srv.control("POST", "/faults", {"action": "error_event",
                                                  "match": "list",
                                                  "code": 410})
    tap.eq(status, 400, "the control port rejects a fault that cannot act")
    entries = srv.requests()
    tap.ok(sum(1 for e in entries if e["fault"]) >= 12,
           "the request log names the faults applied",
           [e["fault"] for e in entries if e["fault"]])


def test_slow_and_huge(tap, srv):
    """The faults of a hostile server: a list that trickles, a watch
    event with one huge string."""
    names = srv.ctl("GET", "/nodes")["names"]
    srv.fault(match="list", action="trickle", seconds=1.5, interval=0.1)
    t0 = time.monotonic()
    status, _, body = srv.api("GET", NODES)
    elapsed = time.monotonic() - t0
    doc = raises(lambda: json.loads(body)) or json.loads(body)
    tap.ok(status == 200 and isinstance(doc, dict) and
           names_of(doc.get("items", [])) == names and
           body.endswith(b" ]}") and
           elapsed >= 1.4,
           "trickle: a whole list, spaces before its end, after the time "
           "asked", (status, body[-40:], elapsed))

    # Each fault for the watch opened after it: a watch closed just
    # before may not have seen its client go yet, and would take it.
    name = names[0]
    cur = state(srv)["resourceVersion"]
    srv.fault(match="watch", action="huge_value", bytes=3000000,
              new_requests_only=True)
    resp = srv.open("GET", NODES + "?watch=1&timeoutSeconds=10"
                    "&resourceVersion=" + cur, timeout=30)
    srv.ctl("POST", "/heartbeat/" + name)
    events = read_events(resp, limit=1)
    resp.close()
    obj = events[0]["object"] if events else {}
    huge = obj.get("metadata", {}).get("annotations", {}).get(
        "example.com/huge", "")
    tap.ok(len(events) == 1 and obj["metadata"]["name"] == name and
           huge == "x" * 3000000 and "status" in obj,
           "huge_value: the next event carries a 3 MB annotation, the "
           "rest of the node as it is", [e["type"] for e in events])
    stored = srv.ctl("GET", "/nodes/" + name)
    tap.ok("example.com/huge" not in stored["metadata"].get(
        "annotations", {}), "huge_value: only on the wire, not stored")

    # With a name, another node's event goes out as it is.
    other = names[1]
    cur = state(srv)["resourceVersion"]
    srv.fault(match="watch", action="huge_value", bytes=3000, name=other,
              new_requests_only=True)
    resp = srv.open("GET", NODES + "?watch=1&timeoutSeconds=10"
                    "&resourceVersion=" + cur, timeout=30)
    srv.ctl("POST", "/heartbeat/" + name)
    srv.ctl("POST", "/heartbeat/" + other)
    events = read_events(resp, limit=2)
    resp.close()
    huge = [len(e["object"]["metadata"].get("annotations", {}).get(
        "example.com/huge", "")) for e in events]
    tap.ok([e["object"]["metadata"]["name"] for e in events] ==
           [name, other] and huge == [0, 3000],
           "huge_value with a name: only that node's event carries it",
           huge)


# ---------------------------------------------------------------------
# a 5,000-node cluster


def test_scale(tap, srv):
    t0 = time.monotonic()
    gen = srv.ctl("POST", "/generate", {"count": 5000, "target_bytes": 12000,
                                        "pod_cidr_mask": 25})
    print("# generated 5000 nodes of >= 12000 bytes in %.2f s"
          % (time.monotonic() - t0))
    names = gen["names"]

    t0 = time.monotonic()
    pages, seen, cont, sizes, rvs, remaining = 0, [], "", [], set(), []
    changed = False
    while True:
        path = NODES + "?limit=500" + ("&continue=" + cont if cont else "")
        status, headers, body = srv.api("GET", path)
        if status != 200:
            break
        doc = json.loads(body)
        pages += 1
        sizes.append(len(body))
        seen += names_of(doc["items"])
        rvs.add(doc["metadata"]["resourceVersion"])
        remaining.append(doc["metadata"].get("remainingItemCount"))
        cont = doc["metadata"].get("continue")
        if not changed:
            # Writes between pages must not show: the pages come from
            # the first page's snapshot.
            srv.ctl("DELETE", "/nodes/" + names[-1])
            srv.ctl("POST", "/nodes", nodegen.make_node(6000,
                                                        pod_cidr_mask=25))
            changed = True
        if not cont or pages > 20:
            break
    elapsed = time.monotonic() - t0
    st = state(srv)
    print("# listed %d nodes in %d pages (%.1f MB) in %.2f s; server RSS "
          "%.0f MB" % (len(seen), pages, sum(sizes) / 1e6, elapsed,
                       st["rss_bytes"] / 1e6))
    tap.eq((pages, len(seen), len(set(seen)), sorted(seen) == sorted(names)),
           (10, 5000, 5000, True),
           "5000 nodes with limit=500: 10 pages, every node exactly once, "
           "from one snapshot despite writes between pages")
    tap.eq((len(rvs), remaining), (1, [4500 - 500 * i for i in range(9)] +
                                   [None]),
           "every page has the snapshot's rv; remainingItemCount counts down")
    tap.ok(min(sizes[:-1]) >= 500 * 12000,
           "the nodes are at least 12 KB each", sizes)

    _, first = srv.get_json(NODES + "?limit=500")
    token = first["metadata"]["continue"]
    srv.ctl("POST", "/compact")
    status, expired = srv.get_json(NODES + "?limit=500&continue=" + token)
    tap.eq((status, expired.get("reason"), expired.get("code")),
           (410, "Expired", 410),
           "a continue token older than the compaction gets 410 Expired")
    retry = expired.get("metadata", {}).get("continue")
    status, rest = srv.get_json(NODES + "?limit=500&continue=%s" % retry) \
        if retry else (None, {})
    after = first["items"][-1]["metadata"]["name"]
    tap.ok(status == 200 and len(rest["items"]) == 500 and
           rest["items"][0]["metadata"]["name"] > after and
           rest["metadata"]["resourceVersion"] ==
           state(srv)["resourceVersion"],
           "the 410 carries a token that continues (inconsistently, at the "
           "current rv) after the page's last node",
           (status, expired.get("metadata")))

    status, whole = srv.get_json(NODES + "?limit=10&resourceVersion=0")
    tap.eq((status, len(whole["items"]), "continue" in whole["metadata"]),
           (200, st["nodes"], False),
           "resourceVersion=0 ignores limit, as the watch cache does")
    srv.ctl("POST", "/settings", {"watch_cache": False})
    status, page = srv.get_json(NODES + "?limit=10&resourceVersion=0")
    cont = page.get("metadata", {}).get("continue")
    status2, page2 = srv.get_json(NODES + "?limit=10&continue=%s" % cont) \
        if cont else (None, {})
    srv.ctl("POST", "/settings", {"watch_cache": True})
    tap.ok(status == 200 and len(page["items"]) == 10 and cont and
           status2 == 200 and len(page2.get("items", [])) == 10 and
           page2["items"][0]["metadata"]["name"] >
           page["items"][-1]["metadata"]["name"],
           "without the watch cache resourceVersion=0 honours limit and "
           "continues, as --watch-cache=false reads etcd",
           (status, status2, page.get("metadata")))
    old_rv = first["metadata"]["resourceVersion"]
    status, doc = srv.get_json(NODES + "?resourceVersion=%s"
                               "&resourceVersionMatch=Exact" % old_rv)
    tap.eq((status, doc.get("reason")), (410, "Expired"),
           "an Exact list at a compacted rv gets 410")
    status, doc = srv.get_json(NODES + "?resourceVersion=99999999")
    tap.eq((status, doc.get("reason")), (504, "Timeout"),
           "a list at a future rv gets 504 Too large resource version")
    status, doc = srv.get_json(NODES + "?labelSelector=a%3Db")
    tap.eq(status, 400, "an unsupported labelSelector is refused, not ignored")


def test_history(tap, srv):
    """--history 3: a watch from before the last three events is too
    old, and so is a watch that falls behind them."""
    srv.ctl("POST", "/generate", {"count": 1})
    _, lst = srv.get_json(NODES)
    rv = lst["metadata"]["resourceVersion"]
    name = lst["items"][0]["metadata"]["name"]
    for _ in range(3):
        srv.ctl("POST", "/heartbeat/" + name)
    resp = srv.open("GET", NODES + "?watch=1&resourceVersion=" + rv)
    events = read_events(resp, limit=3)
    resp.close()
    tap.eq([(e["type"], e["object"].get("code")) for e in events],
           [("MODIFIED", None)] * 3,
           "the last --history events are still there")
    srv.ctl("POST", "/heartbeat/" + name)
    resp = srv.open("GET", NODES + "?watch=1&timeoutSeconds=3"
                    "&resourceVersion=" + rv)
    events = read_events(resp)
    tap.eq([(e["type"], e["object"].get("code")) for e in events],
           [("ERROR", 410)], "one event more and the rv is too old")

    # A client that stops reading: the server's writes block, the
    # history moves past the stream, and the server ends it (cleanly,
    # as the watch cache closes a watcher it cannot keep up with).
    big = srv.ctl("POST", "/generate", {"count": 1, "start": 1,
                                        "target_bytes": 100000})["names"][0]
    resp = srv.open("GET", NODES + "?watch=1&resourceVersion=" +
                    state(srv)["resourceVersion"])
    for _ in range(300):    # 30 MB of events, ~10x what socket buffers hold
        srv.ctl("POST", "/heartbeat/" + big)
    events = read_events(resp)
    tap.ok(0 < len(events) < 300 and
           srv.requests()[-1]["end"] == "fell_behind",
           "a watch that falls behind the history is ended",
           (len(events), srv.requests()[-1]["end"]))


# ---------------------------------------------------------------------
# compression


def test_compression(tap, srv, gate_off):
    """kube-apiserver's rule (responsewriters/writers.go): gzip for a
    client whose Accept-Encoding has the token "gzip" and a body over
    128 KiB; never a watch; never with the gate off."""
    gz = {"Accept-Encoding": "gzip"}
    below = above = 0
    for limit in range(8, 15):
        path = NODES + "?limit=%d" % limit
        _, _, plain = srv.api("GET", path)
        status, headers, body = srv.api("GET", path, headers=gz)
        big = len(plain) > 128 * 1024
        below, above = below + (not big), above + big
        got = headers.get("Content-Encoding")
        if big:
            same = got == "gzip" and headers.get("Vary") == \
                "Accept-Encoding" and zlib.decompress(body, 31) == plain
        else:
            same = got is None and body == plain
        tap.ok(status == 200 and same, "compression: %d bytes %s" % (
            len(plain), "gzip, with Vary" if big else "plain: not over "
            "128 KiB"), (status, got, len(body)))
    tap.ok(below and above, "compression: bodies on both sides of 128 KiB",
           (below, above))
    path = NODES + "?limit=500"
    for ae, want in (("deflate, gzip", "gzip"), ("gzip;q=1.0", None),
                     ("identity", None)):
        _, headers, _ = srv.api("GET", path, headers={"Accept-Encoding": ae})
        tap.eq(headers.get("Content-Encoding"), want,
               "compression: Accept-Encoding %r: %s" % (ae, want or "plain"))
    _, _, doc = srv.api("GET", path)
    rv = json.loads(doc)["metadata"]["resourceVersion"]
    r = srv.open("GET", NODES + "?watch=1&resourceVersion=%s&timeoutSeconds"
                 "=1" % rv, headers=gz)
    r.read()
    tap.eq(r.headers.get("Content-Encoding"), None,
           "compression: a watch is never compressed")
    _, headers, _ = gate_off.api("GET", path, headers=gz)
    tap.eq(headers.get("Content-Encoding"), None,
           "compression: none with APIResponseCompression=false")


def main():
    tap = Tap()
    if not pki.have_openssl():
        tap.skip_all("openssl not installed")
    work = tempfile.mkdtemp(prefix="kn-apiserver-")
    servers = []
    try:
        small_dir, big_dir = (os.path.join(work, d) for d in ("small", "big"))
        os.mkdir(small_dir)
        os.mkdir(big_dir)
        small = ApiServer(small_dir, client_ca=True, bookmark_interval=1)
        servers.append(small)
        small.ctl("POST", "/generate", {"count": 4})
        big = ApiServer(big_dir)
        servers.append(big)
        short_dir = os.path.join(work, "short")
        os.mkdir(short_dir)
        short = ApiServer(short_dir, history=3)
        servers.append(short)
        off_dir = os.path.join(work, "off")
        os.mkdir(off_dir)
        off = ApiServer(off_dir, feature_gates="APIResponseCompression=false")
        servers.append(off)
        off.ctl("POST", "/generate", {"count": 20})
        for group, srv in ((test_kubectl, small), (test_auth, small),
                           (test_objects, small), (test_watch, small),
                           (test_faults, small),
                           (test_slow_and_huge, small),
                           (test_history, short),
                           (test_scale, big), (test_compression, big)):
            try:
                if group is test_kubectl:
                    group(tap, srv, work)
                elif group is test_compression:
                    group(tap, srv, off)
                else:
                    group(tap, srv)
            except Exception:  # noqa: BLE001 - reported, then go on
                tap.ok(False, "%s ran to its end" % group.__name__,
                       traceback.format_exc())
    finally:
        for s in servers:
            s.stop()
        if tap.failed:
            for s in servers:
                print("# server log %s:" % s.workdir)
                for line in s.log_text().splitlines()[-20:]:
                    print("#   " + line)
        shutil.rmtree(work, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
