/*
 * libFuzzer target for the streaming Node parser, which reads what the
 * API server sends: the watcher's most exposed input.
 *
 * The first byte picks the document kind, the address type, how the
 * rest is cut into chunks and, for half the inputs, a token bound of 8
 * to 68 bytes instead of 2 MiB, so that strings are cut short and
 * numbers refused within inputs of fuzzing size.  The rest is parsed
 * twice, whole and in those chunks, and both runs must report exactly
 * the same callbacks and the same outcome.  Every callback checks that what it is handed
 * is what the watcher may trust: strings end within their arrays,
 * names are DNS-1123 subdomains, prefixes are well formed, counts and
 * addresses agree, and nothing at all is reported after an error.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/config.h"
#include "../../src/k8s_parse.h"
#include "fuzz.h"

#define CHECK_STR(a)	CHECK(memchr((a), '\0', sizeof(a)) != NULL)

struct state {
	enum k8s_doc	 doc;
	size_t		 token_max;	/* 0: the parser's own */
	int		 dead;		/* feed or finish returned -1 */
	int		 metas, statuses, nodes;
	uint64_t	 hash;		/* of every callback, in order */
};

static void
mix(struct state *s, const void *p, size_t len)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < len; i++) {
		s->hash ^= b[i];
		s->hash *= 0x100000001b3ULL;
	}
}

static void
mix_str(struct state *s, const char *str)
{
	mix(s, str, strlen(str) + 1);
}

static void
check_token(const char *t, size_t size)
{
	size_t	 i, len;

	CHECK(memchr(t, '\0', size) != NULL);
	len = strlen(t);
	for (i = 0; i < len; i++)
		CHECK((unsigned char)t[i] >= 0x20 && t[i] != 0x7f);
}

/* An independent reading of the DNS-1123 subdomain rule. */
static void
check_name(const char *name)
{
	size_t	 len = strlen(name), i, start = 0;

	CHECK(len >= 1 && len <= 253);
	for (i = 0; i <= len; i++) {
		if (i < len && name[i] != '.') {
			CHECK((name[i] >= 'a' && name[i] <= 'z') ||
			    (name[i] >= '0' && name[i] <= '9') ||
			    name[i] == '-');
			continue;
		}
		/* A label: non-empty, alphanumeric at both ends. */
		CHECK(i > start);
		CHECK(name[start] != '-' && name[i - 1] != '-');
		start = i + 1;
	}
}

static void
check_prefix(const struct kn_prefix *p)
{
	static const struct kn_prefix	 zero;
	unsigned			 i, max;

	if (p->family == 0) {
		CHECK(memcmp(p, &zero, sizeof(*p)) == 0);
		return;
	}
	CHECK(p->family == AF_INET || p->family == AF_INET6);
	max = p->family == AF_INET ? 32 : 128;
	CHECK(p->len <= max);
	for (i = p->len; i < 128; i++)
		CHECK((p->addr[i / 8] & (0x80 >> (i % 8))) == 0);
}

static int
all_zero(const uint8_t *a, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (a[i] != 0)
			return 0;
	return 1;
}

static void
on_node(void *arg, enum k8s_event ev, const struct k8s_node *n)
{
	struct state	*s = arg;
	int		 i;

	CHECK(!s->dead);
	if (s->doc == K8S_DOC_LIST)
		CHECK(ev == K8S_LISTED);
	else {
		CHECK(s->doc == K8S_DOC_WATCH);
		CHECK(ev >= K8S_ADDED && ev <= K8S_BOOKMARK);
	}
	s->nodes++;

	CHECK_STR(n->name);
	CHECK_STR(n->rv);
	check_token(n->rv, sizeof(n->rv));
	if (ev == K8S_BOOKMARK) {
		CHECK(*n->rv != '\0');
		if (*n->name != '\0')
			check_name(n->name);
	} else
		check_name(n->name);

	check_prefix(&n->pod_cidr);
	CHECK(n->npod_cidrs >= 0 && n->npod_cidrs <= 2);
	for (i = 0; i < 2; i++) {
		check_prefix(&n->pod_cidrs[i]);
		CHECK((n->pod_cidrs[i].family != 0) == (i < n->npod_cidrs));
	}
	if (n->npod_cidrs == 2)
		CHECK(n->pod_cidrs[0].family != n->pod_cidrs[1].family);

	if (n->naddr4 == 0)
		CHECK(all_zero(n->addr4, sizeof(n->addr4)));
	if (n->naddr6 == 0)
		CHECK(all_zero(n->addr6, sizeof(n->addr6)));
	CHECK(n->net_unavailable >= -1 && n->net_unavailable <= 2);
	check_token(n->machine_id, sizeof(n->machine_id));
	check_token(n->system_uuid, sizeof(n->system_uuid));
	check_token(n->boot_id, sizeof(n->boot_id));
	/* Nothing of fuzzing size is cut at the real bound. */
	CHECK(s->token_max != 0 || n->oversized == 0);

	mix(s, &ev, sizeof(ev));
	mix(s, &n->oversized, sizeof(n->oversized));
	mix_str(s, n->name);
	mix_str(s, n->rv);
	mix(s, &n->pod_cidr, sizeof(n->pod_cidr));
	mix(s, n->pod_cidrs, sizeof(n->pod_cidrs));
	mix(s, &n->npod_cidrs, sizeof(n->npod_cidrs));
	mix(s, n->addr4, sizeof(n->addr4));
	mix(s, n->addr6, sizeof(n->addr6));
	mix(s, &n->naddr4, sizeof(n->naddr4));
	mix(s, &n->naddr6, sizeof(n->naddr6));
	mix(s, &n->net_unavailable, sizeof(n->net_unavailable));
	mix_str(s, n->machine_id);
	mix_str(s, n->system_uuid);
	mix_str(s, n->boot_id);
}

static void
on_meta(void *arg, const char *rv, const char *cont)
{
	struct state	*s = arg;

	CHECK(!s->dead);
	CHECK(s->doc == K8S_DOC_LIST);
	CHECK(s->metas++ == 0);
	CHECK(s->statuses == 0);
	CHECK(strlen(rv) < K8S_RV_MAX);
	CHECK(strlen(cont) < K8S_CONT_MAX);
	check_token(rv, K8S_RV_MAX);
	check_token(cont, K8S_CONT_MAX);
	mix_str(s, "meta");
	mix_str(s, rv);
	mix_str(s, cont);
}

static void
on_status(void *arg, const struct k8s_status *st)
{
	struct state	*s = arg;

	CHECK(!s->dead);
	if (s->doc != K8S_DOC_WATCH)
		CHECK(s->statuses == 0 && s->metas == 0);
	s->statuses++;
	CHECK_STR(st->reason);
	CHECK_STR(st->message);
	mix_str(s, "status");
	mix(s, &st->code, sizeof(st->code));
	mix_str(s, st->reason);
	mix_str(s, st->message);
}

static const struct k8s_parse_cb	 cbs = { on_node, on_meta, on_status };
/* The watcher's watch: no status callback, ERROR is then an error. */
static const struct k8s_parse_cb	 cbs_nostatus = { on_node, on_meta,
    NULL };

/* A small deterministic generator for chunk sizes. */
static uint32_t
next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/*
 * Parse data in chunks (whole when seed is 0); returns 0, or -1 with
 * the parser's message in err.
 */
static int
run(enum k8s_doc doc, enum k8s_addr_type at, const struct k8s_parse_cb *cb,
    const uint8_t *data, size_t len, unsigned seed, size_t token_max,
    struct state *s, char *err, size_t errlen)
{
	struct k8s_parser	*p;
	unsigned long long	 last = 0, off = 0;
	uint32_t		 x = seed * 2654435761u + 1;
	size_t			 pos = 0, n;
	int			 rc = 0;

	memset(s, 0, sizeof(*s));
	s->doc = doc;
	s->token_max = token_max;
	s->hash = 0xcbf29ce484222325ULL;
	if ((p = k8s_parser_new(doc, at, cb, s)) == NULL)
		abort();
	k8s_parser_token_max(p, token_max);
	CHECK(*k8s_parser_error(p) == '\0');
	while (pos < len && rc == 0) {
		if (seed == 0)
			n = len - pos;
		else {
			/* From single bytes up to 256-byte runs. */
			n = 1 + next(&x) % (1u << (1 + seed % 8));
			if (n > len - pos)
				n = len - pos;
		}
		if (k8s_parser_feed(p, data + pos, n) == -1)
			rc = -1;
		pos += n;
		off = k8s_parser_offset(p);
		CHECK(off >= last && off <= pos);
		last = off;
	}
	if (rc == 0) {
		CHECK(off == len || len == 0);
		if (k8s_parser_finish(p) == -1)
			rc = -1;
		else
			CHECK(*k8s_parser_error(p) == '\0');
	}
	snprintf(err, errlen, "%s", k8s_parser_error(p));
	if (rc == -1) {
		CHECK(*err != '\0');
		CHECK(strstr(err, "at byte ") != NULL);
		s->dead = 1;
		/* Dead stays dead and quiet: on_* check s->dead. */
		CHECK(k8s_parser_feed(p, data, len) == -1);
		CHECK(k8s_parser_finish(p) == -1);
		CHECK(strcmp(k8s_parser_error(p), err) == 0);
	} else if (doc != K8S_DOC_WATCH)
		CHECK(s->metas + s->statuses == 1);
	k8s_parser_free(p);
	return rc;
}

/*
 * The same outcome.  yajl places some syntax errors by backing up
 * over the token it just read, and a token that spanned chunks backs
 * up differently: its offset may differ, its words may not.  Our own
 * errors are placed as yajl reports each value, and must match.
 */
static int
same_error(const char *a, const char *b)
{
	static const char	 json[] = "invalid JSON at byte ";
	size_t			 n = sizeof(json) - 1;

	if (strncmp(a, json, n) == 0 && strncmp(b, json, n) == 0)
		return strcmp(a + n + strspn(a + n, "0123456789"),
		    b + n + strspn(b + n, "0123456789")) == 0;
	return strcmp(a, b) == 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const enum k8s_doc	 docs[] = { K8S_DOC_LIST,
	    K8S_DOC_WATCH, K8S_DOC_STATUS, K8S_DOC_WATCH };
	const struct k8s_parse_cb	*cb;
	struct state			 whole, chunked;
	enum k8s_addr_type		 at;
	enum k8s_doc			 doc;
	char				 err1[512], err2[512];
	unsigned			 seed;
	size_t				 tmax;
	int				 rc1, rc2;

	if (len < 1)
		return 0;
	doc = docs[data[0] & 3];
	cb = (data[0] & 3) == 3 ? &cbs_nostatus : &cbs;
	at = data[0] & 4 ? K8S_ADDR_EXTERNAL : K8S_ADDR_INTERNAL;
	seed = data[0] >> 3;
	tmax = seed & 16 ? 8 + (seed & 15) * 4 : 0;
	data++;
	len--;

	rc1 = run(doc, at, cb, data, len, 0, tmax, &whole, err1, sizeof(err1));
	rc2 = run(doc, at, cb, data, len, seed == 0 ? 1 : seed, tmax,
	    &chunked, err2, sizeof(err2));
	/* How the bytes arrive changes nothing. */
	if (rc1 != rc2 || whole.hash != chunked.hash ||
	    !same_error(err1, err2)) {
		fprintf(stderr, "whole: %d \"%s\"\nchunked (seed %u): %d "
		    "\"%s\"\n", rc1, err1, seed, rc2, err2);
		check_failed(__FILE__, __LINE__,
		    "whole and chunked parses differ");
	}
	return 0;
}
