/*
 * The Node parser's state, shared by its two halves only: k8s_feed.c
 * (the parser's life and the lexer in front of yajl) and k8s_parse.c
 * (yajl's callbacks, which keep a Node's fields).
 */
#ifndef KN_K8S_PARSER_H
#define KN_K8S_PARSER_H

#include <arpa/inet.h>

#include <yajl/yajl_parse.h>

#include "k8s_parse.h"

#define KP_FRAMES	8	/* kept containers nest at most 6 deep */
#define KP_ADDR_MAX	INET6_ADDRSTRLEN	/* text of an address + NUL */
#define KP_ERR_MAX	512

/* One open container whose contents are kept. */
struct kp_frame {
	unsigned char	 kind;		/* enum kp_value */
	unsigned char	 key;		/* enum kp_key under its parent, or */
	int		 idx;		/* its index in the parent array, or -1 */
	int		 n;		/* an array: elements so far */
};

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

/* k8s_parse.c */
extern const yajl_callbacks kp_callbacks;
void	 kp_clear_node(struct k8s_node *);
void	 kp_path(const struct k8s_parser *, int withval, const char *leaf,
	    char *buf, size_t len);
int	 kp_fail(struct k8s_parser *, int withval, const char *leaf,
	    const char *fmt, ...) __attribute__((__format__(printf, 4, 5)));

/* k8s_feed.c */
unsigned long long kp_offset(const struct k8s_parser *);

#endif
