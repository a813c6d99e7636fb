/*
 * How fast the watcher's parsing and node map are, on realistic
 * Nodes: a 5,000-node list of at least 12 KB a node (images,
 * managedFields, conditions, labels), and heartbeat-only MODIFIED
 * events, which must cost no intent.  Prints numbers, never a verdict.
 *
 *	bench/bench_parse [nodes] [bytes-per-node]
 */
#include <sys/resource.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/k8s_parse.h"
#include "../src/log.h"
#include "../src/nodemap.h"

struct sbuf {
	char	*p;
	size_t	 len, cap;
};

static void
put(struct sbuf *b, const char *fmt, ...) __attribute__((__format__(printf, 2, 3)));

static void
put(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = b->cap * 2 + n + 4096;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
	b->len += n;
}

/* One Node as a kubelet reports it, padded with images to min bytes. */
static void
node_json(struct sbuf *b, int i, size_t min, const char *heartbeat)
{
	size_t	 start = b->len;
	int	 k;

	put(b, "{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{"
	    "\"name\":\"node-%05d.example.internal\",\"uid\":\"%08x-1111-2222-"
	    "3333-444455556666\",\"resourceVersion\":\"%d\",\"creationTimestamp"
	    "\":\"2026-01-01T00:00:00Z\",\"labels\":{\"kubernetes.io/hostname"
	    "\":\"node-%05d\",\"kubernetes.io/os\":\"linux\",\"node.kubernetes"
	    ".io/instance-type\":\"m5.large\",\"topology.kubernetes.io/zone\":"
	    "\"zone-%d\"},\"annotations\":{\"node.alpha.kubernetes.io/ttl\":"
	    "\"0\",\"volumes.kubernetes.io/controller-managed-attach-detach\":"
	    "\"true\"},\"managedFields\":[", i, i, 1000 + i, i, i % 3);
	for (k = 0; k < 4; k++)
		put(b, "%s{\"manager\":\"kubelet\",\"operation\":\"Update\","
		    "\"apiVersion\":\"v1\",\"time\":\"%s\",\"fieldsType\":"
		    "\"FieldsV1\",\"fieldsV1\":{\"f:status\":{\"f:conditions\":{"
		    "\"k:{\\\"type\\\":\\\"Ready\\\"}\":{\".\":{},\"f:"
		    "lastHeartbeatTime\":{},\"f:status\":{}}},\"f:images\":{},"
		    "\"f:nodeInfo\":{\"f:bootID\":{}}}}}", k ? "," : "",
		    heartbeat);
	put(b, "]},\"spec\":{\"podCIDR\":\"100.%d.%d.0/24\",\"podCIDRs\":["
	    "\"100.%d.%d.0/24\"],\"providerID\":\"aws:///zone/i-%08x\"},"
	    "\"status\":{\"capacity\":{\"cpu\":\"2\",\"memory\":\"8Gi\","
	    "\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"1900m\",\"memory\":"
	    "\"7Gi\",\"pods\":\"110\"},\"conditions\":[", 96 + i / 256 % 16,
	    i % 256, 96 + i / 256 % 16, i % 256, i);
	put(b, "{\"type\":\"MemoryPressure\",\"status\":\"False\","
	    "\"lastHeartbeatTime\":\"%s\",\"lastTransitionTime\":"
	    "\"2026-01-01T00:00:00Z\",\"reason\":\"KubeletHasSufficientMemory"
	    "\",\"message\":\"kubelet has sufficient memory available\"},"
	    "{\"type\":\"Ready\",\"status\":\"True\",\"lastHeartbeatTime\":"
	    "\"%s\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\",\"reason\":"
	    "\"KubeletReady\",\"message\":\"kubelet is posting ready status\"},"
	    "{\"type\":\"NetworkUnavailable\",\"status\":\"False\",\"reason\":"
	    "\"RouteCreated\",\"message\":\"routes\"}],\"addresses\":[{\"type\":"
	    "\"InternalIP\",\"address\":\"10.%d.%d.%d\"},{\"type\":\"Hostname\","
	    "\"address\":\"node-%05d\"}],\"nodeInfo\":{\"machineID\":\"%032x\","
	    "\"systemUUID\":\"ec2%05d-0000-0000-0000-000000000000\",\"bootID\":"
	    "\"b%07d-0000-0000-0000-000000000000\",\"kernelVersion\":\"6.1.0\","
	    "\"osImage\":\"Debian GNU/Linux 12\",\"containerRuntimeVersion\":"
	    "\"containerd://1.7.0\",\"kubeletVersion\":\"v1.32.0\"},\"images\":[",
	    heartbeat, heartbeat, i / 62500 % 250, i / 250 % 250, i % 250 + 1,
	    i, i, i, i);
	for (k = 0; b->len - start < min || k == 0; k++)
		put(b, "%s{\"names\":[\"registry.example.com/team-%d/service-"
		    "%d@sha256:%064x\",\"registry.example.com/team-%d/service-"
		    "%d:v1.%d.%d\"],\"sizeBytes\":%d}", k ? "," : "", k % 7, k,
		    k, k % 7, k, k, i % 10, 10000000 + k * 1234);
	put(b, "]}}");
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct nodemap	*map;
static unsigned long	 nodes_seen, intents;

static void
on_node(void *arg, enum k8s_event ev, const struct k8s_node *n)
{
	struct nm_change	 ch;

	(void)arg;
	nodes_seen++;
	nodemap_apply(map, ev, n, &ch);
	intents += ch.nadd + ch.ndel;
}

static const struct k8s_parse_cb cb = { on_node, NULL, NULL };

/* Parse buf in chunk-sized pieces (0: whole); seconds taken. */
static double
parse(enum k8s_doc doc, const char *buf, size_t len, size_t chunk)
{
	struct k8s_parser	*p = k8s_parser_new(doc, K8S_ADDR_INTERNAL, &cb,
				    NULL);
	double			 t0 = now();
	size_t			 off, n;

	for (off = 0; off < len; off += n) {
		n = chunk == 0 || len - off < chunk ? len - off : chunk;
		if (k8s_parser_feed(p, (const unsigned char *)buf + off, n) ==
		    -1) {
			fprintf(stderr, "parse error: %s\n",
			    k8s_parser_error(p));
			exit(1);
		}
	}
	if (k8s_parser_finish(p) == -1) {
		fprintf(stderr, "parse error: %s\n", k8s_parser_error(p));
		exit(1);
	}
	t0 = now() - t0;
	k8s_parser_free(p);
	return t0;
}

int
main(int argc, char *argv[])
{
	struct sbuf	 list = { NULL, 0, 0 }, watch = { NULL, 0, 0 };
	struct rusage	 ru;
	int		 nnodes = argc > 1 ? atoi(argv[1]) : 5000;
	size_t		 bytes = argc > 2 ? strtoul(argv[2], NULL, 10) : 12000;
	int		 i, events = 20000, rounds = 5;
	double		 t, best = 1e9, best16 = 1e9;
	char		 hb[32];

	log_init(1, "bench");
	put(&list, "{\"kind\":\"NodeList\",\"apiVersion\":\"v1\",\"metadata\":"
	    "{\"resourceVersion\":\"99999\"},\"items\":[");
	for (i = 0; i < nnodes; i++) {
		if (i > 0)
			put(&list, ",");
		node_json(&list, i, bytes, "2026-11-28T10:00:00Z");
	}
	put(&list, "]}");
	for (i = 0; i < rounds; i++) {
		map = nodemap_new(nnodes + 1, NODE_BY_NAME, "node-00000.example"
		    ".internal");
		nodes_seen = 0;
		if ((t = parse(K8S_DOC_LIST, list.p, list.len, 0)) < best)
			best = t;
		nodemap_free(map);
		map = nodemap_new(nnodes + 1, NODE_BY_NAME, "node-00000.example"
		    ".internal");
		if ((t = parse(K8S_DOC_LIST, list.p, list.len, 16384)) <
		    best16)
			best16 = t;
		if (i + 1 < rounds)
			nodemap_free(map);
	}
	printf("list: %d nodes, %.1f MB, %.0f bytes/node\n", nnodes,
	    list.len / 1e6, (double)list.len / nnodes);
	printf("list parse + node map, whole buffer: %.1f ms, %.0f MB/s\n",
	    best * 1e3, list.len / best / 1e6);
	printf("list parse + node map, 16 KiB chunks: %.1f ms, %.0f MB/s\n",
	    best16 * 1e3, list.len / best16 / 1e6);

	/* Heartbeats: the same node, only timestamps changing. */
	for (i = 0; i < events; i++) {
		snprintf(hb, sizeof(hb), "2026-11-28T10:%02d:%02dZ", i / 60 % 60,
		    i % 60);
		put(&watch, "{\"type\":\"MODIFIED\",\"object\":");
		node_json(&watch, i % nnodes, bytes, hb);
		put(&watch, "}\n");
	}
	intents = 0;
	t = parse(K8S_DOC_WATCH, watch.p, watch.len, 16384);
	printf("heartbeat-only MODIFIED events: %d, %.2f us each "
	    "(%.0f MB/s), intents produced: %lu\n", events, t / events * 1e6,
	    watch.len / t / 1e6, intents);
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS of this benchmark (documents held in memory): "
	    "%ld KiB\n", ru.ru_maxrss);
	nodemap_free(map);
	free(list.p);
	free(watch.p);
	return 0;
}
