/*
 * One HTTP request of the watcher to the API server, and the
 * credentials it carries.
 */
#ifndef KN_WATCHREQ_H
#define KN_WATCHREQ_H

#include <curl/curl.h>

#include "k8s_parse.h"
#include "proto.h"

struct wconn;

enum req_kind { REQ_LIST, REQ_WATCH, REQ_PATCH };

extern const char *const req_verb[];

struct buf {
	char			*data;
	size_t			 len;
};

/* Where the API server is and what proves who we are, from the parent. */
struct api_access {
	struct msg_api_server	 srv;
	struct buf		 ca, cert, key, token;
};

struct req {
	enum req_kind		 kind;
	CURLM			*multi;
	CURL			*easy;
	struct curl_slist	*hdrs;
	struct curl_slist	*resolve;
	struct k8s_parser	*parser;	/* the 200 body */
	struct k8s_parser	*errparser;	/* any other body: a Status */
	struct k8s_status	 status;	/* from errparser or an ERROR */
	int			 have_status;
	long			 code;
	long			 retry_after;	/* seconds, from the header */
	int			 bad_body;	/* parse error: already logged */
	char			*body;		/* PATCH */
	/* after each piece of a 200 body the parser took; NULL: none */
	void			(*fed)(void *);
	void			*fed_arg;
	char			 errbuf[CURL_ERROR_SIZE];
};

void		 buf_set(struct buf *, const void *, size_t, int append);
struct req	*req_new(CURLM *, const struct api_access *, struct wconn *,
		    enum req_kind, const char *url);
void		 req_accept_gzip(struct req *);
struct req	*req_start(struct req *);
void		 req_free(struct req *);
void		 req_on_status(void *req, const struct k8s_status *);

#endif
