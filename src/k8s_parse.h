/*
 * The watcher's streaming parser for what the API server says about
 * Nodes: a NodeList page, a watch stream, or a Status (an HTTP error
 * body).  Fed each chunk as it arrives; keeps only the fields the
 * agent uses, so its memory does not grow with the size of a Node or
 * of the document.  Pure code, no I/O: tests and fuzzers drive it.
 */
#ifndef KN_K8S_PARSE_H
#define KN_K8S_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define K8S_NAME_MAX	254	/* 253 bytes + NUL */
#define K8S_RV_MAX	64
#define K8S_ID_MAX	64	/* machineID, systemUUID, bootID */
#define K8S_CONT_MAX	1024	/* a list's continue token */
/*
 * The longest string or number the parser takes in whole.  The API
 * server refuses an object over 1.5 MiB (etcd's request limit), so no
 * token it sends comes near this.
 */
#define K8S_TOKEN_MAX	(2u << 20)

enum k8s_doc { K8S_DOC_LIST, K8S_DOC_WATCH, K8S_DOC_STATUS };
enum k8s_event { K8S_LISTED = 1, K8S_ADDED, K8S_MODIFIED, K8S_DELETED,
    K8S_BOOKMARK };
enum k8s_addr_type { K8S_ADDR_INTERNAL, K8S_ADDR_EXTERNAL };

struct k8s_node {
	char		 name[K8S_NAME_MAX];	/* empty only in a BOOKMARK */
	char		 rv[K8S_RV_MAX];
	struct kn_prefix pod_cidr;	/* spec.podCIDR; family 0 when absent */
	struct kn_prefix pod_cidrs[2];	/* spec.podCIDRs (at most one per family) */
	int		 npod_cidrs;
	uint8_t		 addr4[4];	/* the lowest address of the wanted type, per family */
	uint8_t		 addr6[16];
	unsigned	 naddr4, naddr6;	/* how many of that type were listed */
	int		 net_unavailable;	/* -1 absent, 0 False, 1 True, 2 Unknown */
	char		 machine_id[K8S_ID_MAX], system_uuid[K8S_ID_MAX],
			 boot_id[K8S_ID_MAX];
	unsigned	 oversized;	/* skipped strings cut at the token bound */
};

struct k8s_status {
	int		 code;
	char		 reason[64];		/* truncated if longer */
	char		 message[256];		/* truncated if longer */
};

/*
 * Any callback may be NULL.  They run inside k8s_parser_feed() (or
 * k8s_parser_finish()) and must not feed or free the parser; what they
 * are passed is valid only during the call.
 */
struct k8s_parse_cb {
	/* Once per complete Node: a list item, or a watch event. */
	void	(*node)(void *arg, enum k8s_event, const struct k8s_node *);
	/* At the end of a list document; both strings may be empty. */
	void	(*list_meta)(void *arg, const char *rv, const char *cont);
	/*
	 * A watch ERROR event, or a Status document.  Without this
	 * callback, a watch ERROR event is a parse error instead, so it
	 * cannot pass unnoticed.  A Status where a NodeList was expected
	 * is delivered here and then stops the parser with an error, so
	 * it can never be taken for an empty list.
	 */
	void	(*status)(void *arg, const struct k8s_status *);
};

/*
 * Where the parser's own memory comes from; the same shape as yajl's
 * allocator.  Tests use it to measure; everyone else passes NULL.
 */
struct k8s_alloc {
	void	*(*alloc)(void *ctx, size_t);
	void	*(*resize)(void *ctx, void *, size_t);
	void	 (*release)(void *ctx, void *);
	void	*ctx;
};

struct k8s_parser;

struct k8s_parser *k8s_parser_new(enum k8s_doc, enum k8s_addr_type,
	    const struct k8s_parse_cb *, void *arg);
struct k8s_parser *k8s_parser_new_alloc(enum k8s_doc, enum k8s_addr_type,
	    const struct k8s_parse_cb *, void *arg, const struct k8s_alloc *);
/* 0, or -1 and the parser is dead. */
int	 k8s_parser_feed(struct k8s_parser *, const unsigned char *, size_t);
/* -1 if the input ended inside a document. */
int	 k8s_parser_finish(struct k8s_parser *);
/*
 * The longest string or number passed to yajl (0: K8S_TOKEN_MAX);
 * before the first feed.  Tests and fuzzers make it small.
 */
void	 k8s_parser_token_max(struct k8s_parser *, size_t);
/* What went wrong and where, after a -1; "" before. */
const char *k8s_parser_error(const struct k8s_parser *);
/* Bytes consumed. */
unsigned long long k8s_parser_offset(const struct k8s_parser *);
void	 k8s_parser_free(struct k8s_parser *);

/* A DNS-1123 subdomain of at most K8S_NAME_MAX - 1 bytes. */
int	k8s_name_ok(const unsigned char *, size_t);

#endif
