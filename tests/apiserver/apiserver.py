#!/usr/bin/env python3
"""A test Kubernetes API server for the Node resource.

The watcher lists and watches Nodes over HTTPS and patches its own
Node's status.  Testing that against a mock that answers canned bytes
proves little: what matters is how the real kube-apiserver behaves at
the edges -- paginated lists with continue tokens that expire, watches
that start from a resourceVersion the server no longer has, bookmarks,
timeouts, strategic merge patches of conditions, 401/403/429 answers --
and what a broken network does to a stream.  This server models those
semantics for /api/v1/nodes faithfully enough that the real kubectl
accepts it, and lets a test inject faults through a separate control
port.

    apiserver.py --cert CERT --key KEY --token-file FILE
                 [--client-ca CA] [--host 127.0.0.1] [--port 0]
                 [--control-port 0] [--ready-file PATH]
                 [--bookmark-interval SECONDS] [--history N] [--verbose]
                 [--no-watch-cache] [--no-watch-list]
                 [--feature-gates APIResponseCompression=false]
                 [--first-resource-version RV] [--generate JSON]

The API side speaks HTTP/1.1 over TLS and authenticates every request
with a bearer token from --token-file (re-read on every request; each
non-empty line is a valid token, so a test can model a rotation
overlap), or with a client certificate signed by --client-ca.  The
control side is plain HTTP on 127.0.0.1 without authentication; see
ControlHandler for its endpoints.  Once both listen, the ports are
written as JSON to --ready-file.

Storage is a map name -> compact JSON bytes (serialised once per
change, never per request) and a history of change events, each with
the bytes before and after, bounded by --history.  A resourceVersion
older than the history (or than the last /compact) is "too old", as
after an etcd compaction.  Any consistent snapshot newer than that is
rebuilt by undoing history, which is what continue tokens and
resourceVersionMatch=Exact read.

Two settings (flags at start, POST /settings later) make it behave as
the two kinds of real server a client meets: --no-watch-cache as
kube-apiserver with --watch-cache=false (a list with resourceVersion=0
then goes to etcd and honours limit, so it comes in pages), and
--no-watch-list as a server that cannot stream lists (before 1.27, or
the WatchList feature gate off): a watch with sendInitialEvents is
refused with 422 Invalid.

A response of more than 128 KiB to a client whose Accept-Encoding
names gzip goes out compressed, as kube-apiserver's
APIResponseCompression (on by default since 1.16) does; watch streams
never are.  --feature-gates APIResponseCompression=false turns it off.
Python 3 standard library only.
"""

import argparse
import base64
import bisect
import collections
import copy
import http.server
import json
import os
import random
import select
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
import zlib

sys.dont_write_bytecode = True   # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodegen  # noqa: E402
from nodegen import dumps  # noqa: E402

FIRST_RV = 1000            # an empty store's resourceVersion
SNAPSHOT_CACHE = 8         # rebuilt list snapshots kept for continue tokens
NODE_PREFIX = b'{"kind":"Node","apiVersion":"v1",'
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden",
           404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict",
           410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid",
           429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable", 504: "Timeout"}
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent "
    "list result. You can start a new list without the continue parameter, "
    "or use the continue token in this response to retrieve the remainder "
    "of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in "
    "the list.")
TRUE = ("1", "t", "T", "true", "TRUE", "True")   # Go's strconv.ParseBool

# Fault actions.  BODY_ACTIONS can hit any response with a body;
# STREAM_ACTIONS act on a watch stream, an open one or the next one.
FAULT_MATCHES = ("watch", "list", "get", "patch", "any")
BODY_ACTIONS = ("status", "stall", "drop_mid_event", "malformed",
                "trickle", "gzip_corrupt", "gzip_bomb", "gzip_false")
STREAM_ACTIONS = ("stall", "drop_mid_event", "malformed", "error_event",
                  "bookmark_now", "huge_value")
HUGE_PATH = ["metadata", "annotations", "example.com/huge"]

# Response compression as kube-apiserver does it, in
# staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/
# writers.go: SerializeObject (every list, get and error Status) takes
# "gzip" when a comma-separated token of the first Accept-Encoding
# header is exactly "gzip" (ContentEncodingSupported) and the
# APIResponseCompression gate is on; deferredResponseWriter then
# compresses only a body longer than defaultGzipThresholdBytes (128 *
# 1024), at gzipContentEncodingLevel 1 (BestSpeed, kubernetes#112296),
# adding "Vary: Accept-Encoding".  Watches (handlers/watch.go,
# WatchServer.HandleHTTP) write frames straight to the connection:
# never compressed.
GZIP_THRESHOLD = 128 * 1024
GZIP_LEVEL = 1

# Strategic merge patch: the Node fields whose Go struct tags say
# patchStrategy=merge.  A string names the merge key of a list of
# objects; None marks a list of primitives merged as a set.  Every
# other list is replaced whole, as the real server does.
MERGE_LISTS = {
    ("metadata", "finalizers"): None,
    ("metadata", "ownerReferences"): "uid",
    ("spec", "podCIDRs"): None,
    ("status", "conditions"): "type",
    ("status", "addresses"): "type",
    ("status", "volumesAttached"): "name",
}

Event = collections.namedtuple("Event", "rv type name item prev")


class ApiError(Exception):
    """An answer other than success, sent as a Status object."""

    def __init__(self, code, message, reason=None, details=None,
                 headers=(), metadata=None):
        super().__init__(message)
        self.code = code
        self.headers = list(headers)
        self.status = status_object(code, message, reason, details, metadata)


def status_object(code, message, reason=None, details=None, metadata=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {},
         "status": "Failure", "message": message,
         "reason": reason or REASONS.get(code, "Unknown")}
    if details:
        s["details"] = details
    s["code"] = code
    return s


def not_found(name):
    return ApiError(404, 'nodes "%s" not found' % name,
                    details={"name": name, "kind": "nodes"})


# ---------------------------------------------------------------------
# Patches


class PatchError(Exception):
    pass


def _strip_directives(v):
    """A value from a patch as it is stored: without $patch keys."""
    if isinstance(v, dict):
        return {k: _strip_directives(x) for k, x in v.items()
                if not k.startswith("$")}
    if isinstance(v, list):
        return [_strip_directives(x) for x in v
                if not (isinstance(x, dict) and "$patch" in x)]
    return v


def strategic_merge(orig, patch, path=()):
    """Applies a strategic merge patch to a Node (or part of one).
    Maps merge key by key, null deletes, lists named in MERGE_LISTS
    merge item by item (by merge key) or as a set, other lists are
    replaced.  Directives: $patch replace/delete on maps and list
    items, $deleteFromPrimitiveList/<field>, $retainKeys.
    $setElementOrder/<field> is accepted and ignored (it only orders)."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives(patch)
    if directive is not None and directive != "merge":
        raise PatchError("unknown patch directive %r at %s"
                         % (directive, "/".join(path)))
    result = dict(orig) if isinstance(orig, dict) else {}
    for k, v in patch.items():
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [x for x in result[field] if x not in v]
            continue
        if k.startswith("$"):
            continue
        if v is None:
            result.pop(k, None)
            continue
        here = path + (k,)
        old = result.get(k)
        if isinstance(v, dict):
            if v.get("$patch") == "delete":
                result.pop(k, None)
                continue
            result[k] = strategic_merge(old, v, here)
        elif isinstance(v, list) and here in MERGE_LISTS and \
                isinstance(old, list):
            result[k] = _merge_list(old, v, MERGE_LISTS[here], here)
        else:
            result[k] = _strip_directives(v)
    if isinstance(patch.get("$retainKeys"), list):
        keep = set(patch["$retainKeys"])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _merge_list(old, patch, key, path):
    if any(isinstance(x, dict) and x.get("$patch") == "replace"
           for x in patch):
        return _strip_directives(patch)
    if key is None:
        return old + [x for x in patch if x not in old]
    result = list(old)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError("map: %s does not contain declared merge key: %s"
                             % (json.dumps(item), key))
        at = next((i for i, x in enumerate(result)
                   if isinstance(x, dict) and x.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del result[at]
        elif at is None:
            result.append(_strip_directives(item))
        else:
            result[at] = strategic_merge(result[at], item, path)
    return result


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _pointer(doc, ptr):
    """(parent container, last token) for an RFC 6901 pointer."""
    if ptr == "" or not ptr.startswith("/"):
        raise PatchError("invalid JSON pointer %r" % ptr)
    parts = [p.replace("~1", "/").replace("~0", "~")
             for p in ptr[1:].split("/")]
    node = doc
    for p in parts[:-1]:
        try:
            node = node[int(p)] if isinstance(node, list) else node[p]
        except (KeyError, IndexError, ValueError, TypeError):
            raise PatchError("path %s does not exist" % ptr)
    return node, parts[-1]


def _index(container, tok, ptr, adding=False):
    if tok == "-" and adding:
        return len(container)
    try:
        i = int(tok)
    except ValueError:
        raise PatchError("bad array index in %s" % ptr)
    if not 0 <= i <= len(container) - (0 if adding else 1):
        raise PatchError("array index out of range in %s" % ptr)
    return i


def _get(doc, ptr):
    parent, tok = _pointer(doc, ptr)
    try:
        if isinstance(parent, list):
            return parent[_index(parent, tok, ptr)]
        return parent[tok]
    except (KeyError, TypeError):
        raise PatchError("path %s does not exist" % ptr)


def _remove(doc, ptr):
    parent, tok = _pointer(doc, ptr)
    if isinstance(parent, list):
        return parent.pop(_index(parent, tok, ptr))
    if not isinstance(parent, dict) or tok not in parent:
        raise PatchError("path %s does not exist" % ptr)
    return parent.pop(tok)


def _add(doc, ptr, value):
    parent, tok = _pointer(doc, ptr)
    if isinstance(parent, list):
        parent.insert(_index(parent, tok, ptr, adding=True), value)
    elif isinstance(parent, dict):
        parent[tok] = value
    else:
        raise PatchError("path %s does not exist" % ptr)


def json_patch(doc, ops):
    """RFC 6902 JSON patch: add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "path" not in op:
            raise PatchError("bad operation %s" % json.dumps(op))
        name, path = op.get("op"), op["path"]
        if name in ("add", "replace", "test") and "value" not in op:
            raise PatchError("%s at %s needs a value" % (name, path))
        if name == "add":
            _add(doc, path, op["value"])
        elif name == "remove":
            _remove(doc, path)
        elif name == "replace":
            _remove(doc, path)
            _add(doc, path, op["value"])
        elif name == "move":
            _add(doc, path, _remove(doc, op.get("from", "")))
        elif name == "copy":
            _add(doc, path, copy.deepcopy(_get(doc, op.get("from", ""))))
        elif name == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError("testing value %s failed" % path)
        else:
            raise PatchError("unknown operation %r" % name)
    return doc


def changed_fields(old, new, path=()):
    """The fieldsV1 set of what `new` sets differently from `old`, so
    the patching manager's managedFields entry claims what it changed,
    as server-side field tracking does."""
    out = {}
    for k, v in new.items():
        if isinstance(old, dict) and k in old and old[k] == v:
            continue
        here = path + (k,)
        ov = old.get(k) if isinstance(old, dict) else None
        if isinstance(v, dict) and v:
            out["f:" + k] = changed_fields(ov or {}, v, here)
        elif isinstance(v, list) and isinstance(MERGE_LISTS.get(here), str):
            key = MERGE_LISTS[here]
            items = {}
            for item in v:
                if not isinstance(item, dict) or key not in item:
                    continue
                prev = next((x for x in ov or () if isinstance(x, dict)
                             and x.get(key) == item[key]), None)
                if prev != item:
                    f = changed_fields(prev or {}, item, here)
                    if prev is None:
                        f["."] = {}
                    items["k:" + dumps({key: item[key]}).decode()] = f
            out["f:" + k] = items
        else:
            out["f:" + k] = {}
    return out


def _union(a, b):
    for k, v in b.items():
        a[k] = _union(a.get(k, {}), v)
    return a


def record_manager(obj, old, manager, subresource):
    """Updates (or adds) the managedFields entry of an Update by
    `manager`, with the time and the fields this change set."""
    entries = obj["metadata"].setdefault("managedFields", [])
    entry = next((e for e in entries if e.get("manager") == manager and
                  e.get("operation") == "Update" and
                  e.get("subresource") == subresource), None)
    if entry is None:
        entry = {"manager": manager, "operation": "Update",
                 "apiVersion": "v1", "time": "", "fieldsType": "FieldsV1",
                 "fieldsV1": {}}
        if subresource:
            entry["subresource"] = subresource
        entries.append(entry)
    entry["time"] = nodegen.rfc3339(nodegen.utcnow())

    def tracked(o):
        meta = {k: v for k, v in o["metadata"].items()
                if k not in ("managedFields", "resourceVersion")}
        return dict(o, metadata=meta)
    _union(entry["fieldsV1"], changed_fields(tracked(old), tracked(obj)))


# ---------------------------------------------------------------------
# Storage


class Expired(Exception):
    pass


class Store:
    """Nodes, their change history and the pending faults, under one
    condition variable that watch streams wait on."""

    def __init__(self, history_max, first_rv=FIRST_RV):
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.rv = first_rv
        self.floor = first_rv     # new requests: older resourceVersions gone
        self.trimmed = first_rv   # newest event dropped from the history
        self.items = {}           # name -> compact JSON, no kind/apiVersion
        self.history = []         # Events, oldest first
        self.history_max = history_max
        self.snapshots = collections.OrderedDict()
        self.faults = []
        self.watches = 0
        self.watch_cache = True   # rv=0 lists whole, without etcd
        self.watch_list = True    # sendInitialEvents accepted

    # All methods below expect self.cond to be held.

    def commit(self, etype, obj, prev):
        """Stores one change under a new resourceVersion, records it and
        wakes the watchers.  For DELETED, obj is the last state, which
        carries the deletion's resourceVersion as on the real server."""
        self.rv += 1
        name = obj["metadata"]["name"]
        obj["metadata"]["resourceVersion"] = str(self.rv)
        item = dumps(obj)
        if etype == "DELETED":
            del self.items[name]
        else:
            self.items[name] = item
        self.history.append(Event(self.rv, etype, name, item, prev))
        while len(self.history) > self.history_max:
            self.trimmed = self.history.pop(0).rv
            self.floor = max(self.floor, self.trimmed)
        self.cond.notify_all()
        return self.rv

    def put(self, obj):
        """Adds or replaces a whole node.  Returns (rv, event type), the
        type None when the node was already exactly so."""
        obj = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
        meta = obj.setdefault("metadata", {})
        name = meta["name"]
        prev = self.items.get(name)
        if prev is not None:
            old = json.loads(prev)
            meta.setdefault("uid", old["metadata"].get("uid"))
            meta.setdefault("creationTimestamp",
                            old["metadata"].get("creationTimestamp"))
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            if obj == old:
                return self.rv, None
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp",
                        nodegen.rfc3339(nodegen.utcnow()))
        etype = "ADDED" if prev is None else "MODIFIED"
        return self.commit(etype, obj, prev), etype

    def update(self, name, change):
        """Applies change(obj) -> new obj to a stored node.  A change
        that leaves the node as it was is no write: no new
        resourceVersion, no event.  Returns the stored bytes."""
        prev = self.items.get(name)
        if prev is None:
            raise not_found(name)
        old = json.loads(prev)
        new = change(json.loads(prev))
        if new == old:
            return prev
        self.commit("MODIFIED", new, prev)
        return self.items[name]

    def delete(self, name):
        prev = self.items.get(name)
        if prev is None:
            raise not_found(name)
        return self.commit("DELETED", json.loads(prev), prev)

    def compact(self):
        """Makes every resourceVersion up to now too old for new
        requests.  As with the real compactor, which bumps a key of its
        own before compacting, the revision moves on by one (no Node
        event), so a fresh list still yields a usable resourceVersion.
        Established watches go on: the watch cache does not lose them."""
        self.rv += 1
        self.floor = self.rv
        self.snapshots.clear()
        self.cond.notify_all()
        return self.rv

    def snapshot(self, rv=None):
        """(rv, sorted names, item bytes) of the store as it was at rv
        (now by default): current items with later history undone."""
        rv = self.rv if rv is None else rv
        if rv < self.floor:
            raise Expired()
        snap = self.snapshots.get(rv)
        if snap is not None:
            self.snapshots.move_to_end(rv)
            return snap
        state = dict(self.items)
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            if ev.prev is None:
                del state[ev.name]
            else:
                state[ev.name] = ev.prev
        names = sorted(state)
        snap = (rv, names, [state[n] for n in names])
        self.snapshots[rv] = snap
        while len(self.snapshots) > SNAPSHOT_CACHE:
            self.snapshots.popitem(last=False)
        return snap

    def events_after(self, rv):
        """History events newer than rv, or None when some of them were
        trimmed from the history (a watcher fell that far behind)."""
        if rv < self.trimmed:
            return None
        return self.history[bisect.bisect_right(self.history, rv,
                                                key=lambda e: e.rv):]

    def take_fault(self, kind, phase):
        """The first pending fault for a request of this kind.  At the
        start of a request (phase "start") that is one that answers or
        breaks the response; in a running watch (phase "stream") one of
        STREAM_ACTIONS.  A plain stream fault goes to whichever watch
        runs first, an open one or the next one; "new_requests_only"
        and persistent faults only hit requests as they start."""
        for i, f in enumerate(self.faults):
            if f["match"] not in ("any", kind):
                continue
            early = f["persistent"] or f["new_requests_only"]
            a = f["action"]
            if phase == "stream":
                if a not in STREAM_ACTIONS or early:
                    continue
            elif kind == "watch":
                if a != "status" and not early:
                    continue
            elif a not in BODY_ACTIONS:
                continue
            if not f["persistent"]:
                del self.faults[i]
            return f
        return None


# ---------------------------------------------------------------------
# The API server


def rv_param(value, what="resourceVersion"):
    try:
        rv = int(value)
        if rv < 0:
            raise ValueError
        return rv
    except ValueError:
        raise ApiError(400, 'invalid %s: "%s"' % (what, value))


def encode_continue(rv, start):
    """An opaque continue token: the snapshot's resourceVersion and the
    key to start after, like the real server's (base64 JSON)."""
    raw = dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token):
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        c = json.loads(raw)
        if c.get("v") != "meta.k8s.io/v1" or not isinstance(c["rv"], int) \
                or not isinstance(c["start"], str):
            raise ValueError("unknown version")
        return c["rv"], c["start"]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ApiError(400, "continue key is not valid: %s" % e)


def name_selector(q):
    """The only field selector a Node list honours here: metadata.name
    (=, ==, !=), which kubectl uses for `get node NAME --watch`.
    Returns a predicate on names."""
    if q.get("labelSelector"):
        raise ApiError(400, "labelSelector is not supported by this test "
                       "server")
    tests = []
    for req in filter(None, q.get("fieldSelector", "").split(",")):
        for op in ("!=", "==", "="):
            if op in req:
                field, value = req.split(op, 1)
                break
        else:
            raise ApiError(400, 'invalid selector: "%s"' % req)
        if field.strip() != "metadata.name":
            raise ApiError(400, 'field label not supported: %s'
                           % field.strip())
        tests.append((op == "!=", value.strip()))
    return lambda name: all((name != v) if neg else (name == v)
                            for neg, v in tests)


def truthy(q, key):
    return q.get(key, "") in TRUE


def event_frame(etype, item):
    """One watch event as a chunk of the chunked body: a JSON line."""
    line = b'{"type":"%s","object":%s%s}\n' % (etype, NODE_PREFIX, item[1:])
    return b"%x\r\n%s\r\n" % (len(line), line)


def bookmark_item(rv, initial_end=False):
    """A bookmark's object: an empty Node carrying only the
    resourceVersion, serialised as Go serialises an empty v1.Node --
    null creationTimestamp, {} spec, and status fields that have no
    omitempty (daemonEndpoints, a nodeInfo of empty strings)."""
    meta = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return dumps({"metadata": meta, "spec": {}, "status": {
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        "nodeInfo": {k: "" for k in (
            "machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
            "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion",
            "operatingSystem", "architecture")}}})


def error_frame(status):
    line = b'{"type":"ERROR","object":%s}\n' % dumps(status)
    return b"%x\r\n%s\r\n" % (len(line), line)


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120   # an idle keep-alive connection is closed after this

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def parse_request(self):
        self.entry = None     # until dispatch logs this request
        return super().parse_request()

    def send_response(self, code, message=None):
        """As the base class, without a Server header (Go sends none),
        and noting the code in the request log."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())
        if self.entry is not None:
            self.server.log_update(self.entry, code=code)

    def handle(self):
        """TLS handshakes run here, in the connection's own thread, so
        a client that never finishes one blocks nobody else.  No Nagle,
        as Go's net package sets on every TCP connection: a body
        written in pieces (a compressed one) would otherwise wait for
        the client's delayed ACK after each piece."""
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.connection.do_handshake()
        except (OSError, ValueError) as e:
            self.log_message("TLS handshake failed: %s", e)
            return
        try:
            super().handle()
        except OSError as e:   # peer went away; nothing to answer
            self.log_message("connection error: %s", e)

    def do_GET(self):
        self.dispatch("GET")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # -- plumbing

    def authenticate(self):
        """True for a valid bearer token (any non-empty line of the
        token file, read now) or a client certificate that verified
        against --client-ca."""
        if self.server.client_ca and self.connection.getpeercert():
            return True
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        try:
            with open(self.server.token_file) as f:
                valid = {line.strip() for line in f if line.strip()}
        except OSError:
            return False
        return token.strip() in valid

    def dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in
             urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = url.path.rstrip("/") or "/"
        parts = path.split("/")
        kind = "other"
        if parts[:4] == ["", "api", "v1", "nodes"]:
            if len(parts) == 4 and method == "GET":
                kind = "watch" if truthy(q, "watch") else "list"
            elif len(parts) == 5 or (len(parts) == 6 and
                                     parts[5] == "status"):
                kind = {"GET": "get", "PATCH": "patch"}.get(method, "other")
        self.fault = None
        self.entry = self.server.log_request(self, method, url.path, q, body,
                                             kind)
        store = self.server.store
        try:
            if not self.authenticate():
                raise ApiError(401, "Unauthorized")
            with store.cond:
                self.fault = store.take_fault(kind, "start")
            if self.fault:
                self.server.log_update(self.entry,
                                       fault=self.fault["action"])
                if self.fault["action"] == "status":
                    raise self.fault_error(self.fault, kind)
            self.route(method, path, parts, q, body, kind)
        except ApiError as e:
            self.send_json(e.code, dumps(e.status), e.headers)

    def route(self, method, path, parts, q, body, kind):
        if kind == "list":
            return self.serve_list(q)
        if kind == "watch":
            return self.serve_watch(q)
        if kind == "get":
            return self.serve_get(parts[4])
        if kind == "patch":
            return self.serve_patch(parts[4], len(parts) == 6, body, q)
        if parts[:4] == ["", "api", "v1", "nodes"] and len(parts) <= 6:
            raise ApiError(405, "the server does not allow this method on "
                           "the requested resource")
        if method != "GET":
            raise ApiError(404, "the server could not find the requested "
                           "resource")
        doc = self.server.discovery.get(path)
        if doc is not None:
            return self.send_json(200, doc)
        if path in ("/healthz", "/livez", "/readyz"):
            return self.send_json(200, b"ok", ctype="text/plain; "
                                  "charset=utf-8")
        if path.startswith("/api/"):
            raise ApiError(404, "the server could not find the requested "
                           "resource")
        self.send_json(404, b"404 page not found\n",
                       ctype="text/plain; charset=utf-8")

    def fault_error(self, f, kind):
        code = f["code"]
        verb = kind if kind in ("watch", "list", "patch") else "get"
        default = {
            401: "Unauthorized",
            403: 'nodes is forbidden: User "system:serviceaccount:kube-system:'
                 'kopeio-networking-agent" cannot %s resource "nodes" in API '
                 'group "" at the cluster scope' % verb,
            410: "The resourceVersion for the provided %s is too old." % verb,
            429: "Too many requests, please try again later.",
            500: "Internal error occurred: injected fault",
            503: "The server is currently unable to handle the request",
        }
        headers, details = [], None
        if f.get("retry_after") is not None:
            headers.append(("Retry-After", str(f["retry_after"])))
            details = {"retryAfterSeconds": f["retry_after"]}
        return ApiError(code, f.get("message") or default.get(
            code, "injected fault"), details=details, headers=headers)

    def common_headers(self, ctype):
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", ctype)

    def gzip_accepted(self):
        """The client's first Accept-Encoding header names gzip, and the
        gate is on: ContentEncodingSupported."""
        tokens = self.headers.get("Accept-Encoding", "").split(",")
        return self.server.compression and \
            any(t.strip() == "gzip" for t in tokens)

    def send_json(self, code, body, headers=(), ctype="application/json"):
        """Sends a whole response, compressed as the real server would,
        unless a body fault says to break it: malformed sends half the
        JSON as if it were all of it, drop_mid_event closes the
        connection halfway through the body, stall sends the headers
        and then nothing; gzip_corrupt, gzip_bomb and gzip_false are a
        hostile server's gzip, sent whatever the client asked for."""
        action = self.fault["action"] if self.fault and code < 400 else None
        if action == "trickle":
            return self.trickle(code, body, headers, ctype)
        if action == "gzip_bomb":
            return self.gzip_bomb(code, body, headers, ctype)
        if action == "malformed":
            body = body[:len(body) // 2]
        length = len(body)
        gzipped = self.gzip_accepted() and length > GZIP_THRESHOLD and \
            action != "gzip_false"
        if gzipped and action is None:
            return self.send_gzip(code, headers, ctype, GZIP_LEVEL, length,
                                  (body[i:i + 131072] for i in
                                   range(0, length, 131072)))
        if gzipped or action == "gzip_corrupt":
            body = gzip_compress(body, GZIP_LEVEL)
            headers = list(headers) + [("Vary", "Accept-Encoding")]
        if action == "gzip_corrupt":
            # BFINAL 1, BTYPE 11 (reserved) in the first deflate byte:
            # inflate fails before it has given out a single byte.
            body = body[:10] + b"\xff" + body[11:]
        if gzipped or action in ("gzip_corrupt", "gzip_false"):
            headers = list(headers) + [("Content-Encoding", "gzip")]
        self.send_response(code)
        self.common_headers(ctype)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if self.entry is not None:
            self.server.log_update(self.entry, length=length, sent=len(body),
                                   content_encoding="gzip" if gzipped
                                   else None)
        self.end_headers()
        if action == "stall":
            return self.stall(self.fault)
        if action == "drop_mid_event":
            self.wfile.write(body[:len(body) // 2])
            return self.drop()
        self.wfile.write(body)

    def send_gzip(self, code, headers, ctype, level, length, pieces):
        """A gzip body compressed as it goes out, chunked, as Go's
        gzip.Writer over the response streams it: pieces of the plain
        body (length bytes in all) in, each compressed piece a chunk."""
        z = zlib.compressobj(level, zlib.DEFLATED, 31)
        self.send_response(code)
        self.common_headers(ctype)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        try:
            for piece in pieces:
                out = z.compress(piece)
                if out:
                    self.wfile.write(self.chunk(out))
                    sent += len(out)
            out = z.flush()
            self.wfile.write(self.chunk(out) + b"0\r\n\r\n")
            sent += len(out)
        except OSError:
            self.server.log_update(self.entry, end="client_gone")
            return self.drop()
        self.server.log_update(self.entry, length=length, sent=sent,
                               content_encoding="gzip")

    def gzip_bomb(self, code, body, headers, ctype):
        """The gzip_bomb fault: the body, gzip-compressed, with a string
        of "bytes" (300,000,000) bytes of "x" spliced in as an unknown
        key of the first list item (or of the object itself), made and
        sent 1 MiB at a time: a few hundred KB on the wire that inflate
        to hundreds of MB of valid JSON."""
        size = self.fault.get("bytes", 300000000)
        head, sep, tail = body.partition(b'"items":[{')
        if not sep:
            head, sep, tail = b"", b"{", body[1:]

        def pieces():
            yield head + sep + b'"kopeio.test/bomb":"'
            fill = b"x" * (1 << 20)
            for left in range(size, 0, -len(fill)):
                yield fill[:left]
            yield b'",' + tail
        self.send_gzip(code, headers, ctype, 9, len(body) + size, pieces())

    def drop(self):
        """Closes the TCP connection under TLS, with no close_notify:
        what a client sees when the network or the server dies."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def stall(self, f):
        self.server.store.stopping.wait(f.get("seconds", 30))
        self.drop()

    def trickle(self, code, body, headers, ctype):
        """The trickle fault: all of a JSON body but its last two bytes
        (a list's closing "]}"), then one space every "interval"
        seconds (0.25: faster than any low-speed limit) for "seconds"
        (60), then the rest.  Valid JSON that takes as long as the
        server likes; the client going away ends it.  The log says
        "complete" once the last bytes are written, so a test can tell
        what a client did while the body still streamed."""
        f, store = self.fault, self.server.store
        self.send_response(code)
        self.common_headers(ctype)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        end = time.monotonic() + f.get("seconds", 60)
        try:
            self.wfile.write(self.chunk(body[:-2]))
            while time.monotonic() < end and not store.stopping.is_set():
                if self.client_gone():
                    break
                self.wfile.write(self.chunk(b" "))
                store.stopping.wait(f.get("interval", 0.25))
            else:
                self.wfile.write(self.chunk(body[-2:]) + b"0\r\n\r\n")
                return self.server.log_update(self.entry, end="complete")
        except OSError:
            pass
        self.server.log_update(self.entry, end="client_gone")
        self.drop()

    # -- resources

    def serve_get(self, name):
        with self.server.store.cond:
            item = self.server.store.items.get(name)
        if item is None:
            raise not_found(name)
        self.send_json(200, NODE_PREFIX + item[1:])

    def serve_list(self, q):
        """A NodeList page.  Semantics as the real server (etcd-backed,
        watch cache for resourceVersion=0 unless it is off):
        - continue: the page after the token's key, from the token's
          snapshot; 410 Expired (with an inconsistent-continue token)
          once that snapshot is compacted; a token with rv -1 (that
          inconsistent kind) reads the current state;
        - resourceVersion=0: whatever is current, all of it: limit is
          ignored, as the watch cache does; with the watch cache off
          (--no-watch-cache) it reads the store as for no
          resourceVersion, honouring limit, as kube-apiserver with
          --watch-cache=false reads etcd;
        - resourceVersion=N with resourceVersionMatch=Exact: the
          snapshot at N, 410 if compacted;
        - resourceVersion=N otherwise: current state, or 504 "Too large
          resource version" when N is in the future;
        - limit: at most that many items, then a continue token and
          remainingItemCount."""
        store = self.server.store
        match = name_selector(q)
        limit = rv_param(q.get("limit") or "0", "limit")
        rv, rvm, cont = (q.get("resourceVersion", ""),
                         q.get("resourceVersionMatch", ""),
                         q.get("continue", ""))
        start = ""
        if rvm and not rv:
            raise ApiError(400, "resourceVersionMatch is forbidden unless "
                           "resourceVersion is provided")
        with store.cond:
            if cont:
                if rv not in ("", "0"):
                    raise ApiError(400, "specifying resource version is not "
                                   "allowed when using continue")
                trv, start = decode_continue(cont)
                try:
                    snap = store.snapshot(trv if trv > 0 else None)
                except Expired:
                    raise ApiError(410, CONTINUE_EXPIRED, metadata={
                        "continue": encode_continue(-1, start)})
            elif rv == "0" and rvm != "Exact" and store.watch_cache:
                snap, limit = store.snapshot(), 0
            elif rv and rvm == "Exact":
                try:
                    want = rv_param(rv)
                    if want > store.rv:
                        raise self.too_large(want)
                    snap = store.snapshot(want)
                except Expired:
                    raise ApiError(410, "The resourceVersion for the provided "
                                   "list is too old.")
            else:
                if rv and rv_param(rv) > store.rv:
                    raise self.too_large(rv_param(rv))
                snap = store.snapshot()
        srv, names, items = snap
        first = bisect.bisect_left(names, start)
        chosen, last, scanned = [], None, first
        for i in range(first, len(names)):
            if limit and len(chosen) == limit:
                break
            scanned = i + 1
            if match(names[i]):
                chosen.append(items[i])
                last = names[i]
        meta = {"resourceVersion": str(srv)}
        if limit and scanned < len(names):
            meta["continue"] = encode_continue(srv, last + "\x00")
            if not q.get("fieldSelector"):
                meta["remainingItemCount"] = len(names) - scanned
        body = b'{"kind":"NodeList","apiVersion":"v1","metadata":%s,' \
               b'"items":[%s]}' % (dumps(meta), b",".join(chosen))
        self.send_json(200, body)

    def too_large(self, rv):
        return ApiError(504, "Too large resource version: %d, current: %d"
                        % (rv, self.server.store.rv), reason="Timeout",
                        details={"causes": [{
                            "reason": "ResourceVersionTooLarge",
                            "message": "Too large resource version"}],
                            "retryAfterSeconds": 1})

    def serve_patch(self, name, status, body, q):
        """PATCH of a node or its status subresource.  The patch applies
        to the whole object; then, as the node registry strategies do,
        /status keeps the old spec and the main resource keeps the old
        status.  A resourceVersion in the patch must match (409
        otherwise).  A patch that changes nothing writes nothing."""
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        appliers = {
            "application/strategic-merge-patch+json": strategic_merge,
            "application/merge-patch+json": merge_patch,
            "application/json-patch+json": json_patch,
        }
        if ctype not in appliers:
            raise ApiError(415, "the body of the request was in an unknown "
                           "format - accepted media types include: "
                           + ", ".join(sorted(appliers)))
        try:
            patch = json.loads(body)
        except ValueError as e:
            raise ApiError(400, "error decoding patch: %s" % e)
        # The manager of the Update: fieldManager, or the User-Agent up
        # to its first "/", as the real server names it.
        manager = q.get("fieldManager") or self.headers.get(
            "User-Agent", "unknown").split("/")[0][:128]
        sub = "status" if status else None

        def change(old):
            full = dict({"kind": "Node", "apiVersion": "v1"}, **old)
            try:
                new = appliers[ctype](full, patch)
            except PatchError as e:
                raise ApiError(422, str(e))
            if not isinstance(new, dict) or not isinstance(
                    new.get("metadata"), dict):
                raise ApiError(422, "the patch leaves no object metadata")
            if new.pop("kind", "Node") != "Node" or \
                    new.pop("apiVersion", "v1") != "v1":
                raise ApiError(400, "the patch may not change kind or "
                               "apiVersion")
            meta, ometa = new["metadata"], old["metadata"]
            if meta.get("name") != name:
                raise ApiError(400, "the name of the object (%s) does not "
                               "match the name on the URL (%s)"
                               % (meta.get("name"), name))
            rv = meta.get("resourceVersion") or ometa["resourceVersion"]
            if rv != ometa["resourceVersion"]:
                raise ApiError(409, 'Operation cannot be fulfilled on nodes '
                               '"%s": the object has been modified; please '
                               'apply your changes to the latest version and '
                               'try again' % name, reason="Conflict",
                               details={"name": name, "kind": "nodes"})
            for k in ("uid", "creationTimestamp", "resourceVersion",
                      "managedFields"):
                if k in ometa:
                    meta[k] = ometa[k]
            kept = "spec" if status else "status"
            if kept in old:
                new[kept] = old[kept]
            else:
                new.pop(kept, None)
            if new != old:
                record_manager(new, old, manager, sub)
            return new

        store = self.server.store
        with store.cond:
            item = store.update(name, change)
        self.send_json(200, NODE_PREFIX + item[1:])

    def serve_watch(self, q):
        """A watch stream.  Without resourceVersion (or with "0") it
        starts with a synthetic ADDED for every node; with one, it sends
        the events after it, or -- when that is older than the
        history -- a 410 ERROR event and ends, as the watch cache does.
        sendInitialEvents=true (with allowWatchBookmarks and
        resourceVersionMatch=NotOlderThan) sends the current nodes then
        a BOOKMARK annotated k8s.io/initial-events-end, unless the
        server cannot stream lists (--no-watch-list): then 422 Invalid,
        as validateWatchOptions answers with the WatchList feature gate
        off (a server before 1.27 refuses resourceVersionMatch on a
        watch with 422 as well).  BOOKMARKs every
        --bookmark-interval when allowed; the stream ends cleanly after
        timeoutSeconds (default: 30-60 minutes, like minRequestTimeout)."""
        store = self.server.store
        match = name_selector(q)
        rv = q.get("resourceVersion", "")
        bookmarks = truthy(q, "allowWatchBookmarks")
        initial = truthy(q, "sendInitialEvents")
        if "sendInitialEvents" in q and not store.watch_list:
            why = ("sendInitialEvents is forbidden for watch unless the "
                   "WatchList feature gate is enabled")
            raise ApiError(422, 'ListOptions.meta.k8s.io "" is invalid: '
                           "sendInitialEvents: Forbidden: " + why,
                           reason="Invalid", details={
                               "group": "meta.k8s.io", "kind": "ListOptions",
                               "causes": [{"reason": "FieldValueForbidden",
                                           "message": "Forbidden: " + why,
                                           "field": "sendInitialEvents"}]})
        if initial and (not bookmarks or
                        q.get("resourceVersionMatch") != "NotOlderThan"):
            raise ApiError(422, "sendInitialEvents is forbidden for watch "
                           "unless allowWatchBookmarks=true and "
                           "resourceVersionMatch=NotOlderThan")
        timeout = (rv_param(q["timeoutSeconds"], "timeoutSeconds")
                   if q.get("timeoutSeconds") else random.uniform(1800, 3600))
        start = 0 if rv in ("", "0") else rv_param(rv)
        snap, too_old = None, None
        with store.cond:
            if rv in ("", "0") or initial:
                snap = store.snapshot()
                start = snap[0]
            elif start < store.floor:
                too_old = status_object(
                    410, "too old resource version: %d (%d)"
                    % (start, store.floor))
            store.watches += 1
        try:
            self.send_response(200)
            self.common_headers("application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if too_old:
                self.end_stream("too_old", error_frame(too_old))
            else:
                self.stream(snap, start, match, bookmarks, initial, timeout)
        except OSError:
            self.server.log_update(self.entry, end="client_gone")
        finally:
            with store.cond:
                store.watches -= 1

    def end_stream(self, why, last=b"", drop=False):
        """Ends a watch: logs why, then sends its last bytes and the
        terminating chunk, or drops the connection after them.  The
        log has the reason before the client can see the end."""
        self.server.log_update(self.entry, end=why)
        self.wfile.write(last if drop else last + b"0\r\n\r\n")
        if drop:
            self.drop()

    def stream(self, snap, cursor, match, bookmarks, initial, timeout):
        """The body of a watch, until end_stream.  Each round acts
        on a fault just taken, sends what is queued, then waits for
        history, a fault, a bookmark or the deadline."""
        store = self.server.store
        frames, sent, drop_next, huge = [], 0, False, None
        fault = self.fault if self.fault and \
            self.fault["action"] in STREAM_ACTIONS else None
        if snap:
            for name, item in zip(snap[1], snap[2]):
                if match(name):
                    frames.append(event_frame(b"ADDED", item))
            if initial:
                frames.append(event_frame(b"BOOKMARK",
                                          bookmark_item(cursor, True)))
        deadline = time.monotonic() + timeout
        interval = self.server.bookmark_interval
        next_bookmark = time.monotonic() + interval
        while True:
            if fault:
                action = fault["action"]
                if action == "stall":
                    self.server.log_update(self.entry, end="stall")
                    return self.stall(fault)
                if action == "error_event":
                    return self.end_stream("error_event", error_frame(
                        self.error_status(fault, cursor)))
                if action == "malformed":
                    self.wfile.write(self.chunk(
                        b'{"type":"MODIFIED","object":{"kind":"Node",]}\n'))
                elif action == "huge_value":
                    huge = fault
                elif action == "bookmark_now":
                    frames.append(event_frame(b"BOOKMARK",
                                              bookmark_item(cursor)))
                else:
                    drop_next = True
                fault = None
            if frames:
                if drop_next:
                    frame = frames[0]
                    body = frame.index(b"\r\n") + 2
                    return self.end_stream(
                        "dropped", frame[:body + (len(frame) - body) // 2],
                        drop=True)
                if huge:
                    rest = self.write_huge(frames, huge)
                    huge = huge if rest is None else None
                    frames = rest or []
                self.write_frames(frames)
                sent += len(frames)
                self.server.log_update(self.entry, events=sent)
                frames = []
            with store.cond:
                while True:
                    now = time.monotonic()
                    events = store.events_after(cursor)
                    current = store.rv
                    fault = store.take_fault("watch", "stream")
                    due = bookmarks and now >= next_bookmark
                    over = now >= deadline or store.stopping.is_set()
                    if events or events is None or fault or due or over:
                        break
                    if self.client_gone():
                        return self.server.log_update(self.entry,
                                                      end="client_gone")
                    store.cond.wait(min(deadline, next_bookmark if bookmarks
                                        else deadline, now + 1) - now)
            if fault:
                self.server.log_update(self.entry, fault=fault["action"])
            if events is None:
                return self.end_stream("fell_behind")
            for ev in events:
                if match(ev.name):
                    frames.append(event_frame(ev.type.encode(), ev.item))
            # Everything up to `current` has been seen, events or not
            # (a compaction moves the revision without one).
            cursor = max(cursor, current)
            if due:
                frames.append(event_frame(b"BOOKMARK", bookmark_item(cursor)))
                next_bookmark = now + interval
            if over and not frames and not fault:
                return self.end_stream("timeout" if now >= deadline
                                       else "shutdown")

    def write_huge(self, frames, f):
        """The huge_value fault: the first event of frames that is not
        a BOOKMARK (and is about the node "name", if the fault names
        one) goes out with the value at "path" in its object
        (HUGE_PATH: an annotation) replaced by a string of "bytes"
        (200,000,000) bytes of "x", streamed in 1 MiB chunks and never
        held whole.  Returns the frames still to send, or None when
        none was such an event, sent as they are (the fault waits for
        the next event)."""
        for i, frame in enumerate(frames):
            if b'"type":"BOOKMARK"' in frame:
                continue
            ev = json.loads(frame[frame.index(b"\r\n") + 2:-2])
            if f.get("name") in (None, ev["object"]["metadata"]["name"]):
                break
        else:
            self.write_frames(frames)
            return None
        self.write_frames(frames[:i])
        obj = ev["object"]
        path = f.get("path", HUGE_PATH)
        for key in path[:-1]:
            obj = obj.setdefault(key, {})
        marker = "@huge-%s@" % uuid.uuid4().hex
        obj[path[-1]] = marker
        head, tail = dumps(ev).split(b'"%s"' % marker.encode())
        left, fill = f.get("bytes", 200000000), b"x" * (1 << 20)
        self.wfile.write(self.chunk(head + b'"'))
        while left > 0:
            piece = fill[:min(left, len(fill))]
            self.wfile.write(self.chunk(piece))
            left -= len(piece)
        self.wfile.write(self.chunk(b'"' + tail + b"\n"))
        return frames[i + 1:]

    def client_gone(self):
        """True once the client has closed the connection (or sent
        anything at all: a watch client only reads), so an idle watch
        ends within a second of its client going instead of at its
        next write."""
        if self.connection.pending():
            return True
        readable, _, _ = select.select([self.connection], [], [], 0)
        return bool(readable)

    @staticmethod
    def chunk(data):
        return b"%x\r\n%s\r\n" % (len(data), data)

    def write_frames(self, frames):
        """Writes chunk frames, coalescing small ones into writes of up
        to 256 KiB: each event stays its own chunk."""
        batch, size = [], 0
        for f in frames:
            batch.append(f)
            size += len(f)
            if size >= 262144:
                self.wfile.write(b"".join(batch))
                batch, size = [], 0
        if batch:
            self.wfile.write(b"".join(batch))

    def error_status(self, f, cursor):
        code = f["code"]
        default = ("too old resource version: %d (%d)"
                   % (cursor, self.server.store.rv) if code == 410 else
                   "Internal error occurred: injected fault")
        return status_object(code, f.get("message") or default)


class ApiServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, args, store):
        if ":" in args.host:
            self.address_family = socket.AF_INET6
        super().__init__((args.host, args.port), ApiHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["http/1.1"])   # no HTTP/2 here
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(args.client_ca)
        self.socket = ctx.wrap_socket(self.socket, server_side=True,
                                      do_handshake_on_connect=False)
        self.client_ca = args.client_ca
        self.token_file = args.token_file
        self.bookmark_interval = args.bookmark_interval
        self.verbose = args.verbose
        self.compression = args.compression
        self.store = store
        self.log_lock = threading.Lock()
        self.requests = []
        self.discovery = discovery(args.host, self.server_address[1])

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)

    def log_request(self, handler, method, path, q, body, kind):
        """One entry of the request log the control port serves."""
        h = handler.headers
        auth = h.get("Authorization", "")
        entry = {
            "seq": 0, "time": time.time(), "method": method, "path": path,
            "query": q, "kind": kind,
            "authorization": auth.split(" ")[0].lower() if auth else None,
            "token": auth.partition(" ")[2] if auth else None,
            "client_cert": None, "content_type": h.get("Content-Type"),
            "accept": h.get("Accept"), "user_agent": h.get("User-Agent"),
            "accept_encoding": h.get("Accept-Encoding"),
            "content_encoding": None, "length": None, "sent": None,
            "body": body.decode("utf-8", "replace") if body else None,
            "code": None, "fault": None, "events": 0, "end": None,
        }
        cert = handler.connection.getpeercert()
        if cert:
            entry["client_cert"] = dict(x[0] for x in cert["subject"]).get(
                "commonName")
        with self.log_lock:
            entry["seq"] = len(self.requests)
            self.requests.append(entry)
        return entry

    def log_update(self, entry, **kw):
        with self.log_lock:
            entry.update(kw)

    def log_since(self, seq):
        with self.log_lock:
            return [dict(e) for e in self.requests[seq:]]


def discovery(host, port):
    """The discovery documents kubectl reads before anything else:
    /version, /api, /api/v1 (nodes and nodes/status) and an empty
    /apis.  Serialised once."""
    verbs = ["create", "delete", "deletecollection", "get", "list", "patch",
             "update", "watch"]
    return {
        "/version": dumps({
            "major": "1", "minor": "32", "gitVersion": "v1.32.4",
            "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
            "gitTreeState": "clean", "buildDate": "2025-04-22T16:02:27Z",
            "goVersion": "go1.23.6", "compiler": "gc",
            "platform": "linux/amd64"}),
        "/api": dumps({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{
                "clientCIDR": "0.0.0.0/0",
                "serverAddress": ("[%s]:%d" if ":" in host else "%s:%d")
                % (host, port)}]}),
        "/api/v1": dumps({
            "kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "nodes", "singularName": "node", "namespaced": False,
                 "kind": "Node", "verbs": verbs, "shortNames": ["no"],
                 "storageVersionHash": "XwShjMxG9Fs="},
                {"name": "nodes/status", "singularName": "", "namespaced":
                 False, "kind": "Node", "verbs": ["get", "patch", "update"]},
            ]}),
        "/apis": dumps({"kind": "APIGroupList", "apiVersion": "v1",
                        "groups": []}),
    }


# ---------------------------------------------------------------------
# The control interface


class ControlHandler(http.server.BaseHTTPRequestHandler):
    """Plain-HTTP JSON endpoints for tests (127.0.0.1, no auth):

    GET    /state             {"resourceVersion","nodes","compacted",
                               "history","watches","faults","rss_bytes"}
    GET    /nodes             {"names": [...]}
    GET    /nodes/NAME        the stored node (with kind/apiVersion)
    POST   /nodes             add or replace a node (full object)
    POST   /generate          {"count","start","target_bytes","dual_stack",
                               "cluster_cidr","pod_cidr_mask",
                               "network_unavailable","external","seed"}
    DELETE /nodes/NAME        delete (DELETED event)
    POST   /heartbeat/NAME    kubelet heartbeat of one node (MODIFIED)
    POST   /heartbeat         heartbeat of every node
    POST   /compact           every resourceVersion up to now is too old
    POST   /settings          {"watch_cache": bool, "watch_list": bool}
    GET    /faults            pending faults
    POST   /faults            add a fault or a list of them
    DELETE /faults            drop pending faults
    GET    /requests?since=N  the API request log from entry N on
    """
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.api.verbose:
            super().log_message(fmt, *args)

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def reply(self, code, obj):
        body = obj if isinstance(obj, bytes) else dumps(obj)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length)) if length else None
        except ValueError as e:
            return self.reply(400, {"error": "bad JSON: %s" % e})
        parts = url.path.strip("/").split("/")
        handler = getattr(self, "%s_%s" % (method.lower(), parts[0]), None)
        if handler is None:
            return self.reply(404, {"error": "no such endpoint"})
        try:
            self.reply(200, handler(parts[1:], q, body))
        except ApiError as e:
            self.reply(e.code, {"error": e.status["message"]})
        except (ValueError, KeyError, TypeError) as e:
            self.reply(400, {"error": "%s: %s" % (type(e).__name__, e)})

    @property
    def store(self):
        return self.server.api.store

    def get_state(self, rest, q, body):
        with self.store.cond:
            s = {"resourceVersion": str(self.store.rv),
                 "nodes": len(self.store.items),
                 "compacted": str(self.store.floor),
                 "history": len(self.store.history),
                 "watches": self.store.watches,
                 "faults": len(self.store.faults),
                 "watch_cache": self.store.watch_cache,
                 "watch_list": self.store.watch_list}
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    s["rss_bytes"] = int(line.split()[1]) * 1024
        return s

    def get_nodes(self, rest, q, body):
        with self.store.cond:
            if not rest:
                return {"names": sorted(self.store.items)}
            item = self.store.items.get(rest[0])
        if item is None:
            raise not_found(rest[0])
        return NODE_PREFIX + item[1:]

    def post_nodes(self, rest, q, body):
        if not isinstance(body, dict) or \
                not body.get("metadata", {}).get("name"):
            raise ValueError("a node needs metadata.name")
        with self.store.cond:
            rv, etype = self.store.put(body)
        return {"resourceVersion": str(rv), "type": etype}

    def delete_nodes(self, rest, q, body):
        with self.store.cond:
            return {"resourceVersion": str(self.store.delete(rest[0]))}

    def post_generate(self, rest, q, body):
        names = generate(self.store, body)
        with self.store.cond:
            return {"resourceVersion": str(self.store.rv), "names": names}

    def post_heartbeat(self, rest, q, body):
        with self.store.cond:
            names = rest[:1] or sorted(self.store.items)
        for name in names:
            with self.store.cond:
                self.store.update(name, nodegen.heartbeat)
        with self.store.cond:
            return {"resourceVersion": str(self.store.rv),
                    "count": len(names)}

    def post_compact(self, rest, q, body):
        with self.store.cond:
            return {"compacted": str(self.store.compact())}

    def post_settings(self, rest, q, body):
        """Turns the watch cache or streaming lists on or off, for the
        requests that start from now on."""
        body = dict(body or {})
        extra = set(body) - {"watch_cache", "watch_list"}
        if extra or not all(isinstance(v, bool) for v in body.values()):
            raise ValueError("settings are watch_cache and watch_list, "
                             "each true or false")
        with self.store.cond:
            for k, v in body.items():
                setattr(self.store, k, v)
            return {"watch_cache": self.store.watch_cache,
                    "watch_list": self.store.watch_list}

    def get_faults(self, rest, q, body):
        with self.store.cond:
            return {"faults": list(self.store.faults)}

    def post_faults(self, rest, q, body):
        faults = [check_fault(f) for f in
                  (body if isinstance(body, list) else [body])]
        with self.store.cond:
            self.store.faults.extend(faults)
            self.store.cond.notify_all()
            return {"faults": len(self.store.faults)}

    def delete_faults(self, rest, q, body):
        with self.store.cond:
            self.store.faults.clear()
        return {"faults": 0}

    def get_requests(self, rest, q, body):
        return {"requests": self.server.api.log_since(int(q.get("since", 0)))}


def generate(store, body):
    """Makes nodes with nodegen.make_node (body: count, start and its
    options), each committed on its own so API requests keep being
    served meanwhile; their names."""
    body = dict(body or {})
    count, first = int(body.pop("count", 1)), int(body.pop("start", 0))
    allowed = ("target_bytes", "dual_stack", "cluster_cidr",
               "pod_cidr_mask", "network_unavailable", "external", "seed")
    extra = set(body) - set(allowed)
    if extra:
        raise ValueError("unknown generate options: %s" % sorted(extra))
    names = []
    for i in range(first, first + count):
        node = nodegen.make_node(i, **body)
        with store.cond:
            store.put(node)
        names.append(node["metadata"]["name"])
    return names


def check_fault(f):
    """A fault from the control port, completed with defaults; raises
    ValueError for one that could never act as asked."""
    if not isinstance(f, dict):
        raise ValueError("a fault is a JSON object")
    f = dict({"match": "any", "persistent": False,
              "new_requests_only": False}, **f)
    if f["match"] not in FAULT_MATCHES:
        raise ValueError("match must be one of %s" % (FAULT_MATCHES,))
    action = f.get("action")
    if action not in BODY_ACTIONS + STREAM_ACTIONS:
        raise ValueError("unknown action %r" % action)
    if action in ("status", "error_event") and not isinstance(
            f.get("code"), int):
        raise ValueError("%s needs an integer code" % action)
    if action in ("error_event", "bookmark_now") and \
            f["match"] not in ("watch", "any"):
        raise ValueError("%s only acts on watches" % action)
    if action == "stall" and not isinstance(f.get("seconds", 30),
                                            (int, float)):
        raise ValueError("stall seconds must be a number")
    if action == "huge_value" and (
            f["match"] not in ("watch", "any") or
            not isinstance(f.get("bytes", 0), int) or
            not isinstance(f.get("path", HUGE_PATH), list) or
            not f.get("path", HUGE_PATH) or
            not isinstance(f.get("name", ""), str)):
        raise ValueError("huge_value acts on watches, with an integer "
                         "bytes, a non-empty path and a string name")
    if action == "trickle" and not all(
            isinstance(f.get(k, 1), (int, float))
            for k in ("seconds", "interval")):
        raise ValueError("trickle seconds and interval must be numbers")
    return f


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port, api):
        super().__init__(("127.0.0.1", port), ControlHandler)
        self.api = api


def gzip_compress(data, level):
    """A gzip member, as Go's compress/gzip writes one."""
    z = zlib.compressobj(level, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def feature_gates(text):
    """APIResponseCompression from --feature-gates ("A=true,B=false"),
    on unless set false; other gates are refused, as unknown."""
    on = True
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        if name.strip() != "APIResponseCompression" or \
                value.strip() not in ("true", "false"):
            raise ValueError("unrecognized feature gate: %s" % item)
        on = value.strip() == "true"
    return on


def enter_netns(name):
    """Serve the API from inside a network namespace (a test cluster's
    underlay) while the control port, bound before, stays on the host's
    loopback.  Only the main thread runs yet, so the whole process moves."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join("/run/netns", name), os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:    # CLONE_NEWNET
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (name, os.strerror(e)))
    finally:
        os.close(fd)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--token-file", required=True)
    p.add_argument("--client-ca")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--ready-file")
    p.add_argument("--bookmark-interval", type=float, default=60.0)
    p.add_argument("--history", type=int, default=10000)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--no-watch-cache", action="store_true",
                   help="lists with resourceVersion=0 honour limit, as "
                   "with kube-apiserver --watch-cache=false")
    p.add_argument("--no-watch-list", action="store_true",
                   help="refuse watches with sendInitialEvents, as a "
                   "server without the WatchList feature does")
    p.add_argument("--netns", help="serve the API inside this network "
                   "namespace; the control port stays on the host")
    p.add_argument("--feature-gates", default="",
                   help="APIResponseCompression=false: never compress")
    p.add_argument("--first-resource-version", type=int, default=FIRST_RV,
                   help="the empty store's resourceVersion")
    p.add_argument("--generate", type=json.loads, help="nodes made before "
                   "the API port opens, as POST /generate takes them, then "
                   "the history compacted: a restarted server, whose new "
                   "watch cache answers 410 to a watch from before")
    args = p.parse_args()
    if args.history < 1:
        p.error("--history must be at least 1")
    try:
        args.compression = feature_gates(args.feature_gates)
    except ValueError as e:
        p.error(str(e))

    store = Store(args.history, args.first_resource_version)
    if args.generate is not None:
        generate(store, args.generate)
        with store.cond:
            store.compact()
    store.watch_cache = not args.no_watch_cache
    store.watch_list = not args.no_watch_list
    ctl = ControlServer(args.control_port, None)
    if args.netns:
        enter_netns(args.netns)
    api = ApiServer(args, store)
    ctl.api = api
    for s in (api, ctl):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"port": api.server_address[1],
                       "control_port": ctl.server_address[1]}, f)
        os.rename(tmp, args.ready_file)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    store.stopping.set()
    with store.cond:
        store.cond.notify_all()
    api.shutdown()
    ctl.shutdown()


if __name__ == "__main__":
    main()
