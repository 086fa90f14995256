// SPDX-License-Identifier: GPL-2.0
/*
 * hn-sg: a port's security groups as a tc-BPF program (docs/security-groups.md, "tc-BPF").
 * Attached with tc clsact on the port's tap: `hn_from_port` on tc ingress (frames the workload sends,
 * its egress rules), `hn_to_port` on tc egress (frames delivered to it, its ingress rules).
 * Rules live in map hn_ports (one entry per tap and direction, replaced whole when rules change),
 * established flows in the LRU hash hn_ct (one entry per direction, so a packet costs one lookup).
 * Default deny: a tap with no entry passes nothing (fail closed). IPv4 and ARP only for now.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define MAX_RULES 64
#define MAX_SRC 8
#define DIR_FROM_PORT 0
#define DIR_TO_PORT 1

/*
 * One rule: remote CIDR (network order) or remote group (gid, non-zero: its members are in hn_members),
 * protocol (0 any), value ranges a (destination port or ICMP type) and b (ICMP code).
 */
struct rule {
	__u32 addr;
	__u32 mask;
	__u32 gid;
	__u16 amin, amax, bmin, bmax;
	__u8 proto;
	__u8 pad[3];
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
	__u32 src[MAX_SRC];
	struct rule r[MAX_RULES];
};

struct ct_key {
	__u32 ifindex;
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 dir;
	__u8 proto;
	__u8 pad[2];
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

/* A remote group's member prefixes: 32 bits of gid, then the address. */
struct member_key {
	__u32 prefixlen;
	__u32 gid;
	__u32 addr;
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

static __always_inline int rules_allow(const struct port_rules *pr, __u32 remote, __u8 proto, __u16 a, __u16 b)
{
	for (int i = 0; i < MAX_RULES; i++) {
		if (i >= pr->n)
			break;
		const struct rule *r = &pr->r[i];
		if (r->proto && r->proto != proto)
			continue;
		if (a < r->amin || a > r->amax || b < r->bmin || b > r->bmax)
			continue;
		if (r->gid) {
			struct member_key mk = {.prefixlen = 64, .gid = r->gid, .addr = remote};
			if (!bpf_map_lookup_elem(&hn_members, &mk))
				continue;
		} else if ((remote & r->mask) != r->addr) {
			continue;
		}
		return 1;
	}
	return 0;
}

static __always_inline int src_ok(const struct port_rules *pr, __u32 saddr)
{
	for (int i = 0; i < MAX_SRC; i++) {
		if (i >= pr->nsrc)
			break;
		if (pr->src[i] == saddr)
			return 1;
	}
	return 0;
}

static __always_inline int handle(struct __sk_buff *skb, __u32 dir)
{
	struct port_key pk = {.ifindex = skb->ifindex, .dir = dir};
	struct port_rules *pr = bpf_map_lookup_elem(&hn_ports, &pk);
	if (!pr)
		return TC_ACT_SHOT;

	if (skb->protocol == bpf_htons(ETH_P_ARP)) {
		/* ARP sender address (offset 14 + 14) must be the port's own when it sends. */
		__u32 spa;
		if (dir == DIR_TO_PORT)
			return TC_ACT_OK;
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 14, &spa, 4) < 0)
			return TC_ACT_SHOT;
		return spa == 0 || src_ok(pr, spa) ? TC_ACT_OK : TC_ACT_SHOT;
	}
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_SHOT;

	struct iphdr ip;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return TC_ACT_SHOT;
	__u32 l4 = ETH_HLEN + ip.ihl * 4;
	__u16 p[4] = {0, 0, 0, 0};
	/* Later fragments carry no ports: they are matched with ports 0 (see the docs). */
	if (!(ip.frag_off & bpf_htons(0x1fff)) && bpf_skb_load_bytes(skb, l4, p, 8) < 0 && ip.protocol != IPPROTO_ICMP)
		return TC_ACT_SHOT;

	struct ct_key k = {.ifindex = skb->ifindex, .saddr = ip.saddr, .daddr = ip.daddr, .dir = dir,
			   .proto = ip.protocol};
	__u16 a = 0, b = 0;
	if (ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP) {
		k.sport = p[0];
		k.dport = p[1];
		a = bpf_ntohs(p[1]);
	} else if (ip.protocol == IPPROTO_ICMP) {
		__u8 type = p[0] & 0xff, code = p[0] >> 8;
		a = type;
		b = code;
		/* Echo request and reply share the identifier: a reply finds its request's entry. */
		k.sport = k.dport = (type == 8 || type == 0) ? p[2] : p[0];
	}

	struct ct_val *ct = bpf_map_lookup_elem(&hn_ct, &k);
	if (ct && (ct->reply || ct->gen == pr->gen))
		return TC_ACT_OK;

	if (dir == DIR_FROM_PORT) {
		/* DHCP: a client may ask from 0.0.0.0; a port never answers as a server. */
		if (ip.protocol == IPPROTO_UDP && a == 67 && bpf_ntohs(p[0]) == 68)
			return TC_ACT_OK;
		if (ip.protocol == IPPROTO_UDP && bpf_ntohs(p[0]) == 67)
			return TC_ACT_SHOT;
		if (!src_ok(pr, ip.saddr))
			return TC_ACT_SHOT;
	} else if (ip.protocol == IPPROTO_UDP && a == 68 && bpf_ntohs(p[0]) == 67) {
		return TC_ACT_OK;
	}

	__u32 remote = dir == DIR_FROM_PORT ? ip.daddr : ip.saddr;
	if (!rules_allow(pr, remote, ip.protocol, a, b)) {
		if (ct)
			bpf_map_delete_elem(&hn_ct, &k);
		return TC_ACT_SHOT;
	}
	struct ct_val v = {.gen = pr->gen, .reply = 0};
	bpf_map_update_elem(&hn_ct, &k, &v, BPF_ANY);
	struct ct_key rk = {.ifindex = k.ifindex, .saddr = k.daddr, .daddr = k.saddr, .sport = k.dport,
			    .dport = k.sport, .dir = !dir, .proto = k.proto};
	struct ct_val rv = {.gen = pr->gen, .reply = 1};
	bpf_map_update_elem(&hn_ct, &rk, &rv, BPF_ANY);
	return TC_ACT_OK;
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
