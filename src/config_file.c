/*
 * The configuration file: the original agent's ConfigMap, a YAML
 * mapping of keys, read with libyaml into the same settings the
 * command line sets.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"
#include "config_opt.h"
#include "log.h"

int
config_parse_file(struct kn_config *c, const char *path, char *err,
    size_t errlen)
{
	char	*text = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd, rv;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && !c->config_file_given)
			return 0;
		return errset(err, errlen, "%s: %s", path, strerror(errno));
	}
	for (;;) {
		if (len == cap) {
			if (cap >= (1u << 20)) {
				free(text);
				close(fd);
				return errset(err, errlen, "%s: larger than "
				    "1 MiB", path);
			}
			cap = cap ? cap * 2 : 4096;
			if ((text = realloc(text, cap)) == NULL) {
				close(fd);
				return errset(err, errlen, "%s: out of memory",
				    path);
			}
		}
		if ((n = read(fd, text + len, cap - len)) == -1) {
			free(text);
			close(fd);
			return errset(err, errlen, "%s: %s", path,
			    strerror(errno));
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	rv = config_parse_yaml(c, text, len, path, err, errlen);
	free(text);
	return rv;
}

/*
 * Each key is a command-line option by another name, and its value
 * goes through the same checks.  The original agent's ConfigMap keys
 * first; its resyncPeriod was a Go time.Duration decoded from JSON,
 * so an integer of nanoseconds, and a duration string is accepted
 * too.
 *
 * Then keys of our own, for what the original agent did not have:
 * each is its command-line option, spelt in the ConfigMap's
 * camelCase.  Only operational settings: what decides whom the daemon
 * trusts (the API server and credentials, the IPsec key) and how it
 * is confined (user, chroot, seccomp, the files it writes as root)
 * stays on the command line, which more people cannot change than can
 * edit a ConfigMap.
 */
enum key_value {
	VALUE_TEXT,
	VALUE_NUMBER,	/* a plain YAML scalar */
	VALUE_LEVEL,	/* glog's level, a plain integer */
	VALUE_PERIOD,	/* nanoseconds, or a duration string */
	VALUE_CIDR,
	VALUE_SECTION,	/* a mapping of its own */
	VALUE_LIST,	/* a sequence of scalars, or one scalar */
};

struct conf_key {
	const char	*sect;
	const char	*key;
	int		 opt;
	int		 value;		/* enum key_value */
};

static const struct conf_key conf_keys[] = {
	{ "", "provider", OPT_PROVIDER, VALUE_TEXT },
	{ "", "targetLinkName", OPT_TARGET, VALUE_TEXT },
	{ "", "podCIDR", OPT_POD_CIDR, VALUE_CIDR },
	{ "", "nodeName", OPT_NODE_NAME, VALUE_TEXT },
	{ "", "machineIDPath", OPT_MACHINE_ID, VALUE_TEXT },
	{ "", "systemUUIDPath", OPT_SYSTEM_UUID, VALUE_TEXT },
	{ "", "bootIDPath", OPT_BOOT_ID, VALUE_TEXT },
	{ "", "cniConfigPath", OPT_CNI_CONFIG, VALUE_TEXT },
	{ "", "logLevel", OPT_GLOG_V, VALUE_LEVEL },
	{ "", "resyncPeriod", OPT_SYNC_PERIOD, VALUE_PERIOD },
	{ "", "ipsec", 0, VALUE_SECTION },
	{ "ipsec", "encryption", OPT_IPSEC_ENCRYPTION, VALUE_TEXT },
	{ "ipsec", "authentication", OPT_IPSEC_AUTHENTICATION, VALUE_TEXT },
	{ "ipsec", "encapsulation", OPT_IPSEC_ENCAPSULATION, VALUE_TEXT },
	{ "", "nodeAddressType", OPT_ADDRESS_TYPE, VALUE_TEXT },
	{ "", "maxNodes", OPT_MAX_NODES, VALUE_NUMBER },
	{ "", "watchTimeout", OPT_WATCH_TIMEOUT, VALUE_NUMBER },
	{ "", "compression", OPT_COMPRESSION, VALUE_TEXT },
	{ "", "mtu", OPT_MTU, VALUE_NUMBER },
	{ "", "routeProtocol", OPT_ROUTE_PROTOCOL, VALUE_NUMBER },
	{ "", "adoptProtocol", OPT_ADOPT_PROTOCOL, VALUE_NUMBER },
	{ "", "metricsAddress", OPT_METRICS_ADDRESS, VALUE_TEXT },
	{ "", "masquerade", OPT_MASQUERADE, VALUE_TEXT },
	{ "", "nonMasqueradeCIDRs", OPT_NO_MASQUERADE, VALUE_LIST },
};

static const struct conf_key *
conf_key(const char *sect, const char *key)
{
	size_t	 i;

	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if (strcmp(conf_keys[i].sect, sect) == 0 &&
		    strcmp(conf_keys[i].key, key) == 0)
			return &conf_keys[i];
	return NULL;
}

struct yaml_ctx {
	yaml_parser_t	 parser;
	const char	*name;
	char		*err;
	size_t		 errlen;
};

static int
yaml_fail(struct yaml_ctx *y, const yaml_event_t *ev, const char *fmt,
    const char *arg)
{
	char	 msg[320];

	snprintf(msg, sizeof(msg), fmt, arg);
	return errset(y->err, y->errlen, "%s:%zu: %s", y->name,
	    ev->start_mark.line + 1, msg);
}

static int
yaml_next(struct yaml_ctx *y, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&y->parser, ev))
		return errset(y->err, y->errlen, "%s:%zu: %s", y->name,
		    y->parser.problem_mark.line + 1,
		    y->parser.problem ? y->parser.problem : "YAML error");
	return 0;
}

/* C strings from here on: a scalar with "\0" in it would be cut short. */
static int
scalar_has_nul(const yaml_event_t *ev)
{
	return strlen((const char *)ev->data.scalar.value) !=
	    ev->data.scalar.length;
}

/* An unquoted decimal integer, as YAML means a number. */
static int
plain_integer(const yaml_event_t *ev, long *n)
{
	const char	*v = (const char *)ev->data.scalar.value;
	char		*end;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	errno = 0;
	*n = strtol(v, &end, 10);
	return *v != '\0' && *end == '\0' && errno == 0;
}

static int
yaml_scalar_value(struct yaml_ctx *y, struct kn_config *c, const char *sect,
    const char *key, const yaml_event_t *ev)
{
	const char	*v = (const char *)ev->data.scalar.value;
	const struct conf_key *ck;
	char		 what[160], msg[256];
	long		 n;

	snprintf(what, sizeof(what), "%s%s%s", sect, *sect ? "." : "", key);
	if (scalar_has_nul(ev))
		return yaml_fail(y, ev, "%s: the value holds a NUL byte", what);
	if ((ck = conf_key(sect, key)) == NULL)
		return yaml_fail(y, ev, "unknown key \"%s\"", what);
	switch (ck->value) {
	case VALUE_NUMBER:
		if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			return yaml_fail(y, ev, "%s: expected a number, not a "
			    "string", key);
		break;
	case VALUE_LEVEL:
		if (!plain_integer(ev, &n))
			return yaml_fail(y, ev, "logLevel: \"%s\" is not an "
			    "integer", v);
		break;
	case VALUE_PERIOD:
		if (plain_integer(ev, &n)) {
			if (n < 1000000 || n > 86400000000000L)
				return yaml_fail(y, ev, "resyncPeriod: %s "
				    "nanoseconds is not from 1ms to 24h", v);
			c->sync_period_ms = n / 1000000;
			return 0;
		}
		break;
	case VALUE_CIDR:
		/* Not through the option: its message is cut shorter. */
		if (cluster_parse(v, c->cluster, msg, sizeof(msg)) == -1)
			return yaml_fail(y, ev, "podCIDR: %s", msg);
		return 0;
	case VALUE_SECTION:
		return yaml_fail(y, ev, "ipsec: expected a mapping, got \"%s\"",
		    v);
	}
	if (config_option(c, NULL, ck->opt, what, v, msg, sizeof(msg)) == -1)
		return yaml_fail(y, ev, "%s", msg);
	return 0;
}

/* A key's sequence: each item a scalar that goes through the option. */
static int
yaml_list(struct yaml_ctx *y, struct kn_config *c, const char *key)
{
	yaml_event_t	 ev;
	int		 rv = 0;

	while (rv == 0) {
		if (yaml_next(y, &ev) == -1)
			return -1;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type != YAML_SCALAR_EVENT)
			rv = yaml_fail(y, &ev, "%s: expected a list of "
			    "prefixes", key);
		else
			rv = yaml_scalar_value(y, c, "", key, &ev);
		yaml_event_delete(&ev);
	}
	return rv;
}

/* A block mapping of scalars; "ipsec" nests one level. */
static int
yaml_mapping(struct yaml_ctx *y, struct kn_config *c, const char *sect)
{
	const struct conf_key *ck;
	yaml_event_t	 kev, vev;
	char		 key[64];
	int		 rv;

	for (;;) {
		if (yaml_next(y, &kev) == -1)
			return -1;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return 0;
		}
		if (kev.type != YAML_SCALAR_EVENT) {
			rv = yaml_fail(y, &kev, "expected a key%s", "");
			yaml_event_delete(&kev);
			return rv;
		}
		if (scalar_has_nul(&kev)) {
			rv = yaml_fail(y, &kev, "a key holds a NUL byte%s", "");
			yaml_event_delete(&kev);
			return rv;
		}
		if (kev.data.scalar.length >= sizeof(key)) {
			rv = yaml_fail(y, &kev, "unknown key \"%.40s...\"",
			    (const char *)kev.data.scalar.value);
			yaml_event_delete(&kev);
			return rv;
		}
		memcpy(key, kev.data.scalar.value, kev.data.scalar.length + 1);
		if (yaml_next(y, &vev) == -1) {
			yaml_event_delete(&kev);
			return -1;
		}
		if (vev.type == YAML_SCALAR_EVENT)
			rv = yaml_scalar_value(y, c, sect, key, &vev);
		else if (vev.type == YAML_MAPPING_START_EVENT && *sect == '\0'
		    && strcmp(key, "ipsec") == 0)
			rv = yaml_mapping(y, c, "ipsec");
		else if (vev.type == YAML_SEQUENCE_START_EVENT &&
		    (ck = conf_key(sect, key)) != NULL &&
		    ck->value == VALUE_LIST)
			rv = yaml_list(y, c, key);
		else
			rv = yaml_fail(y, &vev, "%s: expected a single value",
			    key);
		yaml_event_delete(&kev);
		yaml_event_delete(&vev);
		if (rv == -1)
			return -1;
	}
}

int
config_parse_yaml(struct kn_config *c, const char *text, size_t len,
    const char *name, char *err, size_t errlen)
{
	struct yaml_ctx	 y = { .name = name, .err = err, .errlen = errlen };
	yaml_event_t	 ev;
	int		 rv = 0, done = 0;

	if (!yaml_parser_initialize(&y.parser))
		return errset(err, errlen, "%s: out of memory", name);
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text,
	    len);
	while (!done && rv == 0) {
		if ((rv = yaml_next(&y, &ev)) == -1)
			break;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_MAPPING_START_EVENT:
			rv = yaml_mapping(&y, c, "");
			break;
		case YAML_SCALAR_EVENT:
			/* An empty document is an empty configuration. */
			if (ev.data.scalar.length == 0)
				break;
			/* FALLTHROUGH */
		default:
			rv = yaml_fail(&y, &ev, "expected a mapping of "
			    "keys%s", "");
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&y.parser);
	return rv;
}
