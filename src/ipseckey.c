#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipseckey.h"
#include "log.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

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
	ssize_t		 n;
	int		 fd, rv;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errset(err, errlen, "--ipsec-key-file %s: %s", path,
		    strerror(errno));
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
