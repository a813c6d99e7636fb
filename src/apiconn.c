/*
 * The parent's side of the watcher's connections: see apiconn.h.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "apiconn.h"
#include "clock.h"
#include "log.h"

struct pending {
	int		 used;
	int		 fd;
	pid_t		 watcher;	/* who asked */
	int64_t		 deadline;
};

static struct sockaddr_storage	 conn_addr;
static socklen_t		 conn_addrlen;
static char			 conn_name[INET6_ADDRSTRLEN + 8];
static struct pending		 pending[APICONN_PENDING_MAX];
/* the token bucket: requests allowed now, and when the last was added */
static int			 tokens = APICONN_BURST;
static int64_t			 refilled;
static int64_t			 refused_logged;
static unsigned long		 refused;

void
apiconn_init(const struct sockaddr *sa, socklen_t len)
{
	char	 a[INET6_ADDRSTRLEN] = "?";

	memcpy(&conn_addr, sa, len);
	conn_addrlen = len;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    a, sizeof(a));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->
		    sin6_addr, a, sizeof(a));
	snprintf(conn_name, sizeof(conn_name), sa->sa_family == AF_INET ?
	    "%s:%u" : "[%s]:%u", a, ntohs(((const struct sockaddr_in *)sa)->
	    sin_port));
	refilled = mono_ms();
}

static void
reply(struct msgchan *ch, int fd, int err)
{
	uint32_t	 e = (uint32_t)err;

	if ((fd != -1 ? msgchan_compose(ch, MSG_API_SOCKET, 0, fd, NULL, 0) :
	    msgchan_compose(ch, MSG_API_CONNECT_FAILED, 0, -1, &e,
	    sizeof(e))) == -1)
		log_warn("watcher control channel");
}

/* A refusal, logged at most once a second with how many there were. */
static void
refuse(struct msgchan *ch, int err, const char *why, int bound)
{
	int64_t	 now = mono_ms();

	refused++;
	if (now - refused_logged >= 1000) {
		log_warnx("refused %lu connection requests of the watcher: "
		    "more than %d %s", refused, bound, why);
		refused = 0;
		refused_logged = now;
	}
	reply(ch, -1, err);
}

/* The watcher wants a connection; the address is ours to choose. */
void
apiconn_request(pid_t watcher, struct msgchan *ch)
{
	struct pending	*p = NULL;
	int64_t		 now = mono_ms();
	int		 i, fd;

	if (conn_addrlen == 0) {
		reply(ch, -1, EDESTADDRREQ);
		return;
	}
	for (; tokens < APICONN_BURST && now - refilled >= APICONN_EVERY_MS;
	    refilled += APICONN_EVERY_MS)
		tokens++;
	if (tokens == APICONN_BURST)
		refilled = now;
	for (i = 0; i < APICONN_PENDING_MAX; i++)
		if (!pending[i].used)
			p = &pending[i];
	if (p == NULL) {
		refuse(ch, EBUSY, "in flight", APICONN_PENDING_MAX);
		return;
	}
	if (tokens == 0) {
		refuse(ch, EAGAIN, "at once, then one a second",
		    APICONN_BURST);
		return;
	}
	tokens--;
	if ((fd = socket(conn_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("API server %s: socket", conn_name);
		reply(ch, -1, errno);
		return;
	}
	if (connect(fd, (struct sockaddr *)&conn_addr, conn_addrlen) == 0) {
		reply(ch, fd, 0);
		return;
	}
	if (errno != EINPROGRESS) {
		log_debug("API server %s: connect: %s", conn_name,
		    strerror(errno));
		reply(ch, -1, errno);
		close(fd);
		return;
	}
	p->used = 1;
	p->fd = fd;
	p->watcher = watcher;
	p->deadline = now + APICONN_TIMEOUT_MS;
}

int
apiconn_pollfds(struct pollfd *pfd, int max, int64_t *timeout_ms)
{
	int64_t	 now = mono_ms(), left;
	int	 i, n = 0;

	for (i = 0; i < APICONN_PENDING_MAX && n < max; i++) {
		if (!pending[i].used)
			continue;
		pfd[n].fd = pending[i].fd;
		pfd[n].events = POLLOUT;
		pfd[n++].revents = 0;
		left = pending[i].deadline > now ? pending[i].deadline - now :
		    0;
		if (*timeout_ms < 0 || left < *timeout_ms)
			*timeout_ms = left;
	}
	return n;
}

/*
 * Connects that finished, failed or ran out of time; the answer goes
 * to the watcher that asked, and to no later one.
 */
void
apiconn_io(const struct pollfd *pfd, int n, pid_t watcher,
    struct msgchan *ch)
{
	struct pending	*p;
	socklen_t	 sl;
	int64_t		 now = mono_ms();
	int		 i, j, err;

	for (i = 0; i < APICONN_PENDING_MAX; i++) {
		p = &pending[i];
		if (!p->used)
			continue;
		for (j = 0; j < n && pfd[j].fd != p->fd; j++)
			;
		err = 0;
		sl = sizeof(err);
		if (j < n && pfd[j].revents != 0) {
			if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err,
			    &sl) == -1)
				err = errno;
		} else if (now >= p->deadline)
			err = ETIMEDOUT;
		else
			continue;
		if (err != 0)
			log_debug("API server %s: connect: %s", conn_name,
			    strerror(err));
		if (p->watcher != watcher || !msgchan_open(ch))
			close(p->fd);
		else if (err != 0) {
			close(p->fd);
			reply(ch, -1, err);
		} else
			reply(ch, p->fd, 0);
		p->used = 0;
	}
}
