// SPDX-License-Identifier: GPL-2.0
/*
 * hn-sg: a port's security groups as a tc-BPF program (docs/security-groups.md, "tc-BPF").
 * Attached with tc clsact on the port's tap: `hn_from_port` on tc ingress (frames the workload sends,
 * its egress rules), `hn_to_port` on tc egress (frames delivered to it, its ingress rules).
 * It decides what the nftables path (firewall/compile.ts, spoof.ts) decides, per packet.
 *
 * Map layout (little-endian host fields; addresses in network order, 16 bytes, IPv4 as ::ffff:a.b.c.d;
 * bpf/compile.ts writes the same bytes):
 *  - hn_ports: hash, key {u32 ifindex, u32 dir (0 from the port, 1 to it)} → struct port_rules:
 *    {u32 gen, u32 n, u32 nsrc, u32 flags (1: stateless), src[16] {addr[16], mask[16], mac[6],
 *    u8 family (4|6), pad}, rule[64] {addr[16], mask[16], u32 gid, u16 amin, amax, bmin, bmax,
 *    u8 proto (0: any), u8 family, pad[2]}}: 3,728 bytes. Replaced whole when rules change.
 *  - hn_members: LPM trie, key {u32 prefixlen (32 + address bits, IPv4: 32 + 96 + bits), u32 gid,
 *    addr[16]} → u32 1: remote groups' member prefixes.
 *  - hn_ct: LRU hash, key {u32 ifindex, saddr[16], daddr[16], u16 sport, dport (TCP/UDP/SCTP/DCCP/
 *    UDP-Lite ports; ICMP echo: the identifier and its complement; other ICMP: type|code), u8 dir, proto, family,
 *    pad} → {u32 gen, u32 reply}: one entry per direction of a flow, so a packet costs one lookup.
 *  - hn_frag: LRU hash, key {u32 ifindex, saddr[16], daddr[16], u32 id, u8 dir, proto, family, pad} →
 *    {u16 sport, dport, a, b}: the first fragment's ports and match values, lent to the later fragments
 *    of the same datagram (they carry no transport header), as conntrack sees a reassembled packet.
 * Default deny: a tap with no hn_ports entry passes nothing (fail closed). Loops are bounded (bpf_loop).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define MAX_RULES 64
#define MAX_SRC 16
#define MAX_EXT 4
#define DIR_FROM_PORT 0
#define DIR_TO_PORT 1
#define F_STATELESS 1

/* A source the port may send from: MAC and address prefix (masked), as spoof.ts's sets hold them. */
struct src {
	__u32 addr[4];
	__u32 mask[4];
	__u8 mac[6];
	__u8 family;
	__u8 pad;
};

/*
 * One rule: family, remote prefix (mask 0: any) and remote group (gid, non-zero: its members are in
 * hn_members), protocol (0 any), value ranges a (destination port or ICMP type) and b (ICMP code).
 */
struct rule {
	__u32 addr[4];
	__u32 mask[4];
	__u32 gid;
	__u16 amin, amax, bmin, bmax;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

struct port_key {
	__u32 ifindex;
	__u32 dir;
};

/* gen: the port's ruleset generation; a flow committed under another one is checked again. */
struct port_rules {
	__u32 gen;
	__u32 n;
	__u32 nsrc;
	__u32 flags;
	struct src src[MAX_SRC];
	struct rule r[MAX_RULES];
};

struct ct_key {
	__u32 ifindex;
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8 dir;
	__u8 proto;
	__u8 family;
	__u8 pad;
};

struct ct_val {
	__u32 gen;
	__u32 reply;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct port_key);
	__type(value, struct port_rules);
} hn_ports SEC(".maps");

struct member_key {
	__u32 prefixlen;
	__u32 gid;
	__u32 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct member_key);
	__type(value, __u32);
} hn_members SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct ct_key);
	__type(value, struct ct_val);
} hn_ct SEC(".maps");

struct frag_key {
	__u32 ifindex;
	__u32 saddr[4];
	__u32 daddr[4];
	__u32 id;
	__u8 dir;
	__u8 proto;
	__u8 family;
	__u8 pad;
};

struct frag_val {
	__u16 sport, dport;
	__u16 a, b;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct frag_key);
	__type(value, struct frag_val);
} hn_frag SEC(".maps");

#define FRAG_NONE 0
#define FRAG_FIRST 1
#define FRAG_LATER 2

/* A parsed IP packet: addresses, protocol, the ct key's ports and the rules' match values. */
struct pkt {
	__u32 saddr[4];
	__u32 daddr[4];
	__u32 l4;
	__u16 sport, dport;
	__u16 a, b;
	__u8 family;
	__u8 proto;
	__u8 icmp_error;
	__u8 frag;
	__u32 frag_id;
};

static __always_inline int masked_eq(const __u32 *x, const __u32 *mask, const __u32 *addr)
{
	return (x[0] & mask[0]) == addr[0] && (x[1] & mask[1]) == addr[1] && (x[2] & mask[2]) == addr[2] &&
	       (x[3] & mask[3]) == addr[3];
}

static __always_inline int is_port_proto(__u8 p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == 33 || p == 132 || p == 136;
}

/*
 * The loops over rules and sources run under bpf_loop: the verifier checks a callback once instead
 * of every unrolled iteration, which kept the program's load (verification) from taking seconds
 * and from nearing its 1M-instruction budget.
 */
/*
 * `i` masked below `n` (a power of two) in the register the access uses: clang drops a plain mask
 * after a bounds check, and its copy of `i` is unbounded to the verifier.
 */
static __always_inline __u64 bounded(__u64 i, __u64 n)
{
	asm volatile("%0 &= %1" : "+r"(i) : "i"(n - 1));
	return i;
}

struct rules_ctx {
	const struct port_rules *pr;
	const struct pkt *p;
	const __u32 *remote;
	int allowed;
};

static long rule_step(__u32 i, void *data)
{
	struct rules_ctx *c = data;
	const struct port_rules *pr = c->pr;
	const struct pkt *p = c->p;
	if (i >= pr->n || i >= MAX_RULES)
		return 1;
	const struct rule *r = &pr->r[bounded(i, MAX_RULES)];
	if (r->family != p->family || (r->proto && r->proto != p->proto))
		return 0;
	if (p->a < r->amin || p->a > r->amax || p->b < r->bmin || p->b > r->bmax)
		return 0;
	if (!masked_eq(c->remote, r->mask, r->addr))
		return 0;
	if (r->gid) {
		struct member_key mk = {.prefixlen = 160, .gid = r->gid};
		__builtin_memcpy(mk.addr, c->remote, 16);
		if (!bpf_map_lookup_elem(&hn_members, &mk))
			return 0;
	}
	c->allowed = 1;
	return 1;
}

static __always_inline int rules_allow(const struct port_rules *pr, const struct pkt *p, const __u32 *remote)
{
	struct rules_ctx c = {.pr = pr, .p = p, .remote = remote, .allowed = 0};
	bpf_loop(MAX_RULES, rule_step, &c, 0);
	return c.allowed;
}

struct src_ctx {
	const struct port_rules *pr;
	const __u8 *mac;
	const __u32 *addr;
	__u8 family;
	int ok;
};

static long src_step(__u32 i, void *data)
{
	struct src_ctx *c = data;
	const struct port_rules *pr = c->pr;
	if (i >= pr->nsrc || i >= MAX_SRC)
		return 1;
	const struct src *s = &pr->src[bounded(i, MAX_SRC)];
	const __u8 *mac = c->mac;
	if (s->mac[0] != mac[0] || s->mac[1] != mac[1] || s->mac[2] != mac[2] || s->mac[3] != mac[3] ||
	    s->mac[4] != mac[4] || s->mac[5] != mac[5])
		return 0;
	if (!c->addr || (s->family == c->family && masked_eq(c->addr, s->mask, s->addr))) {
		c->ok = 1;
		return 1;
	}
	return 0;
}

/* The port sends from `mac`; with `addr`, from that address too (one of its sources). */
static __always_inline int src_ok(const struct port_rules *pr, const __u8 *mac, __u8 family, const __u32 *addr)
{
	struct src_ctx c = {.pr = pr, .mac = mac, .addr = addr, .family = family, .ok = 0};
	bpf_loop(MAX_SRC, src_step, &c, 0);
	return c.ok;
}

static __always_inline void mapped(__u32 *out, __u32 v4)
{
	out[0] = 0;
	out[1] = 0;
	out[2] = bpf_htonl(0xffff);
	out[3] = v4;
}

/*
 * Parses the IP header at `off` (`inner`: the packet quoted by an ICMP error, no extension headers
 * skipped) and the first 8 bytes of its transport header. Returns -1 when it is cut short.
 */
static __always_inline int parse_ip(struct __sk_buff *skb, __u32 off, __u8 family, int inner, struct pkt *p)
{
	p->family = family;
	if (family == 4) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0)
			return -1;
		mapped(p->saddr, ip.saddr);
		mapped(p->daddr, ip.daddr);
		p->proto = ip.protocol;
		p->l4 = off + ip.ihl * 4;
		if (ip.frag_off & bpf_htons(0x1fff))
			p->frag = FRAG_LATER;
		else if (ip.frag_off & bpf_htons(0x2000))
			p->frag = FRAG_FIRST;
		p->frag_id = ip.id;
	} else {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0)
			return -1;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
		__u8 nh = ip6.nexthdr;
		__u32 l4 = off + sizeof(ip6);
		/* Hop-by-hop (MLD reports carry one), routing, destination options, fragment: as nft's l4proto. */
		for (int i = 0; i < MAX_EXT && !inner; i++) {
			__u8 h[8];
			if (nh != 0 && nh != 43 && nh != 60 && nh != 44)
				break;
			/* Every extension header is at least 8 bytes long. */
			if (bpf_skb_load_bytes(skb, l4, h, 8) < 0)
				return -1;
			if (nh == 44) {
				/* Offset (13 bits) and the M flag; the identification follows. */
				__u16 off_m = (h[2] << 8) | h[3];
				if (off_m & 0xfff8)
					p->frag = FRAG_LATER;
				else if (off_m & 1)
					p->frag = FRAG_FIRST;
				__builtin_memcpy(&p->frag_id, &h[4], 4);
				l4 += 8;
			} else {
				l4 += (h[1] + 1) * 8;
			}
			nh = h[0];
		}
		p->proto = nh;
		p->l4 = l4;
	}
	__u16 w[4] = {0, 0, 0, 0};
	int icmp = p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6;
	/* Later fragments carry no transport header: handle() lends them their first fragment's. */
	if (p->frag == FRAG_LATER)
		return 0;
	if (bpf_skb_load_bytes(skb, p->l4, w, 8) < 0 && !icmp)
		return -1;
	if (is_port_proto(p->proto)) {
		p->sport = w[0];
		p->dport = w[1];
		p->a = bpf_ntohs(w[1]);
	} else if (icmp) {
		__u8 type = w[0] & 0xff, code = w[0] >> 8;
		p->a = type;
		p->b = code;
		/*
		 * Echo request and reply share the identifier: a reply finds its request's entry. The
		 * identifier's complement marks the request side, so a request the other way (same
		 * identifier) is a new flow, as in conntrack, not a reply.
		 */
		int request = family == 4 ? type == 8 : type == 128, reply = family == 4 ? type == 0 : type == 129;
		p->sport = request ? w[2] : reply ? (__u16)~w[2] : w[0];
		p->dport = request ? (__u16)~w[2] : reply ? w[2] : w[0];
		/* Errors as conntrack counts them: they may be `related` to a tracked flow. */
		p->icmp_error = family == 4 ? type == 3 || type == 4 || type == 5 || type == 11 || type == 12 : type < 128;
	}
	return 0;
}

static __always_inline void ct_key_of(struct ct_key *k, __u32 ifindex, const struct pkt *p, __u32 dir)
{
	k->ifindex = ifindex;
	__builtin_memcpy(k->saddr, p->saddr, 16);
	__builtin_memcpy(k->daddr, p->daddr, 16);
	k->sport = p->sport;
	k->dport = p->dport;
	k->dir = dir;
	k->proto = p->proto;
	k->family = p->family;
}

static __always_inline void frag_key_of(struct frag_key *k, __u32 ifindex, const struct pkt *p, __u32 dir)
{
	k->ifindex = ifindex;
	__builtin_memcpy(k->saddr, p->saddr, 16);
	__builtin_memcpy(k->daddr, p->daddr, 16);
	k->id = p->frag_id;
	k->dir = dir;
	k->proto = p->proto;
	k->family = p->family;
}

/*
 * A later fragment takes the ports and match values its datagram's first fragment passed with, so it
 * meets the same verdict (conntrack decides on the reassembled datagram). Without a first fragment
 * seen here (lost, out of order, or dropped) it is dropped, as reassembly would fail.
 */
static __always_inline int lend_first_fragment(__u32 ifindex, struct pkt *p, __u32 dir)
{
	struct frag_key k = {};
	frag_key_of(&k, ifindex, p, dir);
	struct frag_val *v = bpf_map_lookup_elem(&hn_frag, &k);
	if (!v)
		return 0;
	p->sport = v->sport;
	p->dport = v->dport;
	p->a = v->a;
	p->b = v->b;
	return 1;
}

/* Passes the packet; a first fragment leaves its values for the later ones. */
static __always_inline int pass(__u32 ifindex, const struct pkt *p, __u32 dir)
{
	if (p->frag == FRAG_FIRST) {
		struct frag_key k = {};
		frag_key_of(&k, ifindex, p, dir);
		struct frag_val v = {.sport = p->sport, .dport = p->dport, .a = p->a, .b = p->b};
		bpf_map_update_elem(&hn_frag, &k, &v, BPF_ANY);
	}
	return TC_ACT_OK;
}

/*
 * An ICMP error about a flow this tap tracks (as conntrack's `related`): the quoted packet went the
 * other way through this tap, so its tuple has an entry in the opposite direction.
 */
static __always_inline int related(struct __sk_buff *skb, const struct pkt *p, __u32 dir)
{
	struct pkt in = {};
	if (parse_ip(skb, p->l4 + 8, p->family, 1, &in) < 0)
		return 0;
	struct ct_key k = {};
	ct_key_of(&k, skb->ifindex, &in, !dir);
	return bpf_map_lookup_elem(&hn_ct, &k) != 0;
}

static __always_inline int handle(struct __sk_buff *skb, __u32 dir)
{
	struct port_key pk = {.ifindex = skb->ifindex, .dir = dir};
	struct port_rules *pr = bpf_map_lookup_elem(&hn_ports, &pk);
	if (!pr)
		return TC_ACT_SHOT;

	__u8 mac[6] = {};
	if (dir == DIR_FROM_PORT && bpf_skb_load_bytes(skb, ETH_ALEN, mac, ETH_ALEN) < 0)
		return TC_ACT_SHOT;

	if (skb->protocol == bpf_htons(ETH_P_ARP)) {
		/* From the port: its MAC, and an ARP sender (MAC, address) among its sources (0.0.0.0 too). */
		if (dir == DIR_TO_PORT)
			return TC_ACT_OK;
		__u8 sha[6];
		__u32 spa, addr[4];
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 8, sha, 6) < 0 || bpf_skb_load_bytes(skb, ETH_HLEN + 14, &spa, 4) < 0)
			return TC_ACT_SHOT;
		mapped(addr, spa);
		return src_ok(pr, mac, 0, 0) && src_ok(pr, sha, 4, addr) ? TC_ACT_OK : TC_ACT_SHOT;
	}
	__u8 family;
	if (skb->protocol == bpf_htons(ETH_P_IP))
		family = 4;
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		family = 6;
	else
		return TC_ACT_SHOT;

	struct pkt p = {};
	if (parse_ip(skb, ETH_HLEN, family, 0, &p) < 0)
		return TC_ACT_SHOT;
	if (p.frag == FRAG_LATER && !lend_first_fragment(skb->ifindex, &p, dir))
		return TC_ACT_SHOT;
	int udp = p.proto == IPPROTO_UDP, icmp6 = p.proto == IPPROTO_ICMPV6;
	__u16 sport = bpf_ntohs(p.sport);

	if (dir == DIR_FROM_PORT) {
		/* Anti-spoofing, before conntrack as on the nft path: no DHCP server, source MAC and address. */
		if (udp && (sport == 67 || sport == 547))
			return TC_ACT_SHOT;
		/* DAD and MLD from :: (neighbour solicitation, listener report) need only the port's MAC. */
		int unspec = family == 6 && !(p.saddr[0] | p.saddr[1] | p.saddr[2] | p.saddr[3]) && icmp6 &&
			     (p.a == 135 || p.a == 143);
		if (unspec ? !src_ok(pr, mac, 0, 0) : !src_ok(pr, mac, family, p.saddr))
			return TC_ACT_SHOT;
		if (icmp6 && (p.a == 134 || p.a == 137))
			return TC_ACT_SHOT; /* no router advertisement, no redirect */
	}

	int stateful = !(pr->flags & F_STATELESS);
	struct ct_key k = {};
	struct ct_val *ct = 0;
	if (stateful) {
		ct_key_of(&k, skb->ifindex, &p, dir);
		ct = bpf_map_lookup_elem(&hn_ct, &k);
		if (ct && (ct->reply || ct->gen == pr->gen))
			return pass(skb->ifindex, &p, dir);
		if (p.icmp_error && p.frag != FRAG_LATER && related(skb, &p, dir))
			return pass(skb->ifindex, &p, dir);
	}

	/* DHCP, DHCPv6 and neighbour discovery pass as on the nft path (its forward chains). */
	__u16 dport = p.a;
	if (dir == DIR_FROM_PORT) {
		if (udp && ((sport == 68 && dport == 67) || (sport == 546 && dport == 547)))
			return pass(skb->ifindex, &p, dir);
		if (icmp6 && (p.a == 133 || p.a == 135 || p.a == 136 || p.a == 143))
			return pass(skb->ifindex, &p, dir);
	} else {
		if (udp && ((sport == 67 && dport == 68) || (sport == 547 && dport == 546)))
			return pass(skb->ifindex, &p, dir);
		if (icmp6 && (p.a == 134 || p.a == 135 || p.a == 136 || p.a == 130))
			return pass(skb->ifindex, &p, dir);
	}

	if (!rules_allow(pr, &p, dir == DIR_FROM_PORT ? p.daddr : p.saddr)) {
		if (ct)
			bpf_map_delete_elem(&hn_ct, &k);
		return TC_ACT_SHOT;
	}
	if (!stateful)
		return pass(skb->ifindex, &p, dir);
	struct ct_val v = {.gen = pr->gen, .reply = 0};
	bpf_map_update_elem(&hn_ct, &k, &v, BPF_ANY);
	struct ct_key rk = {.ifindex = k.ifindex, .sport = k.dport, .dport = k.sport, .dir = !dir, .proto = k.proto,
			    .family = k.family};
	__builtin_memcpy(rk.saddr, k.daddr, 16);
	__builtin_memcpy(rk.daddr, k.saddr, 16);
	struct ct_val rv = {.gen = pr->gen, .reply = 1};
	bpf_map_update_elem(&hn_ct, &rk, &rv, BPF_ANY);
	return pass(skb->ifindex, &p, dir);
}

SEC("tc")
int hn_from_port(struct __sk_buff *skb)
{
	return handle(skb, DIR_FROM_PORT);
}

SEC("tc")
int hn_to_port(struct __sk_buff *skb)
{
	return handle(skb, DIR_TO_PORT);
}

char LICENSE[] SEC("license") = "GPL";
