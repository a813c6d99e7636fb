/*
 * The streaming parser's callbacks: what yajl reports of NodeList
 * pages, Node watch streams and Status bodies, kept or skipped.
 *
 * A Node is 10-30 KB of which the agent uses a few hundred bytes, and
 * a list holds up to 5,000 of them.  So nothing is built: a small
 * fixed stack of frames follows the containers whose contents are
 * kept (the list, an item, its metadata, spec, status, addresses,
 * conditions, nodeInfo), and everything else -- images, managedFields,
 * labels, annotations, unknown keys -- is skipped by counting its
 * nesting depth, without a copy.  The fields kept land in one struct
 * k8s_node that is handed to the caller when its object closes.
 *
 * A string the lexer in front of yajl (k8s_feed.c) cut short is
 * counted in its Node when it was to be skipped anyway, and refused
 * anywhere else.
 *
 * Every value kept is checked before it is stored: the watcher passes
 * names to API paths and prefixes to the executor, and the API server
 * is not trusted more than any other peer.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "addr.h"
#include "k8s_keys.h"
#include "k8s_parser.h"
#include "log.h"

#define KP_DEPTH_MAX	64	/* JSON nesting allowed */
#define KP_CIDR_MAX	(INET6_ADDRSTRLEN + 4)	/* an address, "/128" */

static const char *const evname[] = {
	[K8S_LISTED] = "LISTED", [K8S_ADDED] = "ADDED",
	[K8S_MODIFIED] = "MODIFIED", [K8S_DELETED] = "DELETED",
	[K8S_BOOKMARK] = "BOOKMARK",
};
#define EV_ERROR	(K8S_BOOKMARK + 1)	/* an event, not a node */

enum kp_addrkind { A_NONE, A_WANTED, A_OTHER };

/*
 * Untrusted text for a message: bounded, printable ASCII only, so an
 * error line cannot forge log lines or carry a terminal escape.
 */
static void
quote(char *dst, size_t dstlen, const unsigned char *s, size_t len)
{
	size_t	 i, max = dstlen - 4;

	for (i = 0; i < len && i < max; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (i < len) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

/* The JSON path of the open kept containers, and of the current value. */
void
kp_path(const struct k8s_parser *p, int withval, const char *leaf, char *buf,
    size_t len)
{
	size_t	 o = 0;
	int	 i, n, key, idx;

	buf[0] = '\0';
	n = p->nfr + (withval ? 1 : 0);
	for (i = 0; i < n + (leaf != NULL ? 1 : 0); i++) {
		if (i < p->nfr) {
			key = p->fr[i].key;
			idx = p->fr[i].idx;
		} else if (i < n) {
			key = p->vkey;
			idx = p->vidx;
		} else {
			snprintf(buf + o, len - o, "%s%s", o > 0 ? "." : "",
			    leaf);
			break;
		}
		if (i == 0 && p->doc == K8S_DOC_WATCH)
			snprintf(buf + o, len - o, "event[%d]", idx);
		else if (idx >= 0)
			snprintf(buf + o, len - o, "[%d]", idx);
		else if (key != K_OTHER)
			snprintf(buf + o, len - o, "%s%s", o > 0 ? "." : "",
			    kp_kname[key]);
		o += strlen(buf + o);
	}
}

int
kp_fail(struct k8s_parser *p, int withval, const char *leaf, const char *fmt,
    ...)
{
	va_list	 ap;
	char	 where[160], what[256];

	kp_path(p, withval, leaf, where, sizeof(where));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(p->err, sizeof(p->err), "%s%s%s (at byte %llu)", where,
	    *where != '\0' ? ": " : "", what, kp_offset(p));
	p->dead = 1;
	return 0;	/* stops yajl */
}

/*
 * A Kubernetes name used in API paths: a DNS-1123 subdomain, lowercase
 * alphanumeric labels with inner '-', joined by '.'.
 */
int
k8s_name_ok(const unsigned char *s, size_t len)
{
	size_t	 i;
	int	 c, prev = '.';

	if (len == 0 || len > K8S_NAME_MAX - 1)
		return 0;
	for (i = 0; i < len; i++) {
		c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			;
		else if (c == '-') {
			if (prev == '.')
				return 0;
		} else if (c == '.') {
			if (prev == '.' || prev == '-')
				return 0;
		} else
			return 0;
		prev = c;
	}
	return prev != '-' && prev != '.';
}

/*
 * An opaque token kept for later (resourceVersion, an id): bounded,
 * and without NUL or control bytes, which would cut it short or end
 * up in a log line or a URL.
 */
static int
set_token(struct k8s_parser *p, char *dst, size_t dstlen, const char *what,
    const unsigned char *s, size_t len)
{
	size_t	 i;

	if (len >= dstlen)
		return kp_fail(p, 1, NULL, "%s longer than %zu bytes", what,
		    dstlen - 1);
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return kp_fail(p, 1, NULL, "%s has a control character",
			    what);
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 1;
}

/* Log text: cut to fit, at a UTF-8 character boundary. */
static void
set_text(char *dst, size_t dstlen, const unsigned char *s, size_t len)
{
	if (len >= dstlen) {
		len = dstlen - 1;
		while (len > 0 && (s[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static int
set_cidr(struct k8s_parser *p, struct kn_prefix *pfx, const unsigned char *s,
    size_t len)
{
	char	 text[KP_CIDR_MAX], q[64], why[160];

	if (len >= sizeof(text) || memchr(s, '\0', len) != NULL) {
		quote(q, sizeof(q), s, len);
		return kp_fail(p, 1, NULL, "not a CIDR: \"%s\"", q);
	}
	memcpy(text, s, len);
	text[len] = '\0';
	if (prefix_parse(text, pfx, why, sizeof(why)) == -1) {
		log_sanitize(why, sizeof(why));
		return kp_fail(p, 1, NULL, "not a CIDR: %s", why);
	}
	return 1;
}

static void
clear_addrs(struct k8s_node *n)
{
	memset(n->addr4, 0, sizeof(n->addr4));
	memset(n->addr6, 0, sizeof(n->addr6));
	n->naddr4 = n->naddr6 = 0;
}

static void
clear_ids(struct k8s_node *n)
{
	n->machine_id[0] = n->system_uuid[0] = n->boot_id[0] = '\0';
}

void
kp_clear_node(struct k8s_node *n)
{
	memset(n, 0, sizeof(*n));
	n->net_unavailable = -1;
}

static void
clear_status(struct k8s_status *st)
{
	memset(st, 0, sizeof(*st));
}

/*
 * A kept value starts, or is null: what it replaces is forgotten, so
 * the last of duplicate keys wins and null reads as absent.
 */
static void
value_clear(struct k8s_parser *p, int v)
{
	struct k8s_node	*n = &p->node;

	switch (v) {
	case V_LIST:
		p->is_status = 0;
		p->list_rv[0] = p->cont[0] = '\0';
		clear_status(&p->st);
		break;
	case V_STATUSDOC:
		clear_status(&p->st);
		break;
	case V_EVENT:
		p->evtype = 0;
		p->has_object = 0;
		kp_clear_node(n);
		clear_status(&p->st);
		break;
	case V_OBJECT:
	case V_ITEM:
		p->has_object = 0;
		kp_clear_node(n);
		clear_status(&p->st);
		break;
	case V_LISTMETA:
		p->list_rv[0] = p->cont[0] = '\0';
		break;
	case V_META:
		n->name[0] = n->rv[0] = '\0';
		break;
	case V_SPEC:
		memset(&n->pod_cidr, 0, sizeof(n->pod_cidr));
		/* FALLTHROUGH */
	case V_PODCIDRS:
		memset(n->pod_cidrs, 0, sizeof(n->pod_cidrs));
		n->npod_cidrs = 0;
		break;
	case V_NSTATUS:
		clear_addrs(n);
		n->net_unavailable = -1;
		clear_ids(n);
		break;
	case V_ADDRS:
		clear_addrs(n);
		break;
	case V_ADDR:
		p->a_kind = A_NONE;
		p->a_have = 0;
		break;
	case V_CONDS:
		n->net_unavailable = -1;
		break;
	case V_COND:
		p->c_is_nu = 0;
		p->c_status = -1;
		break;
	case V_NODEINFO:
		clear_ids(n);
		break;
	case V_KIND:
		p->is_status = 0;
		break;
	case V_CODE:
		p->st.code = 0;
		break;
	case V_REASON:
		p->st.reason[0] = '\0';
		break;
	case V_MESSAGE:
		p->st.message[0] = '\0';
		break;
	case V_TYPE:
		p->evtype = 0;
		break;
	case V_LISTRV:
		p->list_rv[0] = '\0';
		break;
	case V_CONT:
		p->cont[0] = '\0';
		break;
	case V_NAME:
		n->name[0] = '\0';
		break;
	case V_RV:
		n->rv[0] = '\0';
		break;
	case V_PODCIDR:
		memset(&n->pod_cidr, 0, sizeof(n->pod_cidr));
		break;
	case V_ADDRTYPE:
		p->a_kind = A_NONE;
		break;
	case V_ADDRESS:
		p->a_have = 0;
		break;
	case V_CONDTYPE:
		p->c_is_nu = 0;
		break;
	case V_CONDSTATUS:
		p->c_status = -1;
		break;
	case V_MACHINEID:
		n->machine_id[0] = '\0';
		break;
	case V_SYSTEMUUID:
		n->system_uuid[0] = '\0';
		break;
	case V_BOOTID:
		n->boot_id[0] = '\0';
		break;
	}
}

/* What the next value is, and where it is for messages. */
static int
take_value(struct k8s_parser *p)
{
	struct kp_frame	*f;

	if (p->nfr == 0) {
		p->vkey = K_OTHER;
		switch (p->doc) {
		case K8S_DOC_WATCH:
			p->vidx = (int)(p->events < INT_MAX ? p->events :
			    INT_MAX);
			return V_EVENT;
		case K8S_DOC_STATUS:
			p->vidx = -1;
			return V_STATUSDOC;
		default:
			p->vidx = -1;
			return V_LIST;
		}
	}
	f = &p->fr[p->nfr - 1];
	if (kp_vtype[f->kind] == T_ARRAY) {
		p->vkey = K_OTHER;
		p->vidx = f->n < INT_MAX ? f->n++ : INT_MAX;
		return kp_elem[f->kind];
	}
	p->vkey = p->wantkey;
	p->vidx = -1;
	return p->want;
}

static int
wrong_type(struct k8s_parser *p, int v, const char *got)
{
	return kp_fail(p, 1, NULL, "expected %s, got %s",
	    kp_tname[kp_vtype[v]], got);
}

static int
depth_ok(struct k8s_parser *p)
{
	if (p->nfr + p->skip >= KP_DEPTH_MAX)
		return kp_fail(p, 0, NULL, "nested deeper than %d levels",
		    KP_DEPTH_MAX);
	return 1;
}

static int
open_container(struct k8s_parser *p, int json)
{
	struct kp_frame	*f;
	int		 v;

	if (p->skip > 0) {
		if (!depth_ok(p))
			return 0;
		p->skip++;
		return 1;
	}
	v = take_value(p);
	if (!depth_ok(p))
		return 0;
	if (v == V_SKIP) {
		p->skip = 1;
		return 1;
	}
	if (kp_vtype[v] != json)
		return wrong_type(p, v, kp_tname[json]);
	/* The kept structure is fixed and shallower than the stack. */
	if (p->nfr == KP_FRAMES)
		return kp_fail(p, 1, NULL, "internal error: frame stack full");
	if (v == V_EVENT)
		p->events++;
	value_clear(p, v);
	if (v == V_OBJECT || v == V_ITEM)
		p->has_object = 1;
	f = &p->fr[p->nfr++];
	f->kind = v;
	f->key = p->vkey;
	f->idx = p->vidx;
	f->n = 0;
	return 1;
}

static int
cb_start_map(void *ctx)
{
	return open_container(ctx, T_MAP);
}

static int
cb_start_array(void *ctx)
{
	return open_container(ctx, T_ARRAY);
}

/*
 * yajl reports a string the lexer cut short.  Skipped inside a Node,
 * it is counted there and the Node is used; anywhere else it would be
 * a wrong value, so it is refused.
 */
static int
cut_value(struct k8s_parser *p, int v)
{
	int	 i;

	p->cut = 0;
	for (i = 0; v == V_SKIP && i < p->nfr; i++)
		if (p->fr[i].kind == V_ITEM || p->fr[i].kind == V_OBJECT) {
			if (p->node.oversized < UINT_MAX)
				p->node.oversized++;
			return 1;
		}
	return kp_fail(p, v != V_SKIP, NULL, "a string longer than %zu bytes",
	    p->token_max);
}

static int
cb_map_key(void *ctx, const unsigned char *k, size_t len)
{
	struct k8s_parser	*p = ctx;
	int			 id;

	/* A cut key is no key we know: its value is skipped. */
	if (p->cut && !cut_value(p, V_SKIP))
		return 0;
	if (p->skip > 0)
		return 1;
	id = kp_key_id(k, len);
	p->want = kp_keymap[p->fr[p->nfr - 1].kind][id];
	p->wantkey = id;
	return 1;
}

static void
node_done(struct k8s_parser *p, enum k8s_event ev)
{
	if (p->cb.node != NULL)
		p->cb.node(p->arg, ev, &p->node);
}

/* An address entry is complete: keep it if it has the wanted type. */
static int
addr_done(struct k8s_parser *p)
{
	struct k8s_node	*n = &p->node;
	const char	*type;
	uint8_t		 a[16];

	if (p->a_kind != A_WANTED)
		return 1;
	type = p->addr_type == K8S_ADDR_EXTERNAL ? "ExternalIP" : "InternalIP";
	if (p->a_have == 0)
		return kp_fail(p, 0, NULL, "%s without an address", type);
	if (p->a_have < 0)
		return kp_fail(p, 0, "address", "%s is not an IP address: too "
		    "long", type);
	if (inet_pton(AF_INET, p->a_text, a) == 1) {
		if (n->naddr4 == 0 || memcmp(a, n->addr4, 4) < 0)
			memcpy(n->addr4, a, 4);
		if (n->naddr4 < UINT_MAX)
			n->naddr4++;
	} else if (inet_pton(AF_INET6, p->a_text, a) == 1) {
		if (n->naddr6 == 0 || memcmp(a, n->addr6, 16) < 0)
			memcpy(n->addr6, a, 16);
		if (n->naddr6 < UINT_MAX)
			n->naddr6++;
	} else {
		/* Only printable text reaches a_text, but it is untrusted. */
		char	 q[64];

		quote(q, sizeof(q), (const unsigned char *)p->a_text,
		    strlen(p->a_text));
		return kp_fail(p, 0, "address", "%s \"%s\" is not an IPv4 or "
		    "IPv6 address", type, q);
	}
	return 1;
}

static int
cond_done(struct k8s_parser *p)
{
	if (!p->c_is_nu)
		return 1;
	switch (p->c_status) {
	case 3:
		return kp_fail(p, 0, "status", "NetworkUnavailable condition "
		    "status is not True, False or Unknown");
	case -1:
		/* Without a status, nothing is known. */
		p->node.net_unavailable = 2;
		break;
	default:
		p->node.net_unavailable = p->c_status;
		break;
	}
	return 1;
}

/* The Status, for a message: its text is untrusted. */
static void
status_text(const struct k8s_parser *p, char *buf, size_t len)
{
	char	 r[64], m[96];

	quote(r, sizeof(r), (const unsigned char *)p->st.reason,
	    strlen(p->st.reason));
	quote(m, sizeof(m), (const unsigned char *)p->st.message,
	    strlen(p->st.message));
	snprintf(buf, len, "%d %s: %s", p->st.code, r, m);
}

static int
status_done(struct k8s_parser *p)
{
	if (p->cb.status != NULL)
		p->cb.status(p->arg, &p->st);
	return 1;
}

static int
event_done(struct k8s_parser *p)
{
	char	 q[192];

	if (p->evtype == 0)
		return kp_fail(p, 0, NULL, "event without a type");
	if (!p->has_object)
		return kp_fail(p, 0, NULL, "%s event without an object",
		    p->evtype == EV_ERROR ? "ERROR" : evname[p->evtype]);
	switch (p->evtype) {
	case EV_ERROR:
		if (p->cb.status == NULL) {
			status_text(p, q, sizeof(q));
			return kp_fail(p, 0, NULL, "ERROR event: %s", q);
		}
		return status_done(p);
	case K8S_BOOKMARK:
		if (p->node.rv[0] == '\0')
			return kp_fail(p, 0, "object", "BOOKMARK without "
			    "metadata.resourceVersion");
		break;
	default:
		if (p->node.name[0] == '\0')
			return kp_fail(p, 0, "object", "node without "
			    "metadata.name");
		break;
	}
	node_done(p, p->evtype);
	return 1;
}

static int
list_done(struct k8s_parser *p)
{
	char	 q[192];

	if (p->is_status) {
		status_done(p);
		status_text(p, q, sizeof(q));
		return kp_fail(p, 0, NULL, "a Status instead of a NodeList: %s",
		    q);
	}
	if (p->cb.list_meta != NULL)
		p->cb.list_meta(p->arg, p->list_rv, p->cont);
	return 1;
}

static int
close_container(struct k8s_parser *p)
{
	int	 ok = 1;

	if (p->skip > 0) {
		p->skip--;
		return 1;
	}
	switch (p->fr[p->nfr - 1].kind) {
	case V_ITEM:
		if (p->node.name[0] == '\0')
			return kp_fail(p, 0, NULL, "node without "
			    "metadata.name");
		node_done(p, K8S_LISTED);
		break;
	case V_ADDR:
		ok = addr_done(p);
		break;
	case V_COND:
		ok = cond_done(p);
		break;
	case V_EVENT:
		ok = event_done(p);
		break;
	case V_LIST:
		ok = list_done(p);
		break;
	case V_STATUSDOC:
		ok = status_done(p);
		break;
	}
	if (!ok)
		return 0;
	if (--p->nfr == 0)
		p->docs++;
	return 1;
}

static int
cb_end(void *ctx)
{
	return close_container(ctx);
}

static int
event_type(struct k8s_parser *p, const unsigned char *s, size_t len)
{
	static const struct { const char *s; int ev; } types[] = {
		{ "ADDED", K8S_ADDED }, { "MODIFIED", K8S_MODIFIED },
		{ "DELETED", K8S_DELETED }, { "BOOKMARK", K8S_BOOKMARK },
		{ "ERROR", EV_ERROR },
	};
	char	 q[64];
	size_t	 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].s) == len &&
		    memcmp(types[i].s, s, len) == 0) {
			p->evtype = types[i].ev;
			return 1;
		}
	quote(q, sizeof(q), s, len);
	return kp_fail(p, 1, NULL, "unknown event type \"%s\"", q);
}

static int
pod_cidrs_elt(struct k8s_parser *p, const unsigned char *s, size_t len)
{
	struct k8s_node		*n = &p->node;
	struct kn_prefix	 pfx;

	if (n->npod_cidrs == 2)
		return kp_fail(p, 1, NULL, "more than 2 podCIDRs");
	if (!set_cidr(p, &pfx, s, len))
		return 0;
	if (n->npod_cidrs == 1 && n->pod_cidrs[0].family == pfx.family)
		return kp_fail(p, 1, NULL, "two podCIDRs of the same family");
	n->pod_cidrs[n->npod_cidrs++] = pfx;
	return 1;
}

static int
cb_string(void *ctx, const unsigned char *s, size_t len)
{
	struct k8s_parser	*p = ctx;
	struct k8s_node		*n = &p->node;
	const char		*want;
	char			 q[64];
	int			 v;

	if (p->skip > 0)
		return p->cut ? cut_value(p, V_SKIP) : 1;
	v = take_value(p);
	if (p->cut)
		return cut_value(p, v);
	if (v == V_SKIP)
		return 1;
	if (kp_vtype[v] != T_STRING) {
		/* A Status has a "status" too: "Failure". */
		if (v == V_NSTATUS && p->fr[p->nfr - 1].kind == V_OBJECT)
			return 1;
		return wrong_type(p, v, "a string");
	}
	switch (v) {
	case V_KIND:
		p->is_status = len == 6 && memcmp(s, "Status", 6) == 0;
		return 1;
	case V_REASON:
		set_text(p->st.reason, sizeof(p->st.reason), s, len);
		return 1;
	case V_MESSAGE:
		set_text(p->st.message, sizeof(p->st.message), s, len);
		return 1;
	case V_TYPE:
		return event_type(p, s, len);
	case V_LISTRV:
		return set_token(p, p->list_rv, sizeof(p->list_rv),
		    "resourceVersion", s, len);
	case V_CONT:
		return set_token(p, p->cont, sizeof(p->cont), "continue token",
		    s, len);
	case V_NAME:
		if (len > K8S_NAME_MAX - 1)
			return kp_fail(p, 1, NULL, "name longer than %d bytes",
			    K8S_NAME_MAX - 1);
		if (!k8s_name_ok(s, len)) {
			quote(q, sizeof(q), s, len);
			return kp_fail(p, 1, NULL, "\"%s\" is not a DNS-1123 "
			    "subdomain", q);
		}
		memcpy(n->name, s, len);
		n->name[len] = '\0';
		return 1;
	case V_RV:
		return set_token(p, n->rv, sizeof(n->rv), "resourceVersion",
		    s, len);
	case V_PODCIDR:
		/* Go's omitempty would leave it out; "" is the same. */
		if (len == 0) {
			value_clear(p, v);
			return 1;
		}
		return set_cidr(p, &n->pod_cidr, s, len);
	case V_PODCIDRS_ELT:
		return pod_cidrs_elt(p, s, len);
	case V_ADDRTYPE:
		want = p->addr_type == K8S_ADDR_EXTERNAL ? "ExternalIP" :
		    "InternalIP";
		p->a_kind = len == 10 && memcmp(s, want, 10) == 0 ? A_WANTED :
		    A_OTHER;
		return 1;
	case V_ADDRESS:
		/* Checked when the entry closes: the type may come last. */
		if (len >= sizeof(p->a_text) || memchr(s, '\0', len) != NULL)
			p->a_have = -1;
		else {
			memcpy(p->a_text, s, len);
			p->a_text[len] = '\0';
			p->a_have = 1;
		}
		return 1;
	case V_CONDTYPE:
		p->c_is_nu = len == 18 &&
		    memcmp(s, "NetworkUnavailable", 18) == 0;
		return 1;
	case V_CONDSTATUS:
		if (len == 4 && memcmp(s, "True", 4) == 0)
			p->c_status = 1;
		else if (len == 5 && memcmp(s, "False", 5) == 0)
			p->c_status = 0;
		else if (len == 7 && memcmp(s, "Unknown", 7) == 0)
			p->c_status = 2;
		else
			p->c_status = 3;
		return 1;
	case V_MACHINEID:
		return set_token(p, n->machine_id, sizeof(n->machine_id),
		    "machineID", s, len);
	case V_SYSTEMUUID:
		return set_token(p, n->system_uuid, sizeof(n->system_uuid),
		    "systemUUID", s, len);
	case V_BOOTID:
		return set_token(p, n->boot_id, sizeof(n->boot_id), "bootID",
		    s, len);
	}
	return 1;
}

/* The only number kept is a Status code; yajl hands over its text. */
static int
cb_number(void *ctx, const char *s, size_t len)
{
	struct k8s_parser	*p = ctx;
	size_t			 i;
	long			 code = 0;
	int			 v;

	if (p->skip > 0)
		return 1;
	v = take_value(p);
	if (v == V_SKIP)
		return 1;
	if (v != V_CODE)
		return wrong_type(p, v, "a number");
	for (i = s[0] == '-' ? 1 : 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || code > 99999)
			return kp_fail(p, 1, NULL, "not an HTTP status code");
		code = code * 10 + (s[i] - '0');
	}
	p->st.code = s[0] == '-' ? (int)-code : (int)code;
	return 1;
}

static int
cb_boolean(void *ctx, int b)
{
	struct k8s_parser	*p = ctx;
	int			 v;

	(void)b;
	if (p->skip > 0)
		return 1;
	v = take_value(p);
	if (v == V_SKIP)
		return 1;
	return wrong_type(p, v, "a boolean");
}

static int
cb_null(void *ctx)
{
	struct k8s_parser	*p = ctx;
	int			 v;

	if (p->skip > 0)
		return 1;
	v = take_value(p);
	switch (v) {
	case V_SKIP:
		return 1;
	case V_LIST:
	case V_STATUSDOC:
	case V_EVENT:
	case V_ITEM:
	case V_PODCIDRS_ELT:
	case V_ADDR:
	case V_COND:
		return wrong_type(p, v, "null");
	default:
		/* Go writes a nil slice or map as null: absent. */
		value_clear(p, v);
		return 1;
	}
}

const yajl_callbacks kp_callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_boolean,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

