/*
 * The floor under the watcher's memory: a program that links Debian's
 * libcurl, as the daemon does, makes one HTTPS request with a CA from
 * memory, and prints its own peak and final resident set from
 * /proc/self/status.  bench_watcher.py runs it against the same server.
 *
 *	curl_floor URL CA-FILE TOKEN
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

int
main(int argc, char **argv)
{
	struct curl_blob	 ca;
	struct curl_slist	*hdr = NULL;
	char			 buf[4096], auth[1024], line[256];
	size_t			 n;
	FILE			*f;
	CURL			*h;
	CURLcode		 rc;

	if (argc != 4) {
		fprintf(stderr, "usage: curl_floor url ca-file token\n");
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
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		fprintf(stderr, "curl_floor: %s\n", curl_easy_strerror(rc));
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
