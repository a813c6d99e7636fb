/*
 * Confinement: the parent's reduced capabilities, each child's fixed
 * drop sequence (chroot, bounding set, ids, capabilities, no new
 * privileges, seccomp), the checks on the chroot directory.
 */
#ifndef KN_SANDBOX_H
#define KN_SANDBOX_H

#include <sys/stat.h>
#include <sys/types.h>

#include <stdint.h>

#include "config.h"
#include "proto.h"

#ifndef __has_feature
#define __has_feature(x)	0
#endif
/* A build with AddressSanitizer (configure --enable-sanitizers). */
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SANDBOX_SANITIZED	1
#else
#define SANDBOX_SANITIZED	0
#endif

/* The directories above path: root's and writable by nobody else. */
int	 sandbox_check_dirs(const char *what, const char *path, char *err,
	    size_t errlen);
int	 sandbox_check_root(const char *path, int create, char *err,
	    size_t errlen);
void	 sandbox_parent(void);
void	 sandbox_child(enum role, const struct kn_config *,
	    struct stat *root);
void	 sandbox_violate(void) __attribute__((__noreturn__));
uint64_t sandbox_role_caps(void);
uint64_t sandbox_memory_limit(enum role, const struct kn_config *);

/* The confinement fields of /proc/PID/status. */
struct proc_status {
	unsigned	uid[4];		/* real, effective, saved, fs */
	unsigned	gid[4];
	uint64_t	cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int		no_new_privs;
	int		seccomp;
};

int	 proc_status_parse(const char *text, struct proc_status *);
int	 proc_status_read(pid_t, struct proc_status *);

#endif
