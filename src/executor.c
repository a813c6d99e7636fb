/*
 * The executor: the only process that changes the kernel's network
 * state.  It keeps CAP_NET_ADMIN and nothing else, trusts nothing the
 * watcher says, and keeps the table of accepted route intents that
 * the kernel is reconciled to.
 */
#include "child.h"
#include "intentrx.h"
#include "log.h"

static void
executor_peer(struct child *c, enum role from, struct msg *m)
{
	struct msg_gen_result	 res;

	(void)from;
	if (intentrx_msg(c->state, m, &res) == 1 &&
	    msgchan_compose(&c->peer[ROLE_WATCHER], MSG_GEN_DONE, 0, -1, &res,
	    sizeof(res)) == -1)
		log_warn("watcher channel: sending the result of generation "
		    "%llu", (unsigned long long)res.gen);
}

static const struct child_ops executor_ops = {
	.peer = executor_peer,
};

void
executor_main(void)
{
	static struct intent_rx	 rx;
	struct child		 c;

	child_init(&c, ROLE_EXECUTOR);
	child_peer(&c, ROLE_WATCHER, CHILD_FD_PEER);
	if (intentrx_init(&rx, &c.conf) == -1)
		fatal("intent table");
	c.ops = &executor_ops;
	c.state = &rx;
	child_confine(&c);
	child_loop(&c);
}
