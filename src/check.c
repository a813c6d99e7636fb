/*
 * --check: the configuration checked as the daemon would start with
 * it, without starting: the user and ids, the chroot, the CNI file,
 * the API credentials and the IPsec key.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "apiconf.h"
#include "cni.h"
#include "config.h"
#include "ipseckey.h"
#include "parent.h"
#include "sandbox.h"

/* --check: the configuration as the daemon would start with it. */
int
check_config(struct parent *pa)
{
	struct kn_config	*conf = &pa->conf;
	char			 err[512];
	struct stat		 st;
	int			 rv;

	if (config_resolve_user(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return 1;
	}
	if ((rv = check_ids(conf)) != 0)
		return rv;
	if (lstat(conf->chroot, &st) == -1 && errno == ENOENT)
		printf("chroot %s does not exist yet; the daemon creates it\n",
		    conf->chroot);
	else if (sandbox_check_root(conf->chroot, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return 1;
	}
	if (*conf->cni_config)
		switch (cni_check(conf->cni_config, err, sizeof(err))) {
		case 0:
			printf("--cni-config: %s yet; the daemon writes the "
			    "file once it does\n", err);
			break;
		case -1:
			fprintf(stderr, "kopeio-networkd: --cni-config: %s\n",
			    err);
			return 1;
		}
	if (apiconf_load(conf, &pa->api, err, sizeof(err)) == -1 ||
	    ipsec_key_check(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		apiconf_free(&pa->api);
		return 1;
	}
	if (conf->verbose > 0) {
		fflush(stdout);
		config_print(conf, STDOUT_FILENO);
		printf("API server %s (%s)%s\nthis node: %s\n",
		    pa->api.srv.url, pa->api.source, pa->api.srv.insecure ?
		    ", TLS verification off" : "", *pa->api.srv.node_name ?
		    pa->api.srv.node_name : pa->api.srv.node_id);
	}
	apiconf_free(&pa->api);
	printf("configuration OK\n");
	return 0;
}

/* The children's ids are used by nothing else: 0, or the exit status. */
int
check_ids(const struct kn_config *conf)
{
	char	 err[512];

	if (config_check_ids(conf, "/proc", "/etc/passwd", "/etc/group", err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return KN_EXIT_IDS_IN_USE;
	}
	return 0;
}
