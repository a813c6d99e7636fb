/*
 * The ipsec mode's kernel objects over NETLINK_XFRM: the states and
 * policies an intent asks for, their requests and their parsing
 * (kxfrm.c), and the rotation of the key they are made with
 * (kxfrmkey.c).
 */
#ifndef KN_KXFRM_H
#define KN_KXFRM_H

#include <stddef.h>
#include <stdint.h>

#include "kobj.h"

struct msg;

#define KXFRM_REQID	0x6b6e0001u	/* "kn", 1: ours */
#define KXFRM_PRIORITY	100		/* as the original agent */
enum kxfrm_alg { KXFRM_ALG_NONE, KXFRM_ALG_AEAD, KXFRM_ALG_NULL,
	KXFRM_ALG_OTHER };

int		 kxfrm_wanted(const struct kobj_ctx *, const struct msg_intent *,
		    struct kobj out[KOBJ_PER_INTENT]);
void		 kxfrm_request(struct nlmsghdr *, enum kobj_op,
		    const struct kobj *);
int		 kxfrm_parse(const struct nlmsghdr *, struct kobj *,
		    int *deleted);
int		 kxfrm_collect(const struct nlmsghdr *, void *);
struct nlmsghdr	*kxfrm_dump_request(char *buf, size_t len, uint16_t type);
void		 kxfrm_name(const struct kobj *, char *, size_t);

/*
 * A key rotation, step by step (--ipsec-rotation-delay apart): the new
 * key's inbound states are added while the old key still sends; then
 * the outbound states switch to the new key; then the old key's
 * inbound states go.  Old and new states differ by SPI, which carries
 * the key id.
 */
enum kxfrm_rotation { KXFRM_ROT_NONE, KXFRM_ROT_INBOUND,
	KXFRM_ROT_SWITCHED };

struct kxfrm_keys {
	struct ipsec_key	 key;		/* the newest */
	struct ipsec_key	 old;		/* during a rotation */
	int			 have_key;
	enum kxfrm_rotation	 rot;
	int64_t			 rot_next;	/* the next step, monotonic ms */
};

void	kxfrm_keys_use(const struct kxfrm_keys *, struct kobj_ipsec *);
void	kxfrm_rotation_step(struct kxfrm_keys *, uint32_t step_ms);
int	kxfrm_key_msg(struct kxfrm_keys *, struct msg *, uint32_t step_ms);

#endif
