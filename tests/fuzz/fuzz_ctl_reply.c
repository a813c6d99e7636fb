/*
 * libFuzzer target for what kopeio-networkctl prints of what it reads
 * back (src/ctlshow.c): whatever the daemon sends, the tool must not
 * crash and must print nothing but printable ASCII and newlines.
 *
 * Input:
 *   byte 0   the request: bit 2 set, a show (bits 0-1: 0 status,
 *            1 nodes, 2 routes, 3 masquerade); clear, reload or resync
 *   then     messages, each [type byte][2-byte little-endian length]
 *            [payload]; a length past the end takes what is left.  The
 *            type byte picks from types[] below (modulo its size), so
 *            seeds outlive a renumbering of the messages.
 *
 * KN_FUZZ_SIZES=1 prints the payload sizes run-fuzzers' seeds need.
 */
#include <stdint.h>
#include <string.h>

#include "../../src/ctlshow.h"
#include "../../src/proto.h"
#include "fuzz.h"

static const uint32_t	 types[] = { MSG_STATUS, MSG_CTL_RESULT,
			    MSG_NODE_INFO, MSG_ROUTE_INFO, MSG_DUMP_END,
			    MSG_HELLO, MSG_MASQ_TEXT };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (getenv("KN_FUZZ_SIZES") != NULL) {
		printf("STATUS_LEN=%zu NODE_LEN=%zu ROUTE_LEN=%zu\n",
		    sizeof(struct kn_status), sizeof(struct msg_node_info),
		    sizeof(struct msg_route_info));
		exit(0);
	}
	return 0;
}

/* Printable ASCII and newlines only: nothing for a terminal to obey. */
static void
check_printable(const char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		CHECK(buf[i] == '\n' || (buf[i] >= 0x20 && buf[i] < 0x7f));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_reply	 r;
	char			*obuf = NULL, *ebuf = NULL;
	size_t			 olen = 0, elen = 0, len;
	FILE			*out, *err;
	uint32_t		 type;
	int			 rv = 1;

	if (size < 1)
		return 0;
	if ((out = open_memstream(&obuf, &olen)) == NULL ||
	    (err = open_memstream(&ebuf, &elen)) == NULL)
		abort();
	ctl_reply_init(&r, (data[0] & 4) != 0, data[0] & 3);
	data++;
	size--;
	while (rv == 1 && size >= 3) {
		type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
		len = (size_t)data[1] | (size_t)data[2] << 8;
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		rv = ctl_reply_msg(&r, out, err, type, data, len);
		data += len;
		size -= len;
	}
	CHECK(rv != 0 || (r.status >= 0 && r.status <= 255));
	ctl_reply_free(&r);
	fclose(out);
	fclose(err);
	check_printable(obuf, olen);
	check_printable(ebuf, elen);
	free(obuf);
	free(ebuf);
	return 0;
}
