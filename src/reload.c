/*
 * A reload (SIGHUP, kopeio-networkctl reload): the configuration read
 * again; what may change while the daemon runs is applied and sent to
 * the children, any other change refused and named.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ipseckey.h"
#include "log.h"
#include "parent.h"

static void
proc_send_config(struct parent *pa)
{
	int	 r;

	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		if (pa->procs[r].pid != 0 && msgchan_compose(&pa->procs[r].ctl,
		    MSG_CONFIG, 0, -1, &pa->conf, sizeof(pa->conf)) == -1)
			log_warn("sending the configuration to the %s",
			    role_name(r));
}

/*
 * SIGHUP: read the configuration again.  Verbosity, the sync period and
 * the watch timeout change at once; anything else would need new
 * processes or a new kernel layout, so a change to it is refused and
 * logged.
 */
int
parent_reload(struct parent *pa, char *text, size_t len)
{
	static const struct {
		const char	*name;
		size_t		 off, len;
	} fixed[] = {
#define F(n, f)	{ n, offsetof(struct kn_config, f), \
		    sizeof(((struct kn_config *)0)->f) }
		F("provider", mode), F("pod-cidr", cluster),
		F("target", target), F("node-name", node_name),
		F("machine-id", machine_id), F("system-uuid", system_uuid),
		F("boot-id", boot_id), F("cni-config", cni_config),
		F("ipsec-encryption", ipsec_encryption),
		F("ipsec-authentication", ipsec_authentication),
		F("ipsec-encapsulation", ipsec_encapsulation),
		F("ipsec-key-file", ipsec_key_file),
		F("user", user), F("chroot", chroot), F("seccomp", seccomp),
		F("kubeconfig", kubeconfig), F("apiserver", apiserver),
		F("token-file", token_file), F("ca-file", ca_file),
		F("node-address-type", address_type),
		F("max-nodes", max_nodes), F("mtu", mtu),
		F("route-protocol", route_protocol),
		F("adopt-protocol", adopt_protocol), F("socket", socket),
		F("pid-file", pid_file), F("metrics-address", metrics_address),
		F("masquerade", masquerade),
		/* Zero past the count, and no prefix is /0: it says all. */
		F("no-masquerade", nomasq),
#undef F
	};
	struct kn_config	*conf = &pa->conf, nc;
	struct kn_cmdline	 cl;
	char			 err[512];
	size_t			 i, n;
	int			 refused;

	if (config_load(&nc, &cl, pa->argc, pa->argv, err,
	    sizeof(err)) == -1) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		snprintf(text, len, "reload failed, keeping the running "
		    "configuration: %s", err);
		return 1;
	}
	n = (size_t)snprintf(text, len, "configuration reloaded");
	for (i = 0, refused = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (memcmp((char *)&nc + fixed[i].off,
		    (char *)conf + fixed[i].off, fixed[i].len) != 0) {
			log_warnx("reload: %s cannot change while the daemon "
			    "runs; restart it to apply", fixed[i].name);
			if (n < len)
				n += snprintf(text + n, len - n, "%s %s",
				    refused++ ? "," : "; not applied until a "
				    "restart:", fixed[i].name);
		}
	conf->verbose = nc.verbose;
	conf->sync_period_ms = nc.sync_period_ms;
	conf->watch_timeout = nc.watch_timeout;
	conf->compression = nc.compression;
	conf->ipsec_rotation_ms = nc.ipsec_rotation_ms;
	log_setverbose(conf->verbose);
	ipsec_reread(&pa->ipsec, conf, pa->procs[ROLE_EXECUTOR].pid != 0 ?
	    &pa->procs[ROLE_EXECUTOR].ctl : NULL);
	proc_send_config(pa);
	if (access(conf->config_file, F_OK) == 0)
		log_info("configuration reloaded from %s", conf->config_file);
	else
		log_info("configuration reloaded (no file %s; command line "
		    "only)", conf->config_file);
	return 0;
}
