#!/usr/bin/env python3
"""The watcher's memory with 5,000 realistic nodes of 12 KB (images,
managedFields, conditions): its peak and final resident set, anonymous
and file-backed, the shared libraries the file-backed pages belong to,
and the floor: a program that only links Debian's libcurl and makes one
HTTPS request to the same server (bench/curl_floor).  Prints numbers
and ratios, never a verdict.  Needs root.

	KN_BUILDDIR=... KN_SRCDIR=... bench/bench_watcher.py
"""

import collections
import os
import re
import subprocess
import sys

SRCDIR = os.environ.get("KN_SRCDIR",
                        os.path.dirname(os.path.dirname(
                            os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
import knlib  # noqa: E402
sys.path.insert(0, os.path.join(SRCDIR, "tests", "apiserver"))
import nodegen  # noqa: E402

NODES = 5000
NODE_BYTES = 12000


def status(text):
    """{field: KiB} of VmHWM, VmRSS, RssAnon, RssFile."""
    return {k: int(v) for k, v in re.findall(
        r"(?m)^(VmHWM|VmRSS|RssAnon|RssFile):\s+(\d+) kB", text)}


def by_library(pid):
    """KiB resident per mapped file, largest first."""
    rss = collections.Counter()
    name = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split()
                name = parts[5] if len(parts) > 5 else None
            elif line.startswith("Rss:") and name and name.startswith("/"):
                rss[os.path.basename(name)] += int(line.split()[1])
    return rss.most_common()


def main():
    if os.geteuid() != 0:
        print("bench_watcher: skipped: needs root (network namespaces)")
        return 0
    floor_bin = os.path.join(knlib.BUILDDIR, "bench", "curl_floor")
    api = knlib.ApiServer()
    d = None
    try:
        api.control("POST", "/generate", {"count": NODES,
                                          "target_bytes": NODE_BYTES,
                                          "pod_cidr_mask": 25})
        d = api.daemon([], nodegen.node_name(0))
        i, m = d.wait_for(r"^watcher: snapshot \d+: %d nodes" % NODES,
                          timeout=300)
        if m is None:
            print(d.log())
            return 1
        w = knlib.children_of(d.pid())["watcher"]
        with open("/proc/%d/status" % w) as f:
            mine = status(f.read())
        libs = by_library(w)
        with open(api.daemon_token) as f:
            token = f.read().strip()
        r = subprocess.run(["ip", "netns", "exec", api.netns, floor_bin,
                            api.url + "/api/v1/nodes?resourceVersion=0&"
                            "limit=500", api.pki.ca,
                            token], capture_output=True, text=True)
        floor = status(r.stdout)
    finally:
        if d is not None:
            d.stop()
        api.close()
    print("bench_watcher: %d nodes of %d bytes, listed from the watch "
          "cache in one response" % (NODES, NODE_BYTES))
    print("%-34s %8s %8s %8s" % ("KiB", "peak", "anon", "file"))
    print("%-34s %8d %8d %8d" % ("watcher after the snapshot",
                                  mine["VmHWM"], mine["RssAnon"],
                                  mine["RssFile"]))
    if floor:
        print("%-34s %8d %8d %8d" % ("floor: libcurl, the same list",
                                      floor["VmHWM"], floor["RssAnon"],
                                      floor["RssFile"]))
        print("%-34s %7.2fx %7.2fx %7.2fx" % (
            "watcher / floor", mine["VmHWM"] / floor["VmHWM"],
            mine["RssAnon"] / max(floor["RssAnon"], 1),
            mine["RssFile"] / max(floor["RssFile"], 1)))
    else:
        print("floor: curl_floor failed: %s" % r.stderr.strip())
    print("watcher's file-backed pages by file (KiB):")
    print("  " + ", ".join("%s %d" % (n, k) for n, k in libs[:10]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
