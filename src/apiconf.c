/*
 * Where the API server is and the credentials for it, read by the
 * parent before any child starts: see apiconf.h.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "apiconf.h"
#include "k8s_parse.h"
#include "log.h"

#define SYSTEM_CA	"/etc/ssl/certs/ca-certificates.crt"
#define CA_MAX		(1u << 20)
#define KUBECONFIG_MAX	(1u << 20)
/* The SMBIOS placeholder many boards report; not a unique identity. */
#define BOGUS_UUID	"03000200-0400-0500-0006-000700080009"

static void
blob_free(struct api_blob *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->len);
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

void
apiconf_free(struct api_conf *a)
{
	blob_free(&a->token);
	blob_free(&a->ca);
	blob_free(&a->cert);
	blob_free(&a->key);
}

/*
 * The whole file, NUL-terminated, at most max bytes; *stp (if given)
 * describes the very file that was read.  O_NONBLOCK so that a FIFO
 * in its place cannot hang the parent.
 */
int
read_file_st(const char *path, size_t max, struct api_blob *out,
    struct stat *stp, char *err, size_t errlen)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 len = 0;
	char		*buf;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return errset(err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errset(err, errlen, "%s: not a regular file", path);
	}
	if ((buf = malloc(max + 1)) == NULL) {
		close(fd);
		return errset(err, errlen, "%s: out of memory", path);
	}
	while ((n = read(fd, buf + len, max + 1 - len)) > 0)
		if ((len += n) > max)
			break;
	close(fd);
	if (n == -1 || len > max) {
		explicit_bzero(buf, len > max ? max + 1 : len);
		free(buf);
		return errset(err, errlen, "%s: %s", path, n == -1 ?
		    strerror(errno) : "too large");
	}
	buf[len] = '\0';
	blob_free(out);
	out->data = buf;
	out->len = len;
	if (stp != NULL)
		*stp = st;
	return 0;
}

int
read_file(const char *path, size_t max, struct api_blob *out, char *err,
    size_t errlen)
{
	return read_file_st(path, max, out, NULL, err, errlen);
}

/* Standard base64, strict as Go's decoder: whole groups of four. */
int
base64_decode(const char *in, size_t inlen, struct api_blob *out)
{
	static const char	 alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*p;
	uint32_t		 acc = 0;
	size_t			 i, n = 0, bits = 0, pad = 0, chars = 0;
	char			*buf;

	if ((buf = malloc(inlen / 4 * 3 + 4)) == NULL)
		return -1;
	for (i = 0; i < inlen; i++) {
		if (in[i] == '\n' || in[i] == '\r' || in[i] == ' ')
			continue;
		if (in[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (p = memchr(alpha, in[i], 64)) == NULL)
			goto bad;
		chars++;
		acc = acc << 6 | (uint32_t)(p - alpha);
		if ((bits += 6) >= 8) {
			bits -= 8;
			buf[n++] = (char)(acc >> bits);
		}
	}
	/* 2 or 3 characters end a group; the padding completes it. */
	if (chars % 4 == 1 || (pad != 0 && (chars + pad) % 4 != 0) ||
	    pad > 2 || (bits != 0 && (acc & ((1u << bits) - 1)) != 0))
		goto bad;
	buf[n] = '\0';
	blob_free(out);
	out->data = buf;
	out->len = n;
	return 0;
bad:
	explicit_bzero(buf, n);
	free(buf);
	return -1;
}

/* Relative paths in a kubeconfig are relative to its directory. */
static void
relative_to(const char *base, const char *path, char *out, size_t len)
{
	const char	*slash = strrchr(base, '/');

	if (*path == '/' || slash == NULL)
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%.*s/%s", (int)(slash - base), base, path);
}

static yaml_node_t *
map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t	*pair;
	yaml_node_t		*k;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(doc, pair->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(doc, pair->value);
	}
	return NULL;
}

static const char *
scalar(yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* In a list of {name: N, <what>: {...}}, the <what> of the one named. */
static yaml_node_t *
named(yaml_document_t *doc, yaml_node_t *root, const char *list,
    const char *what, const char *name)
{
	yaml_node_t		*seq = map_get(doc, root, list), *item;
	yaml_node_item_t	*i;
	const char		*n;

	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE || name == NULL)
		return NULL;
	for (i = seq->data.sequence.items.start;
	    i < seq->data.sequence.items.top; i++) {
		item = yaml_document_get_node(doc, *i);
		if ((n = scalar(map_get(doc, item, "name"))) != NULL &&
		    strcmp(n, name) == 0)
			return map_get(doc, item, what);
	}
	return NULL;
}

/* A credential given as base64 data or as a file, relative or not. */
static int
kube_blob(yaml_document_t *doc, yaml_node_t *map, const char *datakey,
    const char *filekey, const char *path, size_t max, struct api_blob *out,
    char *err, size_t errlen)
{
	const char	*v;
	char		 file[PATH_MAX];

	if ((v = scalar(map_get(doc, map, datakey))) != NULL) {
		if (base64_decode(v, strlen(v), out) == -1)
			return errset(err, errlen, "%s: %s is not base64",
			    path, datakey);
		if (out->len > max)
			return errset(err, errlen, "%s: %s larger than %zu "
			    "bytes", path, datakey, max);
		return 1;
	}
	if ((v = scalar(map_get(doc, map, filekey))) != NULL) {
		relative_to(path, v, file, sizeof(file));
		if (read_file(file, max, out, err, errlen) == -1)
			return -1;
		return 1;
	}
	return 0;
}

/*
 * A bearer token goes into an HTTP header as it is: only RFC 6750's
 * token characters, so that no CR, LF or space in it can add a header.
 * -1 and the offset of the first other byte, else 0.
 */
static int
token_check(const char *t, size_t len, size_t *at)
{
	static const char	 extra[] = "-._~+/=";

	for (*at = 0; *at < len; (*at)++)
		if (!isalnum((unsigned char)t[*at]) &&
		    (t[*at] == '\0' || strchr(extra, t[*at]) == NULL))
			return -1;
	return 0;
}

int
apiconf_parse_kubeconfig(struct api_conf *a, const char *text, size_t len,
    const char *path, char *err, size_t errlen)
{
	yaml_parser_t	 parser;
	yaml_document_t	 doc;
	yaml_node_t	*root, *ctx, *cluster, *user;
	const char	*cur, *server, *v;
	char		 file[PATH_MAX];
	size_t		 at;
	int		 rv = -1, r;

	if (!yaml_parser_initialize(&parser))
		return errset(err, errlen, "%s: out of memory", path);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    len);
	if (!yaml_parser_load(&parser, &doc)) {
		errset(err, errlen, "%s:%zu: %s", path,
		    parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "YAML error");
		yaml_parser_delete(&parser);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	if ((cur = scalar(map_get(&doc, root, "current-context"))) == NULL) {
		errset(err, errlen, "%s: no current-context", path);
		goto out;
	}
	if ((ctx = named(&doc, root, "contexts", "context", cur)) == NULL) {
		errset(err, errlen, "%s: no context \"%s\"", path, cur);
		goto out;
	}
	v = scalar(map_get(&doc, ctx, "cluster"));
	if ((cluster = named(&doc, root, "clusters", "cluster", v)) == NULL) {
		errset(err, errlen, "%s: context \"%s\": no cluster \"%s\"",
		    path, cur, v ? v : "");
		goto out;
	}
	v = scalar(map_get(&doc, ctx, "user"));
	user = named(&doc, root, "users", "user", v);
	if (v != NULL && user == NULL) {
		errset(err, errlen, "%s: user \"%s\" was not found for "
		    "context \"%s\"", path, v, cur);
		goto out;
	}
	if ((server = scalar(map_get(&doc, cluster, "server"))) == NULL) {
		errset(err, errlen, "%s: cluster has no server", path);
		goto out;
	}
	if (strlen(server) >= sizeof(a->srv.url)) {
		errset(err, errlen, "%s: server URL too long", path);
		goto out;
	}
	strcpy(a->srv.url, server);
	v = scalar(map_get(&doc, cluster, "insecure-skip-tls-verify"));
	/* YAML 1.1 spellings of true, as kubectl's reader takes them. */
	a->srv.insecure = v != NULL && (strcasecmp(v, "true") == 0 ||
	    strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0);
	if ((r = kube_blob(&doc, cluster, "certificate-authority-data",
	    "certificate-authority", path, CA_MAX, &a->ca, err, errlen)) == -1)
		goto out;
	if (r == 0 && !a->srv.insecure &&
	    read_file(SYSTEM_CA, CA_MAX, &a->ca, err, errlen) == -1)
		goto out;
	if (user != NULL) {
		if (map_get(&doc, user, "exec") != NULL ||
		    map_get(&doc, user, "auth-provider") != NULL) {
			errset(err, errlen, "%s: user \"%s\": exec and "
			    "auth-provider credentials are not supported", path,
			    scalar(map_get(&doc, ctx, "user")));
			goto out;
		}
		if ((v = scalar(map_get(&doc, user, "token"))) != NULL) {
			/* The token file's bound: a longer one fits no message. */
			if (strlen(v) > API_TOKEN_MAX) {
				errset(err, errlen, "%s: user \"%s\": token "
				    "larger than %d bytes", path,
				    scalar(map_get(&doc, ctx, "user")),
				    API_TOKEN_MAX);
				goto out;
			}
			if (token_check(v, strlen(v), &at) == -1) {
				errset(err, errlen, "%s: user \"%s\": token: "
				    "byte 0x%02x at offset %zu is not allowed "
				    "in a bearer token", path,
				    scalar(map_get(&doc, ctx, "user")),
				    (unsigned char)v[at], at);
				goto out;
			}
			blob_free(&a->token);
			if ((a->token.data = strdup(v)) == NULL) {
				errset(err, errlen, "%s: out of memory", path);
				goto out;
			}
			a->token.len = strlen(v);
		} else if ((v = scalar(map_get(&doc, user, "tokenFile"))) !=
		    NULL) {
			relative_to(path, v, file, sizeof(file));
			if (strlen(file) >= sizeof(a->token_file)) {
				errset(err, errlen, "%s: tokenFile path too "
				    "long", path);
				goto out;
			}
			strcpy(a->token_file, file);
		}
		if (kube_blob(&doc, user, "client-certificate-data",
		    "client-certificate", path, API_BLOB_MAX, &a->cert, err,
		    errlen) == -1 ||
		    kube_blob(&doc, user, "client-key-data", "client-key",
		    path, API_BLOB_MAX, &a->key, err, errlen) == -1)
			goto out;
		if ((a->cert.len == 0) != (a->key.len == 0)) {
			errset(err, errlen, "%s: user \"%s\": a client "
			    "certificate needs its key and the reverse", path,
			    scalar(map_get(&doc, ctx, "user")));
			goto out;
		}
	}
	rv = 0;
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rv;
}

/*
 * The API server's address and port, for the parent, which opens the
 * watcher's connections; and host:port:address for libcurl's resolve
 * list, so the watcher, which cannot resolve names in its sandbox,
 * still checks the certificate against the host name (empty when the
 * URL holds an address).
 */
static int
resolve_server(struct api_conf *a, char *err, size_t errlen)
{
	struct msg_api_server	*srv = &a->srv;
	struct addrinfo		 hints, *res;
	char			 host[256], port[8] = "443";
	char			 addr[INET6_ADDRSTRLEN];
	const char		*p = srv->url + 8, *end;
	size_t			 n;
	int			 e, literal = *p == '[';

	if (strncmp(srv->url, "https://", 8) != 0)
		return errset(err, errlen, "API server %s: only https:// is "
		    "supported", srv->url);
	/* An IPv6 literal is in brackets, so its colons are not the port's. */
	if (literal)
		p++;
	n = literal ? strcspn(p, "]") : strcspn(p, ":/");
	if (n == 0 || n >= sizeof(host) || (literal && p[n] != ']'))
		return errset(err, errlen, "API server %s: bad host", srv->url);
	memcpy(host, p, n);
	host[n] = '\0';
	p += n + literal;
	if (*p == ':') {
		end = p + 1;
		n = strcspn(end, "/");
		if (n == 0 || n >= sizeof(port))
			return errset(err, errlen, "API server %s: bad port",
			    srv->url);
		memcpy(port, end, n);
		port[n] = '\0';
	}
	srv->resolve[0] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		return errset(err, errlen, "API server %s: cannot resolve %s: "
		    "%s", srv->url, host, gai_strerror(e));
	memcpy(&a->addr, res->ai_addr, res->ai_addrlen);
	a->addrlen = res->ai_addrlen;
	if (!literal && inet_pton(AF_INET, host, addr) != 1) {
		if (res->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)
			    res->ai_addr)->sin_addr, addr, sizeof(addr));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
			    res->ai_addr)->sin6_addr, addr, sizeof(addr));
		snprintf(srv->resolve, sizeof(srv->resolve),
		    res->ai_family == AF_INET ? "%s:%s:%s" : "%s:%s:[%s]",
		    host, port, addr);
	}
	freeaddrinfo(res);
	return 0;
}

/* The first line of an ID file, trimmed. */
static int
read_id(const char *path, char *out, size_t len, char *err, size_t errlen)
{
	struct api_blob	 b = { NULL, 0 };
	size_t		 n;

	if (read_file(path, 4096, &b, err, errlen) == -1)
		return -1;
	n = strcspn(b.data, "\r\n");
	while (n > 0 && (b.data[n - 1] == ' ' || b.data[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= len) {
		blob_free(&b);
		return errset(err, errlen, "%s: no usable ID on its first "
		    "line", path);
	}
	memcpy(out, b.data, n);
	out[n] = '\0';
	blob_free(&b);
	return 0;
}

/*
 * Which Node is this one: NODE_NAME (the downward API), --node-name,
 * the original agent's ID files, then the host name.
 */
int
node_identity(const struct kn_config *c, struct msg_api_server *srv,
    char *err, size_t errlen)
{
	const char	*env = getenv("NODE_NAME");
	char		 host[sizeof(srv->node_name)], *p;
	int		 missing_default;

	srv->node_name[0] = srv->node_id[0] = '\0';
	srv->node_id_kind = NODE_BY_NAME;
	if (env != NULL && *env != '\0') {
		if (strlen(env) >= sizeof(srv->node_name))
			return errset(err, errlen, "NODE_NAME too long");
		strcpy(srv->node_name, env);
		return 0;
	}
	if (*c->node_name != '\0') {
		strcpy(srv->node_name, c->node_name);
		return 0;
	}
	if (*c->machine_id != '\0') {
		srv->node_id_kind = NODE_BY_MACHINE_ID;
		return read_id(c->machine_id, srv->node_id,
		    sizeof(srv->node_id), err, errlen);
	}
	if (*c->system_uuid != '\0') {
		missing_default = strcmp(c->system_uuid,
		    KN_DEFAULT_SYSTEM_UUID) == 0 &&
		    access(c->system_uuid, R_OK) == -1;
		if (!missing_default) {
			srv->node_id_kind = NODE_BY_SYSTEM_UUID;
			if (read_id(c->system_uuid, srv->node_id,
			    sizeof(srv->node_id), err, errlen) == -1)
				return -1;
			if (strcasecmp(srv->node_id, BOGUS_UUID) == 0)
				return errset(err, errlen, "%s: the well-known "
				    "bogus system UUID %s identifies no node; "
				    "set NODE_NAME or --node-name",
				    c->system_uuid, BOGUS_UUID);
			return 0;
		}
	}
	if (*c->boot_id != '\0') {
		srv->node_id_kind = NODE_BY_BOOT_ID;
		return read_id(c->boot_id, srv->node_id, sizeof(srv->node_id),
		    err, errlen);
	}
	if (gethostname(host, sizeof(host)) == -1 || *host == '\0')
		return errset(err, errlen, "no node name: set NODE_NAME or "
		    "--node-name");
	host[sizeof(host) - 1] = '\0';
	/* The kubelet registers the host name in lower case. */
	for (p = host; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	memcpy(srv->node_name, host, sizeof(host));
	return 0;
}

static int
load_token(struct api_conf *a, char *err, size_t errlen)
{
	size_t	 at;

	if (read_file_st(a->token_file, API_TOKEN_MAX, &a->token,
	    &a->token_st, err, errlen) == -1)
		return -1;
	/* Token files often end in a newline that is not part of it. */
	while (a->token.len > 0 && (a->token.data[a->token.len - 1] == '\n'
	    || a->token.data[a->token.len - 1] == '\r'))
		a->token.data[--a->token.len] = '\0';
	if (token_check(a->token.data, a->token.len, &at) == -1)
		return errset(err, errlen, "%s: byte 0x%02x at offset %zu is "
		    "not allowed in a bearer token", a->token_file,
		    (unsigned char)a->token.data[at], at);
	return 0;
}

int
apiconf_load(const struct kn_config *c, struct api_conf *a, char *err,
    size_t errlen)
{
	struct api_blob	 text = { NULL, 0 };
	const char	*host, *port;
	int		 rv;

	memset(a, 0, sizeof(*a));
	if (*c->kubeconfig != '\0') {
		a->source = c->kubeconfig;
		if (read_file(c->kubeconfig, KUBECONFIG_MAX, &text, err,
		    errlen) == -1)
			return -1;
		rv = apiconf_parse_kubeconfig(a, text.data, text.len,
		    c->kubeconfig, err, errlen);
		blob_free(&text);
		if (rv == -1)
			return -1;
	} else if (*c->apiserver != '\0') {
		a->source = "--apiserver";
		snprintf(a->srv.url, sizeof(a->srv.url), "%s", c->apiserver);
		if (*c->ca_file == '\0' || *c->token_file == '\0')
			return errset(err, errlen, "--apiserver needs "
			    "--ca-file and --token-file");
		if (read_file(c->ca_file, CA_MAX, &a->ca, err, errlen) == -1)
			return -1;
		strcpy(a->token_file, c->token_file);
	} else if ((host = getenv("KUBERNETES_SERVICE_HOST")) != NULL &&
	    (port = getenv("KUBERNETES_SERVICE_PORT")) != NULL) {
		a->source = "in-cluster service account";
		snprintf(a->srv.url, sizeof(a->srv.url), strchr(host, ':') ?
		    "https://[%s]:%s" : "https://%s:%s", host, port);
		if (read_file(SA_DIR "/ca.crt", CA_MAX, &a->ca, err,
		    errlen) == -1)
			return -1;
		strcpy(a->token_file, SA_DIR "/token");
	} else
		return errset(err, errlen, "no API server: give --kubeconfig, "
		    "or --apiserver with --token-file and --ca-file, or run "
		    "in a pod");
	if (*a->token_file != '\0' && load_token(a, err, errlen) == -1)
		return -1;
	if (a->token.len == 0 && a->cert.len == 0)
		return errset(err, errlen, "%s: no credentials (token, token "
		    "file or client certificate)", a->source);
	if (a->ca.len == 0 && !a->srv.insecure)
		return errset(err, errlen, "%s: no CA certificate", a->source);
	if (resolve_server(a, err, errlen) == -1 ||
	    node_identity(c, &a->srv, err, errlen) == -1)
		return -1;
	a->srv.addr_type = c->address_type;
	a->srv.max_nodes = c->max_nodes;
	return 0;
}

/*
 * Bound service-account tokens rotate about hourly: the file is
 * replaced (a new symlink target), so a changed inode, size or mtime
 * means read it again.  Returns 1 when the token itself changed.
 */
int
apiconf_token_changed(struct api_conf *a, char *err, size_t errlen)
{
	struct stat	 st;
	struct api_blob	 old = a->token;
	int		 changed;

	if (*a->token_file == '\0')
		return 0;
	if (stat(a->token_file, &st) == -1)
		return errset(err, errlen, "%s: %s", a->token_file,
		    strerror(errno));
	if (st.st_ino == a->token_st.st_ino && st.st_size ==
	    a->token_st.st_size && st.st_mtim.tv_sec ==
	    a->token_st.st_mtim.tv_sec && st.st_mtim.tv_nsec ==
	    a->token_st.st_mtim.tv_nsec)
		return 0;
	a->token.data = NULL;
	a->token.len = 0;
	if (load_token(a, err, errlen) == -1) {
		blob_free(&a->token);
		a->token = old;
		return -1;
	}
	changed = old.len != a->token.len ||
	    memcmp(old.data, a->token.data, old.len) != 0;
	blob_free(&old);
	return changed;
}
