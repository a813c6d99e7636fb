/*
 * Addresses and prefixes as text: a CIDR prefix, the cluster's pod
 * range (one prefix per family), a listening address and port.  Pure
 * code shared by the configuration, the parser and the executor.
 */
#ifndef KN_ADDR_H
#define KN_ADDR_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

struct kn_prefix {
	uint8_t		family;		/* AF_INET or AF_INET6 */
	uint8_t		len;
	uint8_t		addr[16];
};

int	 prefix_parse(const char *, struct kn_prefix *, char *err, size_t);
void	 prefix_format(const struct kn_prefix *, char *buf, size_t);
int	 cluster_parse(const char *, struct kn_prefix cluster[2], char *err,
	    size_t);
void	 cluster_format(const struct kn_prefix cluster[2], char *buf, size_t);
int	 hexval(int);
const struct kn_prefix *cluster_of(const struct kn_prefix cluster[2],
	    uint8_t family);
int	 metrics_addr_parse(const char *, struct sockaddr_storage *,
	    socklen_t *, char *err, size_t errlen);

#endif
