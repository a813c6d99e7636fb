/*
 * Where the API server is and how to prove who we are, read by the
 * parent before any child starts: a kubeconfig, or --apiserver with
 * --token-file and --ca-file, or the in-cluster service account.
 * The watcher gets the contents, never the paths.
 */
#ifndef KN_APICONF_H
#define KN_APICONF_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "config.h"
#include "proto.h"

#define SA_DIR		"/var/run/secrets/kubernetes.io/serviceaccount"
#define API_TOKEN_MAX	8192
/* A blob must fit one message: MSG_MAXLEN less the header. */
#define API_BLOB_MAX	(MSG_MAXLEN - 16)

struct api_blob {
	char		*data;
	size_t		 len;
};

struct api_conf {
	struct msg_api_server	 srv;
	const char		*source;	/* for log lines */
	char			 token_file[KN_PATH_MAX];
	struct stat		 token_st;
	struct api_blob		 token;
	struct api_blob		 ca;
	struct api_blob		 cert;
	struct api_blob		 key;
	/* where the parent connects for the watcher: the URL's host, port */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
};

int	 apiconf_load(const struct kn_config *, struct api_conf *, char *err,
	    size_t errlen);
int	 apiconf_token_changed(struct api_conf *, char *err, size_t errlen);
void	 apiconf_free(struct api_conf *);
int	 apiconf_parse_kubeconfig(struct api_conf *, const char *text,
	    size_t len, const char *path, char *err, size_t errlen);
int	 base64_decode(const char *in, size_t inlen, struct api_blob *out);
int	 node_identity(const struct kn_config *, struct msg_api_server *,
	    char *err, size_t errlen);
int	 read_file(const char *path, size_t max, struct api_blob *out,
	    char *err, size_t errlen);
int	 read_file_st(const char *path, size_t max, struct api_blob *out,
	    struct stat *, char *err, size_t errlen);

#endif
