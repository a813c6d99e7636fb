/*
 * Framing for the daemon's channels, after OpenBSD's imsg: one
 * message per SOCK_SEQPACKET record, a fixed header, a hard size
 * limit, a version handshake first, every message checked against
 * the rule table before use, nonblocking queued writes.
 */
#ifndef KN_MSG_H
#define KN_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

enum msg_err {
	MSG_OK = 0,
	MSG_ESHORT,	/* record shorter than the header */
	MSG_EBIG,	/* record longer than MSG_MAXLEN */
	MSG_ELEN,	/* header length differs from the record */
	MSG_ETYPE,	/* unknown type */
	MSG_ESIZE,	/* payload size not allowed for the type */
	MSG_ESENDER,	/* type not allowed from this peer to this receiver */
	MSG_EPID,	/* sender pid differs from the handshake */
	MSG_EHELLO,	/* first message is not a valid HELLO */
	MSG_EVERSION,	/* HELLO with another protocol version */
	MSG_EROLE,	/* HELLO from an unexpected role */
	MSG_EFD,	/* descriptor missing, extra or not allowed */
};

const char	*msg_strerror(enum msg_err);

/* What a receiver knows about the other end of a channel. */
struct msg_peer {
	enum role	 role;
	int		 hello;		/* handshake received */
	uint32_t	 pid;
};

/*
 * The pure decoder: checks one record received by self.  truncated is set
 * when the record did not fit the receive buffer, nfds is the number
 * of descriptors that came with it.  On MSG_OK *hdr holds the header
 * and the HELLO handshake is recorded in peer.
 */
enum msg_err	 msg_check(enum role self, struct msg_peer *peer,
		    const void *buf, size_t len, int truncated, int nfds,
		    struct msg_hdr *hdr);

struct msgbuf;

struct msgchan {
	int		 fd;
	enum role	 self;
	struct msg_peer	 peer;
	struct msgbuf	*head;
	struct msgbuf	**tail;
	size_t		 queued;	/* bytes waiting */
	unsigned long	 errors;	/* protocol errors seen */
};

struct msg {
	struct msg_hdr	 hdr;
	const void	*data;		/* payload, hdr.len - header bytes */
	size_t		 len;
	int		 fd;		/* -1 unless the rule carries one */
	unsigned char	 buf[MSG_MAXLEN];
};

/* Queued output above this is refused: the peer is not reading. */
#define MSGCHAN_QUEUE_MAX	(8u << 20)

enum msgchan_rv {
	MSGCHAN_CLOSED = -1,	/* EOF, error, or closed for a protocol error */
	MSGCHAN_NONE = 0,	/* nothing to read now */
	MSGCHAN_MSG = 1,	/* *m holds a checked message */
	MSGCHAN_SKIP = 2,	/* a record was consumed: HELLO, or refused */
};

void	 msgchan_init(struct msgchan *, int fd, enum role self, enum role peer);
void	 msgchan_close(struct msgchan *);
int	 msgchan_open(const struct msgchan *);
int	 msgchan_up(const struct msgchan *);
int	 msgchan_hello(struct msgchan *);
int	 msgchan_compose(struct msgchan *, uint32_t type, uint32_t id, int fd,
	    const void *data, size_t len);
int	 msgchan_flush(struct msgchan *);
int	 msgchan_flush_wait(struct msgchan *, int timeout_ms);
enum msgchan_rv	 msgchan_recv(struct msgchan *, struct msg *);
enum msgchan_rv	 msgchan_next(struct msgchan *, struct msg *);

#endif
