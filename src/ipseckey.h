/*
 * The IPsec key file (--ipsec-key-file): one line, a key id from 1 to
 * 255 and a secret of at least 256 bits in hex.  Read by the parent;
 * the secret is never logged.
 */
#ifndef KN_IPSECKEY_H
#define KN_IPSECKEY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define IPSEC_KEY_MIN	32	/* bytes: 256 bits */
#define IPSEC_KEY_MAX	128

struct ipsec_key {
	uint8_t		 id;
	uint8_t		 len;
	uint8_t		 secret[IPSEC_KEY_MAX];
};

int	ipsec_key_parse(const char *text, size_t len, struct ipsec_key *,
	    char *err, size_t errlen);
int	ipsec_key_load(const char *path, struct ipsec_key *, char *err,
	    size_t errlen);
int	ipsec_key_check(const struct kn_config *, char *err, size_t errlen);

#endif
