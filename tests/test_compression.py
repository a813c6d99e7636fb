#!/usr/bin/env python3
"""Compressed lists and watches against the test API server, over real
TLS, with the real confined daemon: gzip asked for and sent as
kube-apiserver sends it, every route installed from it; nothing asked
for with --compression=false or used from a server with the gate off;
and a hostile server's gzip -- a corrupt body, a body marked gzip and
sent plain, and a gzip bomb that inflates to hundreds of MB -- refused
or streamed, with the watcher's memory staying flat."""

import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knlib  # noqa: E402

tap = knlib.Tap()
nodegen = knlib.need_apiserver(tap)

LOCAL = nodegen.node_name(0)
METRICS_PORT = 9924
UNENCODING = r"^watcher: list https://\S+: Error while processing " \
             r"content unencoding: (.+)$"


def lists(api, since=0):
    return [r for r in api.requests()[since:] if r["kind"] == "list"]


def watches(api, since=0):
    return [r for r in api.requests()[since:] if r["kind"] == "watch"]


def routes(api):
    """Our routes in the daemon's namespace."""
    return [x for x in api.own_ns.run("ip", "route", "show", "proto",
                                      "107").splitlines() if x.strip()]


def watcher_status(d, field):
    """A field of the watcher child's /proc status, in KiB."""
    w = knlib.children_of(d.pid())["watcher"]
    with open("/proc/%d/status" % w) as f:
        return int(re.search(r"%s:\s+(\d+)" % field, f.read()).group(1))


def converged(d, count, start=0):
    """The daemon's snapshot of count nodes, accepted whole.  The
    executor may log its generation before the watcher logs sending
    it (adds stream during the list): looked for from start."""
    i, m = d.wait_for(r"^watcher: snapshot (\d+): %d nodes, %d intents$" %
                      (count, count - 1), start=start, timeout=180)
    if m is None:
        return False
    i, m = d.wait_for(r"^executor: generation %s: %d intents accepted, "
                      r"0 refused$" % (m.group(1), count - 1), start=start,
                      timeout=60)
    return m is not None


# Compression on, both sides: 300 nodes of 3 KB are a list page of
# about 1 MB, over the server's 128 KiB threshold.
N = 300
with knlib.ApiServer() as api:
    api.control("POST", "/generate", {"count": N, "target_bytes": 3000})
    d = api.daemon(["-v"], LOCAL)
    tap.ok(converged(d, N), "gzip: the daemon converges", d.log()[-3000:])
    tap.ok(knlib.wait_until(lambda: len(routes(api)) == N - 1, 30),
           "gzip: every route is installed", len(routes(api)))
    ls = lists(api)
    tap.ok(ls and all(r["accept_encoding"] == "gzip" for r in ls),
           "gzip: the list asks for gzip, and only gzip",
           [r["accept_encoding"] for r in ls])
    tap.ok(ls and ls[0]["content_encoding"] == "gzip" and
           ls[0]["sent"] * 5 < ls[0]["length"],
           "gzip: the server sends it compressed, over 5 times smaller",
           [(r["content_encoding"], r["sent"], r["length"]) for r in ls])
    ws = watches(api)
    tap.ok(ws and ws[0]["accept_encoding"] == "gzip" and
           ws[0]["content_encoding"] is None,
           "gzip: the watch asks for gzip too; a watch is never compressed",
           ws[:1])
    patches = knlib.wait_until(lambda: [r for r in api.requests()
                                        if r["kind"] == "patch"], 30)
    tap.ok(patches and patches[0]["accept_encoding"] is None,
           "gzip: the status patch asks for nothing", patches[:1])

    # The flag off: no Accept-Encoding, a plain list, the same routes.
    d.stop()
    n = len(api.requests())
    d = api.daemon(["-v", "--compression=false"], LOCAL)
    tap.ok(converged(d, N), "--compression=false: the daemon converges",
           d.log()[-3000:])
    tap.ok(len(routes(api)) == N - 1,
           "--compression=false: every route is installed",
           len(routes(api)))
    ls, ws = lists(api, n), watches(api, n)
    tap.ok(ls and ws and all(r["accept_encoding"] is None for r in ls + ws),
           "--compression=false: no Accept-Encoding on lists and watches",
           [r["accept_encoding"] for r in ls + ws])
    tap.ok(ls and ls[0]["content_encoding"] is None and
           ls[0]["sent"] == ls[0]["length"],
           "--compression=false: the list comes uncompressed", ls[:1])

# A server with the APIResponseCompression gate off: asked, not sent.
with knlib.ApiServer(extra=["--feature-gates",
                             "APIResponseCompression=false"]) as api:
    api.control("POST", "/generate", {"count": 100, "target_bytes": 3000})
    d = api.daemon(["-v"], LOCAL)
    tap.ok(converged(d, 100), "gate off: the daemon converges",
           d.log()[-3000:])
    ls = lists(api)
    tap.ok(ls and ls[0]["accept_encoding"] == "gzip" and
           ls[0]["content_encoding"] is None and
           ls[0]["length"] > 128 * 1024,
           "gate off: a list over 128 KiB asked for gzip, sent plain",
           ls[:1])


# --compression changes on reload, from the next request.
with knlib.ApiServer() as api:
    conf = os.path.join(api.dir, "config.yaml")
    for i in range(3):
        api.control("POST", "/nodes", nodegen.make_node(i, target_bytes=3000))
    with open(conf, "w") as f:
        f.write("compression: false\n")
    d = api.daemon(["-v", "-f", conf], LOCAL)
    tap.ok(converged(d, 3), "reload: the daemon converges", d.log())
    n, mark = len(api.requests()), d.mark()
    with open(conf, "w") as f:
        f.write("compression: true\n")
    d.signal(signal.SIGHUP)
    i, m = d.wait_for(r"^parent: configuration reloaded from ", start=mark)
    tap.ok(m is not None, "reload: SIGHUP reloads", d.log(mark))
    api.control("POST", "/faults", [{"match": "watch", "action":
                                     "error_event", "code": 410}])
    i, m = d.wait_for(r"^watcher: listed 3 nodes", start=mark, timeout=60)
    ls = lists(api)
    tap.ok(m is not None and ls[0]["accept_encoding"] is None and
           lists(api, n) and lists(api, n)[0]["accept_encoding"] == "gzip",
           "reload: compression: true asks for gzip from the next list",
           [r["accept_encoding"] for r in ls])


def hostile(what, action, persistent):
    """A list answered with a body that does not inflate: logged with
    libcurl's reason, counted as an API error with no code, listed
    again after a backoff, nothing of it used; once the server mends,
    the list converges."""
    with knlib.ApiServer() as api:
        for i in range(3):
            api.control("POST", "/nodes", nodegen.make_node(
                i, target_bytes=3000))
        api.control("POST", "/faults", [{"match": "list", "action": action,
                                         "persistent": persistent}])
        d = api.daemon(["-v", "--metrics-address",
                        "127.0.0.1:%d" % METRICS_PORT], LOCAL)
        i, m = d.wait_for(UNENCODING, timeout=60)
        tap.ok(m is not None, "%s: a clear log line" % what, d.log())
        if m:
            print("# %s: %s" % (what, m.group(0)))
        if persistent:
            j, m = d.wait_for(UNENCODING, start=i + 1, timeout=60)
            tap.ok(m is not None, "%s: listed again, refused again" % what,
                   d.log())
            ls = lists(api)
            tap.ok(len(ls) >= 2 and ls[1]["time"] - ls[0]["time"] >= 0.2 and
                   not ls[1]["query"].get("continue"),
                   "%s: a new list from the start, after a backoff" % what,
                   [(r["time"], r["fault"]) for r in ls[:2]])
            tap.ok(knlib.wait_until(lambda: knlib.metric(
                api.own_ns.name, METRICS_PORT,
                'api_errors_total{code="none"}') >= 2, 20),
                '%s: counted in api_errors_total{code="none"}' % what)
            tap.ok(routes(api) == [] and
                   not re.search(r"^watcher: (listed|snapshot)", d.log(),
                                 re.M),
                   "%s: nothing of it is used" % what, routes(api))
            api.control("DELETE", "/faults")
        tap.ok(converged(d, 3), "%s: then the list converges" % what,
               d.log()[-3000:])
        tap.ok(knlib.wait_until(lambda: len(routes(api)) == 2, 30),
               "%s: with every route" % what, routes(api))


hostile("corrupt gzip", "gzip_corrupt", True)
hostile("gzip claimed on a plain body", "gzip_false", False)


def small_quarantine():
    """As test_watcher.py: a sanitizer's allocator holds up to 256 MiB
    of what was freed; a small quarantine leaves what the watcher
    really holds."""
    env = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (env + ":" if env else "") + \
        "quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
    return env


# A gzip bomb: a few hundred KB that inflate to 300 MB of valid JSON,
# a string in an unknown key of the first Node.  The parser streams,
# so the watcher's memory stays where it was; the string is skipped
# as any huge one is, and the list completes within its bounds.
BOMB = 300000000
asan = os.environ.get("ASAN_OPTIONS", "")
with knlib.ApiServer() as api:
    try:
        for i in range(3):
            api.control("POST", "/nodes", nodegen.make_node(
                i, target_bytes=3000))
        small_quarantine()
        d = api.daemon(["-v"], LOCAL)
        os.environ["ASAN_OPTIONS"] = asan
        tap.ok(converged(d, 3), "gzip bomb: the daemon converges first",
               d.log())
        hwm, anon = watcher_status(d, "VmHWM"), watcher_status(d, "RssAnon")
        n, mark = len(api.requests()), d.mark()
        # The next list is the bomb; an ERROR 410 on the watch makes one.
        api.control("POST", "/faults", [
            {"match": "list", "action": "gzip_bomb", "bytes": BOMB},
            {"match": "watch", "action": "error_event", "code": 410}])
        i, m = d.wait_for(r"^watcher: node %s: 1 string longer than 2097152 "
                          r"bytes skipped$" % re.escape(nodegen.node_name(0)),
                          start=mark, timeout=300)
        tap.ok(m is not None, "gzip bomb: the string is skipped, and logged",
               d.log(mark)[-3000:])
        i, m = d.wait_for(r"^watcher: listed 3 nodes", start=mark, timeout=60)
        tap.ok(m is not None, "gzip bomb: the list completes", d.log(mark))
        bombs = [r for r in api.requests()[n:] if r["fault"] == "gzip_bomb"]
        tap.ok(bombs and bombs[0]["sent"] is not None and
               bombs[0]["sent"] < 2 * 1024 * 1024 and
               bombs[0]["length"] > BOMB,
               "gzip bomb: under 2 MB sent for over 300 MB inflated",
               [(r["sent"], r["length"]) for r in bombs])
        hwm2, anon2 = watcher_status(d, "VmHWM"), watcher_status(d, "RssAnon")
        print("# gzip bomb: watcher VmHWM %d KiB before, %d after; RssAnon %d "
              "KiB before, %d after" % (hwm, hwm2, anon, anon2))
        tap.ok(hwm2 - hwm < 64 * 1024 and anon2 < 128 * 1024,
               "gzip bomb: the watcher's peak grew by under 64 MiB of 300, "
               "its anonymous memory under 128 MiB", (hwm, hwm2, anon, anon2))
        tap.ok(len(routes(api)) == 2, "gzip bomb: the routes stay",
               routes(api))
    finally:
        os.environ["ASAN_OPTIONS"] = asan
tap.done()
