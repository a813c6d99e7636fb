/*
 * kopeio-networkctl's output: the status, the tables and the results
 * it reads back, checked and escaped, to a stream.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ctlshow.h"
#include "proto.h"

/*
 * src as printable ASCII: a backslash and every other byte as \xNN,
 * so nothing read from the daemon can move a terminal's cursor.
 * Stops at a NUL, at srclen or when dst is full; returns its length.
 */
size_t
ctl_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t		 i, n = 0;
	unsigned char	 c;

	if (dstlen == 0)
		return 0;
	for (i = 0; i < srclen && src[i] != '\0'; i++) {
		c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (n + 1 >= dstlen)
				break;
			dst[n++] = (char)c;
		} else {
			if (n + 4 >= dstlen)
				break;
			snprintf(dst + n, 5, "\\x%02x", c);
			n += 4;
		}
	}
	dst[n] = '\0';
	return n;
}

/* A time span the daemon reports; nonsense from it stays printable. */
static void
ago(char *buf, size_t len, int64_t from, int64_t to)
{
	long long	 s;

	if (to < from || from < 0) {
		snprintf(buf, len, "?");
		return;
	}
	s = (long long)((uint64_t)to - (uint64_t)from) / 1000;
	if (s >= 86400)
		snprintf(buf, len, "%lldd%lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldm%llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%llds", s);
}

static void
show_status(FILE *out, const struct kn_status *st)
{
	const struct msg_exec_stats	*e = &st->exec;
	char				 t[32], when[64], text[4 * 256 + 1];
	struct tm			 tm;
	time_t				 tt;
	int				 r;

	ago(t, sizeof(t), st->started, st->now);
	ctl_escape(text, sizeof(text), st->version, sizeof(st->version));
	fprintf(out, "kopeio-networkd %s, provider %s, up %s\n", text,
	    mode_name(st->mode), t);
	fprintf(out, "ready: %s\n", st->ready ? "yes" : "no");
	if (e->gen_time == 0)
		fprintf(out, "last sync: none yet\n");
	else {
		tt = (time_t)(e->gen_time / 1000);
		if (gmtime_r(&tt, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC",
		    &tm) == 0)
			snprintf(when, sizeof(when), "?");
		ago(t, sizeof(t), e->gen_time, st->now);
		fprintf(out, "last sync: generation %" PRIu64 " at %s (%s "
		    "ago): %u intents accepted, %u refused, %u kernel objects "
		    "failed\n", e->gen, when, t, e->applied, e->refused,
		    e->failed);
	}
	fprintf(out, "peers: %u of %u nodes; %u intents, %u kernel objects\n",
	    st->watch.peers, st->watch.nodes, e->intents, e->objects);
	if (WATCH_OVER(&st->watch))
		fprintf(out, "NODES IGNORED: more than %u nodes (--max-nodes), "
		    "%" PRIu64 " ignored: their pods get no routes\n",
		    st->watch.bound, st->watch.ignored);
	if (EXEC_OVER(e))
		fprintf(out, "INTENTS REFUSED: more than %u intents "
		    "(--max-nodes), %" PRIu64 " refused\n", e->bound, e->over);
	fprintf(out, "masquerade: table inet kopeio, rules %u, repairs %" PRIu64
	    "\n", e->masq_rules, e->masq_repairs);
	if (st->cni_config[0] == '\0')
		fprintf(out, "cni config: none (--cni-config not set)\n");
	else {
		ctl_escape(text, sizeof(text), st->cni_config,
		    sizeof(st->cni_config));
		fprintf(out, "cni config: %s, %s\n", text, st->cni_written ?
		    "written" : "not written yet");
	}
	fprintf(out, "%-11s %-8s %-8s %-9s %s\n", "PROCESS", "PID", "STATE",
	    "RESTARTS", "UP");
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++) {
		const struct status_proc *p = &st->proc[r];

		if (!p->wanted) {
			fprintf(out, "%-11s %-8s %-8s\n", role_name(r), "-",
			    "off");
			continue;
		}
		if (p->pid != 0)
			ago(t, sizeof(t), p->started, st->now);
		else
			snprintf(t, sizeof(t), "-");
		fprintf(out, "%-11s %-8d %-8s %-9u %s\n", role_name(r),
		    p->pid, p->running ? "running" : p->pid ? "starting" :
		    "down", p->restarts, t);
	}
}

static void
prefix_str(uint8_t family, const uint8_t *addr, uint8_t plen, char *buf,
    size_t len)
{
	struct kn_prefix	 p = { family, plen, { 0 } };

	memcpy(p.addr, addr, family == AF_INET ? 4 : 16);
	prefix_format(&p, buf, len);
}

/* Names are compared as the daemon sent them, never past the field. */
static int
node_cmp(const void *a, const void *b)
{
	const struct msg_node_info	*x = a, *y = b;

	return strncmp(x->name, y->name, sizeof(x->name));
}

static void
show_nodes(FILE *out, struct msg_node_info *ni, size_t n)
{
	char	 a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN], addr[80];
	char	 c[2][INET6_ADDRSTRLEN + 4];
	char	 name[4 * sizeof(ni->name) + 8];
	size_t	 i;
	int	 k;

	if (n > 0)
		qsort(ni, n, sizeof(*ni), node_cmp);
	fprintf(out, "%-30s %-32s %s\n", "NAME", "ADDRESS", "POD CIDRS");
	for (i = 0; i < n; i++) {
		k = (int)ctl_escape(name, sizeof(name) - 8, ni[i].name,
		    sizeof(ni[i].name));
		if (ni[i].local)
			snprintf(name + k, 8, " (this)");
		inet_ntop(AF_INET, ni[i].addr4, a4, sizeof(a4));
		inet_ntop(AF_INET6, ni[i].addr6, a6, sizeof(a6));
		snprintf(addr, sizeof(addr), "%s%s%s",
		    ni[i].has4 ? a4 : "", ni[i].has4 && ni[i].has6 ? "," : "",
		    ni[i].has6 ? a6 : "");
		for (k = 0; k < 2; k++) {
			c[k][0] = '\0';
			if (k < ni[i].ncidr)
				prefix_str(ni[i].family[k], ni[i].cidr[k],
				    ni[i].plen[k], c[k], sizeof(c[k]));
		}
		fprintf(out, "%-30s %-32s %s%s%s\n", name, *addr ? addr : "-",
		    *c[0] ? c[0] : "-", *c[1] ? "," : "", c[1]);
	}
}

static int
route_cmp(const void *a, const void *b)
{
	const struct msg_intent	*x = &((const struct msg_route_info *)a)->in;
	const struct msg_intent	*y = &((const struct msg_route_info *)b)->in;

	if (x->family != y->family)
		return x->family - y->family;
	return memcmp(x->prefix, y->prefix, sizeof(x->prefix));
}

static void
show_routes(FILE *out, struct msg_route_info *ri, size_t n)
{
	char	 p[INET6_ADDRSTRLEN + 4], node[INET6_ADDRSTRLEN], k[32];
	size_t	 i;

	if (n > 0)
		qsort(ri, n, sizeof(*ri), route_cmp);
	fprintf(out, "%-44s %-40s %s\n", "POD CIDR", "NODE", "KERNEL");
	for (i = 0; i < n; i++) {
		prefix_str(ri[i].in.family, ri[i].in.prefix, ri[i].in.plen, p,
		    sizeof(p));
		if (inet_ntop(ri[i].in.family, ri[i].in.node, node,
		    sizeof(node)) == NULL)
			snprintf(node, sizeof(node), "?");
		snprintf(k, sizeof(k), "%s (%u/%u)", ri[i].present ==
		    ri[i].wanted ? "installed" : "missing", ri[i].present,
		    ri[i].wanted);
		fprintf(out, "%-44s %-40s %s\n", p, node, k);
	}
}

/* show masquerade: the executor's text, line by line, escaped. */
static void
show_text(FILE *out, const char *t, size_t n)
{
	char		 line[4 * 1024 + 1];
	const char	*eol;
	size_t		 i, k;

	for (i = 0; i < n; i += k + 1) {
		eol = memchr(t + i, '\n', n - i);
		k = eol != NULL ? (size_t)(eol - (t + i)) : n - i;
		ctl_escape(line, sizeof(line), t + i, k);
		fprintf(out, "%s\n", line);
	}
}

void
ctl_reply_init(struct ctl_reply *r, int show, uint32_t what)
{
	memset(r, 0, sizeof(*r));
	r->show = show;
	r->what = what;
}

void
ctl_reply_free(struct ctl_reply *r)
{
	free(r->recs);
	r->recs = NULL;
	r->n = 0;
}

/* The text of a result, escaped; its status is the tool's. */
static int
show_result(struct ctl_reply *r, FILE *out, FILE *err, const void *data,
    size_t len)
{
	struct msg_ctl_result	 res;
	char			 text[4 * 1024 + 1];

	if (len < sizeof(res))
		return -1;
	memcpy(&res, data, sizeof(res));
	ctl_escape(text, sizeof(text), (const char *)data + sizeof(res),
	    len - sizeof(res));
	fprintf(res.status ? err : out, "%s%s\n", res.status ?
	    "kopeio-networkctl: " : "", text);
	/* An exit status is 0 to 255; anything else is a failure. */
	r->status = res.status >= 0 && res.status <= 255 ? res.status : 1;
	return 0;
}

/*
 * One message of the reply to the request r was set up for: 1 while
 * more is expected, 0 when the reply is complete (r->status set), -1
 * for a message that has no place in it.
 */
int
ctl_reply_msg(struct ctl_reply *r, FILE *out, FILE *err, uint32_t type,
    const void *data, size_t len)
{
	struct kn_status	 st;
	unsigned char		*p;
	uint32_t		 rtype;
	size_t			 size, k;

	if (type == MSG_CTL_RESULT)
		return show_result(r, out, err, data, len);
	if (!r->show)
		return -1;
	if (r->what == CTL_SHOW_STATUS) {
		if (type != MSG_STATUS || len != sizeof(st))
			return -1;
		memcpy(&st, data, sizeof(st));
		show_status(out, &st);
		r->status = 0;
		return 0;
	}
	if (r->what == CTL_SHOW_NODES) {
		rtype = MSG_NODE_INFO;
		size = sizeof(struct msg_node_info);
	} else if (r->what == CTL_SHOW_ROUTES) {
		rtype = MSG_ROUTE_INFO;
		size = sizeof(struct msg_route_info);
	} else if (r->what == CTL_SHOW_MASQ) {
		rtype = MSG_MASQ_TEXT;
		size = 1;
	} else
		return -1;
	if (type == MSG_DUMP_END && len == 0) {
		if (rtype == MSG_MASQ_TEXT)
			show_text(out, (const char *)r->recs, r->n);
		else if (rtype == MSG_NODE_INFO)
			show_nodes(out, (struct msg_node_info *)r->recs, r->n);
		else
			show_routes(out, (struct msg_route_info *)r->recs,
			    r->n);
		r->status = 0;
		return 0;
	}
	if (type != rtype || len % size != 0)
		return -1;
	k = len / size;
	if (k > CTL_RECORDS_MAX - r->n)
		return -1;
	if (k == 0)
		return 1;
	if ((p = realloc(r->recs, (r->n + k) * size)) == NULL)
		return -1;
	memcpy(p + r->n * size, data, len);
	r->recs = p;
	r->n += k;
	return 1;
}
