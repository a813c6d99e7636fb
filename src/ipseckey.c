/*
 * The ipsec mode's keys: the key file parsed and checked, the keys
 * and SPIs of each node pair derived from it, the ESP-in-UDP socket,
 * and the parent's side: the file read, re-read and sent on.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipseckey.h"
#include "log.h"
#include "msg.h"

/*
 * "ID HEX", optionally followed by a newline.  Errors say what is wrong
 * with the file, never what the secret is.
 */
int
ipsec_key_parse(const char *text, size_t len, struct ipsec_key *k,
    char *err, size_t errlen)
{
	size_t	 i = 0, start, n;
	long	 id = 0;
	int	 hi, lo;

	memset(k, 0, sizeof(*k));
	if (len > 0 && text[len - 1] == '\n')
		len--;
	for (start = i; i < len && text[i] >= '0' && text[i] <= '9'; i++)
		if ((id = id * 10 + (text[i] - '0')) > 255)
			break;
	if (i == start || id < 1 || id > 255 || i >= len || text[i] != ' ')
		return errset(err, errlen, "the file must hold one line: a "
		    "key id from 1 to 255, a space and the secret in hex");
	start = ++i;
	n = len - start;
	if (memchr(text + start, '\n', n) != NULL)
		return errset(err, errlen, "more than one line");
	for (i = start; i < len; i++)
		if (hexval((unsigned char)text[i]) == -1)
			return errset(err, errlen, "the secret is not hex "
			    "(character %zu of the line)", i + 1);
	if (n % 2 != 0)
		return errset(err, errlen, "the secret has an odd number of "
		    "hex digits");
	if (n / 2 < IPSEC_KEY_MIN)
		return errset(err, errlen, "the secret has %zu bits; at least "
		    "%d are needed", n * 4, IPSEC_KEY_MIN * 8);
	if (n / 2 > IPSEC_KEY_MAX)
		return errset(err, errlen, "the secret has more than %d bits",
		    IPSEC_KEY_MAX * 8);
	for (i = 0; i < n / 2; i++) {
		hi = hexval((unsigned char)text[start + 2 * i]);
		lo = hexval((unsigned char)text[start + 2 * i + 1]);
		k->secret[i] = (uint8_t)(hi << 4 | lo);
	}
	k->id = (uint8_t)id;
	k->len = (uint8_t)(n / 2);
	return 0;
}

int
ipsec_key_load(const char *path, struct ipsec_key *k, char *err,
    size_t errlen)
{
	char		 buf[2 * IPSEC_KEY_MAX + 8], msg[160];
	struct stat	 st;
	ssize_t		 n;
	int		 fd, rv;

	/*
	 * A Secret volume's file is root's symbolic link into ..data, so
	 * a link is followed when root owns it; one anybody else planted
	 * is refused.  Non-blocking: a FIFO must not hang the daemon.
	 */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != 0)
		return errset(err, errlen, "--ipsec-key-file %s: a symbolic "
		    "link owned by uid %u, not root", path,
		    (unsigned)st.st_uid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) ==
	    -1)
		return errset(err, errlen, "--ipsec-key-file %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) == -1)
		rv = errset(msg, sizeof(msg), "%s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rv = errset(msg, sizeof(msg), "not a regular file");
	else if (st.st_mode & (S_IRGRP | S_IROTH))
		rv = errset(msg, sizeof(msg), "readable by group or others "
		    "(mode %04o; a key must be root's alone: 0600 or 0400)",
		    (unsigned)(st.st_mode & 07777));
	else
		rv = 0;
	if (rv == -1) {
		close(fd);
		return errset(err, errlen, "--ipsec-key-file %s: %s", path,
		    msg);
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n == -1)
		return errset(err, errlen, "--ipsec-key-file %s: %s", path,
		    strerror(errno));
	if ((size_t)n == sizeof(buf))
		rv = errset(msg, sizeof(msg), "the file is too long for a key");
	else
		rv = ipsec_key_parse(buf, (size_t)n, k, msg, sizeof(msg));
	explicit_bzero(buf, sizeof(buf));
	if (rv == -1)
		return errset(err, errlen, "--ipsec-key-file %s: %s", path,
		    msg);
	return 0;
}

/*
 * At start: the ipsec mode encrypts with a key of the operator's, so it
 * needs the file; a file given in any mode must be a valid one.
 */
int
ipsec_key_check(const struct kn_config *c, char *err, size_t errlen)
{
	struct ipsec_key	 k;
	int			 rv;

	if (c->ipsec_key_file[0] == '\0') {
		if (c->mode == MODE_IPSEC &&
		    c->ipsec_encryption == IPSEC_ENC_AES)
			return errset(err, errlen, "--provider ipsec with "
			    "--ipsec-encryption aes needs --ipsec-key-file: "
			    "keys are never built in");
		return 0;
	}
	rv = ipsec_key_load(c->ipsec_key_file, &k, err, errlen);
	explicit_bzero(&k, sizeof(k));
	return rv;
}

/* --- keys per node pair and direction ------------------------------ */

static EVP_KDF	*hkdf;

/*
 * Fetches the HKDF implementation once.  The executor calls it before
 * it confines itself: the first fetch may read OpenSSL's configuration
 * and load a provider, which the chroot and the filter forbid later.
 */
int
ipsec_crypto_init(void)
{
	if (hkdf == NULL && (hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
		return -1;
	return 0;
}

/* HKDF-SHA256 (RFC 5869), extract and expand; 0 or -1. */
int
ipsec_hkdf(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
    size_t saltlen, const uint8_t *info, size_t infolen, uint8_t *out,
    size_t outlen)
{
	EVP_KDF_CTX	*kc;
	OSSL_PARAM	 p[5], *q = p;
	int		 rv;

	if (ipsec_crypto_init() == -1 || (kc = EVP_KDF_CTX_new(hkdf)) == NULL)
		return -1;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)ikm, ikmlen);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)salt, saltlen);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, infolen);
	*q = OSSL_PARAM_construct_end();
	rv = EVP_KDF_derive(kc, out, outlen, p) == 1 ? 0 : -1;
	EVP_KDF_CTX_free(kc);
	return rv;
}

#define HKDF_SALT	"kopeio-networking ipsec"
#define HKDF_LABEL	"kn-ipsec-v3"

/*
 * The key of the ESP state from node address src to node address dst
 * (both of family, in 16 bytes, zero-padded), between a sender of boot
 * ID sboot and a receiver of boot ID dboot (16 bytes each, zero when
 * unknown): the info binds the key id, the family, both addresses and
 * both boot IDs in sender-receiver order, so each direction of each
 * node pair has a key of its own, both ends derive the same one
 * without talking (both read the two Node objects), and after either
 * node boots again both directions go under new keys: the rebooted
 * node's fresh states, which count from 1 and remember no sequence
 * number, never meet a packet sent under an earlier key, neither a
 * peer's stale replay window nor an attacker's replayed packet.
 */
int
ipsec_derive(const struct ipsec_key *k, uint8_t family, const uint8_t *src,
    const uint8_t *dst, const uint8_t *sboot, const uint8_t *dboot,
    uint8_t *out, size_t outlen)
{
	uint8_t	 info[sizeof(HKDF_LABEL) - 1 + 2 + 64];
	size_t	 n = sizeof(HKDF_LABEL) - 1;

	memcpy(info, HKDF_LABEL, n);
	info[n++] = k->id;
	info[n++] = family;
	memcpy(info + n, src, 16);
	memcpy(info + n + 16, dst, 16);
	memcpy(info + n + 32, sboot, 16);
	memcpy(info + n + 48, dboot, 16);
	return ipsec_hkdf(k->secret, k->len, (const uint8_t *)HKDF_SALT,
	    sizeof(HKDF_SALT) - 1, info, sizeof(info), out, outlen);
}

/*
 * The SPI of the ESP state that carries traffic sent by the node whose
 * pod CIDR is prefix/plen: the key id in the top 8 bits, the index of
 * that pod CIDR within the cluster range below.  The index is unique
 * per node, so each inbound state of a node has an SPI of its own, and
 * both ends compute it from the Node objects alone.  -1 when the index
 * does not fit 24 bits.
 */
int
ipsec_spi(const struct kn_prefix cluster[2], uint8_t family, uint8_t plen,
    const uint8_t *prefix, uint8_t key_id, uint32_t *spi)
{
	const struct kn_prefix	*c = cluster_of(cluster, family);
	uint32_t		 idx = 0;
	unsigned		 bit;

	if (c == NULL || plen < c->len || plen - c->len > IPSEC_SPI_BITS)
		return -1;
	for (bit = c->len; bit < plen; bit++)
		idx = idx << 1 | ((prefix[bit / 8] >> (7 - bit % 8)) & 1);
	*spi = (uint32_t)key_id << IPSEC_SPI_BITS | idx;
	return 0;
}

/* --- the ESP-in-UDP socket ---------------------------------------- */

/*
 * A UDP socket of family bound to port 4500 that hands ESP-in-UDP
 * packets to the kernel's ESP input (UDP_ENCAP_ESPINUDP) and whose own
 * packets bypass every IPsec policy both ways, as IKE daemons do.
 * The receiving end of an ESP-in-UDP state needs one, or the kernel
 * drops the packets as sent to a closed port.  -1 with err naming what
 * failed.
 */
int
ipsec_encap_socket(uint8_t family, char *err, size_t errlen)
{
	struct sockaddr_storage		 ss;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)&ss;
	struct xfrm_userpolicy_info	 pol;
	const char			*fam = family == AF_INET6 ? "IPv6" :
					    "IPv4";
	int				 fd, nl, on = 1;
	int				 encap = UDP_ENCAP_ESPINUDP;
	int				 level = family == AF_INET6 ?
					    IPPROTO_IPV6 : IPPROTO_IP;
	int				 opt = family == AF_INET6 ?
					    IPV6_XFRM_POLICY : IP_XFRM_POLICY;

	memset(&ss, 0, sizeof(ss));
	if ((fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP)) ==
	    -1)
		return errset(err, errlen, "ipsec: %s UDP socket: %s", fam,
		    strerror(errno));
	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on)) == -1)
			goto fail;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(IPSEC_NATT_PORT);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(IPSEC_NATT_PORT);
	}
	if (bind(fd, (struct sockaddr *)&ss, family == AF_INET6 ?
	    sizeof(*sin6) : sizeof(*sin)) == -1) {
		errset(err, errlen, "ipsec: binding UDP port %d (%s): %s",
		    IPSEC_NATT_PORT, fam, strerror(errno));
		close(fd);
		return -1;
	}
	if (setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &encap,
	    sizeof(encap)) == -1) {
		errset(err, errlen, "ipsec: UDP_ENCAP on port %d (%s): %s: "
		    "the kernel lacks ESP-in-UDP (CONFIG_XFRM, "
		    "CONFIG_INET%s_ESP)", IPSEC_NATT_PORT, fam, strerror(errno),
		    family == AF_INET6 ? "6" : "");
		close(fd);
		return -1;
	}
	/*
	 * A per-socket policy is compiled by a key manager, xfrm_user,
	 * which the kernel loads for the first NETLINK_XFRM socket: on a
	 * host where nothing has opened one yet, the option would fail
	 * with EINVAL.
	 */
	if ((nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_XFRM)) != -1)
		close(nl);
	memset(&pol, 0, sizeof(pol));
	pol.action = XFRM_POLICY_ALLOW;
	pol.sel.family = family;
	pol.dir = XFRM_POLICY_IN;
	if (setsockopt(fd, level, opt, &pol, sizeof(pol)) == -1)
		goto fail;
	pol.dir = XFRM_POLICY_OUT;
	if (setsockopt(fd, level, opt, &pol, sizeof(pol)) == -1)
		goto fail;
	return fd;
fail:
	errset(err, errlen, "ipsec: options of the %s UDP socket on port %d: "
	    "%s", fam, IPSEC_NATT_PORT, strerror(errno));
	close(fd);
	return -1;
}

/* --- the parent's: the key file read, re-read, sent ---------------- */

/*
 * At start, before any child: the key, and for ESP-in-UDP a socket on
 * port 4500 per family of --pod-cidr, which the receiving end of every
 * state needs.  -1 with err set.
 */
int
ipsec_start(struct ipsec_parent *ip, const struct kn_config *conf,
    char *err, size_t errlen)
{
	int	 i;

	if (conf->mode != MODE_IPSEC)
		return 0;
	if (conf->ipsec_encryption == IPSEC_ENC_NONE)
		log_warnx("ipsec: --ipsec-encryption none: ESP without "
		    "encryption, pod traffic is readable on the wire");
	if (conf->ipsec_key_file[0] != '\0') {
		if (ipsec_key_load(conf->ipsec_key_file, &ip->key, err,
		    errlen) == -1)
			return -1;
		ip->have_key = 1;
	}
	if (conf->ipsec_encapsulation != IPSEC_ENCAP_UDP)
		return 0;
	for (i = 0; i < 2; i++)
		if (conf->cluster[i].family != 0 && (ip->encap_fd[i] =
		    ipsec_encap_socket(conf->cluster[i].family, err,
		    errlen)) == -1)
			return -1;
	return 0;
}

/* The key and the ESP-in-UDP sockets, to a newly started executor. */
void
ipsec_send(const struct ipsec_parent *ip, struct msgchan *exe)
{
	uint32_t	 family;
	int		 i, fd;

	for (i = 0; i < 2; i++) {
		if (ip->encap_fd[i] == -1)
			continue;
		family = i ? AF_INET6 : AF_INET;
		/* Our copy stays: the port is bound across restarts. */
		if ((fd = fcntl(ip->encap_fd[i], F_DUPFD_CLOEXEC, 0)) == -1 ||
		    msgchan_compose(exe, MSG_IPSEC_SOCKET, 0, fd, &family,
		    sizeof(family)) == -1)
			log_warn("ipsec: handing the ESP-in-UDP socket to the "
			    "executor");
	}
	if (ip->have_key && msgchan_compose(exe, MSG_IPSEC_KEY, 0, -1,
	    &ip->key, sizeof(ip->key)) == -1)
		log_warn("ipsec: sending the key to the executor");
}

/*
 * The key file again (with the API token, every 10 s, and on reload):
 * a new key goes to the executor (exe, NULL while it is not running),
 * which rotates to it; a file that does not parse, or a new secret
 * under the key id in use, is refused and the running key kept.
 */
void
ipsec_reread(struct ipsec_parent *ip, const struct kn_config *conf,
    struct msgchan *exe)
{
	struct ipsec_key	 k;
	char			 err[512];

	if (conf->mode != MODE_IPSEC || conf->ipsec_key_file[0] == '\0')
		return;
	if (ipsec_key_load(conf->ipsec_key_file, &k, err, sizeof(err)) == -1) {
		if (ip->have_key)
			log_warnx("ipsec: keeping key %u: %s", ip->key.id,
			    err);
		goto out;
	}
	if (ip->have_key && memcmp(&k, &ip->key, sizeof(k)) == 0)
		goto out;
	if (ip->have_key && k.id == ip->key.id) {
		log_warnx("ipsec: keeping key %u: --ipsec-key-file %s has a "
		    "new secret under the same key id; a new key needs a new "
		    "id", ip->key.id, conf->ipsec_key_file);
		goto out;
	}
	if (ip->have_key)
		log_info("ipsec: --ipsec-key-file %s has key %u now; rotating "
		    "to it", conf->ipsec_key_file, k.id);
	ip->key = k;
	ip->have_key = 1;
	if (exe != NULL && msgchan_compose(exe, MSG_IPSEC_KEY, 0, -1,
	    &ip->key, sizeof(ip->key)) == -1)
		log_warn("ipsec: sending the key to the executor");
out:
	explicit_bzero(&k, sizeof(k));
}
