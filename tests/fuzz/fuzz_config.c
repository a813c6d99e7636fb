/*
 * libFuzzer target for the configuration parsers.  Each input is fed
 * as a whole to config_parse_yaml(), which reads the ConfigMap and so
 * sees text from outside the node, and then, as a NUL-terminated
 * string, to duration_parse() and prefix_parse(), which read the same
 * values and the command line.  What the parsers accept must leave
 * the configuration in a state the rest of the daemon can trust.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/config.h"
#include "fuzz.h"


/* A string field ends within its array. */
#define CHECK_STR(a)	CHECK(memchr((a), '\0', sizeof(a)) != NULL)

#define DURATION_UNSET	0xdeadbeefu

static int	 devnull = -1;

static void
check_prefix(const struct kn_prefix *p)
{
	unsigned	 i, max;

	CHECK(p->family == AF_INET || p->family == AF_INET6);
	max = p->family == AF_INET ? 32 : 128;
	CHECK(p->len <= max);
	/* Past the prefix, and past an IPv4 address, every bit is clear. */
	for (i = p->len; i < 128; i++)
		CHECK((p->addr[i / 8] & (0x80 >> (i % 8))) == 0);
}

static void
check_path(const char *s)
{
	CHECK(*s == '\0' || *s == '/');
}

static void
check_config(const struct kn_config *c)
{
	static const struct kn_config	 zero;
	struct kn_config		 rest;
	const char			*p;
	int				 i;
	unsigned			 j;

	CHECK(c->mode <= MODE_GRE);
	CHECK(strcmp(mode_name(c->mode), "unknown") != 0);
	/* Each family's slot is zero, or a prefix of that family. */
	for (i = 0; i < 2; i++)
		if (c->cluster[i].family == 0)
			CHECK(memcmp(&c->cluster[i], &zero.cluster[i],
			    sizeof(c->cluster[i])) == 0);
		else {
			CHECK(c->cluster[i].family == (i ? AF_INET6 :
			    AF_INET));
			check_prefix(&c->cluster[i]);
		}
	/* Zero when the input set no resyncPeriod. */
	CHECK(c->sync_period_ms <= 86400000);
	CHECK(c->ipsec_encryption <= IPSEC_ENC_NONE);
	CHECK(c->ipsec_authentication <= IPSEC_AUTH_NONE);
	CHECK(c->ipsec_encapsulation <= IPSEC_ENCAP_ESP);
	CHECK(c->verbose >= 0 && c->verbose <= 9);

	CHECK_STR(c->target);
	CHECK_STR(c->node_name);
	CHECK_STR(c->machine_id);
	CHECK_STR(c->system_uuid);
	CHECK_STR(c->boot_id);
	CHECK_STR(c->cni_config);
	CHECK(strcmp(c->target, ".") != 0 && strcmp(c->target, "..") != 0);
	for (p = c->target; *p != '\0'; p++)
		CHECK(*p > ' ' && *p < 0x7f && *p != '/' && *p != ':');
	for (p = c->node_name; *p != '\0'; p++)
		CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.');
	check_path(c->machine_id);
	check_path(c->system_uuid);
	check_path(c->boot_id);
	check_path(c->cni_config);

	/*
	 * The ConfigMap must not reach the confinement settings (user,
	 * chroot, seccomp) or anything else it has no key for: with the
	 * fields it may set cleared, the whole struct, padding included,
	 * is still the zeroes it started as.
	 */
	memcpy(&rest, c, sizeof(rest));
	rest.mode = 0;
	memset(&rest.cluster, 0, sizeof(rest.cluster));
	memset(rest.target, 0, sizeof(rest.target));
	rest.sync_period_ms = 0;
	memset(rest.node_name, 0, sizeof(rest.node_name));
	memset(rest.machine_id, 0, sizeof(rest.machine_id));
	memset(rest.system_uuid, 0, sizeof(rest.system_uuid));
	memset(rest.boot_id, 0, sizeof(rest.boot_id));
	memset(rest.cni_config, 0, sizeof(rest.cni_config));
	rest.ipsec_encryption = 0;
	rest.ipsec_authentication = 0;
	rest.ipsec_encapsulation = 0;
	rest.verbose = 0;
	/* Our own operational keys; the ranges are their flags'. */
	CHECK(c->address_type <= 1);
	CHECK(c->max_nodes <= 100000);
	CHECK(c->watch_timeout <= 3600);
	CHECK(c->mtu == 0 || (c->mtu >= 1280 && c->mtu <= 65535));
	CHECK(c->route_protocol == 0 ||
	    (c->route_protocol >= 5 && c->route_protocol <= 254));
	CHECK_STR(c->metrics_address);
	CHECK(c->compression <= 1);
	CHECK(c->masquerade <= 1);
	CHECK(c->adopt_protocol == 0 || (c->adopt_protocol == 3 ||
	    (c->adopt_protocol >= 5 && c->adopt_protocol <= 255)));
	for (i = 0; i < 2; i++) {
		CHECK(c->nomasq_count[i] <= KN_NOMASQ_MAX);
		for (j = 0; j < KN_NOMASQ_MAX; j++)
			if (j < c->nomasq_count[i]) {
				check_prefix(&c->nomasq[i][j]);
				CHECK(c->nomasq[i][j].family == (i ?
				    AF_INET6 : AF_INET));
				CHECK(c->nomasq[i][j].len > 0);
			} else
				CHECK(memcmp(&c->nomasq[i][j],
				    &zero.nomasq[i][j],
				    sizeof(c->nomasq[i][j])) == 0);
	}
	rest.address_type = 0;
	rest.max_nodes = 0;
	rest.watch_timeout = 0;
	rest.mtu = 0;
	rest.route_protocol = 0;
	memset(rest.metrics_address, 0, sizeof(rest.metrics_address));
	rest.compression = 0;
	rest.masquerade = 0;
	rest.adopt_protocol = 0;
	memset(rest.nomasq_count, 0, sizeof(rest.nomasq_count));
	memset(rest.nomasq, 0, sizeof(rest.nomasq));
	CHECK(memcmp(&rest, &zero, sizeof(rest)) == 0);
}

static void
fuzz_yaml(const uint8_t *data, size_t size)
{
	struct kn_config	 c;
	char			 err[256];
	int			 rv;

	memset(&c, 0, sizeof(c));
	memset(err, 0, sizeof(err));
	rv = config_parse_yaml(&c, (const char *)data, size, "fuzz.yaml", err,
	    sizeof(err));
	if (check_verdict(rv, err, sizeof(err)) == -1)
		return;
	check_config(&c);
	/* The printer indexes name tables with what the parser stored. */
	config_print(&c, devnull);
}

static void
fuzz_duration(const char *s)
{
	uint32_t	 ms = DURATION_UNSET;
	int		 rv;

	rv = duration_parse(s, &ms);
	CHECK(rv == 0 || rv == -1);
	if (rv == -1) {
		CHECK(ms == DURATION_UNSET);
		return;
	}
	CHECK(ms >= 1 && ms <= 86400000);
	CHECK(s[strspn(s, "0123456789hms")] == '\0');
}

static void
fuzz_prefix(const char *s)
{
	struct kn_prefix	 p, q;
	char			 err[256], buf[64];
	int			 rv;

	memset(err, 0, sizeof(err));
	rv = prefix_parse(s, &p, err, sizeof(err));
	if (check_verdict(rv, err, sizeof(err)) == -1)
		return;
	check_prefix(&p);
	/* What we print must read back as the same prefix. */
	prefix_format(&p, buf, sizeof(buf));
	CHECK_STR(buf);
	CHECK(prefix_parse(buf, &q, err, sizeof(err)) == 0);
	CHECK(memcmp(&p, &q, sizeof(p)) == 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1) {
		perror("fuzz_config: /dev/null");
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	fuzz_yaml(data, size);

	/* Exact size, so ASan sees a read past the terminating NUL. */
	if ((s = malloc(size + 1)) == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	fuzz_duration(s);
	fuzz_prefix(s);
	free(s);
	return 0;
}
