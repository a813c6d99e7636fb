/*
 * The watcher's node map: what it keeps of each Node, which node is
 * this one, and the route intents the map implies.  Pure code: the
 * watcher feeds it parsed nodes, tests feed it directly.
 */
#ifndef KN_NODEMAP_H
#define KN_NODEMAP_H

#include "htab.h"
#include "k8s_parse.h"
#include "proto.h"

struct nm_node {
	struct hnode		 h;		/* first: the table's link */
	int			 local;		/* this node */
	int			 warned;	/* several addresses: logged */
	int			 ncidr;
	struct kn_prefix	 cidr[2];	/* effective pod CIDRs */
	int			 has4, has6;
	uint8_t			 addr4[4];
	uint8_t			 addr6[16];
	uint8_t			 boot[16];	/* boot ID; zero: none */
	int			 net_unavailable;
	char			 name[];	/* at most K8S_NAME_MAX */
};

/*
 * What one event changed: the intents to add (a new prefix, a moved
 * address or a new boot ID: the executor replaces in place), then
 * those to remove; a node holds two at the most.
 */
struct nm_change {
	struct msg_intent	 add[2], del[2];
	int			 nadd, ndel;
};

struct nodemap;

struct nodemap	*nodemap_new(unsigned max_nodes, enum node_id_kind,
		    const char *id);
void		 nodemap_free(struct nodemap *);
int		 nodemap_apply(struct nodemap *, enum k8s_event,
		    const struct k8s_node *, struct nm_change *);
unsigned	 nodemap_count(const struct nodemap *);
unsigned	 nodemap_refused(const struct nodemap *);
const struct nm_node *nodemap_get(const struct nodemap *, const char *name);
const struct nm_node *nodemap_local(const struct nodemap *);
const struct nm_node *nodemap_next(const struct nodemap *, unsigned *bucket,
		    const struct nm_node *prev);
void		 nodemap_local_msg(const struct nm_node *, struct msg_local *);
int		 node_intents(const struct nm_node *, struct msg_intent[2]);
int		 boot_id_parse(const char *, uint8_t[16]);

#endif
