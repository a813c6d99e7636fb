/*
 * libFuzzer target for the kubeconfig reader, apiconf_parse_kubeconfig():
 * the parent reads the file as root, and what it accepts goes to the
 * watcher in messages of bounded size.  The kubeconfig names its files
 * relative to itself; it is placed in an empty directory of its own,
 * with one small file beside it, so a relative name finds that or
 * nothing.  What is accepted must fit the messages that carry it.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/apiconf.h"
#include "fuzz.h"

#define CHECK_STR(a)	CHECK(memchr((a), '\0', sizeof(a)) != NULL)

static char	 kcpath[PATH_MAX];
static char	 dir[PATH_MAX];

static void
cleanup(void)
{
	char	 p[PATH_MAX + 16];

	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	unlink(p);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 p[PATH_MAX + 16];
	FILE	*f;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/fuzz_apiconf.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("fuzz_apiconf: mkdtemp");
		abort();
	}
	atexit(cleanup);
	snprintf(kcpath, sizeof(kcpath), "%s/kubeconfig", dir);
	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	if ((f = fopen(p, "w")) == NULL || fputs("-----BEGIN CERTIFICATE-----"
	    "\nMIIB\n-----END CERTIFICATE-----\n", f) == EOF ||
	    fclose(f) == EOF) {
		perror("fuzz_apiconf: ca.pem");
		abort();
	}
	return 0;
}

static void
check_blob(const struct api_blob *b, size_t max)
{
	CHECK(b->len <= max);
	/* Each blob is a C string too: libcurl and PEM readers see it so. */
	if (b->data != NULL)
		CHECK(b->data[b->len] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct api_conf	 a;
	char		 err[512];
	int		 rv;

	memset(&a, 0, sizeof(a));
	memset(err, 0, sizeof(err));
	rv = apiconf_parse_kubeconfig(&a, (const char *)data, len, kcpath, err,
	    sizeof(err));
	if (check_verdict(rv, err, sizeof(err)) == 0) {
		/* Checked for https:// by apiconf_load(), not here. */
		CHECK_STR(a.srv.url);
		CHECK(a.srv.insecure <= 1);
		CHECK_STR(a.token_file);
		/* What the watcher gets must fit its messages. */
		check_blob(&a.token, API_TOKEN_MAX);
		check_blob(&a.cert, API_BLOB_MAX);
		check_blob(&a.key, API_BLOB_MAX);
		check_blob(&a.ca, 1u << 20);	/* apiconf.c's CA_MAX */
		CHECK((a.cert.len == 0) == (a.key.len == 0));
		/* An inline token and a token file exclude each other. */
		CHECK(a.token.len == 0 || a.token_file[0] == '\0');
	}
	apiconf_free(&a);
	return 0;
}
