/*
 * The ipsec mode's keys and sockets.  The key file (--ipsec-key-file):
 * one line, a key id from 1 to 255 and a secret of at least 256 bits
 * in hex, read by the parent; the secret is never logged.  The keys of
 * the ESP states derived from it (HKDF-SHA256), their SPIs, and the
 * ESP-in-UDP socket the parent opens, and the parent's key file
 * handling: read at start, re-read, sent to the executor.
 */
#ifndef KN_IPSECKEY_H
#define KN_IPSECKEY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "proto.h"

int	ipsec_key_parse(const char *text, size_t len, struct ipsec_key *,
	    char *err, size_t errlen);
int	ipsec_key_load(const char *path, struct ipsec_key *, char *err,
	    size_t errlen);
int	ipsec_key_check(const struct kn_config *, char *err, size_t errlen);

#define IPSEC_SPI_BITS	24	/* below the key id */
#define IPSEC_NATT_PORT	4500

int	ipsec_crypto_init(void);
int	ipsec_hkdf(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
	    size_t saltlen, const uint8_t *info, size_t infolen, uint8_t *out,
	    size_t outlen);
int	ipsec_derive(const struct ipsec_key *, uint8_t family,
	    const uint8_t *src, const uint8_t *dst, const uint8_t *sboot,
	    const uint8_t *dboot, uint8_t *out, size_t len);
int	ipsec_spi(const struct kn_prefix cluster[2], uint8_t family,
	    uint8_t plen, const uint8_t *prefix, uint8_t key_id, uint32_t *spi);
int	ipsec_encap_socket(uint8_t family, char *err, size_t errlen);

struct msgchan;

/* The parent's: the key the executor has, the ESP-in-UDP sockets. */
struct ipsec_parent {
	struct ipsec_key	 key;
	int			 have_key;
	int			 encap_fd[2];	/* -1, or kept open */
};

int	ipsec_start(struct ipsec_parent *, const struct kn_config *,
	    char *err, size_t errlen);
void	ipsec_send(const struct ipsec_parent *, struct msgchan *exe);
void	ipsec_reread(struct ipsec_parent *, const struct kn_config *,
	    struct msgchan *exe);

#endif
