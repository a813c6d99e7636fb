/*
 * The watcher's node map, driven directly: which events cost intents,
 * which do not.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../src/log.h"
#include "../src/nodemap.h"

static struct nm_change	 rec;

static void
node(struct k8s_node *k, const char *name, const char *cidr,
    const char *addr)
{
	char	 err[128];

	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->net_unavailable = -1;
	if (cidr != NULL && prefix_parse(cidr, &k->pod_cidr, err,
	    sizeof(err)) == -1)
		bail_out("%s: %s", cidr, err);
	if (addr != NULL && inet_pton(AF_INET, addr, k->addr4) == 1)
		k->naddr4 = 1;
	else if (addr != NULL && inet_pton(AF_INET6, addr, k->addr6) == 1)
		k->naddr6 = 1;
}

static int
apply(struct nodemap *m, enum k8s_event ev, const struct k8s_node *k)
{
	memset(&rec, 0, sizeof(rec));
	return nodemap_apply(m, ev, k, &rec);
}

static const char *
show(const struct msg_intent *in)
{
	static char	 buf[128];
	char		 p[INET6_ADDRSTRLEN], n[INET6_ADDRSTRLEN];

	inet_ntop(in->family, in->prefix, p, sizeof(p));
	inet_ntop(in->family, in->node, n, sizeof(n));
	snprintf(buf, sizeof(buf), "%s/%u via %s", p, in->plen, n);
	return buf;
}

/* The snapshot's intents, as the watcher gathers them. */
static int
count_intents(const struct nodemap *m)
{
	const struct nm_node	*nd = NULL;
	struct msg_intent	 in[2];
	unsigned		 b = 0;
	int			 n = 0;

	while ((nd = nodemap_next(m, &b, nd)) != NULL)
		n += node_intents(nd, in);
	return n;
}

static void
test_map(void)
{
	struct nodemap	*m = nodemap_new(3, NODE_BY_NAME, "self");
	struct k8s_node	 k;
	struct msg_local l;
	int		 n;

	node(&k, "peer1", "100.96.1.0/24", "10.0.0.1");
	is_int(apply(m, K8S_ADDED, &k), 0, "a peer is added");
	is_int(rec.nadd, 1, "a new peer costs one add");
	is_str(show(&rec.add[0]), "100.96.1.0/24 via 10.0.0.1",
	    "the intent routes its pod CIDR via its address");

	apply(m, K8S_MODIFIED, &k);
	is_int(rec.nadd + rec.ndel, 0,
	    "a heartbeat-only change costs nothing");

	k.net_unavailable = 0;
	apply(m, K8S_MODIFIED, &k);
	is_int(rec.nadd + rec.ndel, 0, "a condition change costs nothing");

	strcpy(k.boot_id, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
	apply(m, K8S_MODIFIED, &k);
	ok(rec.nadd == 1 && rec.ndel == 0 && rec.add[0].boot[0] == 0x0f &&
	    rec.add[0].boot[15] == 0xf0,
	    "a boot ID appearing is one add that carries it");
	apply(m, K8S_MODIFIED, &k);
	is_int(rec.nadd + rec.ndel, 0,
	    "a heartbeat with the same boot ID costs nothing");
	strcpy(k.boot_id, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1");
	apply(m, K8S_MODIFIED, &k);
	ok(rec.nadd == 1 && rec.ndel == 0 && rec.add[0].boot[15] == 0xf1 &&
	    strcmp(show(&rec.add[0]), "100.96.1.0/24 via 10.0.0.1") == 0,
	    "a reboot (another boot ID) is one add that replaces in place");

	inet_pton(AF_INET, "10.0.0.9", k.addr4);
	apply(m, K8S_MODIFIED, &k);
	ok(rec.nadd == 1 && rec.ndel == 0 &&
	    strcmp(show(&rec.add[0]), "100.96.1.0/24 via 10.0.0.9") == 0,
	    "a moved address is one add that replaces in place");

	node(&k, "peer1", "100.96.7.0/24", "10.0.0.9");
	apply(m, K8S_MODIFIED, &k);
	ok(rec.nadd == 1 && rec.ndel == 1 &&
	    strcmp(show(&rec.del[0]), "100.96.1.0/24 via 10.0.0.9") == 0,
	    "a changed pod CIDR: the new one added, the old one removed");

	node(&k, "self", "100.96.2.0/24", "10.0.0.2");
	apply(m, K8S_ADDED, &k);
	is_int(rec.nadd, 0, "this node gets no route to itself");
	ok(nodemap_local(m) != NULL &&
	    strcmp(nodemap_local(m)->name, "self") == 0,
	    "this node is found by its name");
	strcpy(k.boot_id, "00112233-4455-6677-8899-aabbccddeeff");
	apply(m, K8S_MODIFIED, &k);
	nodemap_local_msg(nodemap_local(m), &l);
	ok(rec.nadd + rec.ndel == 0 && l.boot[0] == 0x00 && l.boot[1] == 0x11 &&
	    l.boot[15] == 0xff, "this node's boot ID goes in MSG_LOCAL, and "
	    "costs no intent");

	node(&k, "nocidr", NULL, "10.0.0.3");
	apply(m, K8S_ADDED, &k);
	is_int(rec.nadd, 0, "a node without a pod CIDR costs nothing yet");
	node(&k, "toomany", "100.96.4.0/24", "10.0.0.4");
	is_int(apply(m, K8S_ADDED, &k), -1, "--max-nodes bounds the map");
	is_int(nodemap_count(m), 3, "the map holds three nodes");

	n = count_intents(m);
	is_int(n, 1, "the snapshot holds one intent");

	node(&k, "peer1", NULL, NULL);
	apply(m, K8S_DELETED, &k);
	ok(rec.ndel == 1 && rec.nadd == 0, "a deleted node's intent goes");
	is_int(nodemap_count(m), 2, "and the node with it");
	nodemap_free(m);
}

static void
test_dual_stack_and_ids(void)
{
	struct nodemap	*m = nodemap_new(10, NODE_BY_SYSTEM_UUID,
			    "ABCD-1234");
	struct k8s_node	 k;
	char		 err[128];

	node(&k, "dual", NULL, "10.0.0.5");
	prefix_parse("100.96.5.0/24", &k.pod_cidrs[0], err, sizeof(err));
	prefix_parse("fd00:100:0:5::/64", &k.pod_cidrs[1], err, sizeof(err));
	k.npod_cidrs = 2;
	inet_pton(AF_INET6, "fd00::5", k.addr6);
	k.naddr6 = 1;
	apply(m, K8S_ADDED, &k);
	is_int(rec.nadd, 2, "dual-stack: one intent per family");
	ok(rec.nadd == 2 && rec.add[1].family == AF_INET6 &&
	    strcmp(show(&rec.add[1]), "fd00:100:0:5::/64 via fd00::5") == 0,
	    "the IPv6 prefix goes via the IPv6 address");
	k.naddr6 = 0;
	apply(m, K8S_MODIFIED, &k);
	ok(rec.ndel == 1 && rec.del[0].family == AF_INET6,
	    "without an IPv6 address the IPv6 intent goes");

	node(&k, "me", "100.96.6.0/24", "10.0.0.6");
	snprintf(k.system_uuid, sizeof(k.system_uuid), "abcd-1234");
	apply(m, K8S_ADDED, &k);
	ok(nodemap_local(m) != NULL && nodemap_local(m)->local,
	    "this node is found by its system UUID, in any case");
	nodemap_free(m);
}

static void
test_boot_id(void)
{
	static const char *const bad[] = { "", "6b1e3c4e",
	    "6b1e3c4e-0a1b-4c2d-8e3f-40516273849",
	    "6b1e3c4e-0a1b-4c2d-8e3f-4051627384950",
	    "6b1e3c4e00a1b-4c2d-8e3f-405162738495",
	    "6b1e3c4e-0a1b-4c2d-8e3f-40516273849g" };
	static const uint8_t zero[16];
	uint8_t	 b[16];
	size_t	 i;
	int	 all = 1;

	ok(boot_id_parse("6B1E3C4E-0a1b-4c2d-8e3f-405162738495", b) == 0 &&
	    b[0] == 0x6b && b[4] == 0x0a && b[6] == 0x4c && b[8] == 0x8e &&
	    b[10] == 0x40 && b[15] == 0x95, "a boot ID parses into 16 bytes, "
	    "either case");
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		memset(b, 0xaa, sizeof(b));
		if (boot_id_parse(bad[i], b) != -1 ||
		    memcmp(b, zero, sizeof(b)) != 0)
			all = 0;
	}
	ok(all, "a short, long, misplaced or non-hex boot ID is refused and "
	    "reads as all zero");
}

/*
 * The map grows from 16 buckets as nodes come: 10,000 of them, a
 * third deleted on the way, each walked once, the bound refused.
 */
#define MANY	10000

static void
test_growth(void)
{
	struct nodemap		*m = nodemap_new(MANY, NODE_BY_NAME, "self");
	const struct nm_node	*nd = NULL;
	struct k8s_node		 k;
	unsigned char		*once = calloc(MANY, 1);
	char			 name[32];
	unsigned		 i, b = 0, bad = 0, walked = 0;

	if (m == NULL || once == NULL)
		bail_out("out of memory");
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		node(&k, name, NULL, NULL);
		if (apply(m, K8S_ADDED, &k) != 0)
			bad++;
		if (i % 3 == 2) {
			snprintf(k.name, sizeof(k.name), "n%u", i - 1);
			if (apply(m, K8S_DELETED, &k) != 0)
				bad++;
		}
	}
	ok(bad == 0 && nodemap_count(m) == MANY - (MANY - 1) / 3,
	    "growth: %u nodes added, a third deleted on the way", MANY);
	while ((nd = nodemap_next(m, &b, nd)) != NULL) {
		walked++;
		i = (unsigned)strtoul(nd->name + 1, NULL, 10);
		if (i >= MANY || once[i]++ != 0)
			bad++;
	}
	for (i = 0; i < MANY; i++)
		if (once[i] != (i % 3 != 1 || i + 1 == MANY))
			bad++;
	ok(bad == 0 && walked == nodemap_count(m), "growth: a walk sees each "
	    "node once");
	for (i = 1; i + 1 < MANY; i += 3) {
		snprintf(name, sizeof(name), "n%u", i);
		node(&k, name, NULL, NULL);
		if (apply(m, K8S_ADDED, &k) != 0)
			bad++;
	}
	node(&k, "one-more", NULL, NULL);
	ok(bad == 0 && nodemap_count(m) == MANY && nodemap_refused(m) == 0 &&
	    apply(m, K8S_ADDED, &k) == -1, "growth: filled to the bound, "
	    "one more refused");
	ok(apply(m, K8S_MODIFIED, &k) == -1 && nodemap_refused(m) == 2,
	    "growth: and again at its next event, both counted");
	node(&k, "n0", NULL, NULL);
	ok(apply(m, K8S_DELETED, &k) == 0 && nodemap_refused(m) == 0,
	    "growth: a node gone: room, the count starts again");
	node(&k, "one-more", NULL, NULL);
	ok(apply(m, K8S_MODIFIED, &k) == 0 && nodemap_refused(m) == 0 &&
	    nodemap_count(m) == MANY, "growth: the refused node's next event "
	    "finds the room");
	node(&k, "two-more", NULL, NULL);
	ok(apply(m, K8S_ADDED, &k) == -1 && nodemap_refused(m) == 1,
	    "growth: full again, the next one refused and counted");
	free(once);
	nodemap_free(m);
}

int
main(void)
{
	log_init(1, "test");
	test_map();
	test_growth();
	test_dual_stack_and_ids();
	test_boot_id();
	return done_testing();
}
