/*
 * libFuzzer target for the parent's handling of a child's MSG_LOG
 * (spawn_log() in src/spawn.c) on the path it takes in the daemon:
 * the record is checked against the rule table first, as msgchan_recv
 * does, then logged.  The line that reaches the log must be one line
 * of printable ASCII, prefixed with the role, however hostile the text.
 *
 * Input:
 *   byte 0   the sending role (modulo ROLE_COUNT)
 *   then     the MSG_LOG payload: struct msg_log and the text
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../../src/log.h"
#include "../../src/msg.h"
#include "../../src/spawn.h"
#include "fuzz.h"

static int	 capture = -1;	/* what log_emit() writes to stderr */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(1, "fuzz");
	if ((capture = open("/dev/shm", O_TMPFILE | O_RDWR, 0600)) == -1 &&
	    (capture = open("/tmp", O_TMPFILE | O_RDWR, 0600)) == -1)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char	 rec[MSG_MAXLEN];
	static char		 line[2 * MSG_MAXLEN];
	struct msg_peer		 peer = { 0 };
	struct msg_hdr		 hdr = { 0 };
	struct msg		*m;
	enum role		 from;
	ssize_t			 n;
	size_t			 i;
	int			 saved;

	if (size < 1 || size - 1 > MSG_MAXLEN - sizeof(hdr))
		return 0;
	from = (enum role)(data[0] % ROLE_COUNT);
	hdr.type = MSG_LOG;
	hdr.len = (uint32_t)(sizeof(hdr) + size - 1);
	hdr.pid = 42;
	memcpy(rec, &hdr, sizeof(hdr));
	memcpy(rec + sizeof(hdr), data + 1, size - 1);
	/* As after the handshake on the channel of that role. */
	peer.role = from;
	peer.hello = 1;
	peer.pid = 42;
	if (msg_check(ROLE_PARENT, &peer, rec, hdr.len, 0, 0, &hdr) != MSG_OK)
		return 0;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		abort();
	m->hdr = hdr;
	memcpy(m->buf, rec, hdr.len);
	m->data = m->buf + sizeof(hdr);
	m->len = hdr.len - sizeof(hdr);
	m->fd = -1;

	if (ftruncate(capture, 0) == -1 || lseek(capture, 0, SEEK_SET) == -1 ||
	    (saved = dup(STDERR_FILENO)) == -1 ||
	    dup2(capture, STDERR_FILENO) == -1)
		abort();
	spawn_log(m, from);
	if (dup2(saved, STDERR_FILENO) == -1)
		abort();
	close(saved);
	free(m);
	if ((n = pread(capture, line, sizeof(line), 0)) < 0)
		abort();
	CHECK(n > 0 && line[n - 1] == '\n');
	CHECK(strncmp(line, role_name(from), strlen(role_name(from))) == 0);
	for (i = 0; i + 1 < (size_t)n; i++)
		CHECK(line[i] >= 0x20 && line[i] < 0x7f);
	return 0;
}
