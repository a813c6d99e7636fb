/*
 * Where the API server is and who we are to it, driven directly:
 * base64, bounded file reads, kubeconfig selection, the flag and
 * environment paths of apiconf_load, token rotation and the node's
 * identity.  Every file lives under a fresh mkdtemp directory that is
 * removed at the end.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "../src/apiconf.h"
#include "../src/config.h"
#include "../src/log.h"
#include "../src/proto.h"

#define PROD_PEM	"-----BEGIN CERTIFICATE-----\nMIIBprodCA\n" \
			    "-----END CERTIFICATE-----\n"
#define PROD_B64	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJwcm9kQ0EK" \
			    "LS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define DEV_PEM		"-----BEGIN CERTIFICATE-----\nMIIBdevCA\n" \
			    "-----END CERTIFICATE-----\n"
#define DEV_B64		"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkZXZDQQot" \
			    "LS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
#define CERT_PEM	"-----BEGIN CERTIFICATE-----\nMIIBclient\n" \
			    "-----END CERTIFICATE-----\n"
#define CERT_B64	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJjbGllbnQK" \
			    "LS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define KEY_PEM		"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIkey\n" \
			    "-----END EC PRIVATE KEY-----\n"
#define KEY_B64		"LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVF" \
			    "SWtleQotLS0tLUVORCBFQyBQUklWQVRFIEtFWS0tLS0tCg=="
#define BOGUS_UUID	"03000200-0400-0500-0006-000700080009"

static char	 dir[PATH_MAX];
static char	 kcpath[PATH_MAX];

/* A path into a fixed-size field; a test path never needs cutting. */
static void
copy(char *dst, size_t len, const char *src)
{
	if ((size_t)snprintf(dst, len, "%s", src) >= len)
		bail_out("%s: too long", src);
}

/* DIR/name, in one of a few rotating buffers so calls can nest. */
static const char *
at(const char *name)
{
	static char	 buf[4][PATH_MAX];
	static int	 i;

	i = (i + 1) % 4;
	if ((size_t)snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name) >=
	    sizeof(buf[i]))
		bail_out("%s/%s: too long", dir, name);
	return buf[i];
}

static void
put(const char *name, const char *text)
{
	FILE	*f;

	if ((f = fopen(at(name), "w")) == NULL)
		bail_out("%s: %s", at(name), strerror(errno));
	if (fputs(text, f) == EOF || fclose(f) == EOF)
		bail_out("%s: write failed", at(name));
}

/* As Kubernetes rotates a token: a new file renamed over the old. */
static void
replace(const char *name, const char *text)
{
	char	 tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s.new", name);
	put(tmp, text);
	if (rename(at(tmp), at(name)) == -1)
		bail_out("rename %s: %s", at(tmp), strerror(errno));
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A call that should have worked did not: say what it reported. */
static void
why(int passed, const char *err)
{
	if (!passed)
		diag("the error: %s", err);
}

/* Also on bail_out(), which exits from wherever it is. */
static void
cleanup(void)
{
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == -1)
		printf("# cleaning up %s: %s\n", dir, strerror(errno));
}

static int
blob_is(const struct api_blob *b, const char *want)
{
	return b->data != NULL && b->len == strlen(want) &&
	    memcmp(b->data, want, b->len) == 0 && b->data[b->len] == '\0';
}

static void
test_base64(void)
{
	static const struct {
		const char	*in, *out;
	} t[] = {
		{ "", "" },
		{ "Zg==", "f" },
		{ "Zm8=", "fo" },
		{ "Zm9v", "foo" },
		{ "Zm9vYg==", "foob" },
		{ "Zm9vYmFy", "foobar" },
		{ "Zm9v\nYmFy\n", "foobar" },
		{ "Zm9v\r\nYm Fy", "foobar" },
		{ PROD_B64, PROD_PEM },
	};
	static const char	*bad[] = {
		"Zm9v!mFy",		/* not in the alphabet */
		"Zm9v\tYmFy",		/* a tab is not skipped */
		"Zg==Zg==",		/* data after padding */
		"Zg=a",
		"Zg===",		/* three '=' */
		"Zm9vYmF=====",
		"Zh==",			/* non-zero trailing bits */
	};
	struct api_blob	 b = { NULL, 0 };
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		is_int(base64_decode(t[i].in, strlen(t[i].in), &b), 0,
		    "base64: vector %zu decodes", i);
		ok(blob_is(&b, t[i].out),
		    "base64: vector %zu gives %zu bytes, NUL-terminated", i,
		    strlen(t[i].out));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(base64_decode(bad[i], strlen(bad[i]), &b), -1,
		    "base64: invalid input %zu refused", i);
	ok(blob_is(&b, PROD_PEM), "base64: a refusal leaves the blob alone");
	is_int(base64_decode("Zm9vYmFy", 4, &b), 0,
	    "base64: only inlen bytes are read");
	ok(blob_is(&b, "foo"), "base64: the prefix decodes alone");

	/* Four characters carry three bytes; one alone carries none. */
	is_int(base64_decode("Zm9vA", 5, &b), -1,
	    "base64: a lone trailing character is refused");
	is_int(base64_decode("Zg=", 3, &b), -1,
	    "base64: padding that does not complete the group is refused");
	is_int(base64_decode("Zm9v=", 5, &b), -1,
	    "base64: padding after a whole group is refused");
	free(b.data);
}

static void
test_read_file(void)
{
	struct api_blob	 b = { NULL, 0 };
	char		 big[101], err[256];

	memset(big, 'x', 100);
	big[100] = '\0';
	put("big", big);
	err[0] = '\0';
	is_int(read_file(at("big"), 99, &b, err, sizeof(err)), -1,
	    "read_file: one byte over max refused");
	like(err, "too large", "read_file: says too large");
	like(err, at("big"), "read_file: and names the file");
	ok(b.data == NULL && b.len == 0, "read_file: nothing returned");
	is_int(read_file(at("big"), 100, &b, err, sizeof(err)), 0,
	    "read_file: exactly max accepted");
	ok(blob_is(&b, big), "read_file: all 100 bytes, NUL-terminated");

	is_int(read_file(dir, 4096, &b, err, sizeof(err)), -1,
	    "read_file: a directory refused");
	like(err, "not a regular file", "read_file: says not a regular file");
	ok(blob_is(&b, big), "read_file: a refusal leaves the blob alone");

	is_int(read_file(at("nonexistent"), 4096, &b, err, sizeof(err)), -1,
	    "read_file: a missing file refused");
	like(err, at("nonexistent"), "read_file: the message names the path");
	like(err, strerror(ENOENT), "read_file: and says why");

	put("empty", "");
	is_int(read_file(at("empty"), 10, &b, err, sizeof(err)), 0,
	    "read_file: an empty file is read");
	ok(b.data != NULL && b.len == 0 && b.data[0] == '\0',
	    "read_file: as an empty string");
	free(b.data);
}

/* A kubeconfig with two of everything; prod unless told otherwise. */
static const char *
kubeconfig(const char *current)
{
	static char	 buf[4096];

	snprintf(buf, sizeof(buf),
	    "apiVersion: v1\n"
	    "kind: Config\n"
	    "%s%s\n"
	    "clusters:\n"
	    "- name: dev\n"
	    "  cluster:\n"
	    "    server: https://dev.example:6443\n"
	    "    certificate-authority-data: " DEV_B64 "\n"
	    "- name: prod\n"
	    "  cluster:\n"
	    "    server: https://10.1.2.3:6443\n"
	    "    certificate-authority-data: " PROD_B64 "\n"
	    "contexts:\n"
	    "- name: dev\n"
	    "  context: {cluster: dev, user: dev-user}\n"
	    "- name: prod\n"
	    "  context:\n"
	    "    cluster: prod\n"
	    "    user: admin\n"
	    "- name: lost\n"
	    "  context: {cluster: ghost, user: admin}\n"
	    "users:\n"
	    "- name: dev-user\n"
	    "  user: {token: devtoken}\n"
	    "- name: admin\n"
	    "  user:\n"
	    "    token: prodtoken\n",
	    current != NULL ? "current-context: " : "",
	    current != NULL ? current : "");
	return buf;
}

/* One cluster, one user, the given lines added to each. */
static const char *
single(const char *cluster, const char *user)
{
	static char	 buf[4096];

	snprintf(buf, sizeof(buf),
	    "current-context: c\n"
	    "contexts:\n"
	    "- name: c\n"
	    "  context: {cluster: k, user: u}\n"
	    "clusters:\n"
	    "- name: k\n"
	    "  cluster:\n"
	    "%s"
	    "users:\n"
	    "- name: u\n"
	    "  user:\n"
	    "%s",
	    cluster, user);
	return buf;
}

#define PROD_CLUSTER	"    server: https://10.1.2.3:6443\n" \
			    "    certificate-authority-data: " PROD_B64 "\n"

static int
parse(struct api_conf *a, const char *yaml, char *err, size_t errlen)
{
	apiconf_free(a);
	memset(a, 0, sizeof(*a));
	err[0] = '\0';
	return apiconf_parse_kubeconfig(a, yaml, strlen(yaml), kcpath, err,
	    errlen);
}

static void
test_kubeconfig(void)
{
	struct api_conf	 a;
	char		 err[512], want[PATH_MAX];

	memset(&a, 0, sizeof(a));
	why(is_int(parse(&a, kubeconfig("prod"), err, sizeof(err)), 0,
	    "kubeconfig: parsed"), err);
	is_str(a.srv.url, "https://10.1.2.3:6443",
	    "kubeconfig: current-context picks the prod cluster's server");
	ok(blob_is(&a.ca, PROD_PEM),
	    "kubeconfig: certificate-authority-data decoded into the CA");
	ok(blob_is(&a.token, "prodtoken"),
	    "kubeconfig: the prod user's inline token");
	is_int(a.srv.insecure, 0, "kubeconfig: not insecure by default");
	ok(a.cert.len == 0 && a.key.len == 0 && a.token_file[0] == '\0',
	    "kubeconfig: no client certificate, no token file");

	why(is_int(parse(&a, kubeconfig("dev"), err, sizeof(err)), 0,
	    "kubeconfig: dev parsed"), err);
	is_str(a.srv.url, "https://dev.example:6443",
	    "kubeconfig: current-context dev picks the dev cluster");
	ok(blob_is(&a.ca, DEV_PEM), "kubeconfig: with the dev CA");
	ok(blob_is(&a.token, "devtoken"), "kubeconfig: and the dev user");

	is_int(parse(&a, kubeconfig(NULL), err, sizeof(err)), -1,
	    "kubeconfig: no current-context refused");
	like(err, "no current-context", "kubeconfig: says no current-context");
	like(err, kcpath, "kubeconfig: and names the file");
	is_int(parse(&a, kubeconfig("nope"), err, sizeof(err)), -1,
	    "kubeconfig: unknown context refused");
	like(err, "no context \"nope\"", "kubeconfig: names the context");
	is_int(parse(&a, kubeconfig("lost"), err, sizeof(err)), -1,
	    "kubeconfig: a context naming an unknown cluster refused");
	like(err, "no cluster \"ghost\"", "kubeconfig: names the cluster");
	is_int(parse(&a, "current-context: c\ncontexts:\n- name: c\n  "
	    "context: {cluster: k, user: ghost}\nclusters:\n- name: k\n  "
	    "cluster: {server: \"https://10.0.0.1\", "
	    "insecure-skip-tls-verify: yes}\nusers: []\n", err, sizeof(err)),
	    -1, "kubeconfig: a context naming an unknown user refused");
	like(err, "user \"ghost\" was not found for context \"c\"",
	    "kubeconfig: names the user and the context");
	is_int(parse(&a, "current-context: c\ncontexts:\n- name: c\n  "
	    "context: {cluster: k}\nclusters:\n- name: k\n  "
	    "cluster: {server: \"https://10.0.0.1\", "
	    "insecure-skip-tls-verify: Yes}\n", err, sizeof(err)), 0,
	    "kubeconfig: YAML 1.1 \"Yes\" for insecure-skip-tls-verify");
	is_int(a.srv.insecure, 1, "kubeconfig: \"Yes\" sets srv.insecure");

	is_int(parse(&a, single("    certificate-authority-data: " PROD_B64
	    "\n", "    token: t\n"), err, sizeof(err)), -1,
	    "kubeconfig: a cluster without server refused");
	like(err, "has no server", "kubeconfig: says it has no server");

	is_int(parse(&a, "current-context: c\nclusters: []\n  bad: indent\n",
	    err, sizeof(err)), -1, "kubeconfig: broken YAML refused");
	copy(want, sizeof(want) - 3, kcpath);
	strcat(want, ":3:");
	like(err, want, "kubeconfig: the message gives path:LINE:");

	/* A file path is relative to the kubeconfig's directory. */
	put("ca.pem", DEV_PEM);
	why(is_int(parse(&a, single("    server: https://10.1.2.3:6443\n"
	    "    certificate-authority: ca.pem\n", "    token: t\n"), err,
	    sizeof(err)), 0, "kubeconfig: certificate-authority file"),
	    err);
	ok(blob_is(&a.ca, DEV_PEM),
	    "kubeconfig: a relative CA file is read beside the kubeconfig");
	is_int(parse(&a, single("    server: https://10.1.2.3:6443\n"
	    "    certificate-authority: missing-ca.pem\n", "    token: t\n"),
	    err, sizeof(err)), -1, "kubeconfig: a missing CA file refused");
	like(err, at("missing-ca.pem"),
	    "kubeconfig: the message names the resolved CA path");
	is_int(parse(&a, single("    server: https://10.1.2.3:6443\n"
	    "    certificate-authority-data: not*base64\n", "    token: t\n"),
	    err, sizeof(err)), -1, "kubeconfig: bad CA data refused");
	like(err, "certificate-authority-data is not base64",
	    "kubeconfig: says which key is not base64");

	why(is_int(parse(&a, single("    server: https://10.1.2.3:6443\n"
	    "    insecure-skip-tls-verify: true\n", "    token: t\n"), err,
	    sizeof(err)), 0, "kubeconfig: insecure without CA"), err);
	is_int(a.srv.insecure, 1,
	    "kubeconfig: insecure-skip-tls-verify sets srv.insecure");
	is_int(a.ca.len, 0, "kubeconfig: and no CA is needed or read");

	why(is_int(parse(&a, single(PROD_CLUSTER, "    tokenFile: tok/en\n"),
	    err, sizeof(err)), 0, "kubeconfig: tokenFile"), err);
	is_str(a.token_file, at("tok/en"),
	    "kubeconfig: a relative tokenFile is under the kubeconfig's "
	    "directory");
	is_int(a.token.len, 0, "kubeconfig: the token file is not read yet");
	why(is_int(parse(&a, single(PROD_CLUSTER,
	    "    tokenFile: /abs/token\n"), err, sizeof(err)), 0,
	    "kubeconfig: absolute tokenFile"), err);
	is_str(a.token_file, "/abs/token",
	    "kubeconfig: an absolute tokenFile stays as it is");

	why(is_int(parse(&a, single(PROD_CLUSTER,
	    "    client-certificate-data: " CERT_B64 "\n"
	    "    client-key-data: " KEY_B64 "\n"), err, sizeof(err)), 0,
	    "kubeconfig: client certificate and key"), err);
	ok(blob_is(&a.cert, CERT_PEM), "kubeconfig: certificate decoded");
	ok(blob_is(&a.key, KEY_PEM), "kubeconfig: key decoded");

	put("client.crt", CERT_PEM);
	put("client.key", KEY_PEM);
	why(is_int(parse(&a, single(PROD_CLUSTER,
	    "    client-certificate: client.crt\n"
	    "    client-key: client.key\n"), err, sizeof(err)), 0,
	    "kubeconfig: client certificate and key files"), err);
	ok(blob_is(&a.cert, CERT_PEM) && blob_is(&a.key, KEY_PEM),
	    "kubeconfig: both read beside the kubeconfig");

	is_int(parse(&a, single(PROD_CLUSTER,
	    "    client-certificate-data: " CERT_B64 "\n"), err, sizeof(err)),
	    -1, "kubeconfig: a certificate without its key refused");
	like(err, "needs its key", "kubeconfig: says the key is missing");
	is_int(parse(&a, single(PROD_CLUSTER,
	    "    client-key-data: " KEY_B64 "\n"), err, sizeof(err)), -1,
	    "kubeconfig: a key without its certificate refused");

	is_int(parse(&a, single(PROD_CLUSTER,
	    "    exec:\n"
	    "      apiVersion: client.authentication.k8s.io/v1\n"
	    "      command: aws\n"), err, sizeof(err)), -1,
	    "kubeconfig: exec credentials refused");
	like(err, "not supported", "kubeconfig: exec is not supported");
	like(err, "\"u\"", "kubeconfig: the message names the user");
	is_int(parse(&a, single(PROD_CLUSTER,
	    "    auth-provider:\n"
	    "      name: gcp\n"), err, sizeof(err)), -1,
	    "kubeconfig: auth-provider credentials refused");
	like(err, "not supported",
	    "kubeconfig: auth-provider is not supported");
	apiconf_free(&a);
}

/* A kubeconfig whose user has an inline token of len bytes. */
static const char *
with_token(size_t len)
{
	static char	 buf[32 * 1024];
	size_t		 i, o;

	o = (size_t)snprintf(buf, sizeof(buf), "%s    token: ",
	    single(PROD_CLUSTER, ""));
	for (i = 0; i < len && o < sizeof(buf) - 2; i++)
		buf[o++] = 'a' + i % 26;
	buf[o++] = '\n';
	buf[o] = '\0';
	return buf;
}

/*
 * An inline token is held to the token file's bound: a longer one
 * would fit no message to the watcher, whose requests would then go
 * out without credentials.
 */
static void
test_inline_token_bound(void)
{
	struct api_conf	 a;
	char		 err[512];

	memset(&a, 0, sizeof(a));
	why(is_int(parse(&a, with_token(API_TOKEN_MAX), err, sizeof(err)), 0,
	    "inline token: as long as the token file's bound accepted"), err);
	is_int(a.token.len, API_TOKEN_MAX, "inline token: and kept whole");
	is_int(parse(&a, with_token(API_TOKEN_MAX + 1), err, sizeof(err)), -1,
	    "inline token: one byte over the bound refused");
	is_int(parse(&a, with_token(16 * 1024 + 1), err, sizeof(err)), -1,
	    "inline token: over 16 KiB refused at parse time");
	like(err, "token larger than 8192 bytes",
	    "inline token: the message gives the bound");
	like(err, "\"u\"", "inline token: and names the user");
	apiconf_free(&a);
}

/* A config that apiconf_load accepts: flags, a token and a CA. */
static void
flags(struct kn_config *c, const char *url)
{
	memset(c, 0, sizeof(*c));
	copy(c->apiserver, sizeof(c->apiserver), url);
	copy(c->token_file, sizeof(c->token_file), at("token"));
	copy(c->ca_file, sizeof(c->ca_file), at("ca.pem"));
	snprintf(c->node_name, sizeof(c->node_name), "node-a");
	c->max_nodes = 77;
	c->address_type = 2;
}

static int
load(const struct kn_config *c, struct api_conf *a, char *err, size_t len)
{
	apiconf_free(a);
	err[0] = '\0';
	return apiconf_load(c, a, err, len);
}

static void
test_load(void)
{
	struct kn_config	 c;
	struct api_conf		 a;
	char			 err[512];

	memset(&a, 0, sizeof(a));
	unsetenv("NODE_NAME");
	put("token", "tok123\n");
	put("ca.pem", PROD_PEM);

	flags(&c, "https://127.0.0.1:6443");
	why(is_int(load(&c, &a, err, sizeof(err)), 0,
	    "load: --apiserver with token and CA files"), err);
	is_str(a.srv.url, "https://127.0.0.1:6443", "load: the URL copied");
	ok(blob_is(&a.token, "tok123"),
	    "load: the token's trailing newline is stripped");
	ok(blob_is(&a.ca, PROD_PEM), "load: the CA file read");
	is_str(a.token_file, at("token"), "load: the token file kept");
	is_str(a.srv.resolve, "", "load: no resolve entry for an IPv4 URL");
	is_int(a.srv.max_nodes, 77, "load: max_nodes copied");
	is_int(a.srv.addr_type, 2, "load: addr_type copied");
	is_str(a.srv.node_name, "node-a", "load: the node identity set");
	is_str(a.source, "--apiserver", "load: the source named");

	put("token", "crlf\r\n");
	why(is_int(load(&c, &a, err, sizeof(err)), 0, "load: CRLF token"),
	    err);
	ok(blob_is(&a.token, "crlf"), "load: a CRLF ending is stripped too");
	put("token", "tok123\n");

	flags(&c, "https://localhost:6443");
	why(is_int(load(&c, &a, err, sizeof(err)), 0, "load: localhost"),
	    err);
	ok(strcmp(a.srv.resolve, "localhost:6443:127.0.0.1") == 0 ||
	    strcmp(a.srv.resolve, "localhost:6443:[::1]") == 0,
	    "load: a host name resolved to host:port:address (%s)",
	    a.srv.resolve);

	flags(&c, "https://localhost/");
	why(is_int(load(&c, &a, err, sizeof(err)), 0, "load: default port"),
	    err);
	ok(strncmp(a.srv.resolve, "localhost:443:", 14) == 0,
	    "load: without a port, 443 (%s)", a.srv.resolve);

	flags(&c, "https://[::1]:6443");
	why(is_int(load(&c, &a, err, sizeof(err)), 0, "load: IPv6 literal"),
	    err);
	is_str(a.srv.resolve, "", "load: no resolve entry for an IPv6 URL");

	flags(&c, "https://127.0.0.1:6443");
	c.ca_file[0] = '\0';
	is_int(load(&c, &a, err, sizeof(err)), -1,
	    "load: --apiserver without --ca-file refused");
	like(err, "--ca-file", "load: the message names --ca-file");
	flags(&c, "https://127.0.0.1:6443");
	c.token_file[0] = '\0';
	is_int(load(&c, &a, err, sizeof(err)), -1,
	    "load: --apiserver without --token-file refused");
	like(err, "--token-file", "load: the message names --token-file");

	flags(&c, "http://127.0.0.1:8080");
	is_int(load(&c, &a, err, sizeof(err)), -1, "load: http:// refused");
	like(err, "only https://", "load: says only https://");

	put("empty.pem", "");
	flags(&c, "https://127.0.0.1:6443");
	copy(c.ca_file, sizeof(c.ca_file), at("empty.pem"));
	is_int(load(&c, &a, err, sizeof(err)), -1, "load: empty CA refused");
	like(err, "no CA certificate", "load: says no CA certificate");

	flags(&c, "https://127.0.0.1:6443");
	copy(c.token_file, sizeof(c.token_file), at("no-token"));
	is_int(load(&c, &a, err, sizeof(err)), -1,
	    "load: a missing token file refused");
	like(err, at("no-token"), "load: the message names the token file");

	/* End to end through a kubeconfig file. */
	put("sa-token", "kc-token\n");
	put("kubeconfig", single(PROD_CLUSTER, "    tokenFile: sa-token\n"));
	memset(&c, 0, sizeof(c));
	copy(c.kubeconfig, sizeof(c.kubeconfig), kcpath);
	snprintf(c.node_name, sizeof(c.node_name), "node-b");
	c.max_nodes = 9;
	c.address_type = 1;
	why(is_int(load(&c, &a, err, sizeof(err)), 0,
	    "load: through a kubeconfig file"), err);
	is_str(a.srv.url, "https://10.1.2.3:6443", "load: its server");
	ok(blob_is(&a.ca, PROD_PEM), "load: its CA");
	ok(blob_is(&a.token, "kc-token"),
	    "load: its relative tokenFile read and trimmed");
	is_str(a.source, kcpath, "load: the kubeconfig is the source");
	ok(a.srv.max_nodes == 9 && a.srv.addr_type == 1,
	    "load: max_nodes and addr_type copied");

	put("kubeconfig", single("    server: https://127.0.0.1:6443\n"
	    "    insecure-skip-tls-verify: true\n", "    token: inline\n"));
	why(is_int(load(&c, &a, err, sizeof(err)), 0,
	    "load: insecure kubeconfig without any CA"), err);
	ok(a.srv.insecure == 1 && a.ca.len == 0,
	    "load: insecure, and no CA required");

	put("kubeconfig", single(PROD_CLUSTER, "    username: nobody\n"));
	is_int(load(&c, &a, err, sizeof(err)), -1,
	    "load: a user without credentials refused");
	like(err, "no credentials", "load: says no credentials");

	copy(c.kubeconfig, sizeof(c.kubeconfig), at("no-kubeconfig"));
	is_int(load(&c, &a, err, sizeof(err)), -1,
	    "load: a missing kubeconfig refused");
	like(err, at("no-kubeconfig"), "load: the message names it");

	memset(&c, 0, sizeof(c));
	unsetenv("KUBERNETES_SERVICE_HOST");
	is_int(load(&c, &a, err, sizeof(err)), -1,
	    "load: nothing to go on refused");
	like(err, "no API server", "load: says no API server");

	if (access(SA_DIR "/ca.crt", F_OK) == -1) {
		setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
		setenv("KUBERNETES_SERVICE_PORT", "443", 1);
		is_int(load(&c, &a, err, sizeof(err)), -1,
		    "load: in-cluster without a service account refused");
		like(err, SA_DIR "/ca.crt",
		    "load: the message names the service account CA");
		is_str(a.srv.url, "https://[fd00::1]:443",
		    "load: an IPv6 service host is bracketed");
		unsetenv("KUBERNETES_SERVICE_HOST");
		unsetenv("KUBERNETES_SERVICE_PORT");
	} else
		diag("a service account is mounted: in-cluster not tested");
	apiconf_free(&a);
}

/*
 * A bearer token goes into an HTTP header as it is: a CR, LF or space
 * in it would add a header or end the request line's meaning, so only
 * RFC 6750's token characters are taken, inline and from a file.
 */
static void
test_token_charset(void)
{
	struct kn_config	 c;
	struct api_conf		 a;
	char			 err[512];

	memset(&a, 0, sizeof(a));
	why(is_int(parse(&a, single(PROD_CLUSTER,
	    "    token: eyJhbGc.eyJzdWIi.c2ln-_~+/==\n"), err, sizeof(err)),
	    0, "token charset: a JWT's characters accepted inline"), err);
	is_int(parse(&a, single(PROD_CLUSTER,
	    "    token: \"abc\\r\\nX-Injected: 1\"\n"), err, sizeof(err)),
	    -1, "token charset: an inline token with CR LF refused");
	like(err, "not allowed in a bearer token",
	    "token charset: the message says why");
	like(err, "\"u\"", "token charset: and names the user");
	is_int(parse(&a, single(PROD_CLUSTER, "    token: \"ab cd\"\n"), err,
	    sizeof(err)), -1, "token charset: an inline token with a space "
	    "refused");

	put("ca.pem", PROD_PEM);
	put("token", "abc\r\nX-Injected: 1\n");
	flags(&c, "https://127.0.0.1:6443");
	is_int(load(&c, &a, err, sizeof(err)), -1,
	    "token charset: a token file with a header in it refused");
	like(err, at("token"), "token charset: the message names the file");
	put("token", "good\n");
	why(is_int(load(&c, &a, err, sizeof(err)), 0,
	    "token charset: a clean token file accepted"), err);
	replace("token", "bad token\n");
	is_int(apiconf_token_changed(&a, err, sizeof(err)), -1,
	    "token charset: a rotated file with a space refused");
	ok(blob_is(&a.token, "good"), "token charset: the old token kept");
	put("token", "tok123\n");
	apiconf_free(&a);
}

static void
test_token_changed(void)
{
	struct kn_config	 c;
	struct api_conf		 a;
	char			 err[512], big[API_TOKEN_MAX + 2];

	memset(&a, 0, sizeof(a));
	put("token", "first\n");
	put("ca.pem", PROD_PEM);
	flags(&c, "https://127.0.0.1:6443");
	if (load(&c, &a, err, sizeof(err)) == -1)
		bail_out("apiconf_load: %s", err);

	is_int(apiconf_token_changed(&a, err, sizeof(err)), 0,
	    "token: an untouched file is unchanged");
	replace("token", "second\n");
	is_int(apiconf_token_changed(&a, err, sizeof(err)), 1,
	    "token: a rotated file with a new token is a change");
	ok(blob_is(&a.token, "second"), "token: the new token is loaded");
	is_int(apiconf_token_changed(&a, err, sizeof(err)), 0,
	    "token: and then unchanged again");
	replace("token", "second\n");
	is_int(apiconf_token_changed(&a, err, sizeof(err)), 0,
	    "token: a new file with the same token is no change");
	ok(blob_is(&a.token, "second"), "token: still the same token");

	if (unlink(at("token")) == -1)
		bail_out("unlink: %s", strerror(errno));
	err[0] = '\0';
	is_int(apiconf_token_changed(&a, err, sizeof(err)), -1,
	    "token: a removed file is an error");
	like(err, at("token"), "token: the message names the file");
	ok(blob_is(&a.token, "second"), "token: the old token is kept");
	/* Present but unreadable: the reload itself fails. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	replace("token", big);
	is_int(apiconf_token_changed(&a, err, sizeof(err)), -1,
	    "token: an oversized token file is an error");
	like(err, "too large", "token: says too large");
	ok(blob_is(&a.token, "second"), "token: the old token is still kept");
	put("token", "third");
	is_int(apiconf_token_changed(&a, err, sizeof(err)), 1,
	    "token: the file back with a new token is a change");
	ok(blob_is(&a.token, "third"), "token: a token without newline");

	put("kubeconfig", single(PROD_CLUSTER, "    token: inline\n"));
	memset(&c, 0, sizeof(c));
	copy(c.kubeconfig, sizeof(c.kubeconfig), kcpath);
	snprintf(c.node_name, sizeof(c.node_name), "node-c");
	if (load(&c, &a, err, sizeof(err)) == -1)
		bail_out("apiconf_load: %s", err);
	is_int(apiconf_token_changed(&a, err, sizeof(err)), 0,
	    "token: an inline token never changes");
	apiconf_free(&a);
}

static int
identity(const struct kn_config *c, struct msg_api_server *srv, char *err,
    size_t errlen)
{
	memset(srv, 0x55, sizeof(*srv));
	err[0] = '\0';
	return node_identity(c, srv, err, errlen);
}

static void
test_node_identity(void)
{
	struct kn_config	 c;
	struct msg_api_server	 srv;
	char			 err[512], host[256], *p, longname[300];
	int			 upper;

	memset(&c, 0, sizeof(c));
	snprintf(c.node_name, sizeof(c.node_name), "flag-node");
	copy(c.machine_id, sizeof(c.machine_id), at("machine-id"));
	put("machine-id", "0123456789abcdef0123456789abcdef  \nsecond\n");

	setenv("NODE_NAME", "env-node", 1);
	is_int(identity(&c, &srv, err, sizeof(err)), 0, "identity: NODE_NAME");
	is_str(srv.node_name, "env-node", "identity: NODE_NAME wins");
	ok(srv.node_id_kind == NODE_BY_NAME && srv.node_id[0] == '\0',
	    "identity: by name, no ID");
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	setenv("NODE_NAME", longname, 1);
	is_int(identity(&c, &srv, err, sizeof(err)), -1,
	    "identity: an overlong NODE_NAME refused");
	like(err, "NODE_NAME too long", "identity: says so");
	setenv("NODE_NAME", "", 1);
	is_int(identity(&c, &srv, err, sizeof(err)), 0,
	    "identity: empty NODE_NAME");
	is_str(srv.node_name, "flag-node",
	    "identity: an empty NODE_NAME is ignored");
	unsetenv("NODE_NAME");
	is_int(identity(&c, &srv, err, sizeof(err)), 0, "identity: flag");
	is_str(srv.node_name, "flag-node",
	    "identity: then --node-name wins over the ID files");

	c.node_name[0] = '\0';
	why(is_int(identity(&c, &srv, err, sizeof(err)), 0,
	    "identity: machine ID"), err);
	is_int(srv.node_id_kind, NODE_BY_MACHINE_ID,
	    "identity: found by machine ID");
	is_str(srv.node_id, "0123456789abcdef0123456789abcdef",
	    "identity: its first line, trimmed");
	is_str(srv.node_name, "", "identity: and no name");
	put("machine-id", "\n");
	is_int(identity(&c, &srv, err, sizeof(err)), -1,
	    "identity: an empty machine ID refused");
	like(err, "no usable ID", "identity: says there is no usable ID");

	c.machine_id[0] = '\0';
	copy(c.system_uuid, sizeof(c.system_uuid), at("uuid"));
	copy(c.boot_id, sizeof(c.boot_id), at("boot-id"));
	put("uuid", "4C4C4544-0042-3510-8052-B4C04F4E4B31\n");
	put("boot-id", "9f1b6f3c-5a7e-4b2d-8c4e-1d2f3a4b5c6d\n");
	why(is_int(identity(&c, &srv, err, sizeof(err)), 0,
	    "identity: system UUID"), err);
	is_int(srv.node_id_kind, NODE_BY_SYSTEM_UUID,
	    "identity: found by system UUID");
	is_str(srv.node_id, "4C4C4544-0042-3510-8052-B4C04F4E4B31",
	    "identity: the UUID as written");
	put("uuid", BOGUS_UUID "\n");
	is_int(identity(&c, &srv, err, sizeof(err)), -1,
	    "identity: the placeholder UUID refused");
	like(err, "bogus", "identity: called bogus");
	put("uuid", "03000200-0400-0500-0006-000700080009\r\n");
	is_int(identity(&c, &srv, err, sizeof(err)), -1,
	    "identity: the placeholder UUID with CRLF refused too");
	copy(c.system_uuid, sizeof(c.system_uuid), at("no-uuid"));
	is_int(identity(&c, &srv, err, sizeof(err)), -1,
	    "identity: an explicit, missing system UUID file refused");
	like(err, at("no-uuid"), "identity: the message names it");

	if (access(KN_DEFAULT_SYSTEM_UUID, R_OK) == -1) {
		copy(c.system_uuid, sizeof(c.system_uuid),
		    KN_DEFAULT_SYSTEM_UUID);
		why(is_int(identity(&c, &srv, err, sizeof(err)), 0,
		    "identity: the default UUID file missing"), err);
		is_int(srv.node_id_kind, NODE_BY_BOOT_ID,
		    "identity: a missing default UUID file falls through");
	} else
		diag("%s is readable: its fall-through not tested",
		    KN_DEFAULT_SYSTEM_UUID);

	c.system_uuid[0] = '\0';
	why(is_int(identity(&c, &srv, err, sizeof(err)), 0,
	    "identity: boot ID"), err);
	is_int(srv.node_id_kind, NODE_BY_BOOT_ID, "identity: found by boot ID");
	is_str(srv.node_id, "9f1b6f3c-5a7e-4b2d-8c4e-1d2f3a4b5c6d",
	    "identity: the boot ID");

	c.boot_id[0] = '\0';
	if (gethostname(host, sizeof(host)) == -1)
		bail_out("gethostname: %s", strerror(errno));
	host[sizeof(host) - 1] = '\0';
	upper = 0;
	for (p = host; *p != '\0'; p++) {
		upper |= isupper((unsigned char)*p);
		*p = tolower((unsigned char)*p);
	}
	if (!upper)
		diag("the host name has no capitals: lower-casing not "
		    "exercised (try unshare -u with an upper-case name)");
	why(is_int(identity(&c, &srv, err, sizeof(err)), 0,
	    "identity: host name"), err);
	is_str(srv.node_name, host, "identity: the host name, lower-cased");
	ok(srv.node_id_kind == NODE_BY_NAME && srv.node_id[0] == '\0',
	    "identity: by name, no ID");
}

int
main(void)
{
	log_init(1, "test");
	snprintf(dir, sizeof(dir), "%s/test_apiconf.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp %s: %s", dir, strerror(errno));
	atexit(cleanup);
	copy(kcpath, sizeof(kcpath), at("kubeconfig"));
	if (mkdir(at("tok"), 0700) == -1)
		bail_out("mkdir: %s", strerror(errno));

	test_base64();
	test_read_file();
	test_kubeconfig();
	test_inline_token_bound();
	test_token_charset();
	test_load();
	test_token_changed();
	test_node_identity();
	return done_testing();
}
