/*
 * Egress masquerade in nftables (libnftnl): the executor's own table,
 * inet kopeio, with one nat chain at postrouting whose rules come
 * from the flags alone (--pod-cidr, --no-masquerade), never from the
 * watcher.  The table is read back and compared; when it is missing
 * or differs it is replaced in one transaction, so no packet sees it
 * half made; the nftables monitor group says when someone else
 * touched it.  No other table is read, changed or flushed.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "knft.h"
#include "log.h"

#define KNFT_PRIO		100	/* srcnat */
#define KNFT_RETRY_MIN		1000
#define KNFT_RETRY_MAX		60000
#define KNFT_DUMP_TRIES		5
/* Requests of a transaction: table, delete, table, chain, the rules. */
#define KNFT_MSGS		(4 + KNFT_RULES_MAX)

/* What the kernel holds of our table, as last read. */
struct knft_have {
	int			 table;		/* present */
	uint32_t		 flags;		/* dormant, owner, ... */
	uint32_t		 use;		/* chains and sets in it */
	struct nftnl_chain	*chain;
	struct nftnl_rule	*rule[KNFT_RULES_MAX + 1];
	unsigned		 nrule;		/* read, up to the array */
	unsigned		 more;		/* past the array */
};

static void *
nftnl_check(void *p)
{
	if (p == NULL)
		fatal("libnftnl");
	return p;
}

/* --- our objects, by name ------------------------------------------ */

/* Our chain and a rule of it: what every request about them names. */
static struct nftnl_chain *
chain_ours(void)
{
	struct nftnl_chain	*c = nftnl_check(nftnl_chain_alloc());

	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, KNFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, KNFT_CHAIN);
	return c;
}

/* A request about our table: GETTABLE, NEWTABLE, DELTABLE. */
static struct nlmsghdr *
put_table(char *p, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nftnl_table	*t = nftnl_check(nftnl_table_alloc());
	struct nlmsghdr		*nlh;

	nftnl_table_set_str(t, NFTNL_TABLE_NAME, KNFT_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	nlh = nftnl_table_nlmsg_build_hdr(p, type, NFPROTO_INET,
	    flags | NLM_F_ACK, seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return nlh;
}

static struct nftnl_rule *
rule_ours(void)
{
	struct nftnl_rule	*r = nftnl_check(nftnl_rule_alloc());

	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, KNFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, KNFT_CHAIN);
	return r;
}

/* --- the rules the flags ask for ------------------------------------ */

static void
cmp_add(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr	*e = nftnl_check(nftnl_expr_alloc("cmp"));

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

/*
 * An address of the network header against a prefix, as nft(8) writes
 * "ip saddr 100.96.0.0/12" (so that nft list shows it in that form):
 * the bytes a prefix on a byte boundary covers, or the whole address
 * masked.
 */
static void
match_prefix(struct nftnl_rule *r, uint32_t offset, const struct kn_prefix *p,
    uint32_t op)
{
	struct nftnl_expr	*e = nftnl_check(nftnl_expr_alloc("payload"));
	uint8_t			 mask[16], zero[16];
	uint32_t		 len = p->len / 8, i;

	if (p->len % 8 != 0)
		len = p->family == AF_INET6 ? 16 : 4;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE,
	    NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_rule_add_expr(r, e);
	if (p->len % 8 != 0) {
		memset(zero, 0, sizeof(zero));
		for (i = 0; i < len; i++)
			mask[i] = i < p->len / 8 ? 0xff : i == p->len / 8 ?
			    (uint8_t)(0xff << (8 - p->len % 8)) : 0;
		e = nftnl_check(nftnl_expr_alloc("bitwise"));
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
		nftnl_rule_add_expr(r, e);
	}
	cmp_add(r, op, p->addr, len);
}

/*
 * "ip saddr CLUSTER ip daddr PREFIX return", or with dst NULL
 * "ip saddr CLUSTER ip daddr != CLUSTER masquerade fully-random";
 * ip6 alike.  In an inet table the family is matched first.
 */
static struct nftnl_rule *
rule_new(const struct kn_prefix *cluster, const struct kn_prefix *dst)
{
	struct nftnl_rule	*r = rule_ours();
	struct nftnl_expr	*e;
	int			 v6 = cluster->family == AF_INET6;
	uint8_t			 proto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;

	e = nftnl_check(nftnl_expr_alloc("meta"));
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_NFPROTO);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	cmp_add(r, NFT_CMP_EQ, &proto, sizeof(proto));
	match_prefix(r, v6 ? 8 : 12, cluster, NFT_CMP_EQ);
	if (dst != NULL) {
		match_prefix(r, v6 ? 24 : 16, dst, NFT_CMP_EQ);
		e = nftnl_check(nftnl_expr_alloc("immediate"));
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NFT_RETURN);
	} else {
		match_prefix(r, v6 ? 24 : 16, cluster, NFT_CMP_NEQ);
		e = nftnl_check(nftnl_expr_alloc("masq"));
		nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS,
		    NF_NAT_RANGE_PROTO_RANDOM_FULLY);
	}
	nftnl_rule_add_expr(r, e);
	return r;
}

/* Every rule, in order: per family of the cluster range. */
unsigned
knft_rules(const struct kn_config *conf, struct nftnl_rule **r, unsigned max)
{
	unsigned	 n = 0, f, i;

	for (f = 0; f < 2; f++) {
		if (conf->cluster[f].family == 0)
			continue;
		for (i = 0; i < conf->nomasq_count[f] && n < max; i++)
			r[n++] = rule_new(&conf->cluster[f], &conf->nomasq[f][i]);
		if (n < max)
			r[n++] = rule_new(&conf->cluster[f], NULL);
	}
	return n;
}

void
knft_rules_free(struct nftnl_rule **r, unsigned n)
{
	while (n-- > 0) {
		nftnl_rule_free(r[n]);
		r[n] = NULL;
	}
}

/*
 * One expression as we made it against one the kernel reported: the
 * name and every attribute we set, so that what the kernel adds on a
 * dump (the bitwise operation, say) makes no difference.
 */
static int
expr_same(const struct nftnl_expr *w, const struct nftnl_expr *h)
{
	const void	*dw, *dh;
	uint32_t	 lw, lh;
	uint16_t	 a;

	if (strcmp(nftnl_expr_get_str(w, NFTNL_EXPR_NAME),
	    nftnl_expr_get_str(h, NFTNL_EXPR_NAME)) != 0)
		return 0;
	for (a = NFTNL_EXPR_BASE; a < 32; a++) {
		if (!nftnl_expr_is_set(w, a))
			continue;
		if (!nftnl_expr_is_set(h, a))
			return 0;
		dw = nftnl_expr_get(w, a, &lw);
		dh = nftnl_expr_get(h, a, &lh);
		if (dw == NULL || dh == NULL || lw != lh ||
		    memcmp(dw, dh, lw) != 0)
			return 0;
	}
	return 1;
}

int
knft_rule_same(const struct nftnl_rule *want, const struct nftnl_rule *have)
{
	struct nftnl_expr_iter	*iw, *ih;
	struct nftnl_expr	*w, *h;
	int			 same = 1;

	iw = nftnl_check(nftnl_expr_iter_create(want));
	ih = nftnl_check(nftnl_expr_iter_create(have));
	do {
		w = nftnl_expr_iter_next(iw);
		h = nftnl_expr_iter_next(ih);
		if (w == NULL || h == NULL)
			same = w == h;
		else
			same = expr_same(w, h);
	} while (same && w != NULL);
	nftnl_expr_iter_destroy(iw);
	nftnl_expr_iter_destroy(ih);
	return same;
}

/* --- reading back --------------------------------------------------- */

static void
have_free(struct knft_have *h)
{
	if (h->chain != NULL)
		nftnl_chain_free(h->chain);
	knft_rules_free(h->rule, h->nrule);
	memset(h, 0, sizeof(*h));
}

static int
table_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct knft_have	*h = arg;
	struct nftnl_table	*t = nftnl_check(nftnl_table_alloc());

	if (nftnl_table_nlmsg_parse(nlh, t) == 0) {
		h->table = 1;
		h->flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
		h->use = nftnl_table_get_u32(t, NFTNL_TABLE_USE);
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int
chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct knft_have	*h = arg;
	struct nftnl_chain	*c = nftnl_check(nftnl_chain_alloc());

	if (h->chain == NULL && nftnl_chain_nlmsg_parse(nlh, c) == 0)
		h->chain = c;
	else
		nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int
rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct knft_have	*h = arg;
	struct nftnl_rule	*r;

	if (h->nrule == KNFT_RULES_MAX + 1) {
		h->more++;
		return MNL_CB_OK;
	}
	r = nftnl_check(nftnl_rule_alloc());
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0)
		h->rule[h->nrule++] = r;
	else
		nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* One query of our table's objects; ENOENT is an empty answer. */
static int
query(struct knft *k, struct nlmsghdr *nlh, nl_msg_cb cb, void *arg)
{
	int	 try, rv = -1;

	for (try = 0; try < KNFT_DUMP_TRIES; try++)
		if ((rv = nl_query(&k->cmd, nlh, cb, arg)) != NL_INTR)
			break;
	if (rv == -1 && errno == ENOENT)
		return 0;
	return rv == 0 ? 0 : -1;
}

/*
 * Our table, its chain and the chain's rules, each asked for by name:
 * other tables are not read.
 */
static int
have_load(struct knft *k, struct knft_have *h)
{
	char			 buf[512] __attribute__((aligned(8)));
	struct nlmsghdr		*nlh;
	struct nftnl_chain	*c;
	struct nftnl_rule	*r;

	memset(h, 0, sizeof(*h));
	if (query(k, put_table(buf, NFT_MSG_GETTABLE, 0, 0), table_cb, h) ==
	    -1)
		return -1;
	if (!h->table)
		return 0;
	c = chain_ours();
	nlh = nftnl_chain_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_INET,
	    NLM_F_ACK, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	if (query(k, nlh, chain_cb, h) == -1)
		return -1;
	if (h->chain == NULL)
		return 0;
	r = rule_ours();
	nlh = nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET,
	    NLM_F_DUMP, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return query(k, nlh, rule_cb, h);
}

static int
str_is(const char *s, const char *want)
{
	return s != NULL && strcmp(s, want) == 0;
}

/*
 * The table as the flags want it: not dormant, our one chain and
 * nothing else in it, the chain's hook, and each rule in order.
 */
static int
have_same(const struct knft *k, const struct knft_have *h)
{
	const struct nftnl_chain	*c = h->chain;
	unsigned			 i;

	if (!h->table || h->flags != 0 || h->use != 1 || c == NULL ||
	    !str_is(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "nat") ||
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) != NF_INET_POST_ROUTING ||
	    (int32_t)nftnl_chain_get_u32(c, NFTNL_CHAIN_PRIO) != KNFT_PRIO ||
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) != NF_ACCEPT ||
	    h->nrule != k->nwant)
		return 0;
	for (i = 0; i < k->nwant; i++)
		if (!knft_rule_same(k->want[i], h->rule[i]))
			return 0;
	return 1;
}

/* --- writing -------------------------------------------------------- */

static struct nlmsghdr *
put_chain(char *p, uint32_t seq)
{
	struct nftnl_chain	*c = chain_ours();
	struct nlmsghdr		*nlh;

	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_POST_ROUTING);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, KNFT_PRIO);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = nftnl_chain_nlmsg_build_hdr(p, NFT_MSG_NEWCHAIN, NFPROTO_INET,
	    NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return nlh;
}

/*
 * One transaction: the table made (so that deleting it cannot fail),
 * deleted with all it holds, and made again as wanted.  The kernel
 * applies all of it or none, between two packets.  With want 0 the
 * table is only deleted (--masquerade=false).
 */
static int
transaction(struct knft *k, int want, char *why, size_t whylen)
{
	static char	 buf[KNFT_MSGS * NL_MSG_MAX] __attribute__((aligned(8)));
	struct nlmsghdr	*nlh;
	char		*p = buf;
	uint32_t	 first = k->cmd.seq + 1, seq = first;
	unsigned	 i, acks = 0;

#define NEXT(x)	do { nlh = (x); p += NLMSG_ALIGN(nlh->nlmsg_len); } while (0)
	NEXT(nftnl_batch_begin(p, seq++));
	NEXT(put_table(p, NFT_MSG_NEWTABLE, NLM_F_CREATE, seq++));
	NEXT(put_table(p, NFT_MSG_DELTABLE, 0, seq++));
	acks += 2;
	if (want) {
		NEXT(put_table(p, NFT_MSG_NEWTABLE, NLM_F_CREATE, seq++));
		NEXT(put_chain(p, seq++));
		acks += 2;
		for (i = 0; i < k->nwant; i++, acks++) {
			nlh = nftnl_rule_nlmsg_build_hdr(p, NFT_MSG_NEWRULE,
			    NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND |
			    NLM_F_ACK, seq++);
			nftnl_rule_nlmsg_build_payload(nlh, k->want[i]);
			p += NLMSG_ALIGN(nlh->nlmsg_len);
		}
	}
	NEXT(nftnl_batch_end(p, seq));
#undef NEXT
	k->cmd.seq = seq;
	return nl_transaction(&k->cmd, buf, p - buf, first, seq, acks, why,
	    whylen);
}

/* What a refusal most likely means, for the log. */
static const char *
refusal_hint(int error)
{
	switch (error) {
	case ENOENT:
	case EOPNOTSUPP:
	case EAFNOSUPPORT:
	case EPROTONOSUPPORT:
		return " (the kernel lacks nf_tables nat or masquerade: "
		    "nft_chain_nat, nft_masq)";
	case EPERM:
		return " (another program owns a table of that name)";
	}
	return "";
}

/*
 * Replaces the table.  A refusal is logged once for each error (the
 * routes are not held up by it) and tried again later, waiting twice
 * as long each time, up to a minute.
 */
static int
replace(struct knft *k, const char *what)
{
	char	 why[256];
	int	 error;

	if (transaction(k, 1, why, sizeof(why)) == 0) {
		if (k->refused)
			log_info("masquerade: table inet %s accepted after "
			    "the kernel refused it", KNFT_TABLE);
		log_info("masquerade: table inet %s %s (%u rule%s)",
		    KNFT_TABLE, what, k->nwant, k->nwant == 1 ? "" : "s");
		k->refused = 0;
		k->last_error = 0;
		k->retry_ms = KNFT_RETRY_MIN;
		k->due = 0;
		return 0;
	}
	error = errno;
	if (error != k->last_error)
		log_warnx("masquerade: the kernel refused table inet %s: "
		    "%s%s%s%s%s; trying again in %lld s, routes are not held "
		    "up", KNFT_TABLE, strerror(error), *why ? " (" : "", why,
		    *why ? ")" : "", refusal_hint(error),
		    (long long)k->retry_ms / 1000);
	else
		log_debug("masquerade: table inet %s still refused; trying "
		    "again in %lld s", KNFT_TABLE,
		    (long long)k->retry_ms / 1000);
	k->last_error = error;
	k->refused = 1;
	k->due = mono_ms() + k->retry_ms;
	k->retry_ms = k->retry_ms * 2 > KNFT_RETRY_MAX ? KNFT_RETRY_MAX :
	    k->retry_ms * 2;
	return -1;
}

/* --- the monitor ---------------------------------------------------- */

/*
 * An nftables event: only its family and table name are looked at.
 * Each kind of object names its table in attribute 1 (NFTA_TABLE_NAME,
 * NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, ...).
 */
static int
event_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct knft		*k = arg;
	const struct nfgenmsg	*g;
	const struct nlattr	*a;
	uint16_t		 type = NFNL_MSG_TYPE(nlh->nlmsg_type);

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    type == NFT_MSG_NEWGEN || type == NFT_MSG_TRACE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*g))
		return MNL_CB_OK;
	g = mnl_nlmsg_get_payload(nlh);
	if (g->nfgen_family != NFPROTO_INET)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*g))
		if (mnl_attr_get_type(a) == 1) {
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 &&
			    strcmp(mnl_attr_get_str(a), KNFT_TABLE) == 0)
				k->dirty = 1;
			break;
		}
	return MNL_CB_OK;
}

/* --- the executor's calls ------------------------------------------- */

/*
 * Before the drop: the command and the monitor socket, when the table
 * is wanted or may have to go.  A kernel without nfnetlink costs the
 * masquerade only.
 */
int
knft_open(struct knft *k, const struct kn_config *conf, char *err,
    size_t errlen)
{
	memset(k, 0, sizeof(*k));
	k->conf = conf;
	k->retry_ms = KNFT_RETRY_MIN;
	if (nl_open(&k->cmd, NETLINK_NETFILTER, 0, err, errlen) == -1)
		return -1;
	if (conf->masquerade && nl_open(&k->mon, NETLINK_NETFILTER,
	    1u << (NFNLGRP_NFTABLES - 1), err, errlen) == -1) {
		nl_close(&k->cmd);
		return -1;
	}
	k->open = 1;
	if (conf->masquerade)
		k->nwant = knft_rules(conf, k->want, KNFT_RULES_MAX);
	return 0;
}

/*
 * After the drop: adopt the table when it is as wanted, else replace
 * it.  With --masquerade=false a table of ours goes, once, and the
 * socket with it: nftables is left alone from then on.
 */
void
knft_start(struct knft *k)
{
	struct knft_have	 h;
	char			 why[256];
	int64_t			 t0 = mono_us();

	if (!k->open)
		return;
	if (have_load(k, &h) == -1) {
		log_warn("masquerade: reading table inet %s", KNFT_TABLE);
		k->dirty = 1;
		h.table = -1;
	}
	if (!k->conf->masquerade) {
		if (h.table == 1 && transaction(k, 0, why, sizeof(why)) == 0)
			log_info("masquerade: off; table inet %s deleted",
			    KNFT_TABLE);
		else if (h.table == 1)
			log_warn("masquerade: off; deleting table inet %s%s%s",
			    KNFT_TABLE, *why ? ": " : "", why);
		else
			log_info("masquerade: off");
		have_free(&h);
		nl_close(&k->cmd);
		k->open = 0;
		return;
	}
	if (h.table == 1 && have_same(k, &h)) {
		k->rules = h.nrule;
		log_info("masquerade: table inet %s adopted (%u rule%s)",
		    KNFT_TABLE, h.nrule, h.nrule == 1 ? "" : "s");
		k->programmed = 1;
	} else if (h.table != -1 && replace(k, h.table ? "differed from the "
	    "flags; replaced" : "created") == 0) {
		k->rules = k->nwant;
		k->programmed = 1;
	}
	have_free(&h);
	/* What the table costs a start; make bench reads it. */
	log_debug("masquerade: start-up took %lld us", (long long)(mono_us() -
	    t0));
}

int
knft_fd(const struct knft *k)
{
	return k->open && k->conf->masquerade ? nl_fd(&k->mon) : -1;
}

/* The monitor socket is readable: was our table named? */
void
knft_event(struct knft *k)
{
	if (nl_read(&k->mon, event_cb, k) == -1) {
		if (errno == ENOBUFS)
			nl_drain(&k->mon);
		else
			log_warn("masquerade: nftables monitor");
		k->dirty = 1;
	}
}

/* Milliseconds until knft_run has something to do; -1: nothing. */
int64_t
knft_timeout(const struct knft *k, int64_t now)
{
	if (!k->open || !k->conf->masquerade)
		return -1;
	if (k->dirty && !k->refused)
		return 0;
	if (k->refused)
		return k->due > now ? k->due - now : 0;
	return -1;
}

/*
 * Read back and compare, once per round however many events came;
 * replace when it differs.  1 when a repair was made (the caller
 * reports its counters).
 */
int
knft_run(struct knft *k, int64_t now)
{
	struct knft_have	 h;
	int			 was = k->programmed, rv = 0;

	if (!k->open || !k->conf->masquerade || !(k->dirty || k->refused) ||
	    (k->refused && now < k->due))
		return 0;
	k->dirty = 0;
	if (have_load(k, &h) == -1) {
		log_warn("masquerade: reading table inet %s", KNFT_TABLE);
		have_free(&h);
		return 0;
	}
	if (have_same(k, &h)) {
		k->rules = h.nrule;
		k->refused = 0;
		k->programmed = 1;
	} else if (replace(k, was ? "was changed by someone else; replaced" :
	    h.table ? "differed from the flags; replaced" : "created") == 0) {
		k->rules = k->nwant;
		k->programmed = 1;
		if (was) {
			k->repairs++;
			rv = 1;
		}
	}
	have_free(&h);
	return rv;
}

/* printf at buf + at, never past len; the new end. */
static size_t
append(char *buf, size_t len, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t
append(char *buf, size_t len, size_t at, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (at >= len)
		return at;
	va_start(ap, fmt);
	n = vsnprintf(buf + at, len - at, fmt, ap);
	va_end(ap);
	return n < 0 ? at : at + (size_t)n;
}

/*
 * kopeio-networkctl show masquerade: the table as the kernel has it
 * now, read afresh, and whether it is as the flags want.  Text, cut
 * at len.
 */
size_t
knft_show(struct knft *k, char *buf, size_t len)
{
	struct knft_have	 h;
	const struct nftnl_chain *c;
	char			 p[INET6_ADDRSTRLEN + 5];
	size_t			 at = 0;
	unsigned		 i, f;
	int			 n;

	at = append(buf, len, at, "masquerade %s", k->conf->masquerade ?
	    "on" : "off");
	for (f = 0; f < 2 && k->conf->masquerade; f++)
		if (k->conf->cluster[f].family != 0) {
			prefix_format(&k->conf->cluster[f], p, sizeof(p));
			at = append(buf, len, at, "%s %s", f &&
			    k->conf->cluster[0].family ? "," : ": from", p);
		}
	for (f = 0; f < 2 && k->conf->masquerade; f++)
		for (i = 0; i < k->conf->nomasq_count[f]; i++) {
			prefix_format(&k->conf->nomasq[f][i], p, sizeof(p));
			at = append(buf, len, at, "%s%s", f + i == 0 ?
			    "; except to " : ", ", p);
		}
	at = append(buf, len, at, "\nrepairs %llu\n",
	    (unsigned long long)k->repairs);
	if (!k->open) {
		at = append(buf, len, at, "table inet %s: not read (%s)\n",
		    KNFT_TABLE, k->conf->masquerade ? "no nftables netlink "
		    "socket" : "nftables is left alone");
		return at < len ? at : len - 1;
	}
	if (have_load(k, &h) == -1) {
		at = append(buf, len, at, "table inet %s: reading it: %s\n",
		    KNFT_TABLE, strerror(errno));
		have_free(&h);
		return at < len ? at : len - 1;
	}
	at = append(buf, len, at, "table inet %s: %s\n", KNFT_TABLE,
	    !h.table ? "absent" : have_same(k, &h) ? "present, as configured" :
	    "present, differs from the configuration");
	if ((c = h.chain) != NULL)
		at = append(buf, len, at, "chain %s: type %s hook %s priority "
		    "%d policy %s\n", KNFT_CHAIN,
		    nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) ?
		    nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "filter",
		    nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) ==
		    NF_INET_POST_ROUTING ? "postrouting" : "other",
		    (int32_t)nftnl_chain_get_u32(c, NFTNL_CHAIN_PRIO),
		    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_ACCEPT ?
		    "accept" : "drop");
	for (i = 0; i < h.nrule && at < len; i++) {
		at = append(buf, len, at, "rule %u: ", i + 1);
		if (at < len && (n = nftnl_rule_snprintf(buf + at, len - at,
		    h.rule[i], NFTNL_OUTPUT_DEFAULT, 0)) > 0)
			at += (size_t)n;
	}
	if (h.more > 0)
		at = append(buf, len, at, "and %u more rules\n", h.more);
	have_free(&h);
	return at < len ? at : len - 1;
}
