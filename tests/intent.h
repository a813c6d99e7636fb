/*
 * Unit tests' helper: an intent from text, a prefix's host bits taken
 * as written (what some envelope tests are about).
 */
#ifndef KN_TEST_INTENT_H
#define KN_TEST_INTENT_H

#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/config.h"
#include "../src/proto.h"

static struct msg_intent
test_intent(const char *prefix, const char *node)
{
	struct msg_intent	 in;
	struct kn_prefix	 p;
	char			 err[128];

	memset(&in, 0, sizeof(in));
	if (prefix_parse(prefix, &p, err, sizeof(err)) == -1) {
		/* Host bits are what some tests are about: take them raw. */
		char	 a[64];

		snprintf(a, sizeof(a), "%s", prefix);
		*strchr(a, '/') = '\0';
		p.family = strchr(a, ':') ? AF_INET6 : AF_INET;
		inet_pton(p.family, a, p.addr);
		p.len = atoi(strchr(prefix, '/') + 1);
	}
	in.family = p.family;
	in.plen = p.len;
	memcpy(in.prefix, p.addr, 16);
	inet_pton(strchr(node, ':') ? AF_INET6 : AF_INET, node, in.node);
	return in;
}

#endif
