"""Realistic Kubernetes Node objects for the test API server.

The watcher is built for 5,000 Nodes of 10-30 KB each, most of which
is data it must skip (images, managedFields, nodeInfo), so the tests
need objects shaped like the ones a kops cluster on AWS really serves,
not a minimal {"metadata", "spec"}: the same field order as the Go
serialiser, the same nesting, the same kinds of strings, and the bulk
in the same places.  Everything is derived from the node's index (and a
seed), so a test run is reproducible and a test can predict a node's
name, addresses and pod CIDRs without asking the server.

The dicts carry no "kind"/"apiVersion": list items are served without
them, and the server adds them where the real one does (single GETs
and watch events).  Python 3 standard library only.
"""

import copy
import datetime
import hashlib
import ipaddress
import json
import random
import uuid

CLUSTER_CIDR = "100.96.0.0/12"     # the agent's default pod range
POD_CIDR_MASK = 24
CLUSTER_CIDR6 = "fd00:100::/48"    # one /64 per node in dual-stack mode
NODE_NET = "172.20.0.0/16"         # kops' default VPC: node InternalIPs
NODE_NET6 = "fd00:200::/64"        # IPv6 InternalIPs in dual-stack mode
EXTERNAL_NET = "198.18.0.0/15"     # RFC 2544 benchmarking range: never routed
KUBELET_VERSION = "v1.32.4"
# The four conditions the kubelet owns and refreshes on every status
# report.  NetworkUnavailable belongs to whoever programs the routes
# (the route controller, or this agent), so a heartbeat leaves it alone.
KUBELET_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory",
     "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure",
     "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID",
     "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
# Repositories a busy node has pulled from; each image gets a digest
# name and a tag name, as the kubelet reports them.
IMAGE_REPOS = (
    "registry.k8s.io/kube-proxy", "registry.k8s.io/pause",
    "registry.k8s.io/coredns/coredns",
    "registry.k8s.io/metrics-server/metrics-server",
    "registry.k8s.io/sig-storage/csi-node-driver-registrar",
    "registry.k8s.io/sig-storage/livenessprobe",
    "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver",
    "quay.io/prometheus/node-exporter", "quay.io/prometheus/prometheus",
    "quay.io/jetstack/cert-manager-controller",
    "ghcr.io/fluxcd/source-controller",
    "docker.io/library/nginx", "docker.io/library/redis",
    "docker.io/library/postgres", "docker.io/library/python",
    "docker.io/grafana/grafana", "docker.io/bitnami/kafka",
)
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")
INSTANCE_TYPES = (("m5.large", 2, 7910), ("m5.xlarge", 4, 15842),
                  ("c5.2xlarge", 8, 15500), ("r5.xlarge", 4, 31690))


def rfc3339(t):
    """The API's timestamp form: UTC, whole seconds, a trailing Z."""
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def dumps(obj):
    """Compact JSON bytes as the API server writes them (UTF-8, no
    spaces).  Stored nodes, list bodies and events all use this."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def pod_cidr(index, cluster_cidr=CLUSTER_CIDR, mask=POD_CIDR_MASK):
    """The index-th /mask of the cluster range, as the node IPAM
    controller hands them out.  An index past the end of the range is
    a test bug, not a node without a CIDR, so it raises."""
    net = ipaddress.ip_network(cluster_cidr)
    if mask < net.prefixlen or mask > net.max_prefixlen:
        raise ValueError("pod CIDR mask /%d does not fit %s" % (mask, net))
    count = 1 << (mask - net.prefixlen)
    if not 0 <= index < count:
        raise ValueError("node index %d: %s holds only %d /%d pod CIDRs; "
                         "pass a wider cluster_cidr or a longer pod_cidr_mask"
                         % (index, net, count, mask))
    size = 1 << (net.max_prefixlen - mask)
    return "%s/%d" % (net.network_address + index * size, mask)


def pod_cidr6(index):
    return pod_cidr(index, CLUSTER_CIDR6, 64)


def internal_ip(index):
    """Node addresses start at .10 of the node network, like a VPC
    subnet whose first addresses are reserved."""
    net = ipaddress.ip_network(NODE_NET)
    if index + 10 >= net.num_addresses - 1:
        raise ValueError("node index %d does not fit %s" % (index, net))
    return str(net.network_address + 10 + index)


def internal_ip6(index):
    return str(ipaddress.ip_network(NODE_NET6).network_address + 10 + index)


def external_ip(index):
    return str(ipaddress.ip_network(EXTERNAL_NET).network_address + 1 + index)


def node_name(index):
    """AWS-style private DNS name, which kops uses as the node name."""
    return "ip-%s.ec2.internal" % internal_ip(index).replace(".", "-")


def _fields(*paths):
    """A fieldsV1 set from dotted paths, each leaf an empty object, as
    server-side field management stores them ("f:" for fields, "k:" for
    list items by merge key, "v:" for primitive list items, "." for the
    item itself)."""
    root = {}
    for path in paths:
        d = root
        for part in path.split("|"):
            d = d.setdefault(part, {})
    return root


def _condition(ctype, status, reason, message, heartbeat, transition):
    return {"type": ctype, "status": status,
            "lastHeartbeatTime": rfc3339(heartbeat),
            "lastTransitionTime": rfc3339(transition),
            "reason": reason, "message": message}


def _image(rng, serial):
    """One entry of status.images: a digest name, a tag name and a
    size, drawn from the seeded generator."""
    if serial < len(IMAGE_REPOS):
        repo = IMAGE_REPOS[serial]
    else:
        repo = "registry.example.internal/team-%02d/service-%03d" % (
            rng.randrange(40), serial)
    tag = "v%d.%d.%d" % (rng.randrange(1, 4), rng.randrange(30),
                         rng.randrange(20))
    digest = "%064x" % rng.getrandbits(256)
    return {"names": ["%s@sha256:%s" % (repo, digest), "%s:%s" % (repo, tag)],
            "sizeBytes": rng.randrange(300_000, 900_000_000)}


def make_node(index, target_bytes=12000, dual_stack=False, internal_ips=None,
              name=None, external=True, cluster_cidr=CLUSTER_CIDR,
              pod_cidr_mask=POD_CIDR_MASK, network_unavailable=None,
              control_plane=False, now=None, seed=0):
    """A Node as a dict whose compact JSON is at least target_bytes.

    index chooses the pod CIDR (index-th /pod_cidr_mask of
    cluster_cidr), the InternalIP (172.20.0.10 + index), the ExternalIP
    and the name.  internal_ips replaces the InternalIP list (several
    are allowed, as on multi-homed nodes); dual_stack adds an IPv6 /64
    pod CIDR from fd00:100::/48 and an IPv6 InternalIP.
    network_unavailable None leaves the NetworkUnavailable condition
    out (a fresh node), True/False adds it as the route controller
    would.  The bulk comes from status.images, added until the target
    size is reached, as a node that has pulled many images has.
    resourceVersion is left for the server to set.
    """
    rng = random.Random("%d:%d" % (seed, index))
    now = now or utcnow()
    created = now - datetime.timedelta(minutes=30 + index % 10000)
    booted = created - datetime.timedelta(seconds=40)
    name = name or node_name(index)
    zone = AZS[index % len(AZS)]
    itype, cpus, mem_mi = INSTANCE_TYPES[index % len(INSTANCE_TYPES)]
    instance_id = "i-%017x" % rng.getrandbits(68)

    def uid(what):
        digest = hashlib.sha256(("%d:%d:%s" % (seed, index, what)).encode())
        return str(uuid.UUID(bytes=digest.digest()[:16], version=4))

    v4 = pod_cidr(index, cluster_cidr, pod_cidr_mask)
    cidrs = [v4, pod_cidr6(index)] if dual_stack else [v4]
    ips = list(internal_ips) if internal_ips else [internal_ip(index)]
    if dual_stack and not internal_ips:
        ips.append(internal_ip6(index))
    addresses = [{"type": "InternalIP", "address": a} for a in ips]
    if external:
        addresses.append({"type": "ExternalIP", "address": external_ip(index)})
    addresses += [{"type": "InternalDNS", "address": name},
                  {"type": "Hostname", "address": name}]

    role = "control-plane" if control_plane else "node"
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": itype,
        "beta.kubernetes.io/os": "linux",
        "failure-domain.beta.kubernetes.io/region": "us-east-1",
        "failure-domain.beta.kubernetes.io/zone": zone,
        "kops.k8s.io/instancegroup": "%s-%s" % (role, zone),
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node-role.kubernetes.io/" + role: "",
        "node.kubernetes.io/instance-type": itype,
        "topology.ebs.csi.aws.com/zone": zone,
        "topology.kubernetes.io/region": "us-east-1",
        "topology.kubernetes.io/zone": zone,
    }
    annotations = {
        "alpha.kubernetes.io/provided-node-ip": ips[0],
        "csi.volume.kubernetes.io/nodeid":
            dumps({"ebs.csi.aws.com": instance_id}).decode(),
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    conditions = []
    if network_unavailable is not None:
        conditions.append(_condition(
            "NetworkUnavailable", "True" if network_unavailable else "False",
            "NoRouteCreated" if network_unavailable else "RouteCreated",
            "Node created without a route" if network_unavailable
            else "RouteController created a route", created, created))
    for ctype, status, reason, message in KUBELET_CONDITIONS:
        conditions.append(_condition(ctype, status, reason, message, now,
                                     booted))

    def update(manager, when, fields, subresource=None):
        entry = {"manager": manager, "operation": "Update",
                 "apiVersion": "v1", "time": rfc3339(when),
                 "fieldsType": "FieldsV1", "fieldsV1": _fields(*fields)}
        if subresource:
            entry["subresource"] = subresource
        return entry

    cond_fields = ("lastHeartbeatTime", "lastTransitionTime", "message",
                   "reason", "status")
    managed = [
        update("kubelet", created,
               ["f:metadata|f:annotations|.", "f:metadata|f:labels|.",
                "f:spec|f:providerID"] +
               ["f:metadata|f:annotations|f:" + k for k in annotations] +
               ["f:metadata|f:labels|f:" + k for k in labels]),
        update("kube-controller-manager", created,
               ["f:spec|f:podCIDR", "f:spec|f:podCIDRs|."] +
               ['f:spec|f:podCIDRs|v:"%s"' % c for c in cidrs]),
        update("kubelet", now,
               ['f:status|f:conditions|k:{"type":"%s"}|f:%s' % (c[0], f)
                for c in KUBELET_CONDITIONS for f in cond_fields] +
               ["f:status|f:images", "f:status|f:nodeInfo|f:bootID",
                "f:status|f:nodeInfo|f:kernelVersion",
                "f:status|f:nodeInfo|f:kubeletVersion"], "status"),
    ]
    if network_unavailable is not None:
        key = 'f:status|f:conditions|k:{"type":"NetworkUnavailable"}|'
        managed.append(update(
            "kube-controller-manager", created,
            [key + "."] + [key + "f:" + f for f in cond_fields + ("type",)],
            "status"))

    spec = {"podCIDR": v4, "podCIDRs": cidrs,
            "providerID": "aws:///%s/%s" % (zone, instance_id)}
    if control_plane:
        spec["taints"] = [{"key": "node-role.kubernetes.io/control-plane",
                           "effect": "NoSchedule"}]
    resources = {"cpu": str(cpus), "ephemeral-storage": "125753328Ki",
                 "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                 "memory": "%dKi" % (mem_mi * 1024), "pods": "110"}
    allocatable = dict(resources, **{
        "ephemeral-storage": "115894266893",
        "memory": "%dKi" % (mem_mi * 1024 - 102400)})
    node = {
        "metadata": {
            "name": name, "uid": uid("uid"),
            "creationTimestamp": rfc3339(created),
            "labels": labels, "annotations": annotations,
            "managedFields": managed,
        },
        "spec": spec,
        "status": {
            "capacity": resources, "allocatable": allocatable,
            "conditions": conditions, "addresses": addresses,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": uid("machine").replace("-", ""),
                "systemUUID": "ec2" + uid("system")[3:],
                "bootID": uid("boot"),
                "kernelVersion": "6.1.0-31-cloud-amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": "linux", "architecture": "amd64",
            },
            "images": [],
            "runtimeHandlers": [
                {"name": "runc", "features": {"recursiveReadOnlyMounts": True,
                                              "userNamespaces": True}},
                {"name": "", "features": {"recursiveReadOnlyMounts": True,
                                          "userNamespaces": True}}],
        },
    }
    # Grow status.images to the target size, counting bytes exactly
    # (one comma between entries) instead of re-serialising each time:
    # image names are plain ASCII, so an entry's JSON is its strings
    # plus fixed punctuation.
    size = len(dumps(node))
    images = node["status"]["images"]
    while size < target_bytes:
        img = _image(rng, len(images))
        size += (len('{"names":["",""],"sizeBytes":}') + sum(
            map(len, img["names"])) + len(str(img["sizeBytes"])) +
            (1 if images else 0))
        images.append(img)
    images.sort(key=lambda i: -i["sizeBytes"])   # the kubelet's order
    return node


def heartbeat(node, now=None):
    """A kubelet status report that changes nothing but time: the
    kubelet conditions' lastHeartbeatTime and its status managedFields
    entry.  No routing field (addresses, pod CIDRs) and no
    NetworkUnavailable moves.  The new time is at least a second past
    the old one, so two heartbeats in the same second still differ and
    each one is a real modification.  Returns a new dict."""
    node = copy.deepcopy(node)
    kubelet = {c[0] for c in KUBELET_CONDITIONS}
    conds = [c for c in node.get("status", {}).get("conditions", [])
             if c.get("type") in kubelet]
    t = now or utcnow()
    for c in conds:
        if "lastHeartbeatTime" in c:
            last = parse_rfc3339(c["lastHeartbeatTime"])
            t = max(t, last + datetime.timedelta(seconds=1))
    for c in conds:
        c["lastHeartbeatTime"] = rfc3339(t)
    for entry in node.get("metadata", {}).get("managedFields", []):
        if entry.get("manager") == "kubelet" and \
                entry.get("subresource") == "status":
            entry["time"] = rfc3339(t)
    return node
