/*
 * The floor under the watcher's memory: a program that links Debian's
 * libcurl, as the daemon does, makes one HTTPS request with a CA from
 * memory, and prints its own peak and final resident set from
 * /proc/self/status.  bench_watcher.py runs it against the same server.
 * With -a it follows the list's continue tokens on the same connection,
 * as the watcher pages, and also prints the pages, bytes and seconds
 * of the whole transfer: the floor under the time to the last route
 * (bench_daemon.py).
 *
 *	curl_floor [-a] URL CA-FILE TOKEN
 */
#include <sys/resource.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The head of a page, where a list's metadata (and its token) is. */
struct page {
	char	head[4096];
	size_t	len;
	size_t	bytes;
};

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	struct page	*pg = arg;
	size_t		 take = size * n;

	if (take > sizeof(pg->head) - 1 - pg->len)
		take = sizeof(pg->head) - 1 - pg->len;
	memcpy(pg->head + pg->len, p, take);
	pg->len += take;
	pg->head[pg->len] = '\0';
	pg->bytes += size * n;
	return size * n;
}

/* The URL of the next page, or 0 when the page has no token. */
static int
next_page(CURL *h, const char *base, const struct page *pg, char *url,
    size_t len)
{
	const char	*t = strstr(pg->head, "\"continue\":\""), *end;
	char		*tok, *esc;

	if (t == NULL)
		return 0;
	t += strlen("\"continue\":\"");
	if ((end = strchr(t, '"')) == NULL || end == t ||
	    (tok = strndup(t, (size_t)(end - t))) == NULL)
		return 0;
	esc = curl_easy_escape(h, tok, 0);
	free(tok);
	if (esc == NULL)
		return 0;
	snprintf(url, len, "%s&continue=%s", base, esc);
	curl_free(esc);
	return 1;
}

int
main(int argc, char **argv)
{
	struct curl_blob	 ca;
	struct curl_slist	*hdr = NULL;
	struct page		 pg;
	struct timespec		 t0, t1;
	struct rusage		 ru;
	char			 buf[4096], auth[1024], line[256], url[8192];
	size_t			 n, bytes = 0;
	FILE			*f;
	CURL			*h;
	CURLcode		 rc;
	int			 all = 0, pages = 0;

	if (argc == 5 && strcmp(argv[1], "-a") == 0) {
		all = 1;
		argv++;
		argc--;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: curl_floor [-a] url ca-file token\n");
		return 2;
	}
	if ((f = fopen(argv[2], "r")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	ca.data = buf;
	ca.len = n;
	ca.flags = CURL_BLOB_COPY;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[3]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((h = curl_easy_init()) == NULL)
		return 1;
	hdr = curl_slist_append(hdr, auth);
	curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &pg);
	snprintf(url, sizeof(url), "%s", argv[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		memset(&pg, 0, sizeof(pg));
		curl_easy_setopt(h, CURLOPT_URL, url);
		rc = curl_easy_perform(h);
		bytes += pg.bytes;
		pages++;
	} while (rc == CURLE_OK && all &&
	    next_page(h, argv[1], &pg, url, sizeof(url)));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc != CURLE_OK)
		fprintf(stderr, "curl_floor: %s\n", curl_easy_strerror(rc));
	else if (all && getrusage(RUSAGE_SELF, &ru) == 0)
		printf("Pages: %d\nBytes: %zu\nSeconds: %.6f\nCPU: %.6f\n",
		    pages, bytes, (double)(t1.tv_sec - t0.tv_sec) +
		    (t1.tv_nsec - t0.tv_nsec) / 1e9,
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return 1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0 ||
		    strncmp(line, "RssAnon:", 8) == 0 ||
		    strncmp(line, "RssFile:", 8) == 0)
			fputs(line, stdout);
	fclose(f);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return rc == CURLE_OK ? 0 : 1;
}
