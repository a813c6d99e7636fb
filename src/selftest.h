/*
 * --self-test: what the kernel says about each running child against
 * what its role should have, and that a seccomp filter kills.  The
 * parent starts the children and the violator; this judges them.
 */
#ifndef KN_SELFTEST_H
#define KN_SELFTEST_H

#include "config.h"

struct proc;

int	selftest_ready(const struct proc *procs);
int	selftest_children(const struct kn_config *, const struct proc *procs);
int	selftest_seccomp(const struct kn_config *, const struct proc *violator);
int	selftest_verdict(int fails);

#endif
