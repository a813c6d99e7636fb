/*
 * The options' numbers and the function that applies one: the
 * configuration file's keys are options by other names.  Shared by
 * config.c and config_file.c only.
 */
#ifndef KN_CONFIG_OPT_H
#define KN_CONFIG_OPT_H

#include <stddef.h>

#include "config.h"

enum {
	OPT_PROVIDER = 256,
	OPT_TARGET,
	OPT_POD_CIDR,
	OPT_NODE_NAME,
	OPT_MACHINE_ID,
	OPT_SYSTEM_UUID,
	OPT_BOOT_ID,
	OPT_IPSEC_ENCRYPTION,
	OPT_IPSEC_AUTHENTICATION,
	OPT_IPSEC_ENCAPSULATION,
	OPT_CNI_CONFIG,
	OPT_SYNC_PERIOD,
	OPT_GLOG_V,
	OPT_CHROOT,
	OPT_SECCOMP,
	OPT_SELFTEST,
	OPT_ROLE,
	OPT_KUBECONFIG,
	OPT_APISERVER,
	OPT_TOKEN_FILE,
	OPT_CA_FILE,
	OPT_ADDRESS_TYPE,
	OPT_MAX_NODES,
	OPT_MTU,
	OPT_WATCH_TIMEOUT,
	OPT_COMPRESSION,
	OPT_ROUTE_PROTOCOL,
	OPT_METRICS_ADDRESS,
	OPT_PID_FILE,
	OPT_IPSEC_KEY_FILE,
	OPT_IPSEC_ROTATION_DELAY,
	OPT_UID_BASE,
	OPT_MASQUERADE,
	OPT_NO_MASQUERADE,
	OPT_ADOPT_PROTOCOL,
};

/* cl may be NULL for an option that sets no action. */
int	 config_option(struct kn_config *, struct kn_cmdline *cl, int opt,
	    const char *what, const char *arg, char *err, size_t errlen);

#endif
