#!/usr/bin/env python3
"""The first list, against the test API server holding N realistic
nodes of 12 KB (5,000 by default; others as arguments): how long curl
takes to fetch the list the daemon asks for, and when the daemon's
first and last routes are in the kernel (when the bench read the
executor's lines saying it reconciled them: coarse for a list of a
few hundred nodes), both from the moment the server received the list
request; then the bytes and
the server's CPU of that list (resourceVersion=0, from the watch
cache) against a streaming list (a watch with sendInitialEvents=true),
and what gzip -1 makes of each body (kube-apiserver gzips a list over
128 KiB for a client that asks, never a watch stream).  Prints numbers
and ratios, never a verdict.  Needs root.

	KN_BUILDDIR=... KN_SRCDIR=... bench/bench_list.py [N ...]
"""

import gzip
import os
import re
import subprocess
import sys
import tempfile

SRCDIR = os.environ.get("KN_SRCDIR",
                        os.path.dirname(os.path.dirname(
                            os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
import knlib  # noqa: E402

NODE_BYTES = 12000
LIST = "/api/v1/nodes?resourceVersion=0&limit=500"
WATCH_LIST = ("/api/v1/nodes?watch=1&sendInitialEvents=true"
              "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
              "&timeoutSeconds=1")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def fetch(api, path, out):
    """curl in the server's namespace: (bytes, seconds to the last
    byte, server CPU seconds, gzip -1 size of the body)."""
    c0 = cpu_seconds(api.proc.pid)
    r = subprocess.run(["ip", "netns", "exec", api.netns, "curl", "-s",
                        "--cacert", api.pki.ca, "-H",
                        "Authorization: Bearer token-one", "-o", out,
                        "-w", "%{size_download} %{time_total}",
                        api.url + path], capture_output=True, text=True,
                       check=True)
    c1 = cpu_seconds(api.proc.pid)
    size, total = r.stdout.split()
    with open(out, "rb") as f:
        packed = len(gzip.compress(f.read(), 1))
    return int(size), float(total), c1 - c0, packed


def route_times(d):
    """When the executor had reconciled its first generation that wrote
    to the kernel, and the last one up to the first snapshot's: the
    first and the last route in."""
    first = last = None
    snap = False
    with d.cond:
        for line, t in zip(d.lines, d.times):
            snap = snap or re.match(r"^executor: generation \d+: \d+ "
                                    r"intents accepted", line) is not None
            if re.match(r"^executor: generation \d+: kernel reconciled "
                        r"with [1-9]", line):
                first = first or t
                last = t
            if snap and "kernel reconciled" in line:
                break
    return first, last


def run(n, tmp):
    api = knlib.ApiServer(bookmark_interval=600)
    d = None
    try:
        local = api.control("POST", "/generate", {
            "count": n, "target_bytes": NODE_BYTES,
            "pod_cidr_mask": 25})["names"][0]
        out = os.path.join(tmp, "body")
        size, curl_s, curl_cpu, curl_gz = fetch(api, LIST, out)
        wsize, _, wcpu, wgz = fetch(api, WATCH_LIST, out)
        seq = len(api.requests())
        d = api.daemon(["-v", "--provider", "vxlan"], local)
        i, m = d.wait_for(r"^watcher: generation \d+ committed",
                          timeout=600)
        if m is None:
            print(d.log())
            return None
        first, last = route_times(d)
        start = [r["time"] for r in api.requests()[seq:]
                 if r["kind"] == "list"][0]
        return {"n": n, "bytes": size, "curl": curl_s, "cpu": curl_cpu,
                "gz": curl_gz, "wbytes": wsize, "wcpu": wcpu, "wgz": wgz,
                "first": first - start if first else None,
                "last": last - start if last else None}
    finally:
        if d is not None:
            d.stop()
        api.close()


def main():
    if os.geteuid() != 0:
        print("bench_list: skipped: needs root (network namespaces)")
        return 0
    sizes = [int(a) for a in sys.argv[1:]] or [5000]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            r = run(n, tmp)
            if r is None:
                return 1
            rows.append(r)
    print("bench_list: nodes of %d bytes; times from the server's receipt "
          "of the list request" % NODE_BYTES)
    print("%-7s %9s %9s %9s %9s %9s" % ("nodes", "curl s", "1st rt s",
                                        "last rt s", "1st/curl",
                                        "last/curl"))
    for r in rows:
        ok = r["first"] is not None and r["last"] is not None
        print("%-7d %9.3f %9s %9s %9s %9s" % (
            r["n"], r["curl"],
            "%.3f" % r["first"] if ok else "-",
            "%.3f" % r["last"] if ok else "-",
            "%.2fx" % (r["first"] / r["curl"]) if ok else "-",
            "%.2fx" % (r["last"] / r["curl"]) if ok else "-"))
    print("%-7s %-11s %11s %9s %11s" % ("nodes", "request", "bytes",
                                        "srv CPU s", "gzip -1"))
    for r in rows:
        print("%-7d %-11s %11d %9.2f %11d" % (r["n"], "list rv=0", r["bytes"],
                                              r["cpu"], r["gz"]))
        print("%-7d %-11s %11d %9.2f %11d" % (r["n"], "watch-list",
                                              r["wbytes"], r["wcpu"],
                                              r["wgz"]))
        print("%-7d %-11s %10.4fx %8.2fx %10s" % (
            r["n"], "watch/list", r["wbytes"] / r["bytes"],
            r["wcpu"] / max(r["cpu"], 0.01),
            "%.1fx" % (r["wbytes"] / r["gz"])))
    print("(kube-apiserver sends the list gzipped to a client that asks; "
          "the watch-list never: its bytes against the gzipped list are "
          "the last column)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
