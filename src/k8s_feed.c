/*
 * The Node parser's life and the bytes it is fed: new, feed, finish,
 * free, and the lexer in front of yajl.
 *
 * Memory is the parser struct plus yajl's handle.  yajl itself keeps
 * a copy of a single token that spans two chunks, and decodes a string
 * with escapes into a buffer before the callback sees it; both would
 * grow with one token, so a small lexer in front of yajl bounds every
 * token: a string longer than the bound reaches yajl cut short (the
 * rest is checked and dropped as it arrives), and a longer number is
 * refused.  What a cut string means is for k8s_parse.c to say.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "addr.h"
#include "k8s_parser.h"
#include "log.h"

/* Where the lexer in front of yajl is. */
enum kp_lex { L_OUT, L_STR, L_ESC, L_HEX, L_NUM };

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

unsigned long long
kp_offset(const struct k8s_parser *p)
{
	return p->base + (p->infeed ? yajl_get_bytes_consumed(p->h) : 0);
}

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
	kp_clear_node(&p->node);
	p->token_max = K8S_TOKEN_MAX;
	yaf.malloc = al->alloc;
	yaf.realloc = al->resize;
	yaf.free = al->release;
	yaf.ctx = al->ctx;
	if ((p->h = yajl_alloc(&kp_callbacks, &yaf, p)) == NULL) {
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
				kp_fail(p, 0, NULL, "a number longer than %zu "
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
		kp_path(p, 0, NULL, where, sizeof(where));
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
	return kp_offset(p);
}

void
k8s_parser_free(struct k8s_parser *p)
{
	if (p == NULL)
		return;
	yajl_free(p->h);
	p->al.release(p->al.ctx, p);
}
