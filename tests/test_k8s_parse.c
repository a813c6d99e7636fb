/*
 * Unit tests of the streaming Node parser: realistic NodeList pages,
 * watch streams and Status bodies, fed whole, a byte at a time and
 * split at every point; every field kept; every refusal with its path
 * and byte offset; truncation; and memory that does not grow with the
 * size of a Node.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/config.h"
#include "../src/k8s_parse.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* --- a growing text buffer for documents and results --- */

struct buf {
	char	*s;
	size_t	 len, cap;
};

static void
bgrow(struct buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	b->cap = (b->len + more + 1) * 2;
	if ((b->s = realloc(b->s, b->cap)) == NULL)
		bail_out("out of memory");
}

static void __attribute__((__format__(printf, 2, 3)))
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		bail_out("vsnprintf");
	bgrow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void
bfill(struct buf *b, int c, size_t n)
{
	bgrow(b, n);
	memset(b->s + b->len, c, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
bfree(struct buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

static const char *
bstr(const struct buf *b)
{
	return b->s != NULL ? b->s : "";
}

/* --- realistic documents --- */

#define MACHINE_ID	"ec2a5d2b3c4f4e6a8b9c0d1e2f3a4b5c"
#define SYSTEM_UUID	"ec2a5d2b-3c4f-4e6a-8b9c-0d1e2f3a4b5c"
#define BOOT_ID		"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

struct nodeopt {
	const char	*name;
	const char	*rv;
	const char	*podcidr;	/* NULL: 100.96.3.0/24 */
	size_t		 pad;		/* grow images to about this size */
	size_t		 bigstr;	/* one skipped string of this size */
};

/*
 * A Node as the API server writes it (compact), with what makes real
 * ones big: managedFields, labels, annotations, images.  Three
 * conditions, NetworkUnavailable with its type after its status;
 * InternalIPs of both families out of order, an ExternalIP of each,
 * Hostname and InternalDNS.
 */
static void
node_json(struct buf *b, const struct nodeopt *o)
{
	const char	*cidr = o->podcidr != NULL ? o->podcidr :
	    "100.96.3.0/24";
	size_t		 start = b->len;
	unsigned	 i;

	bprintf(b, "{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{"
	    "\"name\":\"%s\",\"uid\":\"6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f\","
	    "\"resourceVersion\":\"%s\","
	    "\"creationTimestamp\":\"2024-05-01T10:00:00Z\",\"labels\":{"
	    "\"beta.kubernetes.io/arch\":\"amd64\","
	    "\"kubernetes.io/hostname\":\"%s\","
	    "\"node-role.kubernetes.io/worker\":\"\","
	    "\"topology.kubernetes.io/zone\":\"eu-west-1a\"},"
	    "\"annotations\":{\"node.alpha.kubernetes.io/ttl\":\"0\","
	    "\"volumes.kubernetes.io/controller-managed-attach-detach\":"
	    "\"true\",\"kubectl.kubernetes.io/last-applied-configuration\":"
	    "\"{\\\"apiVersion\\\":\\\"v1\\\",\\\"kind\\\":\\\"Node\\\","
	    "\\\"metadata\\\":{\\\"name\\\":\\\"%s\\\"}}\\n\"",
	    o->name, o->rv, o->name, o->name);
	if (o->bigstr > 0) {
		bprintf(b, ",\"example.com/blob\":\"");
		bfill(b, 'x', o->bigstr);
		bprintf(b, "\",\"example.com/blob2\":\"");
		bfill(b, 'y', o->bigstr);
		bprintf(b, "\"");
	}
	bprintf(b, "},\"managedFields\":[{\"manager\":\"kubelet\","
	    "\"operation\":\"Update\",\"apiVersion\":\"v1\","
	    "\"time\":\"2024-05-01T10:00:00Z\",\"fieldsType\":\"FieldsV1\","
	    "\"fieldsV1\":{\"f:metadata\":{\"f:annotations\":{\".\":{},"
	    "\"f:node.alpha.kubernetes.io/ttl\":{}},\"f:labels\":{\".\":{},"
	    "\"f:kubernetes.io/hostname\":{}}},\"f:status\":{"
	    "\"f:conditions\":{\"k:{\\\"type\\\":\\\"Ready\\\"}\":{\".\":{},"
	    "\"f:lastHeartbeatTime\":{},\"f:status\":{}}}}},"
	    "\"subresource\":\"status\"}]},"
	    "\"spec\":{\"podCIDR\":\"%s\",\"podCIDRs\":[\"%s\","
	    "\"fd00:10:96:3::/64\"],\"providerID\":"
	    "\"aws:///eu-west-1a/i-0123456789abcdef0\",\"unschedulable\":false,"
	    "\"taints\":[{\"key\":\"node.kubernetes.io/unschedulable\","
	    "\"effect\":\"NoSchedule\",\"timeAdded\":null}]},", cidr, cidr);
	bprintf(b, "\"status\":{\"capacity\":{\"cpu\":\"4\","
	    "\"memory\":\"16Gi\",\"pods\":\"110\"},\"allocatable\":{"
	    "\"cpu\":\"3920m\",\"memory\":\"15Gi\",\"pods\":\"110\"},"
	    "\"conditions\":[{\"type\":\"MemoryPressure\",\"status\":\"False\","
	    "\"lastHeartbeatTime\":\"2024-05-01T10:05:00Z\","
	    "\"lastTransitionTime\":\"2024-05-01T10:00:00Z\","
	    "\"reason\":\"KubeletHasSufficientMemory\","
	    "\"message\":\"kubelet has sufficient memory available\"},"
	    "{\"status\":\"False\","
	    "\"lastHeartbeatTime\":\"2024-05-01T10:05:00Z\","
	    "\"lastTransitionTime\":\"2024-05-01T10:00:00Z\","
	    "\"reason\":\"RouteCreated\","
	    "\"message\":\"RouteController created a route\","
	    "\"type\":\"NetworkUnavailable\"},"
	    "{\"type\":\"Ready\",\"status\":\"True\","
	    "\"lastHeartbeatTime\":\"2024-05-01T10:05:00Z\","
	    "\"lastTransitionTime\":\"2024-05-01T10:00:30Z\","
	    "\"reason\":\"KubeletReady\","
	    "\"message\":\"kubelet is posting ready status\"}],"
	    "\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.12\"},"
	    "{\"type\":\"InternalIP\",\"address\":\"fd00::12\"},"
	    "{\"type\":\"ExternalIP\",\"address\":\"203.0.113.7\"},"
	    "{\"address\":\"10.0.0.5\",\"type\":\"InternalIP\"},"
	    "{\"type\":\"Hostname\",\"address\":\"%s\"},"
	    "{\"type\":\"InternalDNS\","
	    "\"address\":\"ip-10-0-0-12.eu-west-1.compute.internal\"},"
	    "{\"type\":\"InternalIP\",\"address\":\"fd00::1:0\"},"
	    "{\"type\":\"ExternalIP\",\"address\":\"2001:db8::7\"},"
	    "{\"type\":\"InternalIP\",\"address\":\"10.0.1.1\"},"
	    "{\"type\":\"InternalIP\",\"address\":\"fd00::5\"}],"
	    "\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":10250}},"
	    "\"nodeInfo\":{\"machineID\":\"" MACHINE_ID "\","
	    "\"systemUUID\":\"" SYSTEM_UUID "\",\"bootID\":\"" BOOT_ID "\","
	    "\"kernelVersion\":\"6.1.0-18-cloud-amd64\","
	    "\"osImage\":\"Debian GNU/Linux 12 (bookworm)\","
	    "\"containerRuntimeVersion\":\"containerd://1.7.13\","
	    "\"kubeletVersion\":\"v1.29.2\",\"kubeProxyVersion\":\"v1.29.2\","
	    "\"operatingSystem\":\"linux\",\"architecture\":\"amd64\"},"
	    "\"images\":[", o->name);
	for (i = 0; i == 0 || b->len - start < o->pad; i++)
		bprintf(b, "%s{\"names\":[\"registry.example.com/team/app-%u@"
		    "sha256:%064u\",\"registry.example.com/team/app-%u:v1.%u\"],"
		    "\"sizeBytes\":%u}", i > 0 ? "," : "", i, i, i, i,
		    28362624 + i);
	bprintf(b, "],\"volumesInUse\":null,\"config\":{}}}");
}

static void
list_json(struct buf *b, const struct nodeopt *nodes, size_t n,
    int meta_first, const char *rv, const char *cont)
{
	size_t	 i;

	bprintf(b, "{\"kind\":\"NodeList\",\"apiVersion\":\"v1\",");
	if (meta_first)
		bprintf(b, "\"metadata\":{\"resourceVersion\":\"%s\"%s%s%s},",
		    rv, cont ? ",\"continue\":\"" : "", cont ? cont : "",
		    cont ? "\"" : "");
	bprintf(b, "\"items\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			bprintf(b, ",");
		node_json(b, &nodes[i]);
	}
	bprintf(b, "]");
	if (!meta_first)
		bprintf(b, ",\"metadata\":{%s%s%s\"resourceVersion\":\"%s\"}",
		    cont ? "\"continue\":\"" : "", cont ? cont : "",
		    cont ? "\"," : "", rv);
	bprintf(b, "}\n");
}

/* --- running the parser and recording what it reports --- */

struct res {
	struct buf	 log;		/* every callback, every field */
	struct buf	 sum;		/* event:name:rv, for quick checks */
	int		 rc;		/* 0, or -1 from feed or finish */
	char		 err[512];
	int		 nodes, metas, statuses;
	int		 late;		/* callbacks after an error */
	int		 dead;
	struct k8s_node	 last;
	struct k8s_status st;
	char		 rv[K8S_RV_MAX], cont[K8S_CONT_MAX];
};

static const char *const evnames[] = { "?", "LISTED", "ADDED", "MODIFIED",
    "DELETED", "BOOKMARK" };

static const char *
fmt_prefix(const struct kn_prefix *p, char *buf, size_t len)
{
	if (p->family == 0)
		snprintf(buf, len, "-");
	else
		prefix_format(p, buf, len);
	return buf;
}

static const char *
fmt_addr(int af, const void *a, unsigned n, char *buf, size_t len)
{
	char	 t[INET6_ADDRSTRLEN];

	if (inet_ntop(af, a, t, sizeof(t)) == NULL)
		snprintf(t, sizeof(t), "?");
	snprintf(buf, len, "%s/%u", t, n);
	return buf;
}

static void
on_node(void *arg, enum k8s_event ev, const struct k8s_node *n)
{
	struct res	*r = arg;
	char		 c0[64], c1[64], c2[64], a4[64], a6[80];

	if (r->dead)
		r->late++;
	r->nodes++;
	r->last = *n;
	bprintf(&r->log, "%s name=%s rv=%s podCIDR=%s podCIDRs=%d:%s,%s "
	    "addr4=%s addr6=%s nu=%d ids=%s,%s,%s\n", evnames[ev], n->name,
	    n->rv, fmt_prefix(&n->pod_cidr, c0, sizeof(c0)), n->npod_cidrs,
	    fmt_prefix(&n->pod_cidrs[0], c1, sizeof(c1)),
	    fmt_prefix(&n->pod_cidrs[1], c2, sizeof(c2)),
	    fmt_addr(AF_INET, n->addr4, n->naddr4, a4, sizeof(a4)),
	    fmt_addr(AF_INET6, n->addr6, n->naddr6, a6, sizeof(a6)),
	    n->net_unavailable, n->machine_id, n->system_uuid, n->boot_id);
	bprintf(&r->sum, "%s%s:%s:%s", r->sum.len > 0 ? " " : "",
	    evnames[ev], n->name, n->rv);
}

static void
on_meta(void *arg, const char *rv, const char *cont)
{
	struct res	*r = arg;

	if (r->dead)
		r->late++;
	r->metas++;
	snprintf(r->rv, sizeof(r->rv), "%s", rv);
	snprintf(r->cont, sizeof(r->cont), "%s", cont);
	bprintf(&r->log, "META rv=%s cont=%s\n", rv, cont);
	bprintf(&r->sum, "%sMETA:%s", r->sum.len > 0 ? " " : "", rv);
}

static void
on_status(void *arg, const struct k8s_status *st)
{
	struct res	*r = arg;

	if (r->dead)
		r->late++;
	r->statuses++;
	r->st = *st;
	bprintf(&r->log, "STATUS %d %s %s\n", st->code, st->reason,
	    st->message);
	bprintf(&r->sum, "%sSTATUS:%d:%s", r->sum.len > 0 ? " " : "",
	    st->code, st->reason);
}

static const struct k8s_parse_cb cbs = { on_node, on_meta, on_status };
static const struct k8s_parse_cb cbs_nostatus = { on_node, on_meta, NULL };

static int	 total_runs, total_late;
static size_t	 token_max;	/* for run_cuts; 0: the parser's default */

/* Feed s in pieces ending at each cut (ascending), then the rest. */
static void
run_cuts(struct res *r, enum k8s_doc doc, enum k8s_addr_type at,
    const struct k8s_parse_cb *cb, const char *s, size_t len,
    const size_t *cuts, size_t ncuts, struct k8s_alloc *al)
{
	struct k8s_parser	*p;
	size_t			 from = 0, i, to;

	memset(r, 0, sizeof(*r));
	if ((p = k8s_parser_new_alloc(doc, at, cb, r, al)) == NULL)
		bail_out("k8s_parser_new");
	k8s_parser_token_max(p, token_max);
	for (i = 0; i <= ncuts && r->rc == 0; i++) {
		to = i < ncuts ? cuts[i] : len;
		if (k8s_parser_feed(p, (const unsigned char *)s + from,
		    to - from) == -1)
			r->rc = -1;
		from = to;
	}
	if (r->rc == 0 && k8s_parser_finish(p) == -1)
		r->rc = -1;
	snprintf(r->err, sizeof(r->err), "%s", k8s_parser_error(p));
	if (r->rc == -1) {
		/* Dead stays dead, and says nothing more. */
		r->dead = 1;
		if (k8s_parser_feed(p, (const unsigned char *)s, len) != -1 ||
		    k8s_parser_finish(p) != -1 ||
		    strcmp(k8s_parser_error(p), r->err) != 0)
			r->late++;
	}
	total_runs++;
	total_late += r->late;
	k8s_parser_free(p);
}

static void
run_chunked(struct res *r, enum k8s_doc doc, enum k8s_addr_type at,
    const char *s, size_t len, size_t chunk)
{
	size_t	*cuts, n = 0, i;

	if (chunk == 0 || chunk >= len) {
		run_cuts(r, doc, at, &cbs, s, len, NULL, 0, NULL);
		return;
	}
	if ((cuts = calloc(len / chunk + 1, sizeof(*cuts))) == NULL)
		bail_out("out of memory");
	for (i = chunk; i < len; i += chunk)
		cuts[n++] = i;
	run_cuts(r, doc, at, &cbs, s, len, cuts, n, NULL);
	free(cuts);
}

static void
run_whole(struct res *r, enum k8s_doc doc, const char *s)
{
	run_chunked(r, doc, K8S_ADDR_INTERNAL, s, strlen(s), 0);
}

static void
res_free(struct res *r)
{
	bfree(&r->log);
	bfree(&r->sum);
}

static int
same(const struct res *a, const struct res *b)
{
	return a->rc == b->rc && strcmp(a->err, b->err) == 0 &&
	    strcmp(bstr(&a->log), bstr(&b->log)) == 0;
}

/* Whole, a byte at a time, and in odd and curl-sized chunks. */
static void
check_chunkings(const char *what, enum k8s_doc doc, enum k8s_addr_type at,
    const char *s, size_t len, const struct res *whole)
{
	static const size_t	 sizes[] = { 1, 2, 3, 7, 64, 1000, 16384 };
	struct res		 r;
	size_t			 i;

	for (i = 0; i < NELEM(sizes); i++) {
		run_chunked(&r, doc, at, s, len, sizes[i]);
		if (!ok(same(&r, whole), "%s: %zu-byte chunks give the same "
		    "result as whole", what, sizes[i]))
			diag("got rc %d err '%s' log:\n%s", r.rc, r.err,
			    bstr(&r.log));
		res_free(&r);
	}
}

/* Every way of cutting s in two gives the same result as whole. */
static void
check_splits(const char *what, enum k8s_doc doc, const char *s,
    const struct res *whole)
{
	struct res	 r;
	size_t		 len = strlen(s), k, bad = 0, first = 0;

	for (k = 1; k < len; k++) {
		run_cuts(&r, doc, K8S_ADDR_INTERNAL, &cbs, s, len, &k, 1, NULL);
		if (!same(&r, whole) && bad++ == 0)
			first = k;
		res_free(&r);
	}
	if (!ok(bad == 0, "%s: all %zu split points give the same result",
	    what, len - 1))
		diag("%zu differ, first at %zu", bad, first);
}

/* The offset just past the first occurrence of needle, as text. */
static const char *
at_byte_after(const char *doc, const char *needle, char *buf, size_t len)
{
	const char	*p = strstr(doc, needle);

	if (p == NULL)
		bail_out("test document lacks %s", needle);
	snprintf(buf, len, "(at byte %zu)", (size_t)(p - doc) +
	    strlen(needle));
	return buf;
}

/* --- the tests --- */

static void
test_list_fields(void)
{
	struct nodeopt	 nodes[3] = {
		{ "node-a", "1001", NULL, 0, 0 },
		{ "node-b.example.com", "1002", "100.96.4.0/24", 0, 0 },
		{ "node-c", "1003", "100.96.5.0/24", 4000, 0 },
	};
	struct buf	 doc = { 0 };
	struct res	 r;
	const struct k8s_node *n = &r.last;
	char		 t[64];

	list_json(&doc, nodes, 1, 1, "5000", NULL);
	run_whole(&r, K8S_DOC_LIST, doc.s);
	is_int(r.rc, 0, "list of one node parses (%zu bytes)", doc.len);
	is_str(r.err, "", "no error message");
	is_int(r.nodes, 1, "one node callback");
	is_int(r.metas, 1, "one list_meta callback");
	is_str(n->name, "node-a", "name");
	is_str(n->rv, "1001", "resourceVersion");
	is_str(fmt_prefix(&n->pod_cidr, t, sizeof(t)), "100.96.3.0/24",
	    "spec.podCIDR");
	is_int(n->npod_cidrs, 2, "two spec.podCIDRs");
	is_str(fmt_prefix(&n->pod_cidrs[0], t, sizeof(t)), "100.96.3.0/24",
	    "spec.podCIDRs[0]");
	is_str(fmt_prefix(&n->pod_cidrs[1], t, sizeof(t)),
	    "fd00:10:96:3::/64", "spec.podCIDRs[1]");
	is_int(n->naddr4, 3, "three IPv4 InternalIPs counted");
	is_str(fmt_addr(AF_INET, n->addr4, 0, t, sizeof(t)), "10.0.0.5/0",
	    "the lowest IPv4 InternalIP, compared as bytes not text");
	is_int(n->naddr6, 3, "three IPv6 InternalIPs counted");
	is_str(fmt_addr(AF_INET6, n->addr6, 0, t, sizeof(t)), "fd00::5/0",
	    "the lowest IPv6 InternalIP");
	is_int(n->net_unavailable, 0, "NetworkUnavailable False, type after "
	    "status");
	is_str(n->machine_id, MACHINE_ID, "nodeInfo.machineID");
	is_str(n->system_uuid, SYSTEM_UUID, "nodeInfo.systemUUID");
	is_str(n->boot_id, BOOT_ID, "nodeInfo.bootID");
	is_str(r.rv, "5000", "list resourceVersion");
	is_str(r.cont, "", "no continue token");
	res_free(&r);

	/* The same node in ExternalIP mode. */
	run_chunked(&r, K8S_DOC_LIST, K8S_ADDR_EXTERNAL, doc.s, doc.len, 0);
	is_int(r.rc, 0, "ExternalIP mode: parses");
	is_int(n->naddr4, 1, "ExternalIP mode: one IPv4 ExternalIP");
	is_str(fmt_addr(AF_INET, n->addr4, 0, t, sizeof(t)),
	    "203.0.113.7/0", "ExternalIP mode: the IPv4 ExternalIP");
	is_int(n->naddr6, 1, "ExternalIP mode: one IPv6 ExternalIP");
	is_str(fmt_addr(AF_INET6, n->addr6, 0, t, sizeof(t)),
	    "2001:db8::7/0", "ExternalIP mode: the IPv6 ExternalIP");
	res_free(&r);

	/* Three nodes, metadata first, a continue token. */
	doc.len = 0;
	list_json(&doc, nodes, 3, 1, "6000", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiL"
	    "CJydiI6NjAwMCwic3RhcnQiOiJub2RlLWNcdTAwMDAifQ");
	run_whole(&r, K8S_DOC_LIST, doc.s);
	is_int(r.rc, 0, "list of three, metadata first, parses");
	is_str(bstr(&r.sum), "LISTED:node-a:1001 LISTED:node-b.example.com:1002 "
	    "LISTED:node-c:1003 META:6000", "three nodes in order, then the "
	    "list metadata");
	is_str(r.cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NjAwMCwic3RhcnQiOiJ"
	    "ub2RlLWNcdTAwMDAifQ", "continue token");
	like(bstr(&r.log), "LISTED name=node-b.example.com rv=1002 "
	    "podCIDR=100.96.4.0/24 podCIDRs=2:100.96.4.0/24,fd00:10:96:3::/64 "
	    "addr4=10.0.0.5/3 addr6=fd00::5/3 nu=0 ids=" MACHINE_ID ","
	    SYSTEM_UUID "," BOOT_ID, "the second node's fields");
	check_chunkings("list of three", K8S_DOC_LIST, K8S_ADDR_INTERNAL,
	    doc.s, doc.len, &r);
	res_free(&r);

	/* Metadata after the items: list_meta still comes once, at the end. */
	doc.len = 0;
	list_json(&doc, nodes, 3, 0, "6001", "abc");
	run_whole(&r, K8S_DOC_LIST, doc.s);
	is_int(r.rc, 0, "list with metadata after items parses");
	is_str(bstr(&r.sum), "LISTED:node-a:1001 LISTED:node-b.example.com:1002 "
	    "LISTED:node-c:1003 META:6001", "metadata after items: same "
	    "order of callbacks");
	is_str(r.cont, "abc", "continue token after items");
	check_chunkings("metadata after items", K8S_DOC_LIST,
	    K8S_ADDR_INTERNAL, doc.s, doc.len, &r);
	res_free(&r);
	bfree(&doc);
}

static void
test_splits(void)
{
	static const char	*small_list =
	    "{\"kind\":\"NodeList\",\"apiVersion\":\"v1\",\"items\":[{"
	    "\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"7\","
	    "\"labels\":{\"a\":\"b\"},\"annotations\":{\"x\":\"\\u00e9\\\"\"}},"
	    "\"spec\":{\"podCIDR\":\"100.96.1.0/24\",\"podCIDRs\":["
	    "\"100.96.1.0/24\"]},\"status\":{\"conditions\":[{\"type\":"
	    "\"NetworkUnavailable\",\"status\":\"True\"}],\"addresses\":["
	    "{\"type\":\"InternalIP\",\"address\":\"10.1.2.3\"},{\"type\":"
	    "\"Hostname\",\"address\":\"n1\"}],\"nodeInfo\":{\"bootID\":\"b\","
	    "\"machineID\":\"m\"},\"images\":[{\"names\":[\"i\"],\"sizeBytes\":"
	    "1e3}]}},{\"metadata\":{\"name\":\"n2\"},\"spec\":{},\"status\":{}}],"
	    "\"metadata\":{\"resourceVersion\":\"9\",\"continue\":\"\"}}";
	static const char	*small_watch =
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"n1\","
	    "\"resourceVersion\":\"10\"},\"spec\":{\"podCIDRs\":["
	    "\"fd00:1::/64\",\"100.96.1.0/24\"]},\"status\":{\"addresses\":["
	    "{\"type\":\"InternalIP\",\"address\":\"fd00::1\"}]}}}\n"
	    "{\"object\":{\"metadata\":{\"name\":\"n1\",\"resourceVersion\":"
	    "\"11\"}},\"type\":\"DELETED\"}\r\n"
	    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{"
	    "\"resourceVersion\":\"12\"}}}\n"
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
	    "\"reason\":\"Expired\",\"status\":\"Failure\",\"message\":"
	    "\"too old\"}}\n";
	static const char	*bad_cidr =
	    "{\"items\":[{\"metadata\":{\"name\":\"n1\"},\"spec\":{"
	    "\"podCIDR\":\"100.96.1.1/24\"}}]}";
	static const char	*bad_json =
	    "{\"items\":[{\"metadata\":{\"name\":\"n1\"}},{\"metadata\":"
	    "{\"name\":\"n2\" \"x\"}}]}";
	struct res		 r;

	run_whole(&r, K8S_DOC_LIST, small_list);
	is_str(bstr(&r.log), "LISTED name=n1 rv=7 podCIDR=100.96.1.0/24 "
	    "podCIDRs=1:100.96.1.0/24,- addr4=10.1.2.3/1 addr6=::/0 nu=1 "
	    "ids=m,,b\n"
	    "LISTED name=n2 rv= podCIDR=- podCIDRs=0:-,- addr4=0.0.0.0/0 "
	    "addr6=::/0 nu=-1 ids=,,\n"
	    "META rv=9 cont=\n", "small list: every field");
	check_splits("small list", K8S_DOC_LIST, small_list, &r);
	res_free(&r);

	run_whole(&r, K8S_DOC_WATCH, small_watch);
	is_str(bstr(&r.sum), "ADDED:n1:10 DELETED:n1:11 BOOKMARK::12 "
	    "STATUS:410:Expired", "small watch: every event");
	like(bstr(&r.log), "podCIDRs=2:fd00:1::/64,100.96.1.0/24 "
	    "addr4=0.0.0.0/0 addr6=fd00::1/1", "small watch: dual-stack "
	    "podCIDRs, IPv6 first");
	check_splits("small watch", K8S_DOC_WATCH, small_watch, &r);
	res_free(&r);

	run_whole(&r, K8S_DOC_LIST, bad_cidr);
	like(r.err, "items[0].spec.podCIDR: not a CIDR", "bad CIDR fails");
	check_splits("bad CIDR (error message and offset too)", K8S_DOC_LIST,
	    bad_cidr, &r);
	res_free(&r);

	run_whole(&r, K8S_DOC_LIST, bad_json);
	like(r.err, "invalid JSON at byte", "bad JSON fails");
	is_str(bstr(&r.sum), "LISTED:n1:", "bad JSON: the complete item "
	    "before it was reported");
	check_splits("bad JSON (error message and offset too)", K8S_DOC_LIST,
	    bad_json, &r);
	res_free(&r);
}

static void
test_watch(void)
{
	struct nodeopt	 a = { "node-a", "101", NULL, 3000, 0 };
	struct nodeopt	 a2 = { "node-a", "102", "100.96.9.0/24", 0, 0 };
	struct nodeopt	 b = { "node-b", "103", "100.96.10.0/24", 0, 0 };
	struct nodeopt	 b2 = { "node-b", "104", "100.96.10.0/24", 0, 0 };
	struct buf	 doc = { 0 };
	struct res	 r;
	char		 want[128];

	bprintf(&doc, "{\"type\":\"ADDED\",\"object\":");
	node_json(&doc, &a);
	bprintf(&doc, "}\n{\"type\":\"MODIFIED\",\"object\":");
	node_json(&doc, &a2);
	bprintf(&doc, "}\n{\"object\":");
	node_json(&doc, &b);
	bprintf(&doc, ",\"type\":\"ADDED\"}\n{\"type\":\"DELETED\",\"object\":");
	node_json(&doc, &b2);
	bprintf(&doc, "}\n{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Node\","
	    "\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"105\","
	    "\"creationTimestamp\":null,\"annotations\":{"
	    "\"k8s.io/initial-events-end\":\"true\"}},\"spec\":{},\"status\":{"
	    "\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":0}},"
	    "\"nodeInfo\":{\"machineID\":\"\",\"systemUUID\":\"\","
	    "\"bootID\":\"\",\"kernelVersion\":\"\",\"osImage\":\"\"}}}}\n");
	bprintf(&doc, "{\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	    "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old "
	    "resource version: 1 (5)\",\"reason\":\"Expired\",\"code\":410},"
	    "\"type\":\"ERROR\"}\n");
	bprintf(&doc, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
	    "\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"too old resource version: 1 (5)\","
	    "\"reason\":\"Expired\",\"code\":410}}\n");
	run_whole(&r, K8S_DOC_WATCH, doc.s);
	is_int(r.rc, 0, "watch stream parses");
	is_str(bstr(&r.sum), "ADDED:node-a:101 MODIFIED:node-a:102 "
	    "ADDED:node-b:103 DELETED:node-b:104 BOOKMARK::105 "
	    "STATUS:410:Expired STATUS:410:Expired", "every event type, in "
	    "order, type before or after object");
	is_str(r.st.message, "too old resource version: 1 (5)",
	    "ERROR: the Status message");
	like(bstr(&r.log), "MODIFIED name=node-a rv=102 podCIDR=100.96.9.0/24 "
	    "podCIDRs=2:100.96.9.0/24,fd00:10:96:3::/64 addr4=10.0.0.5/3 "
	    "addr6=fd00::5/3 nu=0", "MODIFIED: the node's fields");
	like(bstr(&r.log), "BOOKMARK name= rv=105 podCIDR=- podCIDRs=0:-,- "
	    "addr4=0.0.0.0/0 addr6=::/0 nu=-1 ids=,,\n", "BOOKMARK: only the "
	    "resourceVersion");
	check_chunkings("watch stream", K8S_DOC_WATCH, K8S_ADDR_INTERNAL,
	    doc.s, doc.len, &r);
	res_free(&r);

	/* Without a status callback, an ERROR event cannot go unnoticed. */
	doc.len = 0;
	bprintf(&doc, "{\"type\":\"ERROR\",\"object\":{\"code\":410,"
	    "\"reason\":\"Expired\",\"message\":\"too old\"}}");
	run_cuts(&r, K8S_DOC_WATCH, K8S_ADDR_INTERNAL, &cbs_nostatus, doc.s,
	    doc.len, NULL, 0, NULL);
	is_int(r.rc, -1, "ERROR event without a status callback fails");
	snprintf(want, sizeof(want), "event[0]: ERROR event: 410 Expired: too "
	    "old (at byte %zu)", doc.len);
	is_str(r.err, want, "... saying what the Status said");
	res_free(&r);

	/* An empty watch (timed out with nothing to say) is fine. */
	run_whole(&r, K8S_DOC_WATCH, "");
	is_int(r.rc, 0, "empty watch stream is not an error");
	res_free(&r);
	run_whole(&r, K8S_DOC_WATCH, " \r\n\n");
	is_int(r.rc, 0, "nor is one of blank lines");
	res_free(&r);
	run_whole(&r, K8S_DOC_WATCH, "\n12");
	like(r.err, "event[0]: expected an object, got a number (at byte 3)",
	    "a number at the end of a watch is refused at finish");
	res_free(&r);
	bfree(&doc);
}

static void
test_status(void)
{
	static const char	*forbidden = "{\"kind\":\"Status\","
	    "\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"nodes is forbidden: User \\\"system:serviceaccount"
	    ":kube-system:kopeio\\\" cannot list resource \\\"nodes\\\"\","
	    "\"reason\":\"Forbidden\",\"details\":{\"kind\":\"nodes\"},"
	    "\"code\":403}\n";
	struct buf		 doc = { 0 };
	struct res		 r;
	char			 want[128];

	run_whole(&r, K8S_DOC_STATUS, forbidden);
	is_int(r.rc, 0, "Status document parses");
	is_int(r.statuses, 1, "one status callback");
	is_int(r.st.code, 403, "code");
	is_str(r.st.reason, "Forbidden", "reason");
	is_str(r.st.message, "nodes is forbidden: User \"system:"
	    "serviceaccount:kube-system:kopeio\" cannot list resource "
	    "\"nodes\"", "message, escapes decoded");
	check_chunkings("Status", K8S_DOC_STATUS, K8S_ADDR_INTERNAL,
	    forbidden, strlen(forbidden), &r);
	res_free(&r);

	/* A long message is cut, not refused: it is only for the log. */
	bprintf(&doc, "{\"code\":500,\"message\":\"");
	bfill(&doc, 'm', 250);
	bprintf(&doc, "\\u00e9\\u00e9\\u00e9");
	bfill(&doc, 'm', 700);
	bprintf(&doc, "\",\"reason\":\"");
	bfill(&doc, 'r', 100);
	bprintf(&doc, "\"}");
	run_whole(&r, K8S_DOC_STATUS, doc.s);
	is_int(r.rc, 0, "Status with a 956-byte message parses");
	is_int(strlen(r.st.message), 254, "message cut to fit, at a UTF-8 "
	    "character boundary");
	is_int(strlen(r.st.reason), 63, "reason cut to fit");
	res_free(&r);
	bfree(&doc);

	/* A Status where a list was expected: reported, and not a list. */
	doc.len = 0;
	bprintf(&doc, "{\"code\":410,\"reason\":\"Expired\",\"message\":"
	    "\"too old resource version\",\"kind\":\"Status\"}");
	run_whole(&r, K8S_DOC_LIST, doc.s);
	is_int(r.statuses, 1, "Status in place of a NodeList, kind last: "
	    "status callback");
	is_int(r.metas, 0, "... no list_meta");
	is_int(r.rc, -1, "... and the list fails");
	snprintf(want, sizeof(want), "a Status instead of a NodeList: 410 "
	    "Expired: too old resource version (at byte %zu)", doc.len);
	is_str(r.err, want, "... saying why");
	res_free(&r);
	bfree(&doc);

	run_whole(&r, K8S_DOC_STATUS, "404 page not found\n");
	is_int(r.rc, -1, "a text error body is not a Status");
	is_str(r.err, "expected an object, got a number (at byte 3)",
	    "... it is not even an object");
	res_free(&r);
	run_whole(&r, K8S_DOC_STATUS, "<html>");
	is_str(r.err, "invalid JSON at byte 1: lexical error: invalid char in "
	    "json text.", "HTML is invalid JSON");
	res_free(&r);
}

/* One list document with one small node, its parts replaced. */
static void
mini(struct buf *b, const char *meta, const char *spec, const char *status)
{
	b->len = 0;
	bprintf(b, "{\"kind\":\"NodeList\",\"items\":[{\"metadata\":%s,"
	    "\"spec\":%s,\"status\":%s}],\"metadata\":{\"resourceVersion\":"
	    "\"1\"}}", meta, spec, status);
}

struct errcase {
	const char	*what;
	const char	*meta, *spec, *status;
	const char	*msg;		/* expected in the error */
	const char	*after;		/* the error is just past this */
};

static void
test_errors(void)
{
	static const struct errcase cases[] = {
		{ "podCIDR with host bits", "{\"name\":\"a\"}",
		  "{\"podCIDR\":\"100.96.3.1/24\"}", "{}",
		  "items[0].spec.podCIDR: not a CIDR: \"100.96.3.1/24\": host "
		  "bits set past /24", "\"100.96.3.1/24\"" },
		{ "podCIDR a number", "{\"name\":\"a\"}", "{\"podCIDR\":42}",
		  "{}", "items[0].spec.podCIDR: expected a string, got a "
		  "number", "42" },
		{ "podCIDR not an address", "{\"name\":\"a\"}",
		  "{\"podCIDR\":\"fe80::1%eth0/64\"}", "{}",
		  "items[0].spec.podCIDR: not a CIDR: \"fe80::1%eth0/64\": "
		  "\"fe80::1%eth0\" is not an address", "\"fe80::1%eth0/64\"" },
		{ "podCIDR too long", "{\"name\":\"a\"}",
		  "{\"podCIDR\":\"0000:0000:0000:0000:0000:0000:0000:0000:"
		  "0000/128\"}", "{}", "items[0].spec.podCIDR: not a CIDR: "
		  "\"0000:", "0000/128\"" },
		{ "three podCIDRs", "{\"name\":\"a\"}",
		  "{\"podCIDRs\":[\"10.0.0.0/24\",\"fd00::/64\","
		  "\"10.1.0.0/24\"]}", "{}", "items[0].spec.podCIDRs[2]: more "
		  "than 2 podCIDRs", "\"10.1.0.0/24\"" },
		{ "two podCIDRs of a family", "{\"name\":\"a\"}",
		  "{\"podCIDRs\":[\"10.0.0.0/24\",\"10.1.0.0/24\"]}", "{}",
		  "items[0].spec.podCIDRs[1]: two podCIDRs of the same family",
		  "\"10.1.0.0/24\"" },
		{ "podCIDRs a string", "{\"name\":\"a\"}",
		  "{\"podCIDRs\":\"10.0.0.0/24\"}", "{}",
		  "items[0].spec.podCIDRs: expected an array, got a string",
		  "\"10.0.0.0/24\"" },
		{ "podCIDRs element an object", "{\"name\":\"a\"}",
		  "{\"podCIDRs\":[{}]}", "{}", "items[0].spec.podCIDRs[0]: "
		  "expected a string, got an object", "\"podCIDRs\":[{" },
		{ "addresses an object", "{\"name\":\"a\"}", "{}",
		  "{\"addresses\":{\"type\":\"InternalIP\"}}",
		  "items[0].status.addresses: expected an array, got an "
		  "object", "\"addresses\":{" },
		{ "address not an IP", "{\"name\":\"a\"}", "{}",
		  "{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"a\"},"
		  "{\"type\":\"InternalIP\",\"address\":\"10.0.0.300\"}]}",
		  "items[0].status.addresses[1].address: InternalIP "
		  "\"10.0.0.300\" is not an IPv4 or IPv6 address",
		  "\"10.0.0.300\"}" },
		{ "address too long", "{\"name\":\"a\"}", "{}",
		  "{\"addresses\":[{\"address\":\"10.0.0.1.10.0.0.1.10.0.0.1."
		  "10.0.0.1.10.0.0.1.10.0.0.1\",\"type\":\"InternalIP\"}]}",
		  "items[0].status.addresses[0].address: InternalIP is not an "
		  "IP address: too long", "\"InternalIP\"}" },
		{ "InternalIP without address", "{\"name\":\"a\"}", "{}",
		  "{\"addresses\":[{\"type\":\"InternalIP\"}]}",
		  "items[0].status.addresses[0]: InternalIP without an "
		  "address", "\"InternalIP\"}" },
		{ "address a number", "{\"name\":\"a\"}", "{}",
		  "{\"addresses\":[{\"type\":\"InternalIP\",\"address\":1}]}",
		  "items[0].status.addresses[0].address: expected a string, "
		  "got a number", "\"address\":1" },
		{ "conditions a string", "{\"name\":\"a\"}", "{}",
		  "{\"conditions\":\"x\"}", "items[0].status.conditions: "
		  "expected an array, got a string", "\"x\"" },
		{ "NetworkUnavailable status bogus", "{\"name\":\"a\"}", "{}",
		  "{\"conditions\":[{\"status\":\"Maybe\",\"type\":"
		  "\"NetworkUnavailable\"}]}", "items[0].status.conditions[0]"
		  ".status: NetworkUnavailable condition status is not True, "
		  "False or Unknown", "\"NetworkUnavailable\"}" },
		{ "nodeInfo an array", "{\"name\":\"a\"}", "{}",
		  "{\"nodeInfo\":[]}", "items[0].status.nodeInfo: expected an "
		  "object, got an array", "\"nodeInfo\":[" },
		{ "machineID too long", "{\"name\":\"a\"}", "{}",
		  "{\"nodeInfo\":{\"machineID\":\"0123456789abcdef0123456789abcd"
		  "ef0123456789abcdef0123456789abcdef\"}}",
		  "items[0].status.nodeInfo.machineID: machineID longer than "
		  "63 bytes", "cdef\"" },
		{ "bootID with a control character", "{\"name\":\"a\"}", "{}",
		  "{\"nodeInfo\":{\"bootID\":\"a\\nb\"}}",
		  "items[0].status.nodeInfo.bootID: bootID has a control "
		  "character", "\"a\\nb\"" },
		{ "status a string", "{\"name\":\"a\"}", "{}", "\"Ready\"",
		  "items[0].status: expected an object, got a string",
		  "\"Ready\"" },
		{ "name a number", "{\"name\":7}", "{}", "{}",
		  "items[0].metadata.name: expected a string, got a number",
		  "7" },
		{ "name with uppercase", "{\"name\":\"Node-A\"}", "{}", "{}",
		  "items[0].metadata.name: \"Node-A\" is not a DNS-1123 "
		  "subdomain", "\"Node-A\"" },
		{ "name with an empty label", "{\"name\":\"a..b\"}", "{}", "{}",
		  "is not a DNS-1123 subdomain", "\"a..b\"" },
		{ "name starting with a dash", "{\"name\":\"-a\"}", "{}", "{}",
		  "is not a DNS-1123 subdomain", "\"-a\"" },
		{ "name with a label ending in a dash", "{\"name\":\"a-.b\"}",
		  "{}", "{}", "is not a DNS-1123 subdomain", "\"a-.b\"" },
		{ "name ending in a dot", "{\"name\":\"a.\"}", "{}", "{}",
		  "is not a DNS-1123 subdomain", "\"a.\"" },
		{ "name a slash", "{\"name\":\"a/../b\"}", "{}", "{}",
		  "\"a/../b\" is not a DNS-1123 subdomain", "\"a/../b\"" },
		{ "name empty", "{\"name\":\"\"}", "{}", "{}",
		  "\"\" is not a DNS-1123 subdomain", "\"name\":\"\"" },
		{ "name with NUL", "{\"name\":\"a\\u0000b\"}", "{}", "{}",
		  "\"a?b\" is not a DNS-1123 subdomain", "\"a\\u0000b\"" },
		{ "no name", "{\"labels\":{\"name\":\"a\"}}", "{}", "{}",
		  "items[0]: node without metadata.name", "\"status\":{}}" },
		{ "name null", "{\"name\":\"a\",\"name\":null}", "{}", "{}",
		  "items[0]: node without metadata.name", "\"status\":{}}" },
		{ "resourceVersion too long", "{\"name\":\"a\","
		  "\"resourceVersion\":\"1234567890123456789012345678901234567"
		  "890123456789012345678901234\"}", "{}", "{}",
		  "items[0].metadata.resourceVersion: resourceVersion longer "
		  "than 63 bytes", "234\"" },
		{ "metadata a boolean", "true", "{}", "{}",
		  "items[0].metadata: expected an object, got a boolean",
		  "\"metadata\":true" },
	};
	struct buf	 doc = { 0 }, name = { 0 };
	struct res	 r;
	char		 at[64];
	size_t		 i;

	for (i = 0; i < NELEM(cases); i++) {
		mini(&doc, cases[i].meta, cases[i].spec, cases[i].status);
		run_whole(&r, K8S_DOC_LIST, doc.s);
		ok(r.rc == -1 && r.nodes == 0 && r.metas == 0,
		    "%s: refused, nothing reported", cases[i].what);
		if (!like(r.err, cases[i].msg, "%s: what and where",
		    cases[i].what))
			diag("document: %s", doc.s);
		like(r.err, at_byte_after(doc.s, cases[i].after, at,
		    sizeof(at)), "%s: byte offset", cases[i].what);
		res_free(&r);
	}

	/* The longest name passes, one more byte fails. */
	bprintf(&name, "{\"name\":\"");
	for (i = 0; i < 3; i++) {
		bfill(&name, 'a' + i, 63);
		bprintf(&name, ".");
	}
	bfill(&name, 'z', 61);
	bprintf(&name, "\"}");
	mini(&doc, name.s, "{}", "{}");
	run_whole(&r, K8S_DOC_LIST, doc.s);
	ok(r.rc == 0 && strlen(r.last.name) == 253, "a 253-byte name passes");
	res_free(&r);
	name.len -= 2;
	bprintf(&name, "z\"}");
	mini(&doc, name.s, "{}", "{}");
	run_whole(&r, K8S_DOC_LIST, doc.s);
	like(r.err, "items[0].metadata.name: name longer than 253 bytes",
	    "a 254-byte name fails");
	res_free(&r);

	/* A valid name with dots, dashes and digits; "" podCIDR is absent. */
	mini(&doc, "{\"name\":\"ip-10-0-0-5.eu-west-1.compute.internal\"}",
	    "{\"podCIDR\":\"\",\"podCIDRs\":null}", "{\"addresses\":null,"
	    "\"conditions\":null,\"nodeInfo\":null}");
	run_whole(&r, K8S_DOC_LIST, doc.s);
	ok(r.rc == 0 && r.nodes == 1 && r.last.pod_cidr.family == 0,
	    "dotted name, empty podCIDR and nulls are accepted");
	res_free(&r);

	/* Unused addresses are not checked; an unused type is skipped. */
	mini(&doc, "{\"name\":\"a\"}", "{}", "{\"addresses\":[{\"type\":"
	    "\"ExternalIP\",\"address\":\"not-an-ip\"},{\"type\":"
	    "\"InternalIP\",\"address\":\"10.0.0.1\"}]}");
	run_whole(&r, K8S_DOC_LIST, doc.s);
	ok(r.rc == 0 && r.last.naddr4 == 1, "a bad ExternalIP does not "
	    "matter in InternalIP mode");
	res_free(&r);
	run_chunked(&r, K8S_DOC_LIST, K8S_ADDR_EXTERNAL, doc.s, doc.len, 0);
	like(r.err, "items[0].status.addresses[0].address: ExternalIP "
	    "\"not-an-ip\" is not an IPv4 or IPv6 address", "... but does "
	    "in ExternalIP mode");
	res_free(&r);

	/* Duplicate keys: the last wins, whole objects included. */
	mini(&doc, "{\"name\":\"a\",\"resourceVersion\":\"1\",\"name\":\"b\"}",
	    "{\"podCIDR\":\"10.0.0.0/24\",\"podCIDR\":\"10.0.1.0/24\"}",
	    "{\"nodeInfo\":{\"bootID\":\"x\"},\"nodeInfo\":{\"machineID\":"
	    "\"y\"},\"conditions\":[{\"type\":\"NetworkUnavailable\","
	    "\"status\":\"True\"},{\"type\":\"NetworkUnavailable\","
	    "\"status\":\"Unknown\"}]}");
	run_whole(&r, K8S_DOC_LIST, doc.s);
	like(bstr(&r.log), "LISTED name=b rv=1 podCIDR=10.0.1.0/24 podCIDRs=0:-,- "
	    "addr4=0.0.0.0/0 addr6=::/0 nu=2 ids=y,,\n", "duplicate keys: the "
	    "last wins");
	res_free(&r);

	/* Many items, the 13th bad: the first 12 were reported. */
	{
		struct nodeopt	 nodes[13];
		char		 names[13][16];

		for (i = 0; i < 13; i++) {
			snprintf(names[i], sizeof(names[i]), "node-%zu", i);
			nodes[i] = (struct nodeopt){ names[i], "5", NULL, 0,
			    0 };
		}
		nodes[12].podcidr = "100.96.3.0/23";
		doc.len = 0;
		list_json(&doc, nodes, 13, 1, "5", NULL);
		run_whole(&r, K8S_DOC_LIST, doc.s);
		is_int(r.nodes, 12, "13 items, the last bad: 12 reported");
		like(r.err, "items[12].spec.podCIDR: not a CIDR: "
		    "\"100.96.3.0/23\": host bits set past /23", "... and the "
		    "13th named");
		like(r.err, at_byte_after(doc.s, "\"100.96.3.0/23\"", at,
		    sizeof(at)), "... with its byte offset");
		res_free(&r);
	}

	bfree(&name);
	bfree(&doc);
}

/*
 * doc fails with msg, which has a %zu for the byte offset: just past
 * the last occurrence of after.
 */
static void __attribute__((__format__(printf, 4, 0)))
expect_err(enum k8s_doc kind, const char *doc, const char *after,
    const char *msg, const char *what)
{
	struct res	 r;
	const char	*p, *last = NULL;
	char		 want[256];

	for (p = strstr(doc, after); p != NULL; p = strstr(p + 1, after))
		last = p;
	if (last == NULL)
		bail_out("%s: no %s in the document", what, after);
	snprintf(want, sizeof(want), msg, (size_t)(last - doc) +
	    strlen(after));
	run_whole(&r, kind, doc);
	is_str(r.err, want, "%s", what);
	res_free(&r);
}

static void
test_structure(void)
{
	struct buf	 doc = { 0 };
	struct res	 r;
	char		 want[128];
	size_t		 i;

	/* 64 levels are allowed, 65 are not, even where nothing is kept. */
	bprintf(&doc, "{\"x\":");
	for (i = 0; i < 63; i++)
		bprintf(&doc, "[");
	for (i = 0; i < 63; i++)
		bprintf(&doc, "]");
	bprintf(&doc, ",\"items\":[]}");
	run_whole(&r, K8S_DOC_LIST, doc.s);
	is_int(r.rc, 0, "nesting 64 deep is accepted");
	res_free(&r);
	doc.len = 0;
	bprintf(&doc, "{\"items\":[{\"metadata\":{\"labels\":");
	for (i = 0; i < 61; i++)
		bprintf(&doc, "[");
	run_whole(&r, K8S_DOC_LIST, doc.s);
	snprintf(want, sizeof(want), "items[0].metadata: nested deeper than "
	    "64 levels (at byte %zu)", doc.len);
	is_str(r.err, want, "nesting 65 deep is refused, in a skipped value "
	    "of a kept object");
	res_free(&r);

	/* Syntax errors carry yajl's words and the byte offset. */
	expect_err(K8S_DOC_LIST, "{\"kind\":\"NodeList\",\"items\":[{"
	    "\"metadata\":{\"name\":\"a\"}},]}", ",]", "invalid JSON at "
	    "byte %zu: parse error: unallowed token at this point in JSON "
	    "text", "a stray comma: yajl's message and offset");
	run_whole(&r, K8S_DOC_LIST, "{\"items\":[]} {}");
	like(r.err, "invalid JSON at byte 14: parse error: trailing garbage",
	    "a second document in a list is refused");
	res_free(&r);
	run_whole(&r, K8S_DOC_LIST, "[]");
	like(r.err, "expected an object, got an array (at byte 1)",
	    "a list document must be an object");
	res_free(&r);
	expect_err(K8S_DOC_WATCH, "{\"type\":\"ADDED\",\"object\":{"
	    "\"metadata\":{\"name\":\"a\"}}}\n\"x\"\n", "\"x\"",
	    "event[1]: expected an object, got a string (at byte %zu)",
	    "a watch event must be an object");
	expect_err(K8S_DOC_WATCH, "{\"type\":\"ADDED\",\"object\":{}}\n",
	    "{}}", "event[0].object: node without metadata.name "
	    "(at byte %zu)", "an ADDED event needs a named node");
	expect_err(K8S_DOC_WATCH, "{\"type\":\"SYNC\",\"object\":{}}\n",
	    "\"SYNC\"", "event[0].type: unknown event type \"SYNC\" "
	    "(at byte %zu)", "an unknown event type is refused");
	expect_err(K8S_DOC_WATCH, "{\"object\":{\"metadata\":{\"name\":"
	    "\"a\"}}}", "}}}", "event[0]: event without a type (at byte %zu)",
	    "an event needs a type");
	expect_err(K8S_DOC_WATCH, "{\"type\":\"MODIFIED\"}", "}",
	    "event[0]: MODIFIED event without an object (at byte %zu)",
	    "an event needs an object");
	expect_err(K8S_DOC_WATCH, "{\"type\":\"BOOKMARK\",\"object\":{"
	    "\"metadata\":{}}}", "{}}}", "event[0].object: BOOKMARK without "
	    "metadata.resourceVersion (at byte %zu)", "a BOOKMARK needs a "
	    "resourceVersion");
	run_whole(&r, K8S_DOC_LIST, "{\"items\":null,\"metadata\":{"
	    "\"resourceVersion\":\"3\"}}");
	ok(r.rc == 0 && r.metas == 1 && r.nodes == 0, "items null: an empty "
	    "list");
	res_free(&r);

	/* Truncation: only complete items were reported. */
	{
		struct nodeopt	 nodes[3] = {
			{ "node-a", "1", NULL, 0, 0 },
			{ "node-b", "2", NULL, 0, 0 },
			{ "node-c", "3", NULL, 0, 0 },
		};
		const char	*c;
		size_t		 cut;

		doc.len = 0;
		list_json(&doc, nodes, 3, 1, "3", NULL);
		c = strstr(doc.s, "\"name\":\"node-c\"");
		cut = (size_t)(c - doc.s) + 3;
		run_chunked(&r, K8S_DOC_LIST, K8S_ADDR_INTERNAL, doc.s, cut,
		    1000);
		is_str(bstr(&r.sum), "LISTED:node-a:1 LISTED:node-b:2",
		    "truncated inside the third item: two reported");
		is_int(r.rc, -1, "... and finish fails");
		snprintf(want, sizeof(want), "items[2].metadata: truncated "
		    "document (at byte %zu)", cut);
		is_str(r.err, want, "... saying where");
		res_free(&r);

		/* Just after the second item's closing brace. */
		c = strstr(doc.s, ",{\"kind\":\"Node\",\"apiVersion\":\"v1\","
		    "\"metadata\":{\"name\":\"node-c\"");
		cut = (size_t)(c - doc.s);
		run_chunked(&r, K8S_DOC_LIST, K8S_ADDR_INTERNAL, doc.s, cut, 0);
		ok(r.rc == -1 && r.nodes == 2 && r.metas == 0, "truncated "
		    "between items: two reported, no list_meta, finish fails");
		snprintf(want, sizeof(want), "items: truncated document "
		    "(at byte %zu)", cut);
		is_str(r.err, want, "... saying where");
		res_free(&r);
		bfree(&doc);
	}
	run_whole(&r, K8S_DOC_LIST, "");
	is_str(r.err, "truncated document (at byte 0)", "an empty body is a "
	    "truncated list");
	res_free(&r);
	run_whole(&r, K8S_DOC_WATCH, "{\"type\":\"ADDED\",\"object\":{\"met");
	is_str(r.err, "event[0].object: truncated document (at byte 30)",
	    "a watch cut inside an event fails at finish");
	res_free(&r);
	run_whole(&r, K8S_DOC_STATUS, "{\"code\":5");
	is_str(r.err, "truncated document (at byte 9)", "a Status cut short");
	res_free(&r);

	/* After an error: no callback, the same error, forever. */
	{
		struct res	 q;
		struct k8s_parser *p;
		const char	*bad = "{\"type\":\"ADDED\",\"object\":{\"metadata"
		    "\":{\"name\":\"BAD\"}}}\n";
		const char	*good = "{\"type\":\"ADDED\",\"object\":{"
		    "\"metadata\":{\"name\":\"good\"}}}\n";

		memset(&q, 0, sizeof(q));
		p = k8s_parser_new(K8S_DOC_WATCH, K8S_ADDR_INTERNAL, &cbs, &q);
		ok(k8s_parser_feed(p, (const unsigned char *)good,
		    strlen(good)) == 0 && q.nodes == 1, "a good event");
		is_int(k8s_parser_offset(p), strlen(good), "offset: bytes "
		    "consumed");
		ok(k8s_parser_feed(p, (const unsigned char *)bad,
		    strlen(bad)) == -1, "a bad one fails");
		ok(k8s_parser_feed(p, (const unsigned char *)good,
		    strlen(good)) == -1 && q.nodes == 1, "the next good one "
		    "is not parsed");
		ok(k8s_parser_finish(p) == -1, "finish fails too");
		like(k8s_parser_error(p), "event[1].object.metadata.name: "
		    "\"BAD\" is not a DNS-1123 subdomain", "the first error "
		    "stays");
		k8s_parser_free(p);
		res_free(&q);
	}
	k8s_parser_free(NULL);
}

/* --- memory --- */

struct counter {
	size_t	 cur, peak, calls;
};

#define HDR	16	/* keeps the caller's alignment */

static void *
c_alloc(void *ctx, size_t n)
{
	struct counter	*c = ctx;
	char		*p;

	if ((p = malloc(n + HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	c->calls++;
	c->cur += n;
	if (c->cur > c->peak)
		c->peak = c->cur;
	return p + HDR;
}

static void
c_release(void *ctx, void *ptr)
{
	struct counter	*c = ctx;
	size_t		 n;

	if (ptr == NULL)
		return;
	memcpy(&n, (char *)ptr - HDR, sizeof(n));
	c->cur -= n;
	free((char *)ptr - HDR);
}

static void *
c_resize(void *ctx, void *ptr, size_t n)
{
	struct counter	*c = ctx;
	size_t		 old;
	char		*p;

	if (ptr == NULL)
		return c_alloc(ctx, n);
	memcpy(&old, (char *)ptr - HDR, sizeof(old));
	if ((p = realloc((char *)ptr - HDR, n + HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	c->calls++;
	c->cur = c->cur - old + n;
	if (c->cur > c->peak)
		c->peak = c->cur;
	return p + HDR;
}

/* Peak bytes allocated to parse a list of one node of about size. */
static size_t
peak_for(size_t size, size_t bigstr, size_t chunk, size_t *doclen)
{
	struct nodeopt	 n = { "node-a", "1", NULL, size, 0 };
	struct counter	 c = { 0 };
	struct k8s_alloc al = { c_alloc, c_resize, c_release, &c };
	struct buf	 doc = { 0 };
	struct res	 r;
	size_t		*cuts = NULL, ncuts = 0, i;

	n.bigstr = bigstr;
	list_json(&doc, &n, 1, 1, "1", NULL);
	*doclen = doc.len;
	if (chunk > 0) {
		if ((cuts = calloc(doc.len / chunk + 1, sizeof(*cuts))) == NULL)
			bail_out("out of memory");
		for (i = chunk; i < doc.len; i += chunk)
			cuts[ncuts++] = i;
	}
	run_cuts(&r, K8S_DOC_LIST, K8S_ADDR_INTERNAL, &cbs, doc.s, doc.len,
	    cuts, ncuts, &al);
	if (r.rc != 0 || r.nodes != 1)
		bail_out("memory test document failed: %s", r.err);
	if (c.cur != 0)
		bail_out("%zu bytes not freed", c.cur);
	res_free(&r);
	free(cuts);
	bfree(&doc);
	return c.peak;
}

static void
test_memory(void)
{
	size_t	 p2, p20, p200, l2, l20, l200, q2, q200, big, lbig;

	/* Fed whole: two 100 KB strings in skipped branches included. */
	p2 = peak_for(2000, 0, 0, &l2);
	p20 = peak_for(20000, 0, 0, &l20);
	p200 = peak_for(200000, 100000, 0, &l200);
	diag("peak parser memory, fed whole: %zu bytes for a %zu-byte "
	    "document, %zu for %zu, %zu for %zu", p2, l2, p20, l20, p200, l200);
	ok(l200 > 200000 && l20 > 20000, "the documents are that big");
	is_int(p20, p2, "a 20 KB node needs no more memory than a 2 KB one");
	is_int(p200, p2, "a 200 KB node with two 100 KB strings neither");
	ok(p2 < 16384, "and that is small (%zu bytes)", p2);

	/* Fed in curl-sized chunks. */
	q2 = peak_for(2000, 0, 16384, &l2);
	q200 = peak_for(200000, 0, 16384, &l200);
	diag("fed in 16 KB chunks: %zu bytes for %zu, %zu for %zu", q2, l2,
	    q200, l200);
	is_int(q200, q2, "in 16 KB chunks: 200 KB node, same memory as 2 KB");

	/*
	 * A single token that spans chunks is what yajl buffers: bounded
	 * by the token, not by the document.
	 */
	big = peak_for(200000, 100000, 16384, &lbig);
	diag("in 16 KB chunks with two 100 KB strings: %zu bytes", big);
	ok(big <= q2 + 2 * 100000 + 4096, "a 100 KB string across chunks "
	    "costs at most twice its size (%zu bytes more)", big - q2);
}

/* --- tokens longer than the bound --- */

/*
 * A list of one node with a string of n bytes of fill (fed in pieces
 * of chunk bytes, never held whole) as the value at where: "a" an
 * annotation, "k" an annotation's key, "c" spec.podCIDR, "l" a key of
 * the list itself.  Returns the parser's peak memory.
 */
static size_t
feed_huge(struct res *r, int where, size_t n, size_t chunk)
{
	static const char *const pre[] = {
		"{\"kind\":\"NodeList\",\"items\":[{\"metadata\":{"
		    "\"name\":\"node-a\",\"annotations\":{\"x\":\"",
		"{\"kind\":\"NodeList\",\"items\":[{\"metadata\":{"
		    "\"name\":\"node-a\",\"annotations\":{\"",
		"{\"kind\":\"NodeList\",\"items\":[{\"metadata\":{"
		    "\"name\":\"node-a\",\"annotations\":{}},\"spec\":{"
		    "\"podCIDR\":\"",
		"{\"kind\":\"NodeList\",\"x\":\"",
	};
	static const char *const post[] = {
		"\"}},\"spec\":{\"podCIDR\":\"100.96.3.0/24\"}}],"
		    "\"metadata\":{\"resourceVersion\":\"7\"}}",
		"\":1}},\"spec\":{\"podCIDR\":\"100.96.3.0/24\"}}],"
		    "\"metadata\":{\"resourceVersion\":\"7\"}}",
		"\"}}],\"metadata\":{\"resourceVersion\":\"7\"}}",
		"\",\"items\":[]}",
	};
	struct counter		 c = { 0 };
	struct k8s_alloc	 al = { c_alloc, c_resize, c_release, &c };
	struct k8s_parser	*p;
	unsigned char		*fill;
	const char		*w = strchr("akcl", where);
	size_t			 i, left;
	int			 k = (int)(w - "akcl");

	memset(r, 0, sizeof(*r));
	if ((fill = malloc(chunk)) == NULL ||
	    (p = k8s_parser_new_alloc(K8S_DOC_LIST, K8S_ADDR_INTERNAL, &cbs,
	    r, &al)) == NULL)
		bail_out("out of memory");
	/* Some escapes and two-byte characters among the plain ones. */
	for (i = 0; i < chunk; i++)
		fill[i] = "xyz"[i % 3];
	memcpy(fill + chunk / 2, "\\u00e9\\n\xc3\xa9", 10);
	r->rc = k8s_parser_feed(p, (const unsigned char *)pre[k],
	    strlen(pre[k]));
	for (left = n; left > 0 && r->rc == 0; left -= i) {
		i = left < chunk ? left : chunk;
		r->rc = k8s_parser_feed(p, fill, i);
	}
	if (r->rc == 0)
		r->rc = k8s_parser_feed(p, (const unsigned char *)post[k],
		    strlen(post[k]));
	if (r->rc == 0)
		r->rc = k8s_parser_finish(p);
	snprintf(r->err, sizeof(r->err), "%s", k8s_parser_error(p));
	k8s_parser_free(p);
	free(fill);
	if (c.cur != 0)
		bail_out("%zu bytes not freed", c.cur);
	return c.peak;
}

/* A document fed whole under a token bound of max. */
static void
run_max(struct res *r, const char *doc, size_t max)
{
	token_max = max;
	run_whole(r, K8S_DOC_LIST, doc);
	token_max = 0;
}

static void
test_tokens(void)
{
	struct buf	 doc = { 0 };
	struct res	 r, whole;
	size_t		 peak, small, i;
	char		 want[160];

	/* 200 MB in 4 KiB reads: what yajl keeps is cut at the bound. */
	small = feed_huge(&r, 'a', 1000, 4096);
	res_free(&r);
	peak = feed_huge(&r, 'a', 200000000, 4096);
	diag("peak parser memory: %zu bytes for a 1000-byte annotation, "
	    "%zu for 200 MB", small, peak);
	if (!is_int(r.rc, 0, "200 MB annotation: parsed"))
		diag("%s", r.err);
	ok(r.nodes == 1 && strcmp(r.last.name, "node-a") == 0 &&
	    r.last.pod_cidr.family == AF_INET, "200 MB annotation: the node "
	    "is delivered whole");
	is_int(r.last.oversized, 1, "200 MB annotation: counted as one "
	    "string cut short");
	ok(peak < small + 4 * K8S_TOKEN_MAX, "200 MB annotation: parser memory "
	    "under 4 times the token bound (%zu bytes more)", peak - small);
	res_free(&r);

	peak = feed_huge(&r, 'k', 200000000, 1000);
	if (!is_int(r.rc, 0, "200 MB key, 1000-byte reads: parsed"))
		diag("%s", r.err);
	ok(r.nodes == 1 && r.last.oversized == 1 &&
	    r.last.pod_cidr.family == AF_INET, "200 MB key: skipped, counted, "
	    "the node delivered");
	ok(peak < small + 4 * K8S_TOKEN_MAX, "200 MB key: memory bounded");
	res_free(&r);

	peak = feed_huge(&r, 'c', 200000000, 65536);
	is_int(r.rc, -1, "200 MB podCIDR: refused");
	ok(strncmp(r.err, "items[0].spec.podCIDR: a string longer than "
	    "2097152 bytes (at byte ", 64) == 0,
	    "200 MB podCIDR: says where and why: %s", r.err);
	is_int(r.nodes, 0, "200 MB podCIDR: no node delivered");
	ok(peak < small + 4 * K8S_TOKEN_MAX, "200 MB podCIDR: memory bounded");
	res_free(&r);

	feed_huge(&r, 'l', 3 * K8S_TOKEN_MAX, 4096);
	is_int(r.rc, -1, "a huge string outside any node: refused");
	ok(strncmp(r.err, "a string longer than 2097152 bytes (at byte ",
	    44) == 0, "a huge string outside any node: says why: %s", r.err);
	res_free(&r);

	/*
	 * A small bound shows the rules at every split point: a string as
	 * long as the bound passes, one byte more is cut between
	 * characters (never inside an escape or a UTF-8 sequence), and
	 * what is cut is still checked.
	 */
	bprintf(&doc, "{\"kind\":\"NodeList\",\"items\":[{\"metadata\":{"
	    "\"name\":\"node-a\",\"annotations\":{\"a\":\"0123456789abcdef\","
	    "\"b\":\"0123456789abcdef0\",\"c\":\"0123456789abcd\\u00e9\\u00e9\","
	    "\"d\":\"0123456789abcde\xc3\xa9\xc3\xa9\",\"\\\"0123456789ab\\n"
	    "\\\\\":[1e5,-0.5,1234567890,\"\\t\\/\\b\\f\\r"
	    "0123456789\\u0041\"]}},\"spec\":{\"podCIDR\":\"100.96.3.0/24\"}}],"
	    "\"metadata\":{\"resourceVersion\":\"7\"}}");
	run_max(&whole, bstr(&doc), 16);
	if (!is_int(whole.rc, 0, "bound 16: parsed"))
		diag("%s", whole.err);
	is_int(whole.last.oversized, 5, "bound 16: the five strings over 16 "
	    "bytes are counted, the one of 16 is not");
	for (i = 1; i < doc.len; i++) {
		struct res	 rr;

		token_max = 16;
		run_cuts(&rr, K8S_DOC_LIST, K8S_ADDR_INTERNAL, &cbs, doc.s,
		    doc.len, &i, 1, NULL);
		token_max = 0;
		if (!same(&rr, &whole) ||
		    rr.last.oversized != whole.last.oversized) {
			res_free(&rr);
			break;
		}
		res_free(&rr);
	}
	if (!ok(i == doc.len, "bound 16: all %zu split points give the same "
	    "result", doc.len - 1))
		diag("first difference at %zu", i);
	res_free(&whole);

	doc.len = 0;
	bprintf(&doc, "{\"kind\":\"NodeList\",\"items\":[{\"metadata\":{"
	    "\"name\":\"node-a\",\"annotations\":{\"a\":"
	    "123456789012345678}}}]}");
	run_max(&r, bstr(&doc), 16);
	is_int(r.rc, -1, "bound 16: a number of 18 digits refused");
	snprintf(want, sizeof(want), "items[0].metadata: a number longer than "
	    "16 bytes (at byte %zu)", (size_t)(strstr(doc.s, "78}") - doc.s));
	is_str(r.err, want, "bound 16: says why, where the bound was crossed");
	res_free(&r);

	{
		/* The bad byte is off bytes past the first one cut. */
		static const struct { const char *s, *msg; size_t off; }
		    bad[] = {
			{ "0123456789abcdef\x01", "a control character in a "
			  "string", 0 },
			{ "0123456789abcdef\\x", "an invalid escape in a string",
			  1 },
			{ "0123456789abcdef\\u12g4", "an invalid \\u escape in "
			  "a string", 4 },
			{ "0123456789abcdefx\x80", "invalid UTF-8 in a string",
			  1 },
			{ "0123456789abcdefx\xe2\x82x", "invalid UTF-8 in a "
			  "string", 3 },
			{ "0123456789abcdef\xf8\x80\x80\x80\x80", "invalid "
			  "UTF-8 in a string", 0 },
		};

		for (i = 0; i < NELEM(bad); i++) {
			doc.len = 0;
			bprintf(&doc, "{\"kind\":\"NodeList\",\"items\":[{"
			    "\"metadata\":{\"name\":\"a\",\"x\":\"%s\"}}]}",
			    bad[i].s);
			run_max(&r, bstr(&doc), 16);
			snprintf(want, sizeof(want), "invalid JSON at byte %zu: "
			    "%s", (size_t)(strstr(doc.s, "cdef") - doc.s) + 4 +
			    bad[i].off, bad[i].msg);
			is_str(r.err, want, "bound 16: the bytes cut are "
			    "checked: %s", bad[i].msg);
			res_free(&r);
		}
	}
	bfree(&doc);
}

int
main(void)
{
	test_list_fields();
	test_splits();
	test_watch();
	test_status();
	test_errors();
	test_structure();
	test_memory();
	test_tokens();
	is_int(total_late, 0, "no callback after an error, in %d runs",
	    total_runs);
	return done_testing();
}
