/*
 * The ARP helper of the vxlan-legacy mode.  The executor addresses
 * vxlan1 in the whole cluster range and asks the kernel to report
 * every address it cannot resolve there (app_solicit); the helper
 * answers each report with the MAC of the node whose pod prefix holds
 * the address (longest prefix match over the peer table the watcher
 * sends), IPv4 and IPv6, and removes the neighbours that no longer
 * match a peer.  Keeps CAP_NET_ADMIN and nothing else.
 */
#include <sys/socket.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>

#include "child.h"
#include "intentrx.h"
#include "ktab.h"
#include "link.h"
#include "log.h"
#include "nl.h"

static const char *const vxlan_names[2] = { "vxlan1", "vxlan1v6" };

struct arp {
	struct child		*c;
	struct intent_rx	 rx;
	struct nl		 cmd;
	struct nl		 mon;
	struct kobj_ctx		 ctx;
	struct ktab		 seen;		/* neighbours found by a dump */
	int			 prune;		/* peers went: check neighbours */
	int			 snapped;	/* the first snapshot is in */
	struct kobj		 pend[NL_BATCH_MAX];
	struct nl_batch		 batch;
};

static struct arp	 arp;

/* The peer whose pod prefix holds addr, longest prefix first. */
static const struct msg_intent *
peer_of(struct arp *a, uint8_t family, const uint8_t *addr)
{
	const struct msg_intent	*in;
	struct msg_intent	 key;
	int			 plen, max = family == AF_INET6 ? 128 : 32;
	const struct kn_prefix	*cluster = cluster_of(a->c->conf.cluster,
				    family);
	int			 min = cluster != NULL ? cluster->len : max, i;

	for (plen = max; plen >= min; plen--) {
		memset(&key, 0, sizeof(key));
		key.family = family;
		key.plen = (uint8_t)plen;
		memcpy(key.prefix, addr, max / 8);
		for (i = plen; i < max; i++)
			key.prefix[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
		if ((in = itab_get(a->rx.active, &key)) != NULL)
			return in;
	}
	return NULL;
}

static void
request_done(void *arg, unsigned idx, int error, const char *why)
{
	struct arp	*a = arg;
	char		 name[KOBJ_NAME_MAX];

	if (error == 0 || error == ENOENT)
		return;
	kobj_name(&a->pend[idx], name, sizeof(name));
	log_warnx("%s: %s%s%s", name, strerror(error), *why ? ": " : "", why);
}

static void
request(struct arp *a, enum kobj_op op, const struct kobj *o)
{
	struct nlmsghdr	*nlh;
	unsigned	 idx;

	if ((nlh = nl_batch_add(&a->batch, 0, 0, &idx)) == NULL) {
		log_warn("netlink send");
		return;
	}
	a->pend[idx] = *o;
	kobj_request(nlh, &a->ctx, op, o);
}

/* A neighbour the kernel could not resolve: answer with the peer's MAC. */
static void
answer(struct arp *a, struct kobj *o)
{
	const struct msg_intent	*in;
	char			 name[KOBJ_NAME_MAX];

	if ((in = peer_of(a, o->k.family, o->k.addr)) == NULL) {
		kobj_name(o, name, sizeof(name));
		log_debug("no peer holds %s", name);
		return;
	}
	kobj_vxlan_mac(in->family, in->plen, in->prefix, o->v.mac);
	o->v.state = NUD_REACHABLE;
	request(a, KOBJ_REPLACE, o);
	kobj_name(o, name, sizeof(name));
	log_debug("answered %s", name);
}

static int
monitor_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct arp	*a = arg;
	struct linkinfo	 li;
	struct kobj	 o;
	int		 deleted, i;

	if (!a->ctx.neigh)
		return 0;
	if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) {
		memset(&li, 0, sizeof(li));
		link_parse(nlh, &li);
		for (i = 0; i < 2; i++)
			if (strcmp(li.name, vxlan_names[i]) == 0)
				a->ctx.vxlan[i] = nlh->nlmsg_type ==
				    RTM_NEWLINK ? li.ifindex : 0;
		return 0;
	}
	if (nlh->nlmsg_type == RTM_GETNEIGH &&
	    kobj_parse(nlh, &a->ctx, &o, &deleted) == 1)
		answer(a, &o);
	return 0;
}

/*
 * After a removal or a new snapshot: a neighbour on our device whose
 * address no peer holds any more, or whose MAC is another peer's,
 * goes; the next miss is answered afresh.
 */
static void
prune(struct arp *a)
{
	char			 buf[128] __attribute__((aligned(8)));
	struct kobj_collect	 kc = { &a->ctx, &a->seen };
	const struct msg_intent	*in;
	const struct kobj	*o = NULL;
	uint8_t			 mac[6];
	unsigned		 b = 0;
	int			 i;

	a->prune = 0;
	ktab_free(&a->seen);
	/*
	 * A count, the table grows: what the dump of the VXLAN devices
	 * finds, ours (one a peer, two intents a node) and, as many
	 * again and some, entries others put there.
	 */
	if (ktab_init(&a->seen, 4 * a->c->conf.max_nodes + 1024) == -1)
		fatal("neighbour table");
	for (i = 0; i < 2; i++) {
		if (a->ctx.vxlan[i] == 0)
			continue;
		if (nl_query(&a->cmd, kobj_dump_request(buf, sizeof(buf),
		    RTM_GETNEIGH, i == 0 ? AF_INET : AF_INET6,
		    a->ctx.vxlan[i], 0), kobj_collect, &kc) != 0) {
			log_warn("reading the neighbours of %s",
			    vxlan_names[i]);
			a->prune = 1;	/* again at the next chance */
			return;
		}
	}
	while ((o = ktab_next(&a->seen, &b, o)) != NULL) {
		in = peer_of(a, o->k.family, o->k.addr);
		if (in != NULL)
			kobj_vxlan_mac(in->family, in->plen, in->prefix, mac);
		if (in == NULL || memcmp(mac, o->v.mac, 6) != 0)
			request(a, KOBJ_DELETE, o);
	}
	if (nl_batch_flush(&a->batch) == -1)
		log_warn("netlink batch");
}

static void
arp_peer(struct child *c, enum role from, struct msg *m)
{
	struct arp		*a = c->state;
	struct msg_gen_result	 res;

	/* Only the executor reports generations to the watcher. */
	(void)from;
	switch (intentrx_msg(&a->rx, m, &res)) {
	case INTENTRX_BATCH:
		/*
		 * The watcher streams the additions of its first list
		 * before the snapshot: until that is in, the table is
		 * partial, and a neighbour of a peer not read yet stays,
		 * as the executor keeps its routes.
		 */
		if (a->snapped)
			a->prune = 1;
		break;
	case INTENTRX_SNAPSHOT:
		a->prune = a->snapped = 1;
		break;
	default:
		break;
	}
}

static int
arp_poll(struct child *c, struct pollfd *pfd, int max, int64_t *timeout)
{
	struct arp	*a = c->state;

	(void)timeout;
	if (max < 1)
		return 0;
	pfd[0].fd = nl_fd(&a->mon);
	pfd[0].events = POLLIN;
	if (a->prune)
		*timeout = 0;
	return 1;
}

static void
arp_io(struct child *c, struct pollfd *pfd, int n)
{
	struct arp	*a = c->state;

	if (n > 0 && (pfd[0].revents & (POLLIN | POLLERR))) {
		if (nl_read(&a->mon, monitor_cb, a) == -1) {
			/* Lost misses are asked again by the kernel. */
			log_warn("netlink monitor");
			a->prune = 1;
		}
		if (nl_batch_flush(&a->batch) == -1)
			log_warn("netlink batch");
	}
	if (a->prune)
		prune(a);
}

static const struct child_ops arp_ops = {
	.peer = arp_peer,
	.poll = arp_poll,
	.io = arp_io,
};

void
arp_main(void)
{
	static struct child	 c;
	struct arp		*a = &arp;
	struct linkinfo		 li;
	char			 err[256];
	int			 i;

	a->c = &c;
	child_init(&c, ROLE_ARP);
	child_peer(&c, ROLE_WATCHER, CHILD_FD_PEER);
	if (intentrx_init(&a->rx, &c.conf) == -1)
		fatal("peer table");
	/* Sockets before the drop: the filter allows no socket(2). */
	if (nl_open(&a->cmd, NETLINK_ROUTE, 0, err, sizeof(err)) == -1 ||
	    nl_open(&a->mon, NETLINK_ROUTE, RTMGRP_LINK | RTMGRP_NEIGH, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	nl_batch_init(&a->batch, &a->cmd, request_done, a);
	a->ctx.mode = c.conf.mode;
	/* Started in other modes only by --self-test: then it stays idle. */
	a->ctx.neigh = c.conf.mode == MODE_VXLAN_LEGACY;
	if (ktab_init(&a->seen, 16) == -1)
		fatal("neighbour table");
	c.ops = &arp_ops;
	c.state = a;
	child_confine(&c);
	for (i = 0; i < 2 && a->ctx.neigh; i++)
		if (link_get(&a->cmd, vxlan_names[i], 0, &li) == 0 && li.found)
			a->ctx.vxlan[i] = li.ifindex;
	child_loop(&c);
}
