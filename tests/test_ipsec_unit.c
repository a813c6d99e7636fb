/*
 * Unit tests of the ipsec mode's pure parts: HKDF-SHA256 against RFC
 * 5869's test vector, the key of each direction equal on both nodes
 * and different between directions, key ids and either node's boot,
 * SPIs from the key id and the sender's pod CIDR index, and the xfrm
 * requests read back by the parser the executor uses on dumps and
 * on the monitor; the key file refused when it is not root's alone.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/xfrm.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/config.h"
#include "../src/ipseckey.h"
#include "../src/kxfrm.h"
#include "../src/nl.h"
#include "tap.h"

static void
hex(const char *s, uint8_t *out, size_t n)
{
	size_t	 i;
	unsigned v;

	for (i = 0; i < n; i++) {
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void
test_hkdf(void)
{
	uint8_t	 ikm[22], salt[13], info[10], okm[42], want[42];
	size_t	 i;

	memset(ikm, 0x0b, sizeof(ikm));
	for (i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)i;
	for (i = 0; i < sizeof(info); i++)
		info[i] = (uint8_t)(0xf0 + i);
	hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	    "34007208d5b887185865", want, sizeof(want));
	ok(ipsec_hkdf(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
	    okm, sizeof(okm)) == 0 && memcmp(okm, want, sizeof(want)) == 0,
	    "HKDF-SHA256: RFC 5869 test case 1");
}

static void
test_spi(void)
{
	struct kn_prefix	 cl[2];
	uint8_t			 p[16];
	uint32_t		 spi = 0;
	char			 err[128];

	ok(cluster_parse("100.96.0.0/12,fd00:10::/48", cl, err,
	    sizeof(err)) == 0, "cluster range parses");
	memset(p, 0, sizeof(p));
	inet_pton(AF_INET, "100.96.5.0", p);
	ok(ipsec_spi(cl, AF_INET, 24, p, 3, &spi) == 0 && spi == 0x03000005,
	    "SPI of 100.96.5.0/24, key 3: 0x03000005");
	inet_pton(AF_INET, "100.111.255.0", p);
	ok(ipsec_spi(cl, AF_INET, 24, p, 255, &spi) == 0 && spi == 0xff000fff,
	    "SPI of the last /24 of a /12, key 255: 0xff000fff");
	inet_pton(AF_INET, "100.96.0.1", p);
	ok(ipsec_spi(cl, AF_INET, 32, p, 1, &spi) == 0 && spi == 0x01000001,
	    "a /32 in a /12 fits 20 bits");
	memset(p, 0, sizeof(p));
	inet_pton(AF_INET6, "fd00:10:0:7::", p);
	ok(ipsec_spi(cl, AF_INET6, 64, p, 1, &spi) == 0 && spi == 0x01000007,
	    "SPI of fd00:10:0:7::/64 in a /48: index 7");
	ok(ipsec_spi(cl, AF_INET6, 120, p, 1, &spi) == -1,
	    "a /120 in a /48 needs 72 bits: refused");
	ok(ipsec_spi(cl, AF_INET6, 72, p, 1, &spi) == 0,
	    "a /72 in a /48 needs 24 bits: fits");
	ok(ipsec_spi(cl, AF_INET6, 73, p, 1, &spi) == -1,
	    "a /73 in a /48 needs 25 bits: refused");
}

/* A node: its pod CIDR and address, as MSG_LOCAL says. */
static void
node(struct msg_local *l, const char *cidr, const char *addr)
{
	memset(l, 0, sizeof(*l));
	l->family[0] = AF_INET;
	l->plen[0] = 24;
	inet_pton(AF_INET, cidr, l->cidr[0]);
	l->has4 = 1;
	inet_pton(AF_INET, addr, l->addr4);
}

static void
intent(struct msg_intent *in, const char *cidr, const char *addr)
{
	memset(in, 0, sizeof(*in));
	in->family = AF_INET;
	in->plen = 24;
	inet_pton(AF_INET, cidr, in->prefix);
	inet_pton(AF_INET, addr, in->node);
}

static const struct kobj *
find_state(const struct kobj *o, int n, const char *src, const char *dst,
    uint8_t key_id)
{
	uint8_t	 s[16] = { 0 }, d[16] = { 0 };
	int	 i;

	inet_pton(AF_INET, src, s);
	inet_pton(AF_INET, dst, d);
	for (i = 0; i < n; i++)
		if (o[i].k.type == KOBJ_XSTATE && o[i].k.spi >> 24 == key_id &&
		    memcmp(o[i].v.gw, s, 16) == 0 &&
		    memcmp(o[i].k.addr, d, 16) == 0)
			return &o[i];
	return NULL;
}

static void
test_wanted(void)
{
	struct kn_prefix	 cl[2];
	struct msg_local	 la, lb;
	struct msg_intent	 to_b, to_a;
	struct ipsec_key	 k1, k2;
	struct kobj_ctx		 ca, cb;
	struct kobj		 oa[KOBJ_PER_INTENT], ob[KOBJ_PER_INTENT];
	const struct kobj	*ab_a, *ab_b, *ba_a, *ba_b, *x;
	uint8_t			 keys[2][36];
	char			 err[128];
	int			 na, nb, i, pols = 0;

	cluster_parse("100.96.0.0/12", cl, err, sizeof(err));
	memset(&k1, 0, sizeof(k1));
	k1.id = 1;
	k1.len = 32;
	memset(k1.secret, 0x5a, 32);
	k2 = k1;
	k2.id = 2;
	node(&la, "100.96.1.0", "172.20.0.10");
	node(&lb, "100.96.2.0", "172.20.0.11");
	intent(&to_b, "100.96.2.0", "172.20.0.11");
	intent(&to_a, "100.96.1.0", "172.20.0.10");
	/* Each node's boot ID, as its own Node and the peer's copy say. */
	memset(la.boot, 0xa1, 16);
	memset(to_a.boot, 0xa1, 16);
	memset(lb.boot, 0xb1, 16);
	memset(to_b.boot, 0xb1, 16);
	memset(&ca, 0, sizeof(ca));
	ca.mode = MODE_IPSEC;
	ca.cluster = cl;
	ca.ipsec.aes = 1;
	ca.ipsec.udp = 1;
	ca.ipsec.in[0] = ca.ipsec.out = &k1;
	cb = ca;
	ca.ipsec.local = &la;
	cb.ipsec.local = &lb;
	ca.ipsec.out = NULL;
	ok(kobj_wanted(&ca, &to_b, oa) == 0, "no key: nothing wanted");
	ca.ipsec.out = &k1;
	na = kobj_wanted(&ca, &to_b, oa);
	nb = kobj_wanted(&cb, &to_a, ob);
	is_int(na, 11, "9 policies and 2 states per peer");
	for (i = 0; i < na; i++)
		pols += oa[i].k.type == KOBJ_XPOLICY;
	is_int(pols, 9, "of them 9 policies");
	ab_a = find_state(oa, na, "172.20.0.10", "172.20.0.11", 1);
	ab_b = find_state(ob, nb, "172.20.0.10", "172.20.0.11", 1);
	ba_a = find_state(oa, na, "172.20.0.11", "172.20.0.10", 1);
	ok(ab_a != NULL && ab_b != NULL && ba_a != NULL, "each node has the "
	    "state A->B, and A the state B->A");
	if (ab_a == NULL || ab_b == NULL || ba_a == NULL)
		return;
	ok(ab_a->k.spi == ab_b->k.spi && ab_a->k.spi == 0x01000001,
	    "A->B has the same SPI on both nodes: key 1, A's index 1");
	ok(ab_a->v.keylen == 36 && memcmp(ab_a->v.key, ab_b->v.key, 36) == 0,
	    "A->B has the same 288-bit key on both nodes");
	ok(memcmp(ab_a->v.key, ba_a->v.key, 36) != 0 && ba_a->k.spi ==
	    0x01000002, "B->A has another key, and B's index in its SPI");
	memcpy(keys[0], ab_a->v.key, 36);
	memcpy(keys[1], ba_a->v.key, 36);
	/* A reboots: its Node, hence both nodes, have its new boot ID. */
	la.boot[0] = to_a.boot[0] = 0xa2;
	na = kobj_wanted(&ca, &to_b, oa);
	nb = kobj_wanted(&cb, &to_a, ob);
	ab_a = find_state(oa, na, "172.20.0.10", "172.20.0.11", 1);
	ab_b = find_state(ob, nb, "172.20.0.10", "172.20.0.11", 1);
	ba_a = find_state(oa, na, "172.20.0.11", "172.20.0.10", 1);
	if (ab_a == NULL || ab_b == NULL || ba_a == NULL)
		bail_out("a state went missing after a boot ID change");
	ok(memcmp(ab_a->v.key, keys[0], 36) != 0 &&
	    memcmp(ab_a->v.key, ab_b->v.key, 36) == 0 &&
	    ab_a->k.spi == 0x01000001, "A rebooted: A->B has a new key, the "
	    "same on both nodes, under the same SPI");
	ba_b = find_state(ob, nb, "172.20.0.11", "172.20.0.10", 1);
	ok(ba_b != NULL && memcmp(ba_a->v.key, keys[1], 36) != 0 &&
	    memcmp(ba_a->v.key, ba_b->v.key, 36) == 0 && ba_a->k.spi ==
	    0x01000002, "B->A has a new key too, the same on both nodes: "
	    "the receiver's boot ID is in the derivation");
	/* B has not seen A's new boot ID yet: the two ends disagree. */
	to_a.boot[0] = 0xa1;
	nb = kobj_wanted(&cb, &to_a, ob);
	ab_b = find_state(ob, nb, "172.20.0.10", "172.20.0.11", 1);
	ba_b = find_state(ob, nb, "172.20.0.11", "172.20.0.10", 1);
	ok(ab_b != NULL && memcmp(ab_b->v.key, keys[0], 36) == 0 &&
	    memcmp(ab_b->v.key, ab_a->v.key, 36) != 0, "the sender's boot ID "
	    "is in the derivation: B with A's old one derives the old key");
	ok(ba_b != NULL && memcmp(ba_b->v.key, keys[1], 36) == 0,
	    "and for B->A, B with A's old boot ID derives the old key");
	to_a.boot[0] = 0xa2;
	/* A rotation: inbound key 2 beside key 1, outbound still key 1. */
	ca.ipsec.in[0] = &k2;
	ca.ipsec.in[1] = &k1;
	na = kobj_wanted(&ca, &to_b, oa);
	is_int(na, 12, "during a rotation: two inbound states, one outbound");
	x = find_state(oa, na, "172.20.0.11", "172.20.0.10", 2);
	ok(x != NULL && x->k.spi == 0x02000002 &&
	    memcmp(x->v.key, oa[9].v.key, 36) != 0,
	    "key 2's inbound state: SPI 0x02000002, another key");
	ok(find_state(oa, na, "172.20.0.10", "172.20.0.11", 1) != NULL &&
	    find_state(oa, na, "172.20.0.10", "172.20.0.11", 2) == NULL,
	    "outbound stays on key 1 until the switch");
}

/* Every wanted object survives request building and parsing. */
static void
test_roundtrip(void)
{
	struct kn_prefix	 cl[2];
	struct msg_local	 la;
	struct msg_intent	 to_b;
	struct ipsec_key	 k1;
	struct kobj_ctx		 c;
	struct kobj		 o[KOBJ_PER_INTENT], back;
	char			 buf[NL_MSG_MAX] __attribute__((aligned(8)));
	char			 err[128];
	struct nlmsghdr		*nlh;
	struct xfrm_usersa_info	*sa;
	struct nl_attrs		 attrs = { { NULL } };
	int			 n, i, del, same = 0, aes;

	cluster_parse("100.96.0.0/12", cl, err, sizeof(err));
	memset(&k1, 0, sizeof(k1));
	k1.id = 1;
	k1.len = 32;
	node(&la, "100.96.1.0", "172.20.0.10");
	intent(&to_b, "100.96.2.0", "172.20.0.11");
	for (aes = 0; aes < 2; aes++) {
		memset(&c, 0, sizeof(c));
		c.mode = MODE_IPSEC;
		c.cluster = cl;
		c.ipsec.aes = (uint8_t)aes;
		c.ipsec.udp = (uint8_t)aes;
		c.ipsec.in[0] = c.ipsec.out = &k1;
		c.ipsec.local = &la;
		n = kobj_wanted(&c, &to_b, o);
		same = 0;
		for (i = 0; i < n; i++) {
			memset(buf, 0, sizeof(buf));
			nlh = mnl_nlmsg_put_header(buf);
			kobj_request(nlh, &c, KOBJ_CREATE, &o[i]);
			if (kxfrm_parse(nlh, &back, &del) == 1 && !del &&
			    memcmp(&back.k, &o[i].k, sizeof(back.k)) == 0 &&
			    kobj_same(&o[i], &back))
				same++;
		}
		is_int(same, n, "%s: every state and policy request parses "
		    "back to the object asked for", aes ? "aes, udp" :
		    "none, esp");
	}
	/* A state put back goes on from the numbers of the one removed. */
	back = o[9];
	back.v.oseq = 5000;
	back.v.rseq = 17;
	back.v.rbitmap = 0x5;
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	kobj_request(nlh, &c, KOBJ_CREATE, &back);
	ok(kxfrm_parse(nlh, &back, &del) == 1 && back.v.oseq == 5000 &&
	    back.v.rseq == 17 && back.v.rbitmap == 0x5,
	    "a state's sequence numbers go in its request and parse back");
	ok(kobj_same(&o[9], &back), "sequence numbers are not compared");
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	kobj_request(nlh, &c, KOBJ_CREATE, &o[9]);
	ok(mnl_attr_parse(nlh, sizeof(struct xfrm_usersa_info), nl_attr_cb,
	    &attrs) >= 0 && attrs.a[XFRMA_REPLAY_VAL] == NULL,
	    "a new state leaves them to the kernel");
	/* Someone else's state: another reqid is not ours. */
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	kobj_request(nlh, &c, KOBJ_CREATE, &o[9]);
	sa = mnl_nlmsg_get_payload(nlh);
	sa->reqid = 7;
	ok(kxfrm_parse(nlh, &back, &del) == 0, "a state of reqid 7 is not "
	    "ours");
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	kobj_request(nlh, &c, KOBJ_DELETE, &o[9]);
	ok(nlh->nlmsg_type == XFRM_MSG_DELSA, "a state is removed by DELSA");
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	kobj_request(nlh, &c, KOBJ_CREATE, &o[0]);
	ok(nlh->nlmsg_type == XFRM_MSG_NEWPOLICY, "a policy is created by "
	    "NEWPOLICY, which refuses one of the same selector");
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	kobj_request(nlh, &c, KOBJ_REPLACE, &o[0]);
	ok(nlh->nlmsg_type == XFRM_MSG_UPDPOLICY, "one known to be ours is "
	    "replaced by UPDPOLICY");
}

/*
 * --ipsec-key-file is read by root: a FIFO must not hang it, a device
 * or a file others can read is no key, and a symbolic link is followed
 * only when root made it (a Secret volume's key -> ..data/key).
 */
static void
test_key_file(void)
{
	static const char	 line[] = "7 000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\n";
	struct ipsec_key	 k;
	char			 dir[] = "/run/kn-test-key-XXXXXX", key[64],
				 link[64], fifo[64], err[512];
	int			 fd;

	if (geteuid() != 0) {
		diag("not root: the key file tests need chown");
		return;
	}
	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(key, sizeof(key), "%s/key", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	if ((fd = open(key, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, line, sizeof(line) - 1) != sizeof(line) - 1 ||
	    close(fd) == -1 || symlink(key, link) == -1 ||
	    mkfifo(fifo, 0600) == -1)
		bail_out("key files: %s", strerror(errno));
	ok(ipsec_key_load(key, &k, err, sizeof(err)) == 0 && k.id == 7,
	    "key file: mode 0600 and root's: loaded");
	ok(ipsec_key_load(link, &k, err, sizeof(err)) == 0 && k.id == 7,
	    "key file: a symbolic link of root's is followed");
	/* A FIFO nobody writes: open and read must not block. */
	alarm(20);
	ok(ipsec_key_load(fifo, &k, err, sizeof(err)) == -1,
	    "key file: a FIFO is refused, without hanging");
	alarm(0);
	like(err, "--ipsec-key-file", "key file: the FIFO error names the "
	    "option");
	like(err, "/fifo: not a regular file", "key file: the FIFO error "
	    "names the file and says what is wrong");
	ok(ipsec_key_load("/dev/zero", &k, err, sizeof(err)) == -1,
	    "key file: a device is refused");
	like(err, "/dev/zero: not a regular file", "key file: saying so");
	chmod(key, 0640);
	ok(ipsec_key_load(key, &k, err, sizeof(err)) == -1,
	    "key file: group-readable (0640) is refused");
	like(err, "key: readable by group or others (mode 0640",
	    "key file: saying so, with the mode");
	chmod(key, 0604);
	ok(ipsec_key_load(key, &k, err, sizeof(err)) == -1,
	    "key file: readable by others (0604) is refused");
	chmod(key, 0400);
	ok(ipsec_key_load(key, &k, err, sizeof(err)) == 0,
	    "key file: mode 0400 (a Secret's defaultMode) is loaded");
	if (lchown(link, 65534, 65534) == -1)
		bail_out("lchown: %s", strerror(errno));
	ok(ipsec_key_load(link, &k, err, sizeof(err)) == -1,
	    "key file: a symbolic link planted by another uid is refused");
	like(err, "/link: a symbolic link owned by uid 65534, not root",
	    "key file: saying so");
	unlink(key);
	unlink(link);
	unlink(fifo);
	rmdir(dir);
	explicit_bzero(&k, sizeof(k));
}

int
main(void)
{
	test_hkdf();
	test_spi();
	test_wanted();
	test_roundtrip();
	test_key_file();
	return done_testing();
}
