/*
 * The ipsec mode's key rotation: which key the wanted states are made
 * with, as keys come from the parent and the rotation's steps fall
 * due.  The executor rebuilds its wanted states after each change.
 */
#include <string.h>

#include "clock.h"
#include "ipseckey.h"
#include "kxfrm.h"
#include "log.h"
#include "msg.h"

/* The keys the wanted states use now. */
void
kxfrm_keys_use(const struct kxfrm_keys *r, struct kobj_ipsec *x)
{
	x->in[0] = &r->key;
	x->in[1] = r->rot != KXFRM_ROT_NONE ? &r->old : NULL;
	x->out = r->rot == KXFRM_ROT_INBOUND ? &r->old : &r->key;
}

/* The rotation's next step, once rot_next has come. */
void
kxfrm_rotation_step(struct kxfrm_keys *r, uint32_t step_ms)
{
	if (r->rot == KXFRM_ROT_INBOUND) {
		log_info("ipsec: key rotation: sending with key %u now",
		    r->key.id);
		r->rot = KXFRM_ROT_SWITCHED;
		r->rot_next = mono_ms() + step_ms;
	} else {
		log_info("ipsec: key rotation to key %u done: the states of "
		    "key %u go", r->key.id, r->old.id);
		r->rot = KXFRM_ROT_NONE;
		explicit_bzero(&r->old, sizeof(r->old));
	}
}

/*
 * The key from the parent (at start and whenever the file changes);
 * 1 when the keys changed.  The first is used at once; a new one
 * starts a rotation.  A key that comes during a rotation replaces the
 * one rotated to while the old key still sends, or else rotates again
 * from the key that sends.
 */
int
kxfrm_key_msg(struct kxfrm_keys *r, struct msg *m, uint32_t step_ms)
{
	struct ipsec_key	 k;
	int			 changed = 0;

	memcpy(&k, m->data, sizeof(k));
	if (k.id == 0 || k.len < IPSEC_KEY_MIN || k.len > IPSEC_KEY_MAX) {
		log_warnx("ipsec: a key from the parent with id %u and %u "
		    "bytes; ignored", k.id, k.len);
		goto out;
	}
	if (r->have_key && memcmp(&k, &r->key, sizeof(k)) == 0)
		goto out;
	if (!r->have_key) {
		log_info("ipsec: using key %u", k.id);
		r->have_key = 1;
	} else {
		if (r->rot == KXFRM_ROT_SWITCHED)
			explicit_bzero(&r->old, sizeof(r->old));
		if (r->rot != KXFRM_ROT_INBOUND)
			r->old = r->key;
		log_info("ipsec: key rotation from key %u to key %u: its "
		    "inbound states first, then sending with it in %u ms",
		    r->old.id, k.id, step_ms);
		r->rot = KXFRM_ROT_INBOUND;
		r->rot_next = mono_ms() + step_ms;
	}
	r->key = k;
	changed = 1;
out:
	explicit_bzero(&k, sizeof(k));
	/* The receive buffer too: the secret lives in r->key alone. */
	explicit_bzero(m->buf, sizeof(m->buf));
	return changed;
}
