/*
 * Egress masquerade: the executor's one nftables table, inet kopeio,
 * programmed from the flags alone, read back and put back when
 * someone else changes it.  Nothing else of nftables is touched.
 */
#ifndef KN_KNFT_H
#define KN_KNFT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "nl.h"

#define KNFT_TABLE	"kopeio"
#define KNFT_CHAIN	"postrouting"
/* Per family: a return for each --no-masquerade prefix, the masquerade. */
#define KNFT_RULES_MAX	(2 * (KN_NOMASQ_MAX + 1))
/* kopeio-networkctl show masquerade: the longest text. */
#define KNFT_SHOW_MAX	(32 * 1024)

struct nftnl_rule;

struct knft {
	const struct kn_config	*conf;
	struct nl		 cmd;
	struct nl		 mon;
	int			 open;		/* the two sockets */
	int			 dirty;		/* read and compare next round */
	int			 programmed;	/* once: later changes are
						   repairs */
	int			 refused;	/* the last transaction */
	int			 last_error;	/* logged once */
	int64_t			 retry_ms;	/* back-off after a refusal */
	int64_t			 due;		/* the next try, monotonic ms */
	struct nftnl_rule	*want[KNFT_RULES_MAX];
	unsigned		 nwant;
	uint64_t		 repairs;
	uint32_t		 rules;		/* in our chain, as last read */
};

int	knft_open(struct knft *, const struct kn_config *, char *err,
	    size_t errlen);
void	knft_start(struct knft *);
int	knft_fd(const struct knft *);
void	knft_event(struct knft *);
int64_t	knft_timeout(const struct knft *, int64_t now);
int	knft_run(struct knft *, int64_t now);
size_t	knft_show(struct knft *, char *buf, size_t len);

/* The message building, for the unit test. */
unsigned knft_rules(const struct kn_config *, struct nftnl_rule **,
	    unsigned max);
int	knft_rule_same(const struct nftnl_rule *want,
	    const struct nftnl_rule *have);
void	knft_rules_free(struct nftnl_rule **, unsigned);

#endif
