/*
 * Netlink transport for the executor and the ARP helper (libmnl):
 * a command socket that sends batches of requests and matches every
 * acknowledgement by sequence number, dumps that notice interruption,
 * and a monitor socket subscribed to multicast groups.  Messages are
 * accepted only from the kernel.
 */
#ifndef KN_NL_H
#define KN_NL_H

#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

struct mnl_socket;

struct nl {
	struct mnl_socket	*sk;
	uint32_t		 portid;
	uint32_t		 seq;
};

/* Requests waiting to be sent in one sendmsg. */
#define NL_BATCH_BYTES	(64 * 1024)
#define NL_MSG_MAX	512		/* room reserved for any one request */
#define NL_BATCH_MAX	(NL_BATCH_BYTES / 32)

struct nl_batch {
	struct nl	*nl;
	uint32_t	 first_seq;
	unsigned	 n;
	size_t		 used;		/* bytes of finished requests */
	size_t		 last;		/* where the request being built is */
	int		 open;		/* one is being built */
	/* a request's outcome: its index, 0 or an errno, the kernel's text */
	void		(*done)(void *, unsigned, int, const char *);
	void		*arg;
	/* after the 64 KiB so a full buffer never overruns into n */
	char		 buf[NL_BATCH_BYTES] __attribute__((aligned(8)));
};

/* Dump or query outcome when the kernel says the dump was interrupted. */
#define NL_INTR		1

/* Attributes by type, for mnl_attr_parse(..., nl_attr_cb, &table). */
#define NL_ATTR_MAX	64
struct nl_attrs {
	const struct nlattr	*a[NL_ATTR_MAX];
};

typedef int	(*nl_msg_cb)(const struct nlmsghdr *, void *);

int	nl_open(struct nl *, int bus, unsigned groups, char *err,
	    size_t errlen);
void	nl_close(struct nl *);
int	nl_fd(const struct nl *);

void	nl_batch_init(struct nl_batch *, struct nl *,
	    void (*)(void *, unsigned, int, const char *), void *);
struct nlmsghdr *nl_batch_add(struct nl_batch *, uint16_t type,
	    uint16_t flags, unsigned *idx);
int	nl_batch_flush(struct nl_batch *);

int	nl_attr_cb(const struct nlattr *, void *);
int	nl_query(struct nl *, struct nlmsghdr *, nl_msg_cb, void *);
int	nl_transaction(struct nl *, const void *, size_t, uint32_t first,
	    uint32_t last, unsigned acks, char *why, size_t whylen);
int	nl_read(struct nl *, nl_msg_cb, void *);
void	nl_drain(struct nl *);

#endif
