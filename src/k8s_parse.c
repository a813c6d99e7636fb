/*
 * Streaming parser for NodeList pages, Node watch streams and Status
 * bodies, on yajl's callback API.
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
 * Memory is the parser struct plus yajl's handle.  yajl itself keeps
 * a copy of a single token that spans two chunks, and decodes a string
 * with escapes into a buffer before the callback sees it; both would
 * grow with one token, so a small lexer in front of yajl bounds every
 * token: a string longer than the bound reaches yajl cut short (the
 * rest is checked and dropped as it arrives), and a longer number is
 * refused.  A cut string is counted in its Node when it was to be
 * skipped anyway, and refused anywhere else.
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

#include "config.h"
#include "k8s_parse.h"
#include "log.h"

#define KP_DEPTH_MAX	64	/* JSON nesting allowed */
#define KP_FRAMES	8	/* kept containers nest at most 6 deep */
#define KP_ADDR_MAX	INET6_ADDRSTRLEN	/* text of an address + NUL */
#define KP_CIDR_MAX	(INET6_ADDRSTRLEN + 4)	/* ... and "/128" */
#define KP_ERR_MAX	512

/*
 * What a value is, from where it sits.  The containers are also the
 * kinds of frame.  V_SKIP is zero so that any key not in the table
 * below is skipped.
 */
enum kp_value {
	V_SKIP,
	/* Containers. */
	V_LIST,		/* a NodeList document, or a Status in its place */
	V_STATUSDOC,	/* a Status document */
	V_EVENT,	/* one watch event */
	V_OBJECT,	/* a watch event's object: a Node or a Status */
	V_ITEMS,
	V_ITEM,		/* a Node in a list */
	V_LISTMETA,
	V_META,
	V_SPEC,
	V_PODCIDRS,
	V_NSTATUS,	/* a Node's status */
	V_ADDRS,
	V_ADDR,
	V_CONDS,
	V_COND,
	V_NODEINFO,
	/* Scalars. */
	V_KIND,
	V_CODE,
	V_REASON,
	V_MESSAGE,
	V_TYPE,		/* the watch event's type */
	V_LISTRV,
	V_CONT,
	V_NAME,
	V_RV,
	V_PODCIDR,
	V_PODCIDRS_ELT,
	V_ADDRTYPE,
	V_ADDRESS,
	V_CONDTYPE,
	V_CONDSTATUS,
	V_MACHINEID,
	V_SYSTEMUUID,
	V_BOOTID,
	V_COUNT
};

enum kp_json { T_NONE, T_MAP, T_ARRAY, T_STRING, T_NUMBER };

static const unsigned char vtype[V_COUNT] = {
	[V_LIST] = T_MAP, [V_STATUSDOC] = T_MAP, [V_EVENT] = T_MAP,
	[V_OBJECT] = T_MAP, [V_ITEMS] = T_ARRAY, [V_ITEM] = T_MAP,
	[V_LISTMETA] = T_MAP, [V_META] = T_MAP, [V_SPEC] = T_MAP,
	[V_PODCIDRS] = T_ARRAY, [V_NSTATUS] = T_MAP, [V_ADDRS] = T_ARRAY,
	[V_ADDR] = T_MAP, [V_CONDS] = T_ARRAY, [V_COND] = T_MAP,
	[V_NODEINFO] = T_MAP,
	[V_KIND] = T_STRING, [V_CODE] = T_NUMBER, [V_REASON] = T_STRING,
	[V_MESSAGE] = T_STRING, [V_TYPE] = T_STRING, [V_LISTRV] = T_STRING,
	[V_CONT] = T_STRING, [V_NAME] = T_STRING, [V_RV] = T_STRING,
	[V_PODCIDR] = T_STRING, [V_PODCIDRS_ELT] = T_STRING,
	[V_ADDRTYPE] = T_STRING, [V_ADDRESS] = T_STRING,
	[V_CONDTYPE] = T_STRING, [V_CONDSTATUS] = T_STRING,
	[V_MACHINEID] = T_STRING, [V_SYSTEMUUID] = T_STRING,
	[V_BOOTID] = T_STRING,
};

static const char *const tname[] = {
	[T_MAP] = "an object", [T_ARRAY] = "an array",
	[T_STRING] = "a string", [T_NUMBER] = "a number",
};

/* What each kept array holds. */
static const unsigned char elem[V_COUNT] = {
	[V_ITEMS] = V_ITEM, [V_PODCIDRS] = V_PODCIDRS_ELT,
	[V_ADDRS] = V_ADDR, [V_CONDS] = V_COND,
};

/* The keys that matter anywhere; K_OTHER is everything else. */
enum kp_key {
	K_OTHER,
	K_KIND, K_NAME, K_SPEC, K_CODE, K_TYPE, K_ITEMS, K_STATUS, K_REASON,
	K_OBJECT, K_BOOTID, K_MESSAGE, K_PODCIDR, K_ADDRESS, K_METADATA,
	K_CONTINUE, K_PODCIDRS, K_NODEINFO, K_ADDRESSES, K_MACHINEID,
	K_CONDITIONS, K_SYSTEMUUID, K_RV,
	K_COUNT
};

static const char *const kname[K_COUNT] = {
	[K_KIND] = "kind", [K_NAME] = "name", [K_SPEC] = "spec",
	[K_CODE] = "code", [K_TYPE] = "type", [K_ITEMS] = "items",
	[K_STATUS] = "status", [K_REASON] = "reason", [K_OBJECT] = "object",
	[K_BOOTID] = "bootID", [K_MESSAGE] = "message",
	[K_PODCIDR] = "podCIDR", [K_ADDRESS] = "address",
	[K_METADATA] = "metadata", [K_CONTINUE] = "continue",
	[K_PODCIDRS] = "podCIDRs", [K_NODEINFO] = "nodeInfo",
	[K_ADDRESSES] = "addresses", [K_MACHINEID] = "machineID",
	[K_CONDITIONS] = "conditions", [K_SYSTEMUUID] = "systemUUID",
	[K_RV] = "resourceVersion",
};

/* In each kept object, what the value of each key is. */
static const unsigned char keymap[V_COUNT][K_COUNT] = {
	[V_LIST] = { [K_KIND] = V_KIND, [K_METADATA] = V_LISTMETA,
	    [K_ITEMS] = V_ITEMS, [K_CODE] = V_CODE, [K_REASON] = V_REASON,
	    [K_MESSAGE] = V_MESSAGE },
	[V_STATUSDOC] = { [K_CODE] = V_CODE, [K_REASON] = V_REASON,
	    [K_MESSAGE] = V_MESSAGE },
	[V_EVENT] = { [K_TYPE] = V_TYPE, [K_OBJECT] = V_OBJECT },
	[V_OBJECT] = { [K_METADATA] = V_META, [K_SPEC] = V_SPEC,
	    [K_STATUS] = V_NSTATUS, [K_CODE] = V_CODE, [K_REASON] = V_REASON,
	    [K_MESSAGE] = V_MESSAGE },
	[V_ITEM] = { [K_METADATA] = V_META, [K_SPEC] = V_SPEC,
	    [K_STATUS] = V_NSTATUS },
	[V_LISTMETA] = { [K_RV] = V_LISTRV, [K_CONTINUE] = V_CONT },
	[V_META] = { [K_NAME] = V_NAME, [K_RV] = V_RV },
	[V_SPEC] = { [K_PODCIDR] = V_PODCIDR, [K_PODCIDRS] = V_PODCIDRS },
	[V_NSTATUS] = { [K_ADDRESSES] = V_ADDRS, [K_CONDITIONS] = V_CONDS,
	    [K_NODEINFO] = V_NODEINFO },
	[V_ADDR] = { [K_TYPE] = V_ADDRTYPE, [K_ADDRESS] = V_ADDRESS },
	[V_COND] = { [K_TYPE] = V_CONDTYPE, [K_STATUS] = V_CONDSTATUS },
	[V_NODEINFO] = { [K_MACHINEID] = V_MACHINEID,
	    [K_SYSTEMUUID] = V_SYSTEMUUID, [K_BOOTID] = V_BOOTID },
};

static const char *const evname[] = {
	[K8S_LISTED] = "LISTED", [K8S_ADDED] = "ADDED",
	[K8S_MODIFIED] = "MODIFIED", [K8S_DELETED] = "DELETED",
	[K8S_BOOKMARK] = "BOOKMARK",
};
#define EV_ERROR	(K8S_BOOKMARK + 1)	/* an event, not a node */

/* One open container whose contents are kept. */
struct kp_frame {
	unsigned char	 kind;		/* enum kp_value */
	unsigned char	 key;		/* enum kp_key under its parent, or */
	int		 idx;		/* its index in the parent array, or -1 */
	int		 n;		/* an array: elements so far */
};

enum kp_addrkind { A_NONE, A_WANTED, A_OTHER };

/* Where the lexer in front of yajl is. */
enum kp_lex { L_OUT, L_STR, L_ESC, L_HEX, L_NUM };

struct k8s_parser {
	yajl_handle		 h;
	struct k8s_parse_cb	 cb;
	void			*arg;
	struct k8s_alloc	 al;
	enum k8s_doc		 doc;
	enum k8s_addr_type	 addr_type;

	int			 dead;
	int			 finished;
	int			 infeed;
	int			 docs;		/* top-level values completed */
	int			 nonblank;	/* more than whitespace was fed */
	unsigned long long	 base;		/* bytes before yajl's current call */

	/* The lexer: every token yajl buffers is bounded by token_max. */
	unsigned char		 lex;		/* enum kp_lex */
	unsigned char		 hex;		/* digits left in a \u escape */
	unsigned char		 utf8;		/* continuation bytes to come */
	int			 dropping;	/* the rest of a string */
	int			 cut;		/* yajl's next string was cut */
	size_t			 tok;		/* bytes of the token so far */
	size_t			 token_max;

	struct kp_frame		 fr[KP_FRAMES];
	int			 nfr;
	int			 skip;		/* open containers being skipped */
	unsigned char		 want;		/* the value after the last key */
	unsigned char		 wantkey;
	unsigned char		 vkey;		/* where the current value is */
	int			 vidx;

	/* What a document or event says. */
	int			 is_status;	/* kind: Status */
	int			 evtype;
	int			 has_object;
	unsigned		 events;
	char			 list_rv[K8S_RV_MAX];
	char			 cont[K8S_CONT_MAX];
	struct k8s_status	 st;
	struct k8s_node		 node;

	/* The open address or condition entry; keys come in any order. */
	int			 a_kind;	/* enum kp_addrkind */
	int			 a_have;	/* address seen; -1 too long */
	char			 a_text[KP_ADDR_MAX];
	int			 c_is_nu;
	int			 c_status;	/* -1 absent, 0..2, 3 invalid */

	char			 err[KP_ERR_MAX];
};

/*
 * yajl does not check what its allocator returns, and the watcher's
 * address space is bounded (RLIMIT_AS): out of memory is a clear line
 * and a restart by the parent, not a crash inside the parser.
 */
static void *
std_alloc(void *ctx, size_t n)
{
	void	*p;

	(void)ctx;
	if ((p = malloc(n)) == NULL)
		fatal("JSON parser: %zu bytes", n);
	return p;
}

static void *
std_resize(void *ctx, void *p, size_t n)
{
	(void)ctx;
	if ((p = realloc(p, n)) == NULL)
		fatal("JSON parser: %zu bytes", n);
	return p;
}

static void
std_release(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static unsigned long long
offset_now(const struct k8s_parser *p)
{
	return p->base + (p->infeed ? yajl_get_bytes_consumed(p->h) : 0);
}

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
static void
path(const struct k8s_parser *p, int withval, const char *leaf, char *buf,
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
			    kname[key]);
		o += strlen(buf + o);
	}
}

static int __attribute__((__format__(printf, 4, 5)))
fail(struct k8s_parser *p, int withval, const char *leaf, const char *fmt,
    ...)
{
	va_list	 ap;
	char	 where[160], what[256];

	path(p, withval, leaf, where, sizeof(where));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(p->err, sizeof(p->err), "%s%s%s (at byte %llu)", where,
	    *where != '\0' ? ": " : "", what, offset_now(p));
	p->dead = 1;
	return 0;	/* stops yajl */
}

/* A key name as yajl passes it; a switch on length, then memcmp. */
static int
key_id(const unsigned char *k, size_t len)
{
#define IS(s, id)	if (memcmp(k, s, len) == 0) return id
	switch (len) {
	case 4:
		IS("name", K_NAME);
		IS("type", K_TYPE);
		IS("kind", K_KIND);
		IS("spec", K_SPEC);
		IS("code", K_CODE);
		break;
	case 5:
		IS("items", K_ITEMS);
		break;
	case 6:
		IS("status", K_STATUS);
		IS("object", K_OBJECT);
		IS("reason", K_REASON);
		IS("bootID", K_BOOTID);
		break;
	case 7:
		IS("address", K_ADDRESS);
		IS("podCIDR", K_PODCIDR);
		IS("message", K_MESSAGE);
		break;
	case 8:
		IS("metadata", K_METADATA);
		IS("podCIDRs", K_PODCIDRS);
		IS("nodeInfo", K_NODEINFO);
		IS("continue", K_CONTINUE);
		break;
	case 9:
		IS("addresses", K_ADDRESSES);
		IS("machineID", K_MACHINEID);
		break;
	case 10:
		IS("conditions", K_CONDITIONS);
		IS("systemUUID", K_SYSTEMUUID);
		break;
	case 15:
		IS("resourceVersion", K_RV);
		break;
	}
#undef IS
	return K_OTHER;
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
		return fail(p, 1, NULL, "%s longer than %zu bytes", what,
		    dstlen - 1);
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return fail(p, 1, NULL, "%s has a control character",
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
		return fail(p, 1, NULL, "not a CIDR: \"%s\"", q);
	}
	memcpy(text, s, len);
	text[len] = '\0';
	if (prefix_parse(text, pfx, why, sizeof(why)) == -1) {
		log_sanitize(why, sizeof(why));
		return fail(p, 1, NULL, "not a CIDR: %s", why);
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

static void
clear_node(struct k8s_node *n)
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
		clear_node(n);
		clear_status(&p->st);
		break;
	case V_OBJECT:
	case V_ITEM:
		p->has_object = 0;
		clear_node(n);
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
	if (vtype[f->kind] == T_ARRAY) {
		p->vkey = K_OTHER;
		p->vidx = f->n < INT_MAX ? f->n++ : INT_MAX;
		return elem[f->kind];
	}
	p->vkey = p->wantkey;
	p->vidx = -1;
	return p->want;
}

static int
wrong_type(struct k8s_parser *p, int v, const char *got)
{
	return fail(p, 1, NULL, "expected %s, got %s", tname[vtype[v]], got);
}

static int
depth_ok(struct k8s_parser *p)
{
	if (p->nfr + p->skip >= KP_DEPTH_MAX)
		return fail(p, 0, NULL, "nested deeper than %d levels",
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
	if (vtype[v] != json)
		return wrong_type(p, v, tname[json]);
	/* The kept structure is fixed and shallower than the stack. */
	if (p->nfr == KP_FRAMES)
		return fail(p, 1, NULL, "internal error: frame stack full");
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
	return fail(p, v != V_SKIP, NULL, "a string longer than %zu bytes",
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
	id = key_id(k, len);
	p->want = keymap[p->fr[p->nfr - 1].kind][id];
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
		return fail(p, 0, NULL, "%s without an address", type);
	if (p->a_have < 0)
		return fail(p, 0, "address", "%s is not an IP address: too "
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
		return fail(p, 0, "address", "%s \"%s\" is not an IPv4 or IPv6 "
		    "address", type, q);
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
		return fail(p, 0, "status", "NetworkUnavailable condition "
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
		return fail(p, 0, NULL, "event without a type");
	if (!p->has_object)
		return fail(p, 0, NULL, "%s event without an object",
		    p->evtype == EV_ERROR ? "ERROR" : evname[p->evtype]);
	switch (p->evtype) {
	case EV_ERROR:
		if (p->cb.status == NULL) {
			status_text(p, q, sizeof(q));
			return fail(p, 0, NULL, "ERROR event: %s", q);
		}
		return status_done(p);
	case K8S_BOOKMARK:
		if (p->node.rv[0] == '\0')
			return fail(p, 0, "object", "BOOKMARK without "
			    "metadata.resourceVersion");
		break;
	default:
		if (p->node.name[0] == '\0')
			return fail(p, 0, "object", "node without "
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
		return fail(p, 0, NULL, "a Status instead of a NodeList: %s",
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
			return fail(p, 0, NULL, "node without metadata.name");
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
	return fail(p, 1, NULL, "unknown event type \"%s\"", q);
}

static int
pod_cidrs_elt(struct k8s_parser *p, const unsigned char *s, size_t len)
{
	struct k8s_node		*n = &p->node;
	struct kn_prefix	 pfx;

	if (n->npod_cidrs == 2)
		return fail(p, 1, NULL, "more than 2 podCIDRs");
	if (!set_cidr(p, &pfx, s, len))
		return 0;
	if (n->npod_cidrs == 1 && n->pod_cidrs[0].family == pfx.family)
		return fail(p, 1, NULL, "two podCIDRs of the same family");
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
	if (vtype[v] != T_STRING) {
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
			return fail(p, 1, NULL, "name longer than %d bytes",
			    K8S_NAME_MAX - 1);
		if (!k8s_name_ok(s, len)) {
			quote(q, sizeof(q), s, len);
			return fail(p, 1, NULL, "\"%s\" is not a DNS-1123 "
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
			return fail(p, 1, NULL, "not an HTTP status code");
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

static const yajl_callbacks callbacks = {
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

struct k8s_parser *
k8s_parser_new_alloc(enum k8s_doc doc, enum k8s_addr_type at,
    const struct k8s_parse_cb *cb, void *arg, const struct k8s_alloc *al)
{
	static const struct k8s_alloc	 std = { std_alloc, std_resize,
	    std_release, NULL };
	struct k8s_parser		*p;
	yajl_alloc_funcs		 yaf;

	if (al == NULL)
		al = &std;
	if ((p = al->alloc(al->ctx, sizeof(*p))) == NULL)
		return NULL;
	memset(p, 0, sizeof(*p));
	p->al = *al;
	p->doc = doc;
	p->addr_type = at;
	if (cb != NULL)
		p->cb = *cb;
	p->arg = arg;
	clear_node(&p->node);
	p->token_max = K8S_TOKEN_MAX;
	yaf.malloc = al->alloc;
	yaf.realloc = al->resize;
	yaf.free = al->release;
	yaf.ctx = al->ctx;
	if ((p->h = yajl_alloc(&callbacks, &yaf, p)) == NULL) {
		al->release(al->ctx, p);
		return NULL;
	}
	/* A watch is one JSON object per event, newline-separated. */
	if (doc == K8S_DOC_WATCH)
		yajl_config(p->h, yajl_allow_multiple_values, 1);
	return p;
}

struct k8s_parser *
k8s_parser_new(enum k8s_doc doc, enum k8s_addr_type at,
    const struct k8s_parse_cb *cb, void *arg)
{
	return k8s_parser_new_alloc(doc, at, cb, arg, NULL);
}

/* yajl's own complaint, without its trailing newline. */
static void
json_error(struct k8s_parser *p, const unsigned char *buf, size_t len,
    unsigned long long at)
{
	unsigned char	*msg;
	size_t		 n;

	msg = yajl_get_error(p->h, 0, buf, len);
	if (msg != NULL) {
		n = strcspn((char *)msg, "\n");
		snprintf(p->err, sizeof(p->err), "invalid JSON at byte %llu: "
		    "%.*s", at, (int)n, (char *)msg);
		yajl_free_error(p->h, msg);
	} else
		snprintf(p->err, sizeof(p->err), "invalid JSON at byte %llu",
		    at);
	p->dead = 1;
}

/* Passes bytes on to yajl; 0, or -1 and the parser is dead. */
static int
forward(struct k8s_parser *p, const unsigned char *buf, size_t len)
{
	yajl_status	 s;

	if (len == 0)
		return 0;
	p->infeed = 1;
	s = yajl_parse(p->h, buf, len);
	p->infeed = 0;
	if (s != yajl_status_ok) {
		if (!p->dead)
			json_error(p, buf, len,
			    p->base + yajl_get_bytes_consumed(p->h));
		p->base += yajl_get_bytes_consumed(p->h);
		return -1;
	}
	p->base += len;
	return 0;
}

/* What yajl would have said of a byte it is not shown. */
static int
lex_error(struct k8s_parser *p, const char *what)
{
	snprintf(p->err, sizeof(p->err), "invalid JSON at byte %llu: %s",
	    p->base, what);
	p->dead = 1;
	return -1;
}

/*
 * A byte of a string being dropped, checked as yajl checks what it
 * sees (UTF-8 by lead and continuation bytes, without a check for
 * overlong forms): NULL, or what is wrong.
 */
static const char *
dropped_byte(struct k8s_parser *p, int c)
{
	if (p->utf8 > 0) {
		if ((c & 0xc0) != 0x80)
			return "invalid UTF-8 in a string";
		p->utf8--;
	} else if (c >= 0x80) {
		if (c < 0xc0 || c >= 0xf8)
			return "invalid UTF-8 in a string";
		p->utf8 = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
	} else if (c < 0x20)
		return "a control character in a string";
	return NULL;
}

static int
number_byte(int c)
{
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
	    c == '+' || c == '-';
}

int
k8s_parser_feed(struct k8s_parser *p, const unsigned char *buf, size_t len)
{
	const char	*why;
	size_t		 i, seg = 0;
	int		 c;

	if (p->dead)
		return -1;
	if (p->finished) {
		snprintf(p->err, sizeof(p->err), "input after the end "
		    "(at byte %llu)", p->base);
		p->dead = 1;
		return -1;
	}
	/* Scans only the leading whitespace of a stream, once. */
	for (i = 0; !p->nonblank && i < len; i++)
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' &&
		    buf[i] != '\n')
			p->nonblank = 1;
	/*
	 * Follows strings and numbers so that yajl never buffers more
	 * than token_max bytes of one: the bytes of a longer string are
	 * checked here and not passed on (seg is where the bytes still
	 * to pass on start), and a longer number is refused.  yajl
	 * checks everything it does see.
	 */
	for (i = 0; i < len; i++) {
		c = buf[i];
		if (p->lex == L_NUM) {
			if (number_byte(c)) {
				if (++p->tok <= p->token_max)
					continue;
				if (forward(p, buf + seg, i - seg) == -1)
					return -1;
				fail(p, 0, NULL, "a number longer than %zu "
				    "bytes", p->token_max);
				return -1;
			}
			p->lex = L_OUT;
		}
		switch (p->lex) {
		case L_OUT:
			if (c == '"') {
				p->lex = L_STR;
				p->tok = 0;
			} else if (c == '-' || (c >= '0' && c <= '9')) {
				p->lex = L_NUM;
				p->tok = 1;
			}
			continue;
		case L_STR:
			if (c == '"' && p->utf8 == 0) {
				p->lex = L_OUT;
				if (p->dropping) {
					/* yajl gets the closing quote. */
					p->dropping = 0;
					seg = i;
				}
				break;
			}
			/* Cut between characters, never inside one. */
			if (!p->dropping && p->tok >= p->token_max &&
			    (c & 0xc0) != 0x80) {
				if (forward(p, buf + seg, i - seg) == -1)
					return -1;
				p->dropping = p->cut = 1;
			}
			if (p->dropping && (why = dropped_byte(p, c)) != NULL)
				return lex_error(p, why);
			if (c == '\\')
				p->lex = L_ESC;
			break;
		case L_ESC:
			if (c == 'u') {
				p->lex = L_HEX;
				p->hex = 4;
				break;
			}
			if (p->dropping && memchr("\"\\/bfnrt", c, 8) == NULL)
				return lex_error(p, "an invalid escape in a "
				    "string");
			p->lex = L_STR;
			break;
		case L_HEX:
			if (p->dropping && hexval(c) == -1)
				return lex_error(p, "an invalid \\u escape in "
				    "a string");
			if (--p->hex == 0)
				p->lex = L_STR;
			break;
		}
		if (p->dropping)
			p->base++;
		else
			p->tok++;
	}
	return p->dropping ? 0 : forward(p, buf + seg, len - seg);
}

void
k8s_parser_token_max(struct k8s_parser *p, size_t max)
{
	p->token_max = max > 0 ? max : K8S_TOKEN_MAX;
}

int
k8s_parser_finish(struct k8s_parser *p)
{
	char		 where[160];
	yajl_status	 s;

	if (p->dead)
		return -1;
	if (p->finished)
		return 0;
	if (p->nfr > 0 || p->skip > 0 ||
	    (p->docs == 0 && p->doc != K8S_DOC_WATCH)) {
		path(p, 0, NULL, where, sizeof(where));
		snprintf(p->err, sizeof(p->err), "%s%struncated document "
		    "(at byte %llu)", where, *where != '\0' ? ": " : "",
		    p->base);
		p->dead = 1;
		return -1;
	}
	/*
	 * A watch that ended with nothing to say is complete; yajl would
	 * call it a premature end.
	 */
	if (!p->nonblank) {
		p->finished = 1;
		return 0;
	}
	/*
	 * A top-level number, or a partial literal, is only now complete;
	 * whatever it is, it ends where the input did.
	 */
	s = yajl_complete_parse(p->h);
	if (s != yajl_status_ok) {
		if (!p->dead)
			json_error(p, (const unsigned char *)"", 0, p->base);
		return -1;
	}
	p->finished = 1;
	return 0;
}

const char *
k8s_parser_error(const struct k8s_parser *p)
{
	return p->err;
}

unsigned long long
k8s_parser_offset(const struct k8s_parser *p)
{
	return offset_now(p);
}

void
k8s_parser_free(struct k8s_parser *p)
{
	if (p == NULL)
		return;
	yajl_free(p->h);
	p->al.release(p->al.ctx, p);
}
