/*
 * watcher_probe: what a compromised watcher could do on the network.
 * It confines itself exactly as the watcher does (the daemon's own
 * sandbox_child(ROLE_WATCHER)) and then tries one thing:
 *
 *	watcher_probe socket ADDR PORT [daemon options]
 *		socket(2) after confinement, then connect(2) to ADDR
 *	watcher_probe connect ADDR PORT [daemon options]
 *		connect(2) to ADDR on a TCP socket opened before it
 *	watcher_probe sendto ADDR PORT [daemon options]
 *		sendto(2) to ADDR on a UDP socket opened before it
 *
 * The options are the daemon's (--chroot, -u, --seccomp), read with
 * config_load().  It prints "connected", "sent", or "refused: WHY" and
 * exits 0; a filter that kills ends it with SIGSYS first.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/config.h"
#include "../src/sandbox.h"

int
main(int argc, char *argv[])
{
	struct kn_config	 conf;
	struct kn_cmdline	 cl;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct stat		 root;
	socklen_t		 sslen;
	char			 err[512];
	int			 fd = -1, rv;

	if (argc < 4) {
		fprintf(stderr, "usage: watcher_probe socket|connect|sendto "
		    "ADDR PORT [daemon options]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, argv[2], &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)atoi(argv[3]));
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, argv[2], &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)atoi(argv[3]));
		sslen = sizeof(*sin6);
	} else {
		fprintf(stderr, "watcher_probe: bad address %s\n", argv[2]);
		return 2;
	}
	argv[3] = argv[0];
	if (config_load(&conf, &cl, argc - 3, argv + 3, err,
	    sizeof(err)) == -1 ||
	    config_resolve_user(&conf, err, sizeof(err)) == -1 ||
	    sandbox_check_root(conf.chroot, 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "watcher_probe: %s\n", err);
		return 2;
	}
	/* A socket the watcher held before: what it might still have. */
	if (strcmp(argv[1], "connect") == 0)
		fd = socket(ss.ss_family, SOCK_STREAM, 0);
	else if (strcmp(argv[1], "sendto") == 0)
		fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	else if (strcmp(argv[1], "socket") != 0) {
		fprintf(stderr, "watcher_probe: unknown action %s\n", argv[1]);
		return 2;
	}
	if (strcmp(argv[1], "socket") != 0 && fd == -1) {
		perror("watcher_probe: socket before confinement");
		return 2;
	}
	sandbox_child(ROLE_WATCHER, &conf, &root);
	if (fd == -1 && (fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1) {
		printf("refused: socket: %s\n", strerror(errno));
		return 0;
	}
	if (strcmp(argv[1], "sendto") == 0) {
		if (sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, sslen) == -1)
			printf("refused: sendto: %s\n", strerror(errno));
		else
			printf("sent\n");
		return 0;
	}
	rv = connect(fd, (struct sockaddr *)&ss, sslen);
	if (rv == -1)
		printf("refused: connect: %s\n", strerror(errno));
	else
		printf("connected\n");
	return 0;
}
