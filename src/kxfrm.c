/*
 * The ipsec mode's kernel objects as plain values: the ESP states and
 * the policies a route intent asks for, the NETLINK_XFRM requests that
 * make and remove them and the parsing of what the kernel reports.
 * Pure code but for the key derivation: no I/O.
 *
 * Ours is what carries our reqid (KXFRM_REQID): a state by its own
 * reqid, a policy by the one template it has.  Nothing else is ever
 * changed or removed, so IKE daemons and hand-made states live beside
 * us.  Per peer, as the original agent: tunnel-mode policies out, in
 * and fwd for local pod CIDR <-> peer pod CIDR, local pod CIDR <->
 * peer node address and local node address <-> peer pod CIDR, all
 * through one ESP state each way between the two node addresses.  No
 * routes: pod traffic leaves by the node's own routes and the out
 * policies catch it.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ipseckey.h"
#include "ktab.h"
#include "kxfrm.h"
#include "nl.h"

#define AEAD_NAME	"rfc4106(gcm(aes))"
#define AEAD_KEYLEN	36		/* AES-256 key and 32-bit salt */
#define AEAD_ICV	128
#define NULL_NAME	"ecb(cipher_null)"
#define REPLAY_WINDOW	32

static unsigned
alen(uint8_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

/* The local pod CIDR and node address of family; -1 if it has none. */
static int
local_of(const struct msg_local *l, uint8_t family, uint8_t *cidr,
    uint8_t *plen, uint8_t *addr)
{
	int	 i;

	for (i = 0; i < 2; i++)
		if (l->family[i] == family)
			break;
	if (i == 2 || !(family == AF_INET ? l->has4 : l->has6))
		return -1;
	memcpy(cidr, l->cidr[i], 16);
	*plen = l->plen[i];
	memset(addr, 0, 16);
	memcpy(addr, family == AF_INET ? l->addr4 : l->addr6, alen(family));
	return 0;
}

static void
policy(struct kobj *o, uint8_t family, uint8_t dir, const uint8_t *src,
    uint8_t splen, const uint8_t *dst, uint8_t dplen, const uint8_t *tsrc,
    const uint8_t *tdst)
{
	o->k.type = KOBJ_XPOLICY;
	o->k.family = family;
	o->k.dir = dir;
	memcpy(o->k.src, src, 16);
	o->k.splen = splen;
	memcpy(o->k.addr, dst, 16);
	o->k.plen = dplen;
	o->v.gwfamily = family;
	memcpy(o->v.gw, tdst, 16);
	memcpy(o->v.tsrc, tsrc, 16);
	o->v.reqid = KXFRM_REQID;
	o->v.prio = KXFRM_PRIORITY;
}

/*
 * The state from src to dst under key k, sent by the node of pod CIDR
 * sender_cidr/sender_plen and boot ID sboot to the node of boot ID
 * dboot; -1 when it cannot be had.
 */
static int
state(const struct kobj_ctx *c, struct kobj *o, uint8_t family,
    const struct ipsec_key *k, const uint8_t *src, const uint8_t *dst,
    uint8_t sender_plen, const uint8_t *sender_cidr, const uint8_t *sboot,
    const uint8_t *dboot)
{
	o->k.type = KOBJ_XSTATE;
	o->k.family = family;
	memcpy(o->k.addr, dst, 16);
	if (ipsec_spi(c->cluster, family, sender_plen, sender_cidr, k->id,
	    &o->k.spi) == -1)
		return -1;
	o->v.gwfamily = family;
	memcpy(o->v.gw, src, 16);
	o->v.reqid = KXFRM_REQID;
	o->v.encap = c->ipsec.udp;
	if (!c->ipsec.aes) {
		o->v.alg = KXFRM_ALG_NULL;
		return 0;
	}
	o->v.alg = KXFRM_ALG_AEAD;
	o->v.keylen = AEAD_KEYLEN;
	return ipsec_derive(k, family, src, dst, sboot, dboot, o->v.key,
	    AEAD_KEYLEN);
}

/*
 * The objects for one intent; 0 while this node or the key is not
 * known, or when an SPI cannot be made (the caller says why).
 */
int
kxfrm_wanted(const struct kobj_ctx *c, const struct msg_intent *in,
    struct kobj out[KOBJ_PER_INTENT])
{
	static const uint8_t	 dirs[3] = { XFRM_POLICY_OUT, XFRM_POLICY_IN,
				    XFRM_POLICY_FWD };
	uint8_t			 lc[16], lplen, la[16], peer[16];
	uint8_t			 max = in->family == AF_INET6 ? 128 : 32;
	const uint8_t		*src[3], *dst[3];
	uint8_t			 splen[3], dplen[3];
	int			 n = 0, i, d;

	if (c->ipsec.local == NULL || c->ipsec.out == NULL ||
	    local_of(c->ipsec.local, in->family, lc, &lplen, la) == -1)
		return 0;
	memset(peer, 0, sizeof(peer));
	memcpy(peer, in->node, alen(in->family));
	/* local -> peer, as the out policy sees them */
	src[0] = lc; splen[0] = lplen; dst[0] = in->prefix; dplen[0] = in->plen;
	src[1] = lc; splen[1] = lplen; dst[1] = peer; dplen[1] = max;
	src[2] = la; splen[2] = max; dst[2] = in->prefix; dplen[2] = in->plen;
	for (i = 0; i < 3; i++)
		for (d = 0; d < 3; d++, n++) {
			if (dirs[d] == XFRM_POLICY_OUT)
				policy(&out[n], in->family, dirs[d], src[i],
				    splen[i], dst[i], dplen[i], la, peer);
			else
				policy(&out[n], in->family, dirs[d], dst[i],
				    dplen[i], src[i], splen[i], peer, la);
		}
	if (state(c, &out[n++], in->family, c->ipsec.out, la, peer, lplen,
	    lc, c->ipsec.local->boot, in->boot) == -1)
		return 0;
	for (i = 0; i < 2; i++)
		if (c->ipsec.in[i] != NULL && state(c, &out[n++], in->family,
		    c->ipsec.in[i], peer, la, in->plen, in->prefix,
		    in->boot, c->ipsec.local->boot) == -1)
			return 0;
	return n;
}

static void
lifetime_inf(struct xfrm_lifetime_cfg *l)
{
	l->soft_byte_limit = l->hard_byte_limit = XFRM_INF;
	l->soft_packet_limit = l->hard_packet_limit = XFRM_INF;
}

/* A policy's selector: its key. */
static void
selector(struct xfrm_selector *sel, const struct kobj *o)
{
	sel->family = o->k.family;
	memcpy(&sel->daddr, o->k.addr, alen(o->k.family));
	memcpy(&sel->saddr, o->k.src, alen(o->k.family));
	sel->prefixlen_d = o->k.plen;
	sel->prefixlen_s = o->k.splen;
}

/*
 * Fills in a request made by nl_batch_add.  A state is only ever
 * created or removed (the kernel cannot change its key in place); a
 * policy is created exclusively, so one of someone else's with the
 * same selector is refused by the kernel, and replaced only when it is
 * known to be ours.
 */
void
kxfrm_request(struct nlmsghdr *nlh, enum kobj_op op, const struct kobj *o)
{
	struct xfrm_usersa_info		 sa_, *sa = &sa_;
	struct xfrm_usersa_id		*sid;
	struct xfrm_userpolicy_info	 pol_, *pol = &pol_;
	struct xfrm_userpolicy_id	*pid;
	struct xfrm_user_tmpl		 t;
	struct xfrm_encap_tmpl		 enc;
	struct xfrm_replay_state	 rs;
	struct xfrm_algo_aead		*aead;
	struct xfrm_algo		*alg;
	struct nlattr			*a;
	unsigned			 len = alen(o->k.family);

	if (o->k.type == KOBJ_XSTATE && op == KOBJ_DELETE) {
		nlh->nlmsg_type = XFRM_MSG_DELSA;
		sid = mnl_nlmsg_put_extra_header(nlh, sizeof(*sid));
		memcpy(&sid->daddr, o->k.addr, len);
		sid->spi = htonl(o->k.spi);
		sid->family = o->k.family;
		sid->proto = IPPROTO_ESP;
		return;
	}
	if (o->k.type == KOBJ_XSTATE) {
		/*
		 * Built aside and copied: in a batch the header may sit
		 * at a 4-byte boundary, and its lifetimes are 64-bit.
		 */
		nlh->nlmsg_type = XFRM_MSG_NEWSA;
		memset(sa, 0, sizeof(*sa));
		sa->sel.family = o->k.family;
		memcpy(&sa->id.daddr, o->k.addr, len);
		sa->id.spi = htonl(o->k.spi);
		sa->id.proto = IPPROTO_ESP;
		memcpy(&sa->saddr, o->v.gw, len);
		lifetime_inf(&sa->lft);
		sa->family = o->k.family;
		sa->reqid = o->v.reqid;
		sa->mode = XFRM_MODE_TUNNEL;
		sa->replay_window = REPLAY_WINDOW;
		memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(*sa)), sa,
		    sizeof(*sa));
		if (o->v.alg == KXFRM_ALG_AEAD) {
			a = mnl_attr_nest_start(nlh, XFRMA_ALG_AEAD);
			aead = mnl_nlmsg_get_payload_tail(nlh);
			memset(aead, 0, sizeof(*aead) + o->v.keylen);
			strcpy(aead->alg_name, AEAD_NAME);
			aead->alg_key_len = o->v.keylen * 8;
			aead->alg_icv_len = AEAD_ICV;
			memcpy(aead->alg_key, o->v.key, o->v.keylen);
			nlh->nlmsg_len += MNL_ALIGN(sizeof(*aead) + o->v.keylen);
			mnl_attr_nest_end(nlh, a);
		} else {
			a = mnl_attr_nest_start(nlh, XFRMA_ALG_CRYPT);
			alg = mnl_nlmsg_get_payload_tail(nlh);
			memset(alg, 0, sizeof(*alg));
			strcpy(alg->alg_name, NULL_NAME);
			nlh->nlmsg_len += MNL_ALIGN(sizeof(*alg));
			mnl_attr_nest_end(nlh, a);
		}
		/*
		 * A state put back after someone removed it goes on from
		 * its old sequence numbers: sent from 1 again under the
		 * same key, its packets would fall below the peer's
		 * replay window; received afresh, old packets could be
		 * replayed to it.
		 */
		if (o->v.oseq != 0 || o->v.rseq != 0) {
			memset(&rs, 0, sizeof(rs));
			rs.oseq = o->v.oseq;
			rs.seq = o->v.rseq;
			rs.bitmap = o->v.rbitmap;
			mnl_attr_put(nlh, XFRMA_REPLAY_VAL, sizeof(rs), &rs);
		}
		if (o->v.encap) {
			memset(&enc, 0, sizeof(enc));
			enc.encap_type = UDP_ENCAP_ESPINUDP;
			enc.encap_sport = htons(IPSEC_NATT_PORT);
			enc.encap_dport = htons(IPSEC_NATT_PORT);
			mnl_attr_put(nlh, XFRMA_ENCAP, sizeof(enc), &enc);
		}
		return;
	}
	if (op == KOBJ_DELETE) {
		nlh->nlmsg_type = XFRM_MSG_DELPOLICY;
		pid = mnl_nlmsg_put_extra_header(nlh, sizeof(*pid));
		selector(&pid->sel, o);
		pid->dir = o->k.dir;
		return;
	}
	nlh->nlmsg_type = op == KOBJ_CREATE ? XFRM_MSG_NEWPOLICY :
	    XFRM_MSG_UPDPOLICY;
	memset(pol, 0, sizeof(*pol));
	selector(&pol->sel, o);
	lifetime_inf(&pol->lft);
	pol->priority = o->v.prio;
	pol->dir = o->k.dir;
	pol->action = XFRM_POLICY_ALLOW;
	pol->share = XFRM_SHARE_ANY;
	memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(*pol)), pol,
	    sizeof(*pol));
	memset(&t, 0, sizeof(t));
	memcpy(&t.id.daddr, o->v.gw, len);
	t.id.proto = IPPROTO_ESP;
	t.family = o->v.gwfamily;
	memcpy(&t.saddr, o->v.tsrc, len);
	t.reqid = o->v.reqid;
	t.mode = XFRM_MODE_TUNNEL;
	t.aalgos = t.ealgos = t.calgos = ~0u;
	mnl_attr_put(nlh, XFRMA_TMPL, sizeof(t), &t);
}

static int
family_ok(uint16_t family)
{
	return family == AF_INET || family == AF_INET6;
}

/*
 * A state's algorithm and encapsulation as we would have set them, and
 * its sequence numbers.
 */
static void
parse_state_attrs(struct nl_attrs *t, struct kobj *o)
{
	const struct xfrm_algo_aead	*aead;
	const struct xfrm_algo		*alg;
	const struct xfrm_encap_tmpl	*enc;
	struct xfrm_replay_state	 rs;
	size_t				 n;

	if (t->a[XFRMA_REPLAY_VAL] != NULL && mnl_attr_get_payload_len(
	    t->a[XFRMA_REPLAY_VAL]) >= sizeof(rs)) {
		/* A copy: the payload need not be aligned for it. */
		memcpy(&rs, mnl_attr_get_payload(t->a[XFRMA_REPLAY_VAL]),
		    sizeof(rs));
		o->v.oseq = rs.oseq;
		o->v.rseq = rs.seq;
		o->v.rbitmap = rs.bitmap;
	}

	o->v.alg = KXFRM_ALG_OTHER;
	/* We never set an authentication or compression algorithm. */
	if (t->a[XFRMA_ALG_AUTH] != NULL || t->a[XFRMA_ALG_AUTH_TRUNC] != NULL ||
	    t->a[XFRMA_ALG_COMP] != NULL)
		o->v.encap = 2;
	else if (t->a[XFRMA_ALG_AEAD] != NULL && t->a[XFRMA_ALG_CRYPT] ==
	    NULL) {
		aead = mnl_attr_get_payload(t->a[XFRMA_ALG_AEAD]);
		n = mnl_attr_get_payload_len(t->a[XFRMA_ALG_AEAD]);
		if (n >= sizeof(*aead) && aead->alg_key_len == AEAD_KEYLEN * 8 &&
		    n >= sizeof(*aead) + AEAD_KEYLEN &&
		    aead->alg_icv_len == AEAD_ICV &&
		    strncmp(aead->alg_name, AEAD_NAME,
		    sizeof(aead->alg_name)) == 0) {
			o->v.alg = KXFRM_ALG_AEAD;
			o->v.keylen = AEAD_KEYLEN;
			memcpy(o->v.key, aead->alg_key, AEAD_KEYLEN);
		}
	} else if (t->a[XFRMA_ALG_CRYPT] != NULL) {
		alg = mnl_attr_get_payload(t->a[XFRMA_ALG_CRYPT]);
		n = mnl_attr_get_payload_len(t->a[XFRMA_ALG_CRYPT]);
		if (n >= sizeof(*alg) && alg->alg_key_len == 0 &&
		    strncmp(alg->alg_name, NULL_NAME,
		    sizeof(alg->alg_name)) == 0)
			o->v.alg = KXFRM_ALG_NULL;
	}
	if (t->a[XFRMA_ENCAP] == NULL)
		return;
	enc = mnl_attr_get_payload(t->a[XFRMA_ENCAP]);
	o->v.encap = 2;		/* not the one we set */
	if (mnl_attr_get_payload_len(t->a[XFRMA_ENCAP]) >= sizeof(*enc) &&
	    enc->encap_type == UDP_ENCAP_ESPINUDP &&
	    enc->encap_sport == htons(IPSEC_NATT_PORT) &&
	    enc->encap_dport == htons(IPSEC_NATT_PORT))
		o->v.encap = 1;
}

static int
parse_state(const void *raw, struct nl_attrs *t, struct kobj *o)
{
	struct xfrm_usersa_info	 sa_, *sa = &sa_;

	/* A copy: in a datagram of several messages it may sit unaligned. */
	memcpy(sa, raw, sizeof(*sa));
	if (sa->reqid != KXFRM_REQID || sa->id.proto != IPPROTO_ESP ||
	    sa->mode != XFRM_MODE_TUNNEL || !family_ok(sa->family))
		return 0;
	o->k.type = KOBJ_XSTATE;
	o->k.family = (uint8_t)sa->family;
	memcpy(o->k.addr, &sa->id.daddr, alen(o->k.family));
	o->k.spi = ntohl(sa->id.spi);
	o->v.gwfamily = o->k.family;
	memcpy(o->v.gw, &sa->saddr, alen(o->k.family));
	o->v.reqid = sa->reqid;
	parse_state_attrs(t, o);
	return 1;
}

static int
parse_policy(const void *raw, struct nl_attrs *t, struct kobj *o)
{
	struct xfrm_userpolicy_info	 p_, *p = &p_;
	const struct xfrm_user_tmpl	*tm;
	const struct xfrm_mark		*mark;
	const struct xfrm_userpolicy_type *pt;

	memcpy(p, raw, sizeof(*p));
	if (t->a[XFRMA_TMPL] == NULL || mnl_attr_get_payload_len(
	    t->a[XFRMA_TMPL]) != sizeof(*tm) || !family_ok(p->sel.family))
		return 0;
	tm = mnl_attr_get_payload(t->a[XFRMA_TMPL]);
	if (tm->reqid != KXFRM_REQID || !family_ok(tm->family))
		return 0;
	if (t->a[XFRMA_POLICY_TYPE] != NULL) {
		pt = mnl_attr_get_payload(t->a[XFRMA_POLICY_TYPE]);
		if (mnl_attr_get_payload_len(t->a[XFRMA_POLICY_TYPE]) <
		    sizeof(*pt) || pt->type != XFRM_POLICY_TYPE_MAIN)
			return 0;
	}
	if (t->a[XFRMA_MARK] != NULL) {
		mark = mnl_attr_get_payload(t->a[XFRMA_MARK]);
		if (mnl_attr_get_payload_len(t->a[XFRMA_MARK]) < sizeof(*mark) ||
		    mark->m != 0)
			return 0;
	}
	/* Ports, protocol or device in the selector: never one of ours. */
	if (p->sel.dport_mask != 0 || p->sel.sport_mask != 0 ||
	    p->sel.proto != 0 || p->sel.ifindex != 0)
		return 0;
	o->k.type = KOBJ_XPOLICY;
	o->k.family = (uint8_t)p->sel.family;
	memcpy(o->k.addr, &p->sel.daddr, alen(o->k.family));
	o->k.plen = p->sel.prefixlen_d;
	memcpy(o->k.src, &p->sel.saddr, alen(o->k.family));
	o->k.splen = p->sel.prefixlen_s;
	o->k.dir = p->dir;
	o->v.gwfamily = (uint8_t)tm->family;
	memcpy(o->v.gw, &tm->id.daddr, alen(o->v.gwfamily));
	memcpy(o->v.tsrc, &tm->saddr, alen(o->v.gwfamily));
	o->v.reqid = tm->reqid;
	o->v.prio = p->priority;
	/* Anything else than we set makes it differ, so it is put back. */
	if (p->action != XFRM_POLICY_ALLOW || tm->mode != XFRM_MODE_TUNNEL ||
	    tm->id.proto != IPPROTO_ESP || tm->optional != 0)
		o->v.alg = KXFRM_ALG_OTHER;
	return 1;
}

/*
 * 1 and *o filled when the message reports a state or policy we own
 * (*deleted says whether it went away), 0 for anything else.  A
 * deletion's header is the object's id; the whole object follows in
 * an attribute.
 */
int
kxfrm_parse(const struct nlmsghdr *nlh, struct kobj *o, int *deleted)
{
	struct nl_attrs		 t = { { NULL } };
	const void		*p = mnl_nlmsg_get_payload(nlh);
	size_t			 len = mnl_nlmsg_get_payload_len(nlh), hdr;
	const struct nlattr	*inner;

	memset(o, 0, sizeof(*o));
	*deleted = nlh->nlmsg_type == XFRM_MSG_DELSA ||
	    nlh->nlmsg_type == XFRM_MSG_DELPOLICY;
	switch (nlh->nlmsg_type) {
	case XFRM_MSG_NEWSA:
	case XFRM_MSG_UPDSA:
		hdr = sizeof(struct xfrm_usersa_info);
		break;
	case XFRM_MSG_DELSA:
		hdr = sizeof(struct xfrm_usersa_id);
		break;
	case XFRM_MSG_NEWPOLICY:
	case XFRM_MSG_UPDPOLICY:
		hdr = sizeof(struct xfrm_userpolicy_info);
		break;
	case XFRM_MSG_DELPOLICY:
		hdr = sizeof(struct xfrm_userpolicy_id);
		break;
	default:
		return 0;
	}
	if (len < hdr || mnl_attr_parse(nlh, hdr, nl_attr_cb, &t) < 0)
		return 0;
	switch (nlh->nlmsg_type) {
	case XFRM_MSG_NEWSA:
	case XFRM_MSG_UPDSA:
		return parse_state(p, &t, o);
	case XFRM_MSG_DELSA:
		inner = t.a[XFRMA_SA];
		if (inner == NULL || mnl_attr_get_payload_len(inner) <
		    sizeof(struct xfrm_usersa_info))
			return 0;
		return parse_state(mnl_attr_get_payload(inner), &t, o);
	case XFRM_MSG_NEWPOLICY:
	case XFRM_MSG_UPDPOLICY:
		return parse_policy(p, &t, o);
	default:
		inner = t.a[XFRMA_POLICY];
		if (inner == NULL || mnl_attr_get_payload_len(inner) <
		    sizeof(struct xfrm_userpolicy_info))
			return 0;
		return parse_policy(mnl_attr_get_payload(inner), &t, o);
	}
}

/* kobj_collect for an xfrm dump. */
int
kxfrm_collect(const struct nlmsghdr *nlh, void *arg)
{
	struct kobj_collect	*kc = arg;
	struct kobj		 o;
	int			 deleted;

	if (kxfrm_parse(nlh, &o, &deleted) == 1 && ktab_put(kc->tab, &o) ==
	    -1) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

/* A dump of every state or every policy: ours are picked by reqid. */
struct nlmsghdr *
kxfrm_dump_request(char *buf, size_t len, uint16_t type)
{
	struct nlmsghdr	*nlh;

	memset(buf, 0, len);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_DUMP;
	return nlh;
}

/* For log lines; never the key. */
void
kxfrm_name(const struct kobj *o, char *buf, size_t len)
{
	static const char *const dirs[] = { "in", "out", "fwd" };
	char	 a[INET6_ADDRSTRLEN] = "?", s[INET6_ADDRSTRLEN] = "?";
	char	 g[INET6_ADDRSTRLEN] = "?", t[INET6_ADDRSTRLEN] = "?";

	inet_ntop(o->k.family, o->k.addr, a, sizeof(a));
	if (o->v.gwfamily != 0) {
		inet_ntop(o->v.gwfamily, o->v.gw, g, sizeof(g));
		inet_ntop(o->v.gwfamily, o->v.tsrc, t, sizeof(t));
	}
	if (o->k.type == KOBJ_XSTATE) {
		snprintf(buf, len, "xfrm state src %s dst %s spi 0x%08x", g, a,
		    o->k.spi);
		return;
	}
	inet_ntop(o->k.family, o->k.src, s, sizeof(s));
	snprintf(buf, len, "xfrm policy src %s/%u dst %s/%u dir %s tmpl src "
	    "%s dst %s", s, o->k.splen, a, o->k.plen,
	    o->k.dir < 3 ? dirs[o->k.dir] : "?", t, g);
}
