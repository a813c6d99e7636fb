/*
 * Addresses and prefixes as text: CIDR prefixes, the cluster's pod
 * range of one prefix per family, --metrics-address.  Pure code, no
 * I/O but a numeric getaddrinfo(): the configuration, the parser and
 * the executor share it, and tests and fuzzers drive it directly.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"

int
prefix_parse(const char *s, struct kn_prefix *p, char *err, size_t errlen)
{
	char		 buf[INET6_ADDRSTRLEN + 5], *slash, *end;
	unsigned long	 len;
	unsigned	 i, max;

	memset(p, 0, sizeof(*p));
	if (strlen(s) >= sizeof(buf))
		return errset(err, errlen, "\"%s\" is not a CIDR", s);
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) == NULL)
		return errset(err, errlen,
		    "\"%s\" is not a CIDR (no /prefix length)", s);
	*slash++ = '\0';
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = AF_INET6;
		max = 128;
	} else
		return errset(err, errlen, "\"%s\": \"%s\" is not an address",
		    s, buf);
	errno = 0;
	len = strtoul(slash, &end, 10);
	if (*slash == '\0' || *end != '\0' || errno != 0 || len > max ||
	    !isdigit((unsigned char)*slash))
		return errset(err, errlen, "\"%s\": bad prefix length", s);
	p->len = len;
	for (i = len; i < max; i++)
		if (p->addr[i / 8] & (0x80 >> (i % 8)))
			return errset(err, errlen,
			    "\"%s\": host bits set past /%lu", s, len);
	return 0;
}

void
prefix_format(const struct kn_prefix *p, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN];

	if (inet_ntop(p->family, p->addr, a, sizeof(a)) == NULL)
		strcpy(a, "?");
	snprintf(buf, len, "%s/%u", a, p->len);
}

/*
 * The cluster pod range: one prefix, or an IPv4 and an IPv6 prefix
 * separated by a comma, as Kubernetes writes a dual-stack range.
 */
int
cluster_parse(const char *s, struct kn_prefix cluster[2], char *err,
    size_t errlen)
{
	char			 buf[2 * (INET6_ADDRSTRLEN + 5)], *second;
	struct kn_prefix	 p[2];
	int			 n = 1;

	if (strlen(s) >= sizeof(buf))
		return errset(err, errlen, "\"%s\" is not a CIDR", s);
	strcpy(buf, s);
	if ((second = strchr(buf, ',')) != NULL) {
		*second++ = '\0';
		n = 2;
		if (strchr(second, ',') != NULL)
			return errset(err, errlen, "\"%s\": at most two "
			    "prefixes, one per family", s);
	}
	if (prefix_parse(buf, &p[0], err, errlen) == -1 ||
	    (n == 2 && prefix_parse(second, &p[1], err, errlen) == -1))
		return -1;
	if (n == 2 && p[0].family == p[1].family)
		return errset(err, errlen, "\"%s\": two prefixes of one "
		    "family", s);
	memset(cluster, 0, 2 * sizeof(*cluster));
	while (n-- > 0)
		cluster[p[n].family == AF_INET6] = p[n];
	return 0;
}

/* "100.96.0.0/12", "fd00:100::/48" or both with a comma. */
void
cluster_format(const struct kn_prefix cluster[2], char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN + 5] = "", b[INET6_ADDRSTRLEN + 5] = "";

	if (cluster[0].family != 0)
		prefix_format(&cluster[0], a, sizeof(a));
	if (cluster[1].family != 0)
		prefix_format(&cluster[1], b, sizeof(b));
	snprintf(buf, len, "%s%s%s", a, *a && *b ? "," : "", b);
}

/* The value of a hex digit, or -1. */
int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The range of one family, or NULL when the cluster has none. */
const struct kn_prefix *
cluster_of(const struct kn_prefix cluster[2], uint8_t family)
{
	const struct kn_prefix	*p;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	p = &cluster[family == AF_INET6];
	return p->family == family ? p : NULL;
}

/*
 * --metrics-address: an IPv4 address or an IPv6 one in brackets, a
 * colon and a port; no names, so nothing is looked up.  ss may be NULL.
 */
int
metrics_addr_parse(const char *s, struct sockaddr_storage *ss,
    socklen_t *sslen, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res;
	char		 host[INET6_ADDRSTRLEN + 2];
	const char	*colon = strrchr(s, ':'), *h = s;
	size_t		 hl;
	int		 rc;

	if (colon == NULL || colon[1] == '\0')
		return errset(err, errlen, "\"%s\" is not address:port", s);
	hl = colon - s;
	if (*s == '[') {
		if (hl < 2 || s[hl - 1] != ']')
			return errset(err, errlen, "\"%s\": an IPv6 address "
			    "goes in brackets, as [::1]:9922", s);
		h = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return errset(err, errlen, "\"%s\" is not address:port", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (*s != '[' && strchr(host, ':') != NULL)
		return errset(err, errlen, "\"%s\": an IPv6 address goes in "
		    "brackets, as [::1]:9922", s);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = *s == '[' ? AF_INET6 : AF_INET;
	if (strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    atoi(colon + 1) < 1 || atoi(colon + 1) > 65535)
		return errset(err, errlen, "\"%s\": the port is not a number "
		    "from 1 to 65535", s);
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		return errset(err, errlen, "\"%s\": \"%s\" is not an IP%s "
		    "address", s, host, *s == '[' ? "v6" : "v4");
	if (ss != NULL) {
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*sslen = res->ai_addrlen;
	}
	freeaddrinfo(res);
	return 0;
}
