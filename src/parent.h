/*
 * The parent's state in one place: the children it supervises, the
 * configuration, what it reads for them, what it reports.  Shared by
 * the parent's files: kopeio-networkd.c (start, supervise, stop),
 * parentfds.c, liveness.c, reload.c, check.c, status.c, selftest.c.
 */
#ifndef KN_PARENT_H
#define KN_PARENT_H

#include <sys/stat.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "apiconf.h"
#include "config.h"
#include "ipseckey.h"
#include "msg.h"
#include "status.h"

#define RESTART_LIMIT		5	/* deaths of a child in a minute */

/* One child of the parent's, running or to be started again. */
struct proc {
	enum role	 role;
	pid_t		 pid;		/* 0: not running */
	struct msgchan	 ctl;
	int		 wanted;	/* this mode runs the role */
	int		 ready;
	struct msg_ready readyinfo;
	int64_t		 started;
	int64_t		 restart_at;	/* 0: none pending */
	int		 backoff;
	int64_t		 restarts[RESTART_LIMIT];
	int		 nrestarts;
	int		 violate;	/* self-test: expected to die of SIGSYS */
	int		 status;	/* last wait status */
	uint32_t	 restarts_total;
	int64_t		 started_wall;
	uint32_t	 ping_seq;	/* of the last PING sent */
	int64_t		 ping_sent;	/* 0: no PING unanswered */
	int64_t		 ping_next;	/* when the next PING is due */
	int64_t		 heard;		/* last PONG, or the start */
	int		 hung;		/* killed for its silence */
};

/* The pid file this daemon wrote, to remove only that one at exit. */
struct pidfile {
	int		 written;
	struct stat	 st;
};

struct parent {
	struct proc		 procs[ROLE_NPROC];
	struct proc		 violator;	/* the self-test's */
	struct kn_config	 conf;
	int			 argc;		/* to read the configuration */
	char			**argv;		/* again on reload */
	int			 exe_fd;	/* our binary, for the children */
	int			 stopping;
	int			 exit_status;
	struct msg		 msg;		/* 16 KiB: not on the stack */
	struct api_conf		 api;
	int			 have_api;
	int64_t			 token_check;
	int			 metrics_fd;	/* listening, for the child */
	int64_t			 liveness_ms;	/* the bound for an answer */
	struct status		 status;
	struct ipsec_parent	 ipsec;
	struct pidfile		 pidfile;
};

struct control_ops;

/* parentfds.c */
int	parent_open(struct parent *, int selftest_only,
	    const struct control_ops *, char *err, size_t errlen);
void	parent_close(struct parent *);
/* reload.c: the tool's exit status, and text saying what happened */
int	parent_reload(struct parent *, char *text, size_t len);
/* liveness.c */
int64_t	liveness_bound(const struct kn_config *);
void	liveness_start(struct proc *, int64_t now);
void	liveness_pong(struct proc *, const struct msg *);
int64_t	liveness_check(struct proc *, int64_t now, int64_t bound);
/* check.c */
int	check_config(struct parent *);
int	check_ids(const struct kn_config *);

#endif
