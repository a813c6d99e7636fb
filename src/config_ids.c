/*
 * The ids the children run as: the --user account or a uid and gid
 * per role from --uid-base, and the check at start that nothing on
 * the host already has one of ours.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int
config_resolve_user(struct kn_config *c, char *err, size_t errlen)
{
	struct passwd	*pw;
	char		*end;
	unsigned long	 id;

	if (*c->user == '\0') {
		c->uid = c->gid = c->uid_base != 0 ? c->uid_base :
		    KN_DEFAULT_UID_BASE;
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(c->user)) != NULL) {
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
	} else if (strcmp(c->user, KN_DEFAULT_USER) == 0) {
		c->uid = c->gid = KN_NOBODY_ID;
	} else {
		id = strtoul(c->user, &end, 10);
		if (*c->user == '\0' || *end != '\0' || id >= UINT32_MAX)
			return errset(err, errlen, "--user: no account \"%s\"",
			    c->user);
		c->uid = c->gid = id;
	}
	if (c->uid == 0 || c->gid == 0)
		return errset(err, errlen, "--user: \"%s\" is root; the "
		    "children must run unprivileged", c->user);
	return 0;
}

/*
 * The ids the child in slot (watcher 0, executor 1, arp-helper 2,
 * metrics 3) runs as, after config_resolve_user().
 */
void
config_child_ids(const struct kn_config *c, unsigned slot, uint32_t *uid,
    uint32_t *gid)
{
	*uid = c->uid;
	*gid = c->gid;
	if (*c->user == '\0') {
		*uid += slot;
		*gid += slot;
	}
}

/* The slot whose uid or gid is id, or -1. */
static int
id_slot(const struct kn_config *c, uint32_t id)
{
	return id - c->uid < KN_ID_SLOTS ? (int)(id - c->uid) : -1;
}

static int
id_clash(const struct kn_config *c, uint32_t id, const char *who,
    char *err, size_t errlen)
{
	return errset(err, errlen, "--uid-base %u: id %u (base + %d) is in "
	    "use: %s; choose %d ids from a base that nothing on the host uses",
	    c->uid, id, id_slot(c, id), who, KN_ID_SLOTS);
}

/* A process whose real, effective, saved or fs uid or gid is ours. */
static int
proc_clash(const struct kn_config *c, const char *path, const char *pid,
    char *err, size_t errlen)
{
	char		 buf[4096], name[64] = "?", who[160];
	const char	*l;
	unsigned	 v[4];
	ssize_t		 n;
	int		 fd, i, gid;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;	/* gone meanwhile */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (l = buf; l != NULL; l = (l = strchr(l, '\n')) ? l + 1 : NULL)
		if (sscanf(l, "Name: %63s", name) == 1)
			break;
	for (l = buf; l != NULL; l = (l = strchr(l, '\n')) ? l + 1 : NULL) {
		if (sscanf(l, "Uid: %u %u %u %u", &v[0], &v[1], &v[2],
		    &v[3]) == 4)
			gid = 0;
		else if (sscanf(l, "Gid: %u %u %u %u", &v[0], &v[1], &v[2],
		    &v[3]) == 4)
			gid = 1;
		else
			continue;
		for (i = 0; i < 4; i++)
			if (id_slot(c, v[i]) != -1) {
				snprintf(who, sizeof(who), "process %s (%s) "
				    "runs as %s %u", pid, name, gid ? "gid" :
				    "uid", v[i]);
				return id_clash(c, v[i], who, err, errlen);
			}
	}
	return 0;
}

/* An account's uid or gid, or a group's gid, that is ours. */
static int
entry_clash(const struct kn_config *c, uint32_t id, uint32_t id2,
    const char *file, const char *kind, const char *name, char *err,
    size_t errlen)
{
	char	 who[KN_PATH_MAX + KN_NAME_MAX + 32];

	if (id_slot(c, id) == -1)
		id = id2;
	if (id_slot(c, id) == -1)
		return 0;
	snprintf(who, sizeof(who), "%s has the %s %s", file, kind, name);
	return id_clash(c, id, who, err, errlen);
}

/*
 * At start, with a uid per role: no process of the host (in proc) and
 * no account or group (in the passwd and group files) may have one of
 * our ids, or it could signal our children, or own what they create.
 * The chroot holds no file of theirs: it must be empty and root's.
 * -1 with err naming the first clash.  A --user account is the
 * operator's choice and not checked.
 */
int
config_check_ids(const struct kn_config *c, const char *proc,
    const char *passwd, const char *group, char *err, size_t errlen)
{
	char		 path[KN_PATH_MAX + 32];
	struct dirent	*de;
	struct passwd	*pw;
	struct group	*gr;
	DIR		*d;
	FILE		*f;
	int		 rv = 0;

	if (*c->user != '\0')
		return 0;
	if ((d = opendir(proc)) == NULL)
		return errset(err, errlen, "%s: %s", proc, strerror(errno));
	while (rv == 0 && (de = readdir(d)) != NULL) {
		if (strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s/status", proc, de->d_name);
		rv = proc_clash(c, path, de->d_name, err, errlen);
	}
	closedir(d);
	if (rv == 0 && (f = fopen(passwd, "re")) != NULL) {
		while (rv == 0 && (pw = fgetpwent(f)) != NULL)
			rv = entry_clash(c, pw->pw_uid, pw->pw_gid, passwd,
			    "account", pw->pw_name, err, errlen);
		fclose(f);
	}
	if (rv == 0 && (f = fopen(group, "re")) != NULL) {
		while (rv == 0 && (gr = fgetgrent(f)) != NULL)
			rv = entry_clash(c, gr->gr_gid, gr->gr_gid, group,
			    "group", gr->gr_name, err, errlen);
		fclose(f);
	}
	return rv;
}
