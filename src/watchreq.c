/*
 * The watcher's HTTP requests to the API server: a libcurl handle
 * with the credentials, headers and TLS settings, on a connection the
 * parent opened; its body fed to the parser, a Status kept.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "watchconn.h"
#include "watchreq.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define CA_MAX			(1u << 20)

const char *const req_verb[] = { "list", "watch", "patch" };

/* A credential from the parent: replaced, or appended to (the CA). */
void
buf_set(struct buf *b, const void *data, size_t len, int append)
{
	char	*p;

	if (!append) {
		if (b->data != NULL)
			explicit_bzero(b->data, b->len);
		free(b->data);
		b->data = NULL;
		b->len = 0;
	}
	if (b->len + len > CA_MAX) {
		log_warnx("credential larger than %u bytes ignored", CA_MAX);
		return;
	}
	if ((p = realloc(b->data, b->len + len + 1)) == NULL)
		fatal("credentials");
	if (len > 0)
		memcpy(p + b->len, data, len);
	b->data = p;
	b->len += len;
	b->data[b->len] = '\0';
}

/* A Status the parser found: why the request failed. */
void
req_on_status(void *arg, const struct k8s_status *st)
{
	struct req	*r = arg;

	r->status = *st;
	r->have_status = 1;
}

static const struct k8s_parse_cb status_cb = { NULL, NULL, req_on_status };

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct req	*r = arg;
	size_t		 len = size * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		r->retry_after = strtol(p + 12, NULL, 10);
	return len;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct req	*r = arg;
	size_t		 len = size * n;

	if (r->code == 0)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->code);
	if (r->code != 200) {
		/* An error body only explains; a broken one changes nothing. */
		if (r->errparser != NULL &&
		    k8s_parser_feed(r->errparser, (unsigned char *)p, len) == -1) {
			k8s_parser_free(r->errparser);
			r->errparser = NULL;
		}
		return len;
	}
	if (r->parser == NULL)
		return len;
	if (k8s_parser_feed(r->parser, (unsigned char *)p, len) == -1) {
		log_warnx("%s: %s; dropping the connection", req_verb[r->kind],
		    k8s_parser_error(r->parser));
		r->bad_body = 1;
		return 0;	/* ends the transfer */
	}
	if (r->fed != NULL)
		r->fed(r->fed_arg);
	return len;
}

void
req_free(struct req *r)
{
	if (r == NULL)
		return;
	if (r->easy != NULL) {
		curl_multi_remove_handle(r->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->hdrs);
	curl_slist_free_all(r->resolve);
	k8s_parser_free(r->parser);
	k8s_parser_free(r->errparser);
	free(r->body);
	free(r);
}

/* A request on its way: req_start() adds it to the multi handle. */
struct req *
req_new(CURLM *multi, const struct api_access *api, struct wconn *conn,
    enum req_kind kind, const char *url)
{
	struct curl_blob	 blob;
	struct req		*r;
	char			*auth = NULL;
	CURL			*e;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->easy = e = curl_easy_init()) == NULL) {
		log_warnx("%s: out of memory", req_verb[kind]);
		free(r);
		return NULL;
	}
	r->kind = kind;
	r->multi = multi;
	r->errparser = k8s_parser_new(K8S_DOC_STATUS, api->srv.addr_type,
	    &status_cb, r);
	if (api->token.len > 0) {
		if (asprintf(&auth, "Authorization: Bearer %.*s",
		    (int)api->token.len, api->token.data) == -1)
			auth = NULL;
		r->hdrs = curl_slist_append(r->hdrs, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	r->hdrs = curl_slist_append(r->hdrs, "Accept: application/json");
	r->hdrs = curl_slist_append(r->hdrs, "User-Agent: kopeio-networkd/"
	    PACKAGE_VERSION);
	if (*api->srv.resolve != '\0')
		r->resolve = curl_slist_append(NULL, api->srv.resolve);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_RESOLVE, r->resolve);
	wconn_lend(conn, e);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 128L * 1024);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
	if (api->ca.len > 0) {
		blob.data = api->ca.data;
		blob.len = api->ca.len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (api->cert.len > 0) {
		blob.data = api->cert.data;
		blob.len = api->cert.len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		blob.data = api->key.data;
		blob.len = api->key.len;
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (api->srv.insecure) {
		log_warnx("TLS verification of %s is off "
		    "(insecure-skip-tls-verify in the kubeconfig)",
		    api->srv.url);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return r;
}

/*
 * Ask for gzip, as client-go does: a list of 5,000 Nodes is 63.6 MB
 * as JSON and about 1.6 MB compressed.  Only gzip is offered, not
 * every decoder libcurl has (""), so a hostile server reaches one
 * inflater, zlib's; the body still streams through the parser a
 * buffer at a time, so a small body that inflates to gigabytes costs
 * time, bounded by the list's timeout, and no memory.  Without zlib in
 * libcurl the request goes uncompressed, said once.
 */
void
req_accept_gzip(struct req *r)
{
	const curl_version_info_data	*v = curl_version_info(CURLVERSION_NOW);
	static int			 warned;

	if (!(v->features & CURL_VERSION_LIBZ)) {
		if (!warned++)
			log_warnx("compression: libcurl %s was built without "
			    "zlib; lists and watches go uncompressed",
			    v->version);
		return;
	}
	curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "gzip");
}

/* The request, running; NULL: it could not start (logged, freed). */
struct req *
req_start(struct req *r)
{
	CURLMcode	 mc;

	if ((mc = curl_multi_add_handle(r->multi, r->easy)) != CURLM_OK) {
		log_warnx("%s: %s", req_verb[r->kind], curl_multi_strerror(mc));
		req_free(r);
		return NULL;
	}
	return r;
}

